"""Tracker parameters as a plain frozen dataclass, so the maths depends on nothing but numpy.

``fusion.config.FusionConfig.tracker_params()`` builds one from the user's configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fusion.tracking.filters import Mode


@dataclass(frozen=True)
class TrackerParams:
    """Everything the tracker needs to know; see ``FusionConfig`` for the meaning of each."""

    #: IMM modes: a quiet CV, left/right coordinated turns and a hover whose velocity decays to zero
    #: (see ``FusionConfig``; the hover's q is 2σ²/τ for a velocity spread σ = 0.5 m/s, τ = 1 s), entered
    #: from any other mode once per 300 s on average. The CV and turns hold altitude: their vertical
    #: velocity decays with τ = 10 s (``FusionConfig.vertical_velocity_tau_s``).
    modes: tuple[Mode, ...] = (Mode(0.0, 0.02, 0.02, 60.0, vertical_tau_s=10.0),
                               Mode(math.radians(15.0), 1.0, 0.05, 5.0, vertical_tau_s=10.0),
                               Mode(-math.radians(15.0), 1.0, 0.05, 5.0, vertical_tau_s=10.0),
                               Mode(0.0, 0.5, 0.5, 30.0, 1.0, 300.0))
    initial_mode_p: tuple[float, ...] = (0.8, 0.09, 0.09, 0.02)
    initial_velocity_sigma_mps: float = 30.0
    initial_vertical_velocity_sigma_mps: float = 5.0
    formation_velocity_sigma_mps: float = 5.0
    missing_elevation_sigma_rad: float = 0.17453292519943295
    missing_altitude_sigma_m: float = 300.0
    gate_probability: float = 0.999
    non_assignment_cost: float = 20.0
    association: str = "jpda"
    detection_probability: float = 0.9
    clutter_density: float = 1e-6
    amplitude_max_log_ratio: float = 10.0
    jpda_max_exact: int = 10
    jpda_explained: float = 0.5
    initiation_exclusion: float = 4.0
    confirm_hits: int = 4
    tentative_timeout_s: float = 3.0
    confirm_score: float = 30.0
    bearing_clutter_density: float = 1e-2
    revisit_s: float = 1.0
    coast_after_s: float = 2.5
    delete_after_s: float = 10.0
    max_position_sigma_m: float = 2000.0
    sensor_recent_s: float = 10.0
    class_prior: tuple[float, float, float, float] = (0.2, 0.2, 0.1, 0.5)
    class_mix_strength: float = 10.0
    class_evidence_weight: float = 0.5
    class_floor: float = 0.05
    emitter_likelihood: tuple[float, float, float, float] = (0.9, 0.01, 0.04, 0.05)
    bearing_emitter_likelihood: tuple[float, float, float, float] = (0.6, 0.12, 0.12, 0.16)
    class_min_p: float = 1e-3
    speed_evidence_weight: float = 0.1
    crossing_window_s: float = 1.5
    crossing_speed_mps: float = 20.0
    min_crossing_deg: float = 10.0
    crossing_altitude_m: float = 60.0
    crossing_altitude_sigma_m: float = 100.0
    altitude_prior_period_s: float = 10.0
    strobe_max_age_s: float = 2.0
    coverage_margin: float = 1.25
    merge_gate_probability: float = 0.99
    merge_after_s: float = 2.0
    merge_unseen_probability: float = 1e-3
    min_detection_probability: float = 0.2
    tentative_miss_probability: float = 0.05
    identity_memory_s: float = 10.0
    bearing_only_switch_scale: float = 10.0
    formation_radius_m: float = 100.0
    formation_velocity_spread_mps: float = 0.5
    formation_class_weight: float = 0.1
    flock_radius_m: float = 300.0
    flock_min_speed_mps: float = 3.0
