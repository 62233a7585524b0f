"""Tracker parameters as a plain frozen dataclass, so the maths depends on nothing but numpy.

``fusion.config.FusionConfig.tracker_params()`` builds one from the user's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackerParams:
    """Everything the tracker needs to know; see ``FusionConfig`` for the meaning of each."""

    q_horizontal: float = 3.0
    q_vertical: float = 1.0
    initial_velocity_sigma_mps: float = 30.0
    missing_elevation_sigma_rad: float = 0.17453292519943295
    missing_altitude_sigma_m: float = 300.0
    gate_probability: float = 0.999
    non_assignment_cost: float = 20.0
    initiation_exclusion: float = 4.0
    confirm_hits: int = 4
    tentative_timeout_s: float = 3.0
    coast_after_s: float = 2.5
    delete_after_s: float = 10.0
    max_position_sigma_m: float = 2000.0
    sensor_recent_s: float = 10.0
    class_prior: tuple[float, float, float, float] = (0.2, 0.2, 0.1, 0.5)
    class_evidence_weight: float = 0.5
    class_floor: float = 0.05
    emitter_likelihood: tuple[float, float, float, float] = (0.9, 0.01, 0.04, 0.05)
    class_min_p: float = 1e-3
