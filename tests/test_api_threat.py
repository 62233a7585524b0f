"""Tracks with history, zones, and the fusion service's alerts through a restart, over real HTTP and MQTT."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from conftest import Broker, free_port, wait_http
from test_api_support import (
    T0,
    TOPICS,
    ApiServer,
    make_status,
    make_tracks,
    publish,
    wait_until,
)
from test_threat import ZONES, radar_stream

from fusion.protocol import SensorStatus, encode

pytest_plugins = ["test_api_support"]
Serve = Callable[..., ApiServer]


def test_track_details_carry_a_bounded_history_and_zones_are_served(serve: Serve, publisher: mqtt.Client,
                                                                    tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(ZONES))
    api = serve(zones_file=zones, track_history=3)
    for k in range(5):
        publish(publisher, TOPICS.tracks, make_tracks(T0 + k, "T-17", "T-18"))
    publish(publisher, TOPICS.tracks, make_tracks(T0 + 5, "T-17", ended=("T-18",)))
    wait_until(lambda: api.http.get("/api/tracks").json().get("time") == T0 + 5)

    live = api.http.get("/api/tracks/T-17").json()
    assert live["ended"] is False and live["track"]["track_id"] == "T-17"
    assert [p["time"] for p in live["history"]] == [T0 + 3, T0 + 4, T0 + 5]
    assert live["history"][0]["sensors"] == ["radar-north"] and live["history"][0]["threat"] == "high"
    ended = api.http.get("/api/tracks/T-18").json()
    assert ended["ended"] is True and ended["track"] is None and len(ended["history"]) == 3
    assert api.http.get("/api/tracks/T-404").status_code == 404

    served = api.http.get("/api/zones").json()
    assert served == ZONES
    assert "/api/tracks/{track_id}" in api.http.get("/openapi.json").json()["paths"]


def test_zones_are_empty_without_a_file(serve: Serve) -> None:
    assert serve().http.get("/api/zones").json() == {"type": "FeatureCollection", "features": []}


def serve_command(mosquitto: Broker, port: int, data_dir: Path, zones: Path) -> list[str]:
    from conftest import sargas_command

    return [*sargas_command(), "serve", "--broker", mosquitto.url, "--port", str(port), "--data-dir", str(data_dir),
            "--zones", str(zones)]


def alerts(http: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    return http.get("/api/alerts", params={"limit": 1000}).json()["alerts"]  # type: ignore[no-any-return]


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


def test_the_service_keeps_alerts_through_a_restart_and_never_reuses_ids(
        mosquitto: Broker, publisher: mqtt.Client, tmp_path: Path) -> None:
    zones, data = tmp_path / "zones.geojson", tmp_path / "data"
    zones.write_text(json.dumps(ZONES))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    offline = SensorStatus.model_validate({**json.loads(encode(make_status("radar", "offline", T0))),
                                           "origin": {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}})
    proc = subprocess.Popen(serve_command(mosquitto, port, data, zones))
    try:
        wait_http(url + "/api/health")
        http = httpx.Client(base_url=url, timeout=10)
        wait_until(lambda: http.get("/api/health").json()["broker_connected"])
        for topic, payload, _ in radar_stream(90):
            publish(publisher, topic, payload)
        publish(publisher, TOPICS.status("radar"), offline, retain=True)
        before = wait_until(lambda: (a := alerts(http)) and a[-1]["kind"] == "sensor_offline" and a, timeout=30)
        assert [a["kind"] for a in before] == ["new_threat", "threat_escalated", "zone_entry", "sensor_offline"]
        http.post(f"/api/alerts/{before[0]['alert_id']}/ack", json={"by": "alice", "note": "on camera"})
    finally:
        stop(proc)

    proc = subprocess.Popen(serve_command(mosquitto, port, data, zones))
    try:
        wait_http(url + "/api/health")
        wait_until(lambda: http.get("/api/health").json()["sensors"] == 1)  # the retained last will is back
        for topic, payload, _ in radar_stream(90, start_north=-2200.0):
            publish(publisher, topic, payload.replace(b'"time": 1795766', b'"time": 1795767'))
        after = wait_until(lambda: (a := alerts(http)) and len(a) > len(before) and a, timeout=30)
        assert after[:len(before)] == [{**before[0], "acknowledged_by": "alice", "note": "on camera",
                                        "acknowledged_at": after[0]["acknowledged_at"]}, *before[1:]]
        numbers = [int(a["alert_id"][2:]) for a in after]
        assert numbers == sorted(set(numbers))
        assert [a["kind"] for a in after].count("sensor_offline") == 1
    finally:
        stop(proc)


def test_a_bad_zones_file_is_a_one_line_usage_error(tmp_path: Path) -> None:
    from conftest import sargas_command

    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]}))
    done = subprocess.run([*sargas_command(), "fusion", "--zones", str(zones), "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"sargas: {zones}: zone feature 0: properties.name must be a non-empty string"]
