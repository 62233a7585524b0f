"""A rotating radar reported per sector: spans, times, contents and clutter of its sector messages."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from fusion.geo import polar_to_enu
from fusion.protocol import DetectionsMessage, SensorStatus, Topics, decode
from simulators.scenario import RECORDING_EPOCH, Scenario, load_scenario
from simulators.sensors import Radar
from simulators.simulation import Simulation

SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}
TOPICS = Topics("sargas/v1")
#: Forty drones hovering on a ring 1.5 km out, so that some sit on every sector boundary.
RING = [{"id": f"u{k}", "label": "drone", "speed_mps": 1.0, "rcs_dbsm": 0.0,
         "waypoints": [{"east": 1500 * math.sin(math.radians(9 * k)), "north": 1500 * math.cos(math.radians(9 * k)),
                        "up": 100}]} for k in range(40)]


def radar_run(duration_s: float, targets: list[dict[str, Any]] = RING, **radar: Any
              ) -> tuple[Radar, list[DetectionsMessage], list[SensorStatus]]:
    """The radar model, its detections messages and its statuses over a run of ``duration_s``, as published."""
    spec = Scenario.model_validate({"name": "sectors", "seed": 11, "duration_s": duration_s, "site": SITE,
                                    "sensors": [{"id": "r1", "kind": "radar", "east": 0, "north": 0, **radar}],
                                    "targets": targets})
    sim = Simulation(spec, RECORDING_EPOCH, TOPICS.prefix, sources=["r1"])
    messages = [decode(e.topic, e.payload, TOPICS) for e in sim.events()]
    return (sim.sensors[0], [m for m in messages if isinstance(m, DetectionsMessage)],  # type: ignore[return-value]
            [m for m in messages if isinstance(m, SensorStatus)])


def span(message: DetectionsMessage) -> tuple[float, float]:
    """The sector of a sector message: its azimuth from and to (clockwise)."""
    assert message.sector is not None
    return message.sector.azimuth_min_deg, message.sector.azimuth_max_deg


def inside(azimuth_deg: float | None, low: float, high: float) -> bool:
    """Whether an azimuth lies in the span clockwise from ``low`` to ``high`` (ends included)."""
    assert azimuth_deg is not None
    return (azimuth_deg - low) % 360.0 <= (high - low) % 360.0


@pytest.mark.parametrize(("radar", "width"), [
    ({"sectors_per_scan": 8}, 360.0),
    ({"sectors_per_scan": 5, "azimuth_min_deg": 330, "azimuth_max_deg": 110}, 140.0),  # wraps through north
])
def test_sector_messages_tile_the_coverage_once_a_scan_at_the_sweep_times(radar: dict[str, Any],
                                                                          width: float) -> None:
    model, messages, statuses = radar_run(20.0, scan_period_s=2.0, **radar)
    n = radar["sectors_per_scan"]
    assert {s.scan_period_s for s in statuses} == {2.0}  # the full rotation
    assert [m.seq for m in messages] == list(range(len(messages))) and len(messages) >= 9 * n
    for k, m in enumerate(messages):
        low, high = span(m)
        assert m.sector == model.sector(k) and (high - low) % 360.0 == pytest.approx(width / n, abs=2e-3)
    for scan in range(len(messages) // n):
        sweep = messages[scan * n:(scan + 1) * n]
        edges = [span(m) for m in sweep]
        assert edges[0][0] == radar.get("azimuth_min_deg", 0) and edges[-1][1] == radar.get("azimuth_max_deg", 0)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))  # contiguous, no overlap
        np.testing.assert_allclose(np.diff([m.time for m in sweep]), 2.0 * width / 360.0 / n, atol=2e-6)
    starts = [m.time for m in messages[::n]]
    np.testing.assert_allclose(np.diff(starts), 2.0, atol=2e-6)  # the beam comes round once a scan period


@pytest.mark.parametrize("radar", [
    {"sectors_per_scan": 8, "false_alarms_per_scan": 4.0},
    {"sectors_per_scan": 7, "false_alarms_per_scan": 4.0, "azimuth_min_deg": 300, "azimuth_max_deg": 60},
])
def test_every_detection_lies_in_its_sector_and_a_target_is_seen_at_most_once_a_scan(radar: dict[str, Any]) -> None:
    model, messages, _ = radar_run(30.0, **radar)
    n = radar["sectors_per_scan"]
    seen = 0
    for scan in range(len(messages) // n):
        ids = []
        for m in messages[scan * n:(scan + 1) * n]:
            low, high = span(m)
            assert all(inside(d.azimuth_deg, low, high) for d in m.detections), (low, high)
            ids += [d.truth_id for d in m.detections if d.truth_id is not None]
        assert len(ids) == len(set(ids))
        seen += len(ids)
    in_view = sum(model.in_sector(9.0 * k).item() for k in range(40))
    assert in_view == (40 if model.sector_width_deg == 360.0 else 13)
    assert seen > 0.95 * in_view * (len(messages) // n)  # 0 dBsm at 1.5 km: nearly always detected


def test_targets_are_measured_at_their_sectors_time() -> None:
    fast = [{"id": "jet", "label": "aircraft", "speed_mps": 80.0,
             "waypoints": [{"east": -3000, "north": 1000, "up": 300}, {"east": 3000, "north": 1000, "up": 300}]}]
    _, messages, _ = radar_run(60.0, fast, sectors_per_scan=8, scan_period_s=4.0, false_alarms_per_scan=0.0)
    found = [(m.time, polar_to_enu(*np.array([d.range_m, d.azimuth_deg, d.elevation_deg], dtype=float)))
             for m in messages for d in m.detections]
    assert len(found) > 10
    for time, enu in found:
        assert abs(enu[0] - (-3000.0 + 80.0 * (time - RECORDING_EPOCH))) < 60.0  # noise only, not 320 m a scan


def test_one_sector_a_scan_is_one_message_without_a_sector() -> None:
    _, messages, _ = radar_run(10.0, sectors_per_scan=1)
    assert len(messages) in (9, 10) and all(m.sector is None for m in messages)
    np.testing.assert_allclose(np.diff([m.time for m in messages]), 1.0, atol=2e-6)


def test_clutter_per_full_scan_keeps_the_configured_rate() -> None:
    model, messages, _ = radar_run(400.0, [], sectors_per_scan=8, false_alarms_per_scan=3.0)
    n = len(messages) // 8
    counts = np.array([len(m.detections) for m in messages[:8 * n]]).reshape(n, 8)
    per_scan = counts.sum(axis=1)
    assert abs(per_scan.mean() - 3.0) < 4 * math.sqrt(3.0 / n)
    assert abs(per_scan.var() / per_scan.mean() - 1.0) < 0.3  # Poisson over the scan
    assert abs(counts.mean() - 3.0 / 8) < 4 * math.sqrt(3.0 / 8 / counts.size)  # and evenly over the sectors
    assert model.config.false_alarms_per_scan == 3.0


def test_sector_messages_are_the_same_bytes_run_to_run_and_alone() -> None:
    spec = load_scenario("crossing")

    def radar_payloads(sources: list[str] | None) -> list[bytes]:
        return [e.payload for e in Simulation(spec, RECORDING_EPOCH, TOPICS.prefix, sources).events(20.0)
                if e.source == "radar-punsk" and e.kind == "detections"]
    full = radar_payloads(None)
    assert len(full) > 8 * 19 and full == radar_payloads(None) == radar_payloads(["radar-punsk"])
