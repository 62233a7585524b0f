"""Durable alerts and their acknowledgements, in SQLite.

Each alert is kept as the wire JSON it arrived as (the validated bytes received or
published, else ``fusion.protocol.encode``), so what comes out is exactly what went in. The store is safe to share between threads (one
connection behind a lock) and between processes (WAL mode, busy timeout): the fusion
service reads ``max_number`` at start while the API adds alerts and acknowledgements.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fusion.protocol import Alert, encode, load_json, to_dict, validate

#: Bumped with every change of the table layout; ``_migrate`` brings older files up to date.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id        TEXT    NOT NULL UNIQUE,
    number          INTEGER,
    level           TEXT    NOT NULL,
    time            REAL    NOT NULL,
    payload         BLOB    NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at REAL,
    note            TEXT
);
CREATE INDEX IF NOT EXISTS alerts_number ON alerts(number);
CREATE INDEX IF NOT EXISTS alerts_level ON alerts(level, seq);
"""

_COLUMNS = "payload, acknowledged_by, acknowledged_at, note"
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def alert_number(alert_id: str) -> int | None:
    """The numeric part of an id such as ``A-000123`` (123), or None if it has none."""
    match = _TRAILING_NUMBER.search(alert_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class StoredAlert:
    """A protocol alert as stored, with its acknowledgement (all None while unacknowledged)."""

    alert: Alert
    wire: bytes
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    note: str | None = None

    @property
    def alert_id(self) -> str:
        return self.alert.alert_id

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def to_dict(self) -> dict[str, Any]:
        """The alert's wire fields plus ``acknowledged_by``, ``acknowledged_at`` and ``note``."""
        return {**to_dict(self.alert), "acknowledged_by": self.acknowledged_by,
                "acknowledged_at": self.acknowledged_at, "note": self.note}


def _row_to_alert(row: tuple[bytes, str | None, float | None, str | None]) -> StoredAlert:
    payload, by, at, note = row
    wire = bytes(payload)
    alert = cast(Alert, validate(load_json(wire), "sargas.alerts/1"))
    return StoredAlert(alert, wire, by, at, note)


class AlertStore:
    """Alerts in insertion order, idempotent on ``alert_id``, with acknowledgements."""

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has alert store schema {version}, newer than this Sargas "
                                   f"({SCHEMA_VERSION})")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def add(self, alert: Alert, wire: bytes | None = None) -> bool:
        """Store ``alert`` unless its id is already stored; True if it was new.

        ``wire`` is the alert's wire JSON when the caller has it already (the validated bytes
        it received or published), so that it is not encoded a second time.
        """
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, number, level, time, payload) VALUES (?, ?, ?, ?, ?)",
                (alert.alert_id, alert_number(alert.alert_id), alert.level, alert.time,
                 encode(alert) if wire is None else wire))
            return cursor.rowcount == 1

    def max_number(self) -> int:
        """The largest numeric part of the stored ids, 0 if none: the next id must be above it."""
        with self._lock:
            value = self._db.execute("SELECT MAX(number) FROM alerts").fetchone()[0]
        return int(value or 0)

    def get(self, alert_id: str) -> StoredAlert | None:
        """The stored alert with this id, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        return _row_to_alert(row) if row else None

    def list(self, since: str | None = None, level: str | None = None, limit: int = 500) -> list[StoredAlert]:
        """Stored alerts in insertion order.

        With ``since``, the first ``limit`` alerts stored after that alert (page on with the
        last id returned); without it, or when ``since`` is not a stored id, the latest
        ``limit``. ``level`` keeps only alerts of that level.
        """
        where, args = ["1"], []
        if level is not None:
            where.append("level = ?")
            args.append(level)
        with self._lock:
            after = self._seq(since) if since is not None else None
            if after is not None:
                sql = f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} AND seq > ? ORDER BY seq LIMIT ?"
                rows = self._db.execute(sql, (*args, after, limit)).fetchall()
            else:
                sql = f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
                rows = self._db.execute(sql, (*args, limit)).fetchall()[::-1]
        return [_row_to_alert(row) for row in rows]

    def sensor_offline_times(self) -> dict[str, float]:
        """Sensor id → time of its latest stored ``sensor_offline`` alert, so that a restarted
        fusion service does not alert again on an outage it already reported."""
        with self._lock:
            rows = self._db.execute(
                "SELECT json_extract(CAST(payload AS TEXT), '$.sensor_id') AS sensor, MAX(time) FROM alerts "
                "WHERE json_extract(CAST(payload AS TEXT), '$.kind') = 'sensor_offline' AND sensor IS NOT NULL "
                "GROUP BY sensor ORDER BY sensor").fetchall()
        return {str(sensor): float(t) for sensor, t in rows}

    def unacknowledged(self) -> int:
        """How many stored alerts nobody has acknowledged."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM alerts WHERE acknowledged_at IS NULL").fetchone()[0])

    def ack(self, alert_id: str, by: str, note: str | None, at: float) -> StoredAlert | None:
        """Acknowledge an alert; None if unknown. The first acknowledgement stands."""
        with self._lock:
            self._db.execute(
                "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ?, note = ? "
                "WHERE alert_id = ? AND acknowledged_at IS NULL", (by, at, note, alert_id))
        return self.get(alert_id)

    def _seq(self, alert_id: str) -> int | None:
        row = self._db.execute("SELECT seq FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
