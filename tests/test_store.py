"""The durable alert store: idempotence, ordering, paging, acknowledgements, restarts, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from fusion.protocol import Alert, encode
from fusion.store import AlertStore, StoredAlert, alert_number

T0 = 1795766400.0


def alert(number: int, level: str = "warning", alert_id: str | None = None) -> Alert:
    return Alert(alert_id=alert_id or f"A-{number:06d}", time=T0 + number, kind="sensor_offline", level=level,
                 track_id=None, sensor_id="radar-north", message=f"radar-north went offline ({number})")


def ids(alerts: list[StoredAlert]) -> list[str]:
    return [a.alert_id for a in alerts]


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(tmp_path / "alerts.sqlite")


def test_add_is_idempotent_and_round_trips_the_wire_json(store: AlertStore) -> None:
    a = alert(1)
    assert store.add(a) is True
    assert store.add(a) is False
    stored = store.get("A-000001")
    assert stored is not None
    assert stored.alert == a
    assert stored.wire == encode(a)
    assert b'"track_id":null' in stored.wire
    assert (stored.acknowledged_by, stored.acknowledged_at, stored.note) == (None, None, None)
    assert store.get("A-999999") is None


def test_list_keeps_insertion_order_and_filters(store: AlertStore) -> None:
    for n, level in [(3, "info"), (1, "critical"), (2, "warning"), (4, "critical")]:
        store.add(alert(n, level))
    assert ids(store.list()) == ["A-000003", "A-000001", "A-000002", "A-000004"]
    assert ids(store.list(since="A-000001")) == ["A-000002", "A-000004"]
    assert ids(store.list(level="critical")) == ["A-000001", "A-000004"]
    assert ids(store.list(since="A-000003", level="critical")) == ["A-000001", "A-000004"]
    assert ids(store.list(since="A-000004")) == []


def test_limit_pages_forward_after_since_and_keeps_the_latest_without(store: AlertStore) -> None:
    for n in range(1, 11):
        store.add(alert(n))
    assert ids(store.list(limit=3)) == ["A-000008", "A-000009", "A-000010"]
    assert ids(store.list(since="A-000002", limit=3)) == ["A-000003", "A-000004", "A-000005"]
    assert ids(store.list(since="unknown-id", limit=2)) == ["A-000009", "A-000010"]


def test_ack_records_who_when_and_why_and_the_first_ack_stands(store: AlertStore) -> None:
    store.add(alert(1))
    acked = store.ack("A-000001", "alice", "seen on camera", T0 + 100)
    assert acked is not None
    assert (acked.acknowledged_by, acked.acknowledged_at, acked.note) == ("alice", T0 + 100, "seen on camera")
    again = store.ack("A-000001", "bob", None, T0 + 200)
    assert again is not None and again.acknowledged_by == "alice"
    assert store.ack("A-404", "alice", None, T0) is None
    row = acked.to_dict()
    assert row["alert_id"] == "A-000001" and row["acknowledged_by"] == "alice" and row["track_id"] is None


def test_max_number_and_acks_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "data" / "alerts.sqlite"
    with AlertStore(path) as first:
        assert first.max_number() == 0
        for n in (7, 123, 42):
            first.add(alert(n))
        first.add(alert(0, alert_id="no-number"))
        first.ack("A-000042", "alice", None, T0)
    with AlertStore(path) as second:
        assert second.max_number() == 123
        assert ids(second.list()) == ["A-000007", "A-000123", "A-000042", "no-number"]
        stored = second.get("A-000042")
        assert stored is not None and stored.acknowledged_by == "alice"
        assert second.unacknowledged() == 3


def test_wal_mode_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    AlertStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        AlertStore(path)


def test_alert_number() -> None:
    assert alert_number("A-000123") == 123
    assert alert_number("A-7") == 7
    assert alert_number("sensor-alert") is None


def test_concurrent_writers_and_readers(store: AlertStore) -> None:
    def write(start: int) -> None:
        for n in range(start, start + 50):
            store.add(alert(n))
            store.list(limit=5)

    threads = [threading.Thread(target=write, args=(1 + 50 * k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list(limit=1000)) == 200
    assert store.max_number() == 200


def test_sensor_offline_times_are_the_latest_per_sensor(store: AlertStore) -> None:
    store.add(alert(1))
    store.add(alert(2))
    store.add(Alert(alert_id="A-000003", time=T0 + 50, kind="sensor_offline", level="warning", track_id=None,
                    sensor_id="rf-east", message="rf-east went offline"))
    store.add(Alert(alert_id="A-000004", time=T0 + 60, kind="new_threat", level="warning", track_id="T-1",
                    message="Drone T-1"))
    assert store.sensor_offline_times() == {"radar-north": T0 + 2, "rf-east": T0 + 50}
