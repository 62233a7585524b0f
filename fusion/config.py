"""Configuration of the fusion core: noise models, gates, track management and publishing.

One frozen pydantic model, so a YAML file (``sargas ... --config``) is validated with
clear messages and the same object can be shared by the pipeline, tracker and threat
logic without anyone mutating it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusion.threat import ThreatParams
from fusion.tracking import TrackerParams

PositiveFloat = Annotated[float, Field(gt=0.0)]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Frozen(BaseModel):
    """Base of the config sections: immutable, unknown keys are a mistake."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SiteOrigin(_Frozen):
    """Origin of the site's local ENU frame, in which all tracking happens."""

    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    alt_m: float = 0.0


class SensorSigma(_Frozen):
    """Default one-sigma measurement noise of one sensor kind, used when a detection has no ``sigma``."""

    range_m: PositiveFloat = 10.0
    azimuth_deg: PositiveFloat = 1.0
    elevation_deg: PositiveFloat = 1.5
    radial_velocity_mps: PositiveFloat = 1.0
    position_m: PositiveFloat = 10.0
    velocity_mps: PositiveFloat = 2.0


class Sigmas(_Frozen):
    """Default measurement noise per sensor kind."""

    radar: SensorSigma = SensorSigma()
    acoustic: SensorSigma = SensorSigma(azimuth_deg=3.0, elevation_deg=5.0)
    rf: SensorSigma = SensorSigma(azimuth_deg=5.0, elevation_deg=10.0, position_m=10.0, velocity_mps=2.0)


class FusionConfig(_Frozen):
    """Every tunable of the fusion core, with defaults for small drones seen by 1 Hz sensors."""

    #: Site frame origin; None means the first sensor origin seen.
    site_origin: SiteOrigin | None = None
    sigma: Sigmas = Sigmas()
    #: Elevation sigma assumed when a radar detection has no elevation (2-D radar), deg.
    missing_elevation_sigma_deg: PositiveFloat = 10.0
    #: Altitude sigma assumed for a Remote ID position with unknown altitude, m.
    missing_altitude_sigma_m: PositiveFloat = 300.0

    #: White-acceleration CV process noise spectral density, m²/s³.
    q_horizontal: PositiveFloat = 3.0
    q_vertical: PositiveFloat = 1.0
    #: Velocity sigma of a newly started track whose velocity is unknown, m/s.
    initial_velocity_sigma_mps: PositiveFloat = 30.0

    #: Probability that the true detection falls inside the gate (chi² gate per dimension count).
    gate_probability: Probability = 0.999
    #: Cost of leaving a track or a detection unassigned in GNN (in units of d² + ln|S R⁻¹|).
    non_assignment_cost: PositiveFloat = 20.0
    #: An unassigned plot with d² below this many times the gate of a confirmed or coasting track
    #: starts no track: it is that track's target manoeuvring, not a new one.
    initiation_exclusion: Annotated[float, Field(ge=0.0)] = 4.0

    #: Updates needed to confirm a tentative track. 4 rather than 3: with 10 false plots per scan
    #: spread over a 5 km radar, 3 hits confirmed ~9 false tracks in 300 s, 4 hits none.
    confirm_hits: Annotated[int, Field(ge=1)] = 4
    #: A tentative track not updated for this long is deleted, s.
    tentative_timeout_s: PositiveFloat = 3.0
    #: A confirmed track not updated for this long is coasting, s.
    coast_after_s: PositiveFloat = 2.5
    #: A coasting track not updated for this long is deleted, s.
    delete_after_s: PositiveFloat = 10.0
    #: A track whose position sigma exceeds this has diverged and is deleted, m.
    max_position_sigma_m: PositiveFloat = 2000.0
    #: A sensor counts among a track's sensors if it updated the track this recently, s.
    sensor_recent_s: PositiveFloat = 10.0

    #: Class prior (drone, bird, aircraft, unknown); an unseen track stays 'unknown'.
    class_prior: tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat] = (0.2, 0.2, 0.1, 0.5)
    #: Exponent applied to a classifier's output: successive outputs are correlated.
    class_evidence_weight: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    #: Floor of a classifier likelihood, so one output never rules a class out.
    class_floor: Probability = 0.05
    #: Likelihood of (drone, bird, aircraft, unknown) given an RF emitter / Remote ID detection.
    emitter_likelihood: tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat] = (0.9, 0.01, 0.04, 0.05)
    #: Smallest class probability a track keeps, so labels can still change.
    class_min_p: Probability = 1e-3

    #: A confirmed drone track with at least this label probability is a threat.
    threat_min_p: Probability = 0.5

    #: Detections are held this long (message time) so that late ones can be put in order, s.
    reorder_window_s: Annotated[float, Field(ge=0.0)] = 0.3
    #: Tracks are published every this many seconds of fusion time (the protocol needs ≤ 1 s).
    publish_period_s: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    #: Size limit of one incoming or outgoing message, bytes.
    max_message_bytes: Annotated[int, Field(gt=1024)] = 256 * 1024

    def tracker_params(self) -> TrackerParams:
        """The subset of this configuration that the pure tracker needs."""
        return TrackerParams(
            q_horizontal=self.q_horizontal, q_vertical=self.q_vertical,
            initial_velocity_sigma_mps=self.initial_velocity_sigma_mps,
            missing_elevation_sigma_rad=math.radians(self.missing_elevation_sigma_deg),
            missing_altitude_sigma_m=self.missing_altitude_sigma_m,
            gate_probability=self.gate_probability, non_assignment_cost=self.non_assignment_cost,
            initiation_exclusion=self.initiation_exclusion,
            confirm_hits=self.confirm_hits, tentative_timeout_s=self.tentative_timeout_s,
            coast_after_s=self.coast_after_s, delete_after_s=self.delete_after_s,
            max_position_sigma_m=self.max_position_sigma_m, sensor_recent_s=self.sensor_recent_s,
            class_prior=self.class_prior, class_evidence_weight=self.class_evidence_weight,
            class_floor=self.class_floor, emitter_likelihood=self.emitter_likelihood,
            class_min_p=self.class_min_p,
        )

    def threat_params(self) -> ThreatParams:
        """The subset of this configuration that threat assessment needs."""
        return ThreatParams(min_p=self.threat_min_p)

    @classmethod
    def from_file(cls, path: str | Path) -> FusionConfig:
        """Load a YAML (or JSON) file; raise ValueError with a readable message if it is invalid."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError("the configuration must be a mapping of option: value")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(str(exc)) from None
