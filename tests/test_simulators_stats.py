"""Statistical checks of the sensor models over many seeded draws: detection probability, false alarms, clutter field.

Tolerances are four binomial (or Poisson) standard deviations: a correct model passes with
probability above 0.9999 for a given seed, and the seeds are fixed, while a model that is
off by the kind of mistake these guard against (a wrong law, a factor of two) fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from fusion.geo import enu_to_polar
from simulators.scenario import RECORDING_EPOCH, Scenario
from simulators.sensors import AcousticArray, Radar, RfDirectionFinder
from simulators.sensors.rf import free_space_loss_db
from simulators.simulation import Simulation

SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}


def sensor_alone(sensor: dict[str, Any], targets: list[dict[str, Any]], seed: int = 5) -> tuple[Simulation, Any]:
    """A one-sensor simulation at the site origin with hovering targets."""
    spec = Scenario.model_validate({"name": "stats", "seed": seed, "duration_s": 10.0, "site": SITE,
                                    "sensors": [{"id": "s1", "east": 0, "north": 0, **sensor}], "targets": targets})
    sim = Simulation(spec, RECORDING_EPOCH, "sargas/v1")
    return sim, sim.sensors[0]


def hover(target_id: str, label: str, east: float, north: float, up: float, **extra: Any) -> dict[str, Any]:
    return {"id": target_id, "label": label, "speed_mps": 1.0,
            "waypoints": [{"east": east, "north": north, "up": up}], **extra}


def updates(sim: Simulation, sensor: Any, n: int) -> list[list[Any]]:
    """The detections of ``n`` periods (a radar's full scans, all sectors together) against the truth at sim time 0."""
    state = sim.targets.state(0.0)
    per = len(sensor.update_offsets_s)
    return [[d for k in range(p * per, (p + 1) * per) for d in sensor.detect(RECORDING_EPOCH + k, state, k).detections]
            for p in range(n)]


def within(observed: float, expected: float, n: int) -> bool:
    """Whether a rate of ``n`` Bernoulli draws is within four standard deviations of ``expected``."""
    return abs(observed - expected) <= 4.0 * math.sqrt(expected * (1.0 - expected) / n)


def test_acoustic_detection_probability_follows_its_logistic_law() -> None:
    sim, array = sensor_alone({"kind": "acoustic", "false_alarms_per_update": 0.0, "max_range_m": 3000},
                              [hover("uav", "drone", 0, 1100, 50)])
    assert isinstance(array, AcousticArray)
    r = float(np.linalg.norm(array.local(sim.targets.state(0.0))[0][0]))
    expected = float(array.detection_probability(r, 85.0))
    assert 0.3 < expected < 0.8
    n = 3000
    rate = sum(1 for dets in updates(sim, array, n) if dets) / n
    assert within(rate, expected, n), (rate, expected)
    assert array.detection_probability(3500.0, 85.0) == 0.0  # beyond max range


def test_acoustic_false_alarms_are_poisson_at_the_configured_rate() -> None:
    sim, array = sensor_alone({"kind": "acoustic", "false_alarms_per_update": 0.4}, [])
    counts = np.array([len(d) for d in updates(sim, array, 4000)])
    assert abs(counts.mean() - 0.4) < 4 * math.sqrt(0.4 / 4000)
    assert abs(counts.var() / counts.mean() - 1.0) < 0.1  # Poisson: variance equals mean


def test_rf_detection_probability_follows_path_loss_and_shadowing() -> None:
    sim, finder = sensor_alone({"kind": "rf_df", "false_alarms_per_update": 0.0, "max_range_m": 20000,
                                "detection": {"sensitivity_dbm": -90.0}},
                               [hover("uav", "drone", 0, 3000, 100, emits_rf=True)])
    assert isinstance(finder, RfDirectionFinder)
    r = float(np.linalg.norm(finder.local(sim.targets.state(0.0))[0][0]))
    mean_rssi = 20.0 - float(free_space_loss_db(r, 2437.0))
    expected = float(stats.norm.sf((-90.0 - mean_rssi) / 4.0))
    assert 0.2 < expected < 0.8
    n = 3000
    found = [d for dets in updates(sim, finder, n) for d in dets]
    assert within(len(found) / n, expected, n), (len(found) / n, expected)
    assert min(d.rssi_dbm for d in found) >= -90.0


def test_rf_false_alarm_rate() -> None:
    sim, finder = sensor_alone({"kind": "rf_df", "false_alarms_per_update": 0.1}, [])
    counts = np.array([len(d) for d in updates(sim, finder, 4000)])
    assert abs(counts.mean() - 0.1) < 4 * math.sqrt(0.1 / 4000)
    assert all(d.truth_id is None for dets in updates(sim, finder, 200) for d in dets)


def test_radar_clutter_is_uniform_over_the_covered_area_and_sector() -> None:
    sim, radar = sensor_alone({"kind": "radar", "false_alarms_per_scan": 5.0, "min_range_m": 100,
                               "max_range_m": 4000, "azimuth_min_deg": 300, "azimuth_max_deg": 60}, [])
    assert isinstance(radar, Radar)
    clutter = [d for dets in updates(sim, radar, 800) for d in dets]
    assert abs(len(clutter) / 800 - 5.0) < 4 * math.sqrt(5.0 / 800)
    r2 = (np.array([d.range_m for d in clutter]) ** 2 - 100.0 ** 2) / (4000.0 ** 2 - 100.0 ** 2)
    assert stats.kstest(np.clip(r2, 0, 1), "uniform").pvalue > 1e-4  # uniform per unit area, not per metre of range
    az = np.array([d.azimuth_deg for d in clutter])
    assert ((az >= 299.0) | (az <= 61.0)).all()  # inside the sector (plus noise-free wrap)
    assert stats.kstest(((az - 300.0) % 360.0) / 120.0, "uniform").pvalue > 1e-4


@pytest.mark.parametrize(("east", "north", "up", "seen"), [
    (1000.0, 1000.0, 20.0, False),   # az 45°, elevation about 0.3°: below the 2° mask
    (1000.0, 1000.0, 200.0, True),   # az 45°, elevation about 7°: above it
    (-1000.0, 200.0, 100.0, True),   # az 281°: the sector mask is lower there (0.5°)
    (-1000.0, -1000.0, 200.0, False),  # az 225°: outside the 270°–90° sector
])
def test_radar_horizon_mask_and_sector(east: float, north: float, up: float, seen: bool) -> None:
    sim, radar = sensor_alone({"kind": "radar", "false_alarms_per_scan": 0.0, "azimuth_min_deg": 270,
                               "azimuth_max_deg": 90, "horizon_deg": 2.0,
                               "horizon_sectors": [{"azimuth_min_deg": 260, "azimuth_max_deg": 300,
                                                    "elevation_deg": 0.5}]},
                              [hover("t", "aircraft", east, north, up)])
    _, az, el = enu_to_polar(radar.local(sim.targets.state(0.0))[0])
    hits = sum(len(d) for d in updates(sim, radar, 100))
    assert (hits > 90) == seen and (hits == 0) == (not seen), (float(az[0]), float(el[0]), hits)
    assert radar.status(RECORDING_EPOCH, "online").coverage.azimuth_min_deg == 270  # type: ignore[union-attr]
