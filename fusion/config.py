"""Configuration of the fusion core: noise models, gates, track management and publishing.

One frozen pydantic model, so a YAML file (``sargas ... --config``) is validated with
clear messages and the same object can be shared by the pipeline, tracker and threat
logic without anyone mutating it.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusion.threat import ThreatParams, ZoneSpec, parse_zones
from fusion.tracking import TrackerParams
from fusion.tracking.filters import Mode

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


def read_zones(path: Path) -> list[ZoneSpec]:
    """The zones of a GeoJSON file; ValueError saying what is wrong with it."""
    try:
        return parse_zones(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


class FusionConfig(_Frozen):
    """Every tunable of the fusion core, with defaults for small drones seen by 1 Hz sensors."""

    #: Site frame origin; None means the first sensor origin seen.
    site_origin: SiteOrigin | None = None
    sigma: Sigmas = Sigmas()
    #: Elevation sigma assumed when a radar detection has no elevation (2-D radar), deg.
    missing_elevation_sigma_deg: PositiveFloat = 10.0
    #: Altitude sigma assumed for a Remote ID position with unknown altitude, m.
    missing_altitude_sigma_m: PositiveFloat = 300.0

    #: IMM motion modes. Quiet CV: white-acceleration spectral densities, m²/s³ (0.02 ≈ 0.15 m/s² of
    #: random acceleration over a 1 s scan: a small drone cruising on autopilot; turns, starts and
    #: stops are the manoeuvre modes' job).
    q_horizontal: PositiveFloat = 0.02
    q_vertical: PositiveFloat = 0.02
    #: Manoeuvre modes: left and right coordinated turns at this rate (deg/s; 15 deg/s at 14 m/s is
    #: 3.7 m/s², a quadcopter's brisk turn) with these spectral densities, m²/s³ (turns are
    #: horizontal: the vertical stays almost as calm as in CV).
    turn_rate_deg_s: PositiveFloat = 15.0
    q_manoeuvre_horizontal: PositiveFloat = 1.0
    q_manoeuvre_vertical: PositiveFloat = 0.05
    #: Mean time spent in the quiet CV and in a turn before switching, s (the long-run CV share is
    #: 60 / 70), and the initial probability of the quiet CV.
    cv_sojourn_s: PositiveFloat = 60.0
    turn_sojourn_s: PositiveFloat = 5.0
    initial_cv_p: Probability = 0.8
    #: Hover mode, for multirotors that stop, hover and start again: each velocity component decays to
    #: zero with this time constant (the velocity loop of position hold: about 1 s) and keeps this spread
    #: in the hover (gusts against position hold, m/s); see ``fusion.tracking.motion``.
    hover_velocity_tau_s: PositiveFloat = 1.0
    hover_velocity_sigma_mps: PositiveFloat = 0.5
    #: Mean time a multirotor hovers before moving on, and mean flight time before it stops to hover, s
    #: (a stop every few minutes: the long-run hover share is 1/11; the other modes' switching among
    #: themselves is unchanged), and the initial hover probability (taken with ``initial_cv_p``; the
    #: turns share what is left: a target is mostly first seen flying into coverage, not hovering).
    hover_sojourn_s: PositiveFloat = 30.0
    hover_entry_s: PositiveFloat = 300.0
    initial_hover_p: Probability = 0.02
    #: Velocity sigma of a newly started track whose velocity is unknown, m/s.
    initial_velocity_sigma_mps: PositiveFloat = 30.0
    #: The same for the vertical velocity: small drones and birds climb or sink at a few m/s.
    initial_vertical_velocity_sigma_mps: PositiveFloat = 5.0
    #: Spread of the velocities within a formation or flock, m/s per axis: a radar plot inside the gate of an
    #: established track that the same scan detected starts its track with that track's velocity, its
    #: covariance widened by this (``Tracker._velocity_prior``), instead of the zero-mean prior above.
    formation_velocity_sigma_mps: PositiveFloat = 5.0

    #: Probability that the true detection falls inside the gate (chi² gate per dimension count).
    gate_probability: Probability = 0.999
    #: Cost of leaving a track or a detection unassigned in GNN (in the association cost's units, -2 ln(p(z) √|2πR|):
    #: d² + ln|S R⁻¹| for one Gaussian).
    non_assignment_cost: PositiveFloat = 20.0
    #: Association per sensor message: "gnn" (one optimal assignment), "jpda" (joint probabilistic
    #: data association: every track is updated with all its gated detections, weighted by their
    #: association probabilities) or "jpda_star" (JPDA*: JPDA without the permutations of close
    #: targets that make their estimates coalesce); see ``fusion.tracking.jpda`` and docs/performance.md.
    association: Literal["gnn", "jpda", "jpda_star"] = "jpda"
    #: JPDA: probability that a target in coverage is detected in one scan. The track score and the life of a
    #: tentative track use each track's own estimate from its radar plots' SNR instead, at most this.
    detection_probability: Probability = 0.9
    #: JPDA: expected false detections (clutter and new targets) per sensor resolution cell, i.e.
    #: per √|2πR| of measurement space, of plots and position reports (bearings: ``bearing_clutter_density``).
    clutter_density: PositiveFloat = 1e-6
    #: Most that one radar plot's amplitude (its SNR) says for or against its coming from a track's target rather than
    #: from clutter or a new target, in nats (``fusion.tracking.amplitude.log_ratios``, added to the track score's
    #: ``ln L``, ``Tracker._score``), and a track's first plot for or against a new target rather than clutter
    #: (``amplitude.birth_log_ratios``, the score's start); 0 leaves amplitudes out of the score.
    amplitude_max_log_ratio: Annotated[float, Field(ge=0.0)] = 10.0
    #: JPDA: clusters whose smaller side (tracks or detections) is at most this are enumerated exactly
    #: (cost ∝ 2^n); larger ones use cheap JPDA.
    jpda_max_exact: Annotated[int, Field(ge=1, le=16)] = 10
    #: JPDA: a detection whose association probabilities over all tracks sum to at least this starts
    #: no track (a track explains it).
    jpda_explained: Probability = 0.5
    #: An unassigned plot with d² below this many times the gate of a confirmed or coasting track that missed it
    #: starts no track: it is that track's target manoeuvring, not a new one. For a track the radar detects less
    #: often than ``detection_probability`` (its plots' SNR), fewer: 1 + (this - 1) Pd / ``detection_probability``
    #: gates, since a miss of a weak target says little of a manoeuvre (``Tracker._exclusion``).
    initiation_exclusion: Annotated[float, Field(ge=0.0)] = 4.0

    #: Bearings of two sensors at most this far apart in time may be crossed to start a track, s.
    crossing_window_s: PositiveFloat = 1.5
    #: Speed allowed for the target between the two bearings of a crossing, m/s.
    crossing_speed_mps: PositiveFloat = 20.0
    #: Smallest horizontal angle between two bearings that fixes a position, deg.
    min_crossing_deg: PositiveFloat = 10.0
    #: Altitude assumed above the sensors for crossings of bearings, and its sigma, m (small drones
    #: mostly fly below 120 m above the ground): it fixes the height of azimuth-only crossings, and is
    #: the one redundant constraint (χ² test) of two bearings with one elevation. Tracks that only
    #: bearings see also get it as a leaky prior worth one such measurement per ``altitude_prior_period_s``.
    crossing_altitude_m: float = 60.0
    crossing_altitude_sigma_m: PositiveFloat = 100.0
    altitude_prior_period_s: PositiveFloat = 10.0
    #: A strobe (a bearing that crosses nothing) is published for at most this long, s.
    strobe_max_age_s: PositiveFloat = 2.0
    #: A bearing sensor detects nothing beyond its stated coverage range (``coverage.max_range_m`` of its
    #: status): its bearings neither update tracks nor cross other bearings farther than this many times
    #: that range (a stated range is nominal, hence the margin; sensors without a status are unbounded).
    coverage_margin: Annotated[float, Field(ge=1.0)] = 1.25
    #: Two tracks whose state difference passes the χ²₆ test at this probability at every update for
    #: ``merge_after_s`` are one target: they are merged (``fusion.tracking.merging``). 2 s is two radar
    #: scans, shorter than a coasting track's life.
    merge_gate_probability: Probability = 0.99
    merge_after_s: PositiveFloat = 2.0
    #: A pair once seen as two objects is tested again only once the radar scans since would, with at most this
    #: probability (by the tracks' detection probabilities), never once have detected two objects there.
    merge_unseen_probability: Probability = 1e-3

    #: Updates needed to confirm a tentative track. 4 rather than 3: with 10 false plots per scan
    #: spread over a 5 km radar, 3 hits confirmed ~9 false tracks in 300 s, 4 hits none.
    confirm_hits: Annotated[int, Field(ge=1)] = 4
    #: A tentative track not updated for this long is deleted, s (see ``revisit_s``).
    tentative_timeout_s: PositiveFloat = 3.0
    #: A tentative track whose score (the summed ln(Pd·N(ν; 0, S)/λ) of its detections, target against
    #: clutter, a plot's with its amplitude's ratio, the first plot's amplitude's too) reaches this is confirmed before
    #: ``confirm_hits``: Wald's upper threshold ln(1/α)
    #: above the birth odds of a plot (~ln 1e-6 for one target among the clutter plots of a scan). It
    #: confirms at the detection that reaches it, a bearing too for a track one plot short of ``confirm_hits``.
    confirm_score: PositiveFloat = 30.0
    #: Track score, RF identities and JPDA: expected bearings from no track (clutter and targets without a
    #: track) per bearing resolution cell (√|2πR| of angle space); a bearing sensor reports a handful of lines
    #: over a few hundred cells. A radar cell's ``clutter_density`` in JPDA made every bearing on a track's line
    #: that track's (β ≈ 1): a new drone's first bearings went to another drone's track on its line.
    bearing_clutter_density: PositiveFloat = 1e-2
    #: The scan period of a sensor whose status states none (``scan_period_s``), and the period the timeouts are
    #: set for, s. The track score charges ln(1 - Pd) per scan of the detecting sensor missed since the last fix,
    #: beyond the first. A track's revisit is the longest period of the sensors whose plots or reports fixed it
    #: lately (within ``sensor_recent_s``); for a revisit longer than this a tentative track's life and
    #: ``coast_after_s`` (at most to ``delete_after_s`` - ``coast_after_s``) stretch by the ratio, so that a 3 s
    #: radar's tentative tracks wait as many scans for their next plot as a 1 s radar's. ``delete_after_s`` does
    #: not stretch: it bounds how long a target that has gone is still shown.
    revisit_s: PositiveFloat = 1.0
    #: A confirmed track not updated for this long is coasting, s (see ``revisit_s``).
    coast_after_s: PositiveFloat = 2.5
    #: A coasting track not updated for this long is deleted, s.
    delete_after_s: PositiveFloat = 10.0
    #: A track whose position sigma exceeds this has diverged and is deleted, m.
    max_position_sigma_m: PositiveFloat = 2000.0
    #: A sensor counts among a track's sensors if it updated the track this recently, s.
    sensor_recent_s: PositiveFloat = 10.0

    #: Class prior (drone, bird, aircraft, unknown); an unseen track stays 'unknown'.
    class_prior: tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat] = (0.2, 0.2, 0.1, 0.5)
    #: Weight, in tracks, of the class prior's drone:bird:aircraft proportions against those of the established
    #: tracks when a new track's prior is set (``classify.class_mix``: the airspace's base rates).
    class_mix_strength: Annotated[float, Field(gt=0.0)] = 10.0
    #: Exponent applied to a classifier's output: successive outputs are correlated.
    class_evidence_weight: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    #: Floor of a classifier likelihood, so one output never rules a class out.
    class_floor: Probability = 0.05
    #: Likelihood of (drone, bird, aircraft, unknown) given an RF emitter / Remote ID detection.
    emitter_likelihood: tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat] = (0.9, 0.01, 0.04, 0.05)
    #: The same for an RF bearing without a position: it shows an emitter somewhere along a line, where
    #: another drone's link or a Wi-Fi access point would put it as well (an RF direction finder's 5° bearing
    #: is a gate hundreds of metres wide at a few km), so one bearing is 5:1 for a drone, not 90:1.
    bearing_emitter_likelihood: tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat] = (
        0.6, 0.12, 0.12, 0.16)
    #: Exponent of the speed likelihood per update of an established track (its speed estimates are
    #: strongly correlated: 0.1 makes ten updates count as one independent look).
    speed_evidence_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    #: Smallest class probability a track keeps, so labels can still change.
    class_min_p: Probability = 1e-3

    #: A confirmed track with at least this P(drone) is a threat: by default the probability at which the tracker
    #: labels a track drone (``classify.MIN_DRONE_P``), so that no alert names a track the console shows as
    #: 'unknown' and a bird's run of drone-like classifier outputs raises no alert.
    threat_min_p: Probability = ThreatParams.min_p
    #: GeoJSON FeatureCollection of the site's zones (see ``fusion.threat.zones``); None: no zones.
    zones_file: Path | None = None
    #: A sensor with no status for this long (fusion time) missed its heartbeat (3 × the 5 s period), s.
    heartbeat_timeout_s: PositiveFloat = 15.0

    #: Detections are held this long (message time) so that late ones can be put in order, s.
    reorder_window_s: Annotated[float, Field(ge=0.0)] = 0.3
    #: Tracks are published every this many seconds of fusion time (the protocol needs ≤ 1 s), and at once when a
    #: message confirms a track or raises an alert about one.
    publish_period_s: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    #: Size limit of one incoming or outgoing message, bytes.
    max_message_bytes: Annotated[int, Field(gt=1024)] = 256 * 1024
    #: Time constant over which the evidence that an RF identity seen on bearings belongs to a track fades,
    #: s: identities are bound by their bearings' summed log-likelihood ratios over about this long, not
    #: scan by scan (``fusion.tracking.association.IdentityEvidence``).
    identity_memory_s: PositiveFloat = 10.0

    #: Floor of a track's detection probability estimated from its radar plots' SNR (``detection_probability``
    #: is its ceiling; ``fusion.tracking.amplitude``), a probability per scan: a target that a radar sees in
    #: fewer scans than this is not one it can track, so a tentative track whose plots say less (clutter,
    #: which barely crosses the threshold) is not kept longer than ``tentative_timeout_s``.
    min_detection_probability: Probability = 0.2
    #: A tentative track with radar plots is deleted once a target of its estimated detection probability
    #: Pd would have been missed that long with at most this probability, the bearings that fit it since its
    #: last fix weighed against the misses: after (ln(this) - S) / ln(1 - Pd) revisits (``revisit_s``; S the
    #: bearings' summed log-likelihood ratios), at least ``tentative_timeout_s`` and at most ``delete_after_s``,
    #: both stretched for a slow radar (``Tracker._tentative_life``).
    tentative_miss_probability: Probability = 0.05

    #: Altitude hold: in the moving modes (CV and turns) the vertical velocity is an Ornstein–Uhlenbeck
    #: process that decays to zero with this time constant, s (``fusion.tracking.motion.ou_axis``): small
    #: drones hold their height, and a climb or descent lasts seconds, not minutes. Its stationary spread is
    #: √(q τ / 2) with the modes' ``q_vertical`` (0.32 m/s cruising, 0.5 m/s turning); a height once
    #: measured then lasts while only azimuths follow. ∞ (``math.inf``) gives the CV random walk.
    vertical_velocity_tau_s: PositiveFloat = 10.0
    #: Mode switching of tracks that only bearings see (no plot or position report within ``sensor_recent_s``),
    #: a factor on times (dimensionless): their mean CV sojourn (``cv_sojourn_s``) and hover entry time
    #: (``hover_entry_s``) are this many times longer. Bearings give every IMM mode nearly the same
    #: likelihood, so the Markov prior alone sets the mode probabilities, and the turn and hover shares it
    #: keeps (CV 0.75 in the long run) act as extra process noise and pull the speed down at every mixing
    #: (uav-low in ``low-drone``: 8.5 m/s against 10); with the prior at 0.97 CV such a track is believed on a
    #: straight leg until its bearings show a turn or a stop (``fusion.tracking.filters.slower_switching``).
    #: 1 gives every track the same chain.
    bearing_only_switch_scale: Annotated[float, Field(ge=1.0)] = 10.0
    #: Formation flight (``fusion.tracking.formation``): established tracks within this horizontal distance whose
    #: velocities agree (χ² gate) are one formation, and each one that a plot fixes takes the mean velocity of its
    #: mates as a measurement of its own (``Tracker._hold_formation``), m; 0 turns it off. About twice the spacing
    #: within which a radar 4–5 km away cannot tell neighbours apart in one scan (0.6° ≈ 50 m across).
    formation_radius_m: Annotated[float, Field(ge=0.0)] = 100.0
    #: Station-keeping spread of a formation member's velocity about the formation's, m/s per axis, for tracks that
    #: fly together (unlike ``formation_velocity_sigma_mps``, a new plot's prior, which may be no member at all).
    formation_velocity_spread_mps: PositiveFloat = 0.5
    #: Weight of a flock's class in each member's label as shown (tracks messages, threat): each time a plot or report
    #: fixes an established track flying in a flock or formation (``flock_radius_m``), its flock evidence becomes its
    #: mates' mean class probabilities (from their own evidence) to this power times how well the best mate's velocity
    #: fits the formation model (``exp(-d²/2)``), replacing the previous one (a flock is birds, a swarm drones); 0 leaves
    #: each track's label to its own detections. Off with ``formation_radius_m`` = 0 too.
    formation_class_weight: Annotated[float, Field(ge=0.0)] = 0.1
    #: Tracks within this horizontal distance of each other whose velocities agree under the formation model are a
    #: flock (or a swarm) for their labels (``formation_class_weight``), m: flocks spread wider than drones fly in
    #: formation (``formation_radius_m``).
    flock_radius_m: Annotated[float, Field(ge=0.0)] = 300.0
    #: Horizontal speed below which a track shares no flock's class, m/s: standing still, clutter and a hovering drone
    #: agree in velocity by chance.
    flock_min_speed_mps: Annotated[float, Field(ge=0.0)] = 3.0

    @property
    def hover_q(self) -> float:
        """The hover mode's acceleration spectral density, m²/s³: an OU velocity with time constant τ and
        stationary spread σ has q = 2σ²/τ."""
        return 2.0 * self.hover_velocity_sigma_mps**2 / self.hover_velocity_tau_s

    @model_validator(mode="after")
    def _mode_p_leave_room_for_turns(self) -> FusionConfig:
        """The initial CV and hover probabilities leave the turns a share (all modes stay possible)."""
        if self.initial_cv_p + self.initial_hover_p >= 1.0:
            raise ValueError(f"initial_cv_p + initial_hover_p must be below 1, not "
                             f"{self.initial_cv_p + self.initial_hover_p:g}")
        return self

    def tracker_params(self) -> TrackerParams:
        """The subset of this configuration that the pure tracker needs: every ``TrackerParams`` field of the
        same name, plus the IMM modes and the elevation sigma in radians built from their settings."""
        turn_p = (1.0 - self.initial_cv_p - self.initial_hover_p) / 2
        shared = {f.name: getattr(self, f.name) for f in fields(TrackerParams) if f.name in type(self).model_fields}
        return TrackerParams(
            modes=(Mode(0.0, self.q_horizontal, self.q_vertical, self.cv_sojourn_s,
                        vertical_tau_s=self.vertical_velocity_tau_s),
                   *(Mode(sign * math.radians(self.turn_rate_deg_s), self.q_manoeuvre_horizontal,
                          self.q_manoeuvre_vertical, self.turn_sojourn_s, vertical_tau_s=self.vertical_velocity_tau_s)
                     for sign in (1.0, -1.0)),
                   Mode(0.0, self.hover_q, self.hover_q, self.hover_sojourn_s, self.hover_velocity_tau_s,
                        self.hover_entry_s)),
            initial_mode_p=(self.initial_cv_p, turn_p, turn_p, self.initial_hover_p),
            missing_elevation_sigma_rad=math.radians(self.missing_elevation_sigma_deg),
            **shared,
        )

    def threat_params(self) -> ThreatParams:
        """The subset of this configuration that threat assessment needs."""
        return ThreatParams(min_p=self.threat_min_p, heartbeat_timeout_s=self.heartbeat_timeout_s)

    def zones(self) -> list[ZoneSpec]:
        """The zones of ``zones_file`` (none without one); raise ValueError if it is unreadable or invalid."""
        return [] if self.zones_file is None else read_zones(self.zones_file)

    @field_validator("zones_file")
    @classmethod
    def _zones_are_valid(cls, path: Path | None) -> Path | None:
        """A bad zones file is a configuration error, reported when the configuration is loaded."""
        if path is not None:
            read_zones(path)
        return path

    @classmethod
    def from_file(cls, path: str | Path) -> FusionConfig:
        """Load a YAML (or JSON) file; raise ValueError with a readable message if it is invalid."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {' '.join(str(exc).split())}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError("the configuration must be a mapping of option: value")
        if isinstance(data.get("zones_file"), str):
            data["zones_file"] = Path(path).parent / data["zones_file"]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError("; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'configuration'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors(include_url=False))) from None
