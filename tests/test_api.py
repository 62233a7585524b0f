"""The REST API over real HTTP, fed by a real Mosquitto broker."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from conftest import MOSQUITTO, Broker, mqtt_client
from test_api_support import (
    T0,
    TOPICS,
    ApiServer,
    make_alert,
    make_status,
    make_tracks,
    publish,
    wait_until,
)

from fusion.protocol import encode

pytest_plugins = ["test_api_support"]
Serve = Callable[..., ApiServer]


def test_health_counts_messages_tracks_and_clients(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    body = api.http.get("/api/health").json()
    assert body["status"] == "ok" and body["broker_connected"] is True
    assert (body["received"], body["rejected"], body["tracks"], body["ws_clients"]) == (0, 0, 0, 0)
    assert body["uptime_s"] >= 0
    publish(publisher, TOPICS.tracks, make_tracks(T0, "T-1", "T-2"))
    body = wait_until(lambda: (b := api.http.get("/api/health").json())["tracks"] == 2 and b)
    assert body["received"] == 1


def test_tracks_returns_the_latest_message_as_wire_json(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    missing = api.http.get("/api/tracks")
    assert missing.status_code == 404 and "detail" in missing.json()
    publish(publisher, TOPICS.tracks, make_tracks(T0, "T-1"))
    latest = make_tracks(T0 + 1, "T-1", "T-2", ended=("T-0",))
    publish(publisher, TOPICS.tracks, latest)
    wait_until(lambda: api.http.get("/api/tracks").json().get("time") == T0 + 1)
    response = api.http.get("/api/tracks")
    assert response.headers["content-type"] == "application/json"
    assert response.content == encode(latest)


def test_alerts_are_stored_listed_filtered_and_acknowledged(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    levels = ["info", "critical", "warning", "critical"]
    for n, level in enumerate(levels, start=1):
        publish(publisher, TOPICS.alerts, make_alert(n, level))
    wait_until(lambda: len(api.http.get("/api/alerts").json()["alerts"]) == 4)

    body = api.http.get("/api/alerts").json()
    assert [a["alert_id"] for a in body["alerts"]] == ["A-000001", "A-000002", "A-000003", "A-000004"]
    assert body["unacknowledged"] == 4
    first = body["alerts"][0]
    assert first == {**orjson.loads(encode(make_alert(1, "info"))),
                     "acknowledged_by": None, "acknowledged_at": None, "note": None}
    since = api.http.get("/api/alerts", params={"since": "A-000002"}).json()["alerts"]
    assert [a["alert_id"] for a in since] == ["A-000003", "A-000004"]
    critical = api.http.get("/api/alerts", params={"level": "critical"}).json()["alerts"]
    assert [a["alert_id"] for a in critical] == ["A-000002", "A-000004"]
    assert api.http.get("/api/alerts", params={"level": "bogus"}).status_code == 422

    acked = api.http.post("/api/alerts/A-000002/ack", json={"by": "alice", "note": "drone on camera 3"})
    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == "alice" and acked.json()["note"] == "drone on camera 3"
    stored = api.http.get("/api/alerts/A-000002").json()
    assert stored["acknowledged_by"] == "alice" and stored["acknowledged_at"] > T0
    assert api.http.get("/api/alerts").json()["unacknowledged"] == 3

    unknown = api.http.post("/api/alerts/A-999999/ack", json={"by": "alice", "note": None})
    assert unknown.status_code == 404 and "A-999999" in unknown.json()["detail"]
    assert api.http.post("/api/alerts/A-000001/ack", json={"note": "no one"}).status_code == 422
    assert api.http.get("/api/alerts/A-999999").status_code == 404


def test_acks_and_alert_ids_persist_across_a_restart(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    publish(publisher, TOPICS.alerts, make_alert(41))
    wait_until(lambda: api.http.get("/api/alerts").json()["alerts"])
    api.http.post("/api/alerts/A-000041/ack", json={"by": "alice"})
    api.stop()

    publish(publisher, TOPICS.alerts, make_alert(42))
    again = serve()
    body = wait_until(lambda: (b := again.http.get("/api/alerts").json())["alerts"][-1:]
                      and b["alerts"][-1]["alert_id"] == "A-000042" and b)
    assert [a["alert_id"] for a in body["alerts"]] == ["A-000041", "A-000042"]
    assert body["alerts"][0]["acknowledged_by"] == "alice"


def test_sensors_report_health_from_state_and_last_seen(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve(sensor_stale_after_s=60.0)
    now = time.time()
    publish(publisher, TOPICS.status("radar-north"), make_status("radar-north", "online", now))
    publish(publisher, TOPICS.status("rf-east"), make_status("rf-east", "degraded", now))
    publish(publisher, TOPICS.status("acoustic-west"), make_status("acoustic-west", "offline", now))
    publish(publisher, TOPICS.status("radar-old"), make_status("radar-old", "online", now - 600), retain=True)
    sensors = wait_until(lambda: (s := api.http.get("/api/sensors").json()["sensors"]) and len(s) == 4 and s)
    health = {s["sensor_id"]: s["health"] for s in sensors}
    assert list(health) == ["acoustic-west", "radar-north", "radar-old", "rf-east"]
    assert health == {"acoustic-west": "offline", "radar-north": "online", "radar-old": "online",
                      "rf-east": "degraded"}
    assert sensors[1]["status"] == orjson.loads(encode(make_status("radar-north", "online", now)))

    api.stop()
    later = serve(sensor_stale_after_s=60.0)
    sensors = wait_until(lambda: later.http.get("/api/sensors").json()["sensors"])
    assert [(s["sensor_id"], s["health"]) for s in sensors] == [("radar-old", "stale")]


def test_a_malformed_message_is_counted_and_the_feed_keeps_working(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    publish(publisher, TOPICS.tracks, b'{"schema": "sargas.tracks/1", "time": ')
    publish(publisher, TOPICS.tracks, b'{"schema": "sargas.tracks/1", "time": -5, "tracks": []}')
    publish(publisher, TOPICS.alerts, encode(make_tracks(T0, "T-1")))
    publish(publisher, TOPICS.tracks, make_tracks(T0, "T-9"))
    body = wait_until(lambda: (b := api.http.get("/api/health").json())["tracks"] == 1 and b)
    assert body["received"] == 4 and body["rejected"] == 3
    assert body["rejected_by_reason"] == {"invalid": 1, "malformed_json": 1, "wrong_topic": 1}
    assert api.http.get("/api/tracks").json()["tracks"][0]["track_id"] == "T-9"


def test_errors_are_json_and_the_console_and_docs_are_served(serve: Serve) -> None:
    api = serve()
    missing = api.http.get("/api/nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    page = api.http.get("/")
    assert page.status_code == 200 and "console.js" in page.text
    for asset in ("/static/console.js", "/static/console.css"):
        assert api.http.get(asset).status_code == 200
    assert api.http.get("/docs").status_code == 200
    assert "/api/alerts/{alert_id}/ack" in api.http.get("/openapi.json").json()["paths"]


def test_the_feed_reconnects_when_the_broker_comes_back(serve: Serve, mosquitto: Broker, tmp_path: Path) -> None:
    api = serve()
    mosquitto.process.terminate()
    mosquitto.process.wait(5)
    wait_until(lambda: not api.http.get("/api/health").json()["broker_connected"])
    assert api.http.get("/api/health").json()["status"] == "ok"
    restarted = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: api.http.get("/api/health").json()["broker_connected"], timeout=15)
        client = mqtt_client(mosquitto.port)
        publish(client, TOPICS.tracks, make_tracks(T0, "T-5"))
        client.disconnect()
        client.loop_stop()
        wait_until(lambda: api.http.get("/api/health").json()["tracks"] == 1)
    finally:
        api.stop()
        restarted.terminate()
        restarted.wait(5)
