"""Threat assessment: zone geometry, scoring, hysteresis and the alert lifecycle (pure, fusion time)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.geo import LocalFrame
from fusion.pipeline import FusionEngine
from fusion.protocol import SensorStatus, encode, load_json
from fusion.threat import (
    LEVELS,
    AlertEvent,
    ThreatMonitor,
    ThreatParams,
    TrackGeo,
    ZoneSet,
    parse_zones,
    step_levels,
)
from fusion.tracking.classify import LABELS, MIN_DRONE_P, best_label
from fusion.tracking.tracker import Ended
from fusion.tracking.tracks import COASTING, CONFIRMED, TENTATIVE

SITE = LocalFrame(54.30, 23.15, 200.0)
T0 = 1795766400.0


def lonlat(*enu: tuple[float, float]) -> list[list[float]]:
    """GeoJSON positions of site-ENU points."""
    lat, lon, _ = SITE.to_geodetic(np.array([[e, n, 0.0] for e, n in enu]))
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


def feature(name: str, kind: str, gtype: str, coords: Any, buffer_m: float | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"name": name, "kind": kind}
    if buffer_m is not None:
        props["buffer_m"] = buffer_m
    return {"type": "Feature", "properties": props, "geometry": {"type": gtype, "coordinates": coords}}


#: A protected 200 m square around (1000, 1000) and a border line along north = -1000 with a 100 m strip.
ZONES = {"type": "FeatureCollection", "features": [
    feature("base", "protected", "Polygon", [lonlat((900, 900), (1100, 900), (1100, 1100), (900, 1100), (900, 900))]),
    feature("border-strip", "border", "LineString", lonlat((-3000, -1000), (3000, -1000)), buffer_m=100.0),
]}


def zone_set() -> ZoneSet:
    return ZoneSet(parse_zones(ZONES), SITE)


def test_zone_geometry_inside_polygons_and_near_lines() -> None:
    zones = zone_set()
    points = np.array([[1000.0, 1000.0], [1150.0, 1000.0], [0.0, -950.0], [0.0, -1150.0], [0.0, 0.0]])
    assert zones.contains(points).tolist() == [[True, False], [False, False], [False, True], [False, False],
                                               [False, False]]
    distance = zones.boundary_distance(points)
    assert distance[1, 0] == pytest.approx(50.0, abs=0.5)
    assert distance[3, 1] == pytest.approx(150.0, abs=0.5)
    assert zones.contains(points[1:2], margin_m=60.0)[0, 0]


@pytest.mark.parametrize(("bad", "message"), [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": [feature("x", "moat", "Polygon", [])]}, "kind"),
    ({"type": "FeatureCollection", "features": [feature("x", "border", "LineString", [[23.1, 54.3], [23.2, 54.3]])]},
     "buffer_m > 0"),
    ({"type": "FeatureCollection", "features": [feature("x", "border", "Point", [23.1, 54.3])]}, "Polygon"),
    ({"type": "FeatureCollection", "features": [feature("x", "border", "LineString", [[23.1, 95.0], [1, 1]], 5)]},
     "out of range"),
    ({"type": "FeatureCollection", "features": [ZONES["features"][0], ZONES["features"][0]]}, "unique"),
])
def test_invalid_zones_are_refused_with_the_reason(bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_zones(bad)


def test_levels_rise_at_once_and_fall_only_past_the_hysteresis() -> None:
    params = ThreatParams()
    level = np.array([0])
    seen = []
    for score in [0.56, 0.5, 0.46, 0.44, 0.81, 0.75, 0.69]:
        level = step_levels(level, np.array([score]), params)
        seen.append(int(level[0]))
    assert seen == [3, 3, 3, 2, 4, 4, 3]


def geo_of(x: np.ndarray) -> TrackGeo:
    lat, lon, _ = SITE.to_geodetic(x[:, :3])
    return TrackGeo(lat, lon, np.degrees(np.arctan2(x[:, 3], x[:, 4])) % 360, np.hypot(x[:, 3], x[:, 4]))


class Run:
    """Drives a ThreatMonitor with hand-made track states."""

    def __init__(self, monitor: ThreatMonitor) -> None:
        self.monitor = monitor
        self.events: list[AlertEvent] = []

    def step(self, t: float, x: np.ndarray, status: list[int] | None = None, drone_p: float = 0.9,
             numbers: list[int] | None = None) -> list[AlertEvent]:
        n = len(x)
        events = self.monitor.assess(t, SITE, np.array(numbers or list(range(1, n + 1)), dtype=np.int64),
                                     np.array(status or [CONFIRMED] * n, dtype=np.int8), np.full(n, drone_p), x,
                                     lambda rows: geo_of(x[rows]))
        self.events += events
        return events

    def kinds(self) -> list[tuple[str, str, str | None, str | None]]:
        return [(e.kind, e.level, e.track_id, e.zone) for e in self.events]


def drone(east: float, north: float, ve: float = 0.0, vn: float = 0.0, up: float = 100.0) -> np.ndarray:
    return np.array([[east, north, up, ve, vn, 0.0]])


def test_a_drone_crossing_the_border_raises_each_alert_once() -> None:
    run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
    for k in range(100):
        run.step(T0 + k, drone(0.0, -2500.0 + 20.0 * k, vn=20.0))
    assert run.kinds() == [
        ("new_threat", "warning", "T-1", "border-strip"),
        ("zone_entry", "critical", "T-1", "border-strip"),
    ]
    assert run.events[1].message == "Drone T-1 entered border-strip heading 0 at 20 m/s"
    assert run.events[0].time < run.events[1].time
    for k in range(100, 140):
        run.step(T0 + k, drone(0.0, -2500.0 + 20.0 * k, vn=20.0))
    assert len(run.events) == 2
    level = run.monitor.current(np.array([1]))
    assert level.level.tolist() == [2] and level.zone_name(0) is None


def test_leaving_and_reentering_needs_the_exit_margin() -> None:
    run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
    run.step(T0, drone(1000.0, 1000.0))
    run.step(T0 + 1, drone(1120.0, 1000.0))  # 20 m outside: within the exit margin, still inside
    run.step(T0 + 2, drone(1000.0, 1000.0))
    assert [k[0] for k in run.kinds()] == ["new_threat"]
    run.step(T0 + 3, drone(1300.0, 1000.0))
    run.step(T0 + 4, drone(1000.0, 1000.0))
    assert [k[0] for k in run.kinds()] == ["new_threat", "zone_entry"]


def test_birds_tentative_and_high_fast_tracks_do_not_alarm() -> None:
    run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
    run.step(T0, drone(1000.0, 1000.0), drone_p=0.05)
    run.step(T0 + 1, drone(1000.0, 1000.0), status=[TENTATIVE], numbers=[2])
    run.step(T0 + 2, drone(1000.0, 1000.0, ve=120.0, up=2500.0), numbers=[3])
    assert run.events == []
    assert run.monitor.current(np.array([1, 2, 3])).level.tolist() == [0, 0, 0]


def test_a_track_alarms_from_the_drone_probability_at_which_it_is_labelled_drone() -> None:
    """Below ``classify.MIN_DRONE_P`` a likely drone is labelled 'unknown', and no alert names it; at it, both."""
    assert ThreatParams().min_p == FusionConfig().threat_min_p == MIN_DRONE_P
    for p, kinds in ((MIN_DRONE_P - 1e-6, []), (MIN_DRONE_P, ["new_threat"])):
        run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
        run.step(T0, drone(1000.0, 1000.0), drone_p=p)
        assert [k[0] for k in run.kinds()] == kinds
        label, _ = best_label(np.log(np.array([[p, 0.9 - p, 0.05, 0.05]])))
        assert (LABELS[int(label[0])] == "drone") == bool(kinds)


def test_approach_is_scored_before_entry_and_heading_matters() -> None:
    monitor = ThreatMonitor(ThreatParams(), parse_zones(ZONES))
    x = np.vstack([drone(1000.0, 0.0, vn=10.0), drone(1000.0, 0.0, vn=-10.0), drone(1000.0, 0.0, ve=10.0)])
    score, zone, tte, inside = monitor.score(x, np.full(3, 0.9), zone_set(), np.zeros((3, 2), bool))
    assert zone.tolist() == [0, 1, -1]
    assert tte[:2].tolist() == [90.0, 90.0] and math.isinf(tte[2])
    assert score[0] > score[1] > score[2] and not inside.any()


def test_track_lost_only_for_alerted_tracks_and_alert_ids_continue() -> None:
    run = Run(ThreatMonitor(ThreatParams(), [], first_alert_number=7))
    x = np.vstack([drone(0.0, 0.0), drone(500.0, 0.0)])
    run.step(T0, x, status=[CONFIRMED, COASTING])
    lost = run.monitor.lost(T0 + 1, np.array([2, 1]), geo_of(x[::-1]))
    assert [(e.alert_id, e.kind, e.track_id) for e in run.events + lost] == [
        ("A-000007", "new_threat", "T-1"), ("A-000008", "track_lost", "T-1")]
    assert run.monitor.lost(T0 + 2, np.array([1]), geo_of(x[:1])) == []


def test_a_duplicate_merged_away_hands_its_alerts_to_the_survivor() -> None:
    run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
    run.step(T0, drone(1000.0, 1000.0), numbers=[4])  # T-4 inside the base: new_threat
    run.step(T0 + 1, np.vstack([drone(1000.0, 1000.0), drone(1010.0, 1000.0)]), status=[CONFIRMED, TENTATIVE],
             numbers=[4, 9])
    run.monitor.merged(np.array([4]), np.array([9]))  # the duplicate T-4 merged into T-9: no track_lost
    run.step(T0 + 2, drone(1005.0, 1000.0), numbers=[9])  # T-9 (now confirmed) inherits the alert: no repeat
    assert run.kinds() == [("new_threat", "critical", "T-4", "base")]
    assert [LEVELS[i] for i in run.monitor.current(np.array([4, 9])).level] == ["none", "critical"]
    lost = run.monitor.lost(T0 + 3, np.array([9]), geo_of(drone(1005.0, 1000.0)))
    assert [(e.kind, e.track_id) for e in lost] == [("track_lost", "T-9")]


def test_a_merge_into_a_track_never_assessed_keeps_the_alert() -> None:
    run = Run(ThreatMonitor(ThreatParams(), parse_zones(ZONES)))
    run.step(T0, drone(1000.0, 1000.0), numbers=[4])
    run.monitor.merged(np.array([4]), np.array([12]))
    run.step(T0 + 1, drone(1000.0, 1000.0), numbers=[12])
    assert [k[0] for k in run.kinds()] == ["new_threat"]
    assert [e.track_id for e in run.monitor.lost(T0 + 2, np.array([12]), geo_of(drone(1000.0, 1000.0)))] == ["T-12"]


def test_sensor_offline_once_per_outage_from_last_will_or_missed_heartbeat() -> None:
    monitor = ThreatMonitor(ThreatParams(heartbeat_timeout_s=15.0), [])
    place = (54.3, 23.15)
    assert monitor.sensor_status("radar", "online", T0, place) == []
    assert monitor.heartbeats(T0 + 15.0) == []
    missed = monitor.heartbeats(T0 + 15.5)
    assert [(e.kind, e.sensor_id, e.track_id, e.lat) for e in missed] == [("sensor_offline", "radar", None, 54.3)]
    assert monitor.heartbeats(T0 + 60) == []
    assert monitor.sensor_status("radar", "offline", T0 + 61, place) == []  # the same outage
    assert monitor.sensor_status("radar", "online", T0 + 70, place) == []
    will = monitor.sensor_status("radar", "offline", T0 + 72, place)
    assert [e.message for e in will] == ["Sensor radar went offline"]
    assert monitor.sensor_status("radar", "offline", T0 + 72, place) == []


def test_a_restart_does_not_repeat_an_alerted_outage() -> None:
    monitor = ThreatMonitor(ThreatParams(), [])
    monitor.remember_sensor_alerts({"radar": T0 + 20, "rf": T0 + 20})
    assert monitor.sensor_status("radar", "offline", T0 + 20, None) == []   # retained last will
    assert monitor.sensor_status("rf", "online", T0, None) == []            # retained old status
    assert monitor.heartbeats(T0 + 100) == []
    assert monitor.sensor_status("rf", "offline", T0 + 200, None) == []      # still the same outage
    assert monitor.sensor_status("rf", "online", T0 + 300, None) == []
    assert len(monitor.sensor_status("rf", "offline", T0 + 400, None)) == 1  # a new outage


RADAR = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}


def plot_message(sensor_id: str, t: float, seq: int, east: float, north: float, probs: dict[str, float],
                 delay: float = 0.0) -> tuple[str, bytes, float]:
    """One radar message of ``sensor_id`` at the site at time ``t``: one plot of a target 100 m up at (east, north)
    of the site, with class evidence ``probs``, delivered ``delay`` s late."""
    ground = math.hypot(east, north)
    det = {"range_m": math.hypot(ground, 100.0), "azimuth_deg": math.degrees(math.atan2(east, north)) % 360,
           "elevation_deg": math.degrees(math.atan2(100.0, ground)), "class_probs": probs}
    msg = {"schema": "sargas.detections/1", "sensor_id": sensor_id, "kind": "radar", "time": t, "seq": seq,
           "origin": RADAR, "detections": [det]}
    return f"sargas/v1/sensors/{sensor_id}/detections", json.dumps(msg).encode(), t + delay


def radar_stream(n: int, start_north: float = -2000.0, start: float = T0,
                 period: float = 1.0) -> list[tuple[str, bytes, float]]:
    """One drone flying north at 20 m/s through the border strip, seen by a radar at the site scanning every
    ``period`` seconds from ``start``."""
    return [plot_message("radar", start + k * period, k, 0.0, start_north + 20.0 * k * period, {"drone": 0.8})
            for k in range(n)]


def fuse(config: FusionConfig, stream: list[tuple[str, bytes, float]]) -> list[dict[str, Any]]:
    engine = FusionEngine(config)
    out = [o for topic, payload, t in stream for o in engine.handle(topic, payload, t)] + engine.flush()
    return [load_json(o.payload) for o in out if o.topic.endswith(("alerts", "tracks"))]


def test_the_engine_reads_zones_alerts_and_stays_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(ZONES))
    config = FusionConfig(zones_file=path)
    status = SensorStatus.model_validate({"schema": "sargas.sensor_status/1", "sensor_id": "radar", "kind": "radar",
                                          "time": T0, "state": "online", "origin": RADAR})
    stream = [("sargas/v1/sensors/radar/status", encode(status), T0), *radar_stream(90)]
    first = fuse(config, stream)
    assert first == fuse(config, stream)
    alerts = [(m["kind"], m.get("zone"), m.get("sensor_id")) for m in first if m["schema"] == "sargas.alerts/1"]
    assert alerts == [("new_threat", "border-strip", None), ("sensor_offline", None, "radar"),
                      ("threat_escalated", "border-strip", None), ("zone_entry", "border-strip", None)]
    zones = {tr["threat"]["zone"] for m in first if m["schema"] == "sargas.tracks/1" for tr in m["tracks"]}
    assert "border-strip" in zones


def bird_radar(times: list[float], delay: float = 0.0) -> list[tuple[str, bytes, float]]:
    """A second radar ("radarb") at the site scanning at ``times``, each delivered ``delay`` s late: one bird 3 km
    north, flying east, far from every zone."""
    return [plot_message("radarb", t, k, 1500.0 + 15.0 * (t - T0), 3000.0, {"bird": 0.9}, delay)
            for k, t in enumerate(times)]


def test_a_track_an_alert_names_is_published_at_the_alerts_time(tmp_path: Path) -> None:
    """Scans between the grid times: a track alert raised by a scan is followed at once by a tracks message of
    its time that shows the track as the alert says (its zone, its level), not up to a period later."""
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(ZONES))
    out = fuse(FusionConfig(zones_file=path), radar_stream(360, start=T0 + 0.1, period=0.25))
    alerts = [m for m in out if m["schema"] == "sargas.alerts/1" and m["track_id"]]
    assert [a["kind"] for a in alerts] == ["new_threat", "threat_escalated", "zone_entry"]
    tracks = [m for m in out if m["schema"] == "sargas.tracks/1"]
    off_grid = [m["time"] for m in tracks[:-1] if round((m["time"] - T0) % 0.5, 6)]  # the last: ``flush``
    assert off_grid == [a["time"] for a in alerts if round((a["time"] - T0) % 0.5, 6)] and len(off_grid) >= 2
    for alert in alerts:
        message = next(m for m in tracks if m["time"] == alert["time"])
        assert out.index(alert) < out.index(message)  # the alert first, then the tracks that show it
        track = next(tr for tr in message["tracks"] if tr["track_id"] == alert["track_id"])
        assert track["threat"]["zone"] == alert["zone"] == "border-strip"
    escalated = next(a for a in alerts if a["kind"] == "threat_escalated")
    level = {m["time"]: next(tr["threat"]["level"] for tr in m["tracks"] if tr["track_id"] == escalated["track_id"])
             for m in tracks if m["time"] <= escalated["time"]}
    assert f"to {level[escalated['time']]}" in escalated["message"]
    assert level[max(t for t in level if t < escalated["time"])] != level[escalated["time"]]  # not shown before


def test_one_tracks_message_per_time_whatever_asks_for_it(tmp_path: Path) -> None:
    """Two radars scanning at the same times off the grid: the drone's track is confirmed by one radar's message
    and the bird's by the other's, at the same time, and one tracks message of that time shows both. A scan
    stamped with a grid time that arrives after that grid time's message went out (late, yet not older than the
    fusion time, which is that grid time) asks for no second message of that time."""
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(ZONES))
    config = FusionConfig(zones_file=path)
    drone = radar_stream(40, start=T0 + 0.1, period=0.25)
    out = fuse(config, sorted(drone + bird_radar([T0 + 0.1 + 0.25 * k for k in range(40)]), key=lambda s: s[2]))
    times = [m["time"] for m in out if m["schema"] == "sargas.tracks/1"]
    assert len(times) == len(set(times))
    first = next(m for m in out if m["schema"] == "sargas.tracks/1" and m["tracks"]
                 and all(tr["status"] == "confirmed" for tr in m["tracks"]))
    assert len(first["tracks"]) == 2 and round((first["time"] - T0) % 0.5, 6)  # both at once, off the grid
    late = bird_radar([T0 + k for k in range(1, 15)], delay=0.36)  # B's scan at G fused after G's message
    out = fuse(config, sorted(radar_stream(80, start=T0 + 0.1, period=0.25) + late, key=lambda s: s[2]))
    times = [m["time"] for m in out if m["schema"] == "sargas.tracks/1"]
    assert len(times) == len(set(times)) and len([m for m in out if m["schema"] == "sargas.alerts/1"]) >= 1


def test_the_engine_raises_track_lost_for_a_deleted_threat_but_not_for_a_merged_one(tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(ZONES))

    def end_t1(merged_into: int) -> tuple[list[tuple[str, str]], FusionEngine]:
        """Fly the drone until T-1 has raised new_threat, then end T-1 (0: deleted, else merged into that track)."""
        engine = FusionEngine(FusionConfig(zones_file=path))
        out = [o for topic, payload, t in radar_stream(60) for o in engine.handle(topic, payload, t)]
        assert [load_json(o.payload)["track_id"] for o in out if o.topic.endswith("alerts")][:1] == ["T-1"]
        tab = engine.tracker.table
        ended = Ended(T0 + 60, tab.number[:1], tab.x[:1], tab.t[:1], np.array([True]), np.array([merged_into]))
        return [(e.kind, e.track_id) for e in engine._on_ended(ended)], engine

    assert end_t1(0)[0] == [("track_lost", "T-1")]
    alerts, engine = end_t1(7)
    assert alerts == []  # merged into T-7: the target lives on there, alerted at T-1's level
    assert [LEVELS[i] for i in engine.threat.current(np.array([1, 7])).level] == ["none", "critical"]


def test_a_bad_zones_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        FusionConfig(zones_file=path)
    with pytest.raises(ValueError, match="No such file"):
        FusionConfig(zones_file=tmp_path / "missing.geojson")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]}))
    config_file = tmp_path / "fusion.yaml"
    config_file.write_text("zones_file: zones.geojson\n")
    with pytest.raises(ValueError, match="zone feature 0: properties.name"):
        FusionConfig.from_file(config_file)
    path.write_text(json.dumps(ZONES))
    assert [z.name for z in FusionConfig.from_file(config_file).zones()] == ["base", "border-strip"]
