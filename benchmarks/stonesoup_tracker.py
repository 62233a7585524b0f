"""Stone Soup as the reference tracker: its own EKF, GNN (2-D assignment), multi-measurement
initiator and deleters, configured as its documentation recommends.

It is fed the detections it can take, each with its own measurement model about the sensor's
position in the site ENU frame (the measurement converted to site axes): radar plots
(``CartesianToElevationBearingRange``), Remote ID positions (a linear Cartesian model) and, with
``bearings``, the bearings of acoustic arrays and RF direction finders (``CartesianToElevationBearing``
when the bearing has an elevation, else ``Cartesian2DToBearing``). Bearings update the tracks they are
associated with but start none (``PointInitiator``): Stone Soup has no standard way to start a
track from bearings of several sensors, and its initiators need an invertible measurement.
State order is Stone Soup's: (x, vx, y, vy, z, vz) with x east, y north, z up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy.stats import chi2
from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
from stonesoup.deleter.error import CovarianceBasedDeleter
from stonesoup.deleter.multi import CompositeDeleter
from stonesoup.deleter.time import UpdateTimeDeleter
from stonesoup.hypothesiser.distance import DistanceHypothesiser
from stonesoup.base import Property
from stonesoup.initiator import Initiator
from stonesoup.initiator.simple import MultiMeasurementInitiator
from stonesoup.measures import Mahalanobis
from stonesoup.models.measurement.linear import LinearGaussian
from stonesoup.models.measurement.nonlinear import (
    Cartesian2DToBearing,
    CartesianToElevationBearing,
    CartesianToElevationBearingRange,
)
from stonesoup.models.transition.linear import (
    CombinedLinearGaussianTransitionModel,
    ConstantVelocity,
)
from stonesoup.predictor.kalman import ExtendedKalmanPredictor
from stonesoup.tracker.simple import MultiTargetTracker
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.array import CovarianceMatrix, StateVector
from stonesoup.types.detection import Detection
from stonesoup.types.state import GaussianState
from stonesoup.updater.kalman import ExtendedKalmanUpdater

from benchmarks.site_scans import NO_INFORMATION_SIGMA, SiteScan, Snapshot

EPOCH = datetime(1970, 1, 1)
#: Stone Soup state indices of position and velocity, in site order (east, north, up).
POSITION, VELOCITY = [0, 2, 4], [1, 3, 5]
#: Measurement models of bearings, which update tracks but cannot start one.
BEARING_MODELS = (Cartesian2DToBearing, CartesianToElevationBearing)


@dataclass(frozen=True)
class StoneSoupSettings:
    """The tunables: process noise (swept), gate, track confirmation and deletion."""

    q: float = 1.0
    gate_probability: float = 0.999
    min_points: int = 4
    velocity_sigma_mps: float = 30.0
    tentative_timeout_s: float = 3.0
    delete_after_s: float = 10.0
    max_position_sigma_m: float = 2000.0
    #: Also feed the bearings (updates only). Off: measured, they make its GNN worse on 5 of the 6 scenarios
    #: (wide bearing gates keep wrong tracks alive), so the stronger reference is radar and Remote ID.
    bearings: bool = False


def _stamp(t: float) -> datetime:
    return EPOCH + timedelta(seconds=t)


def _model(scan: SiteScan, sigma: Any, models: dict[tuple[str, str, tuple[float, ...]], Any]) -> Any:
    """The measurement model of one detection's noise (``sigma``, one row of ``scan.sigma``), cached."""
    key = (scan.sensor_id, scan.kind, tuple(sigma.tolist()))
    if key in models:
        return models[key]
    offset = StateVector(scan.origin)
    if scan.kind == "radar":  # Stone Soup's measurement order is (elevation, bearing, range)
        model: Any = CartesianToElevationBearingRange(
            ndim_state=6, mapping=POSITION, noise_covar=CovarianceMatrix(np.diag(sigma[[2, 1, 0]] ** 2)),
            translation_offset=offset)
    elif scan.kind == "bearing" and sigma[1] < np.radians(NO_INFORMATION_SIGMA):  # (elevation, bearing)
        model = CartesianToElevationBearing(ndim_state=6, mapping=POSITION,
                                            noise_covar=CovarianceMatrix(np.diag(sigma[[1, 0]] ** 2)),
                                            translation_offset=offset)
    elif scan.kind == "bearing":
        model = Cartesian2DToBearing(ndim_state=6, mapping=POSITION[:2],
                                     noise_covar=CovarianceMatrix([[sigma[0] ** 2]]),
                                     translation_offset=StateVector(scan.origin[:2]))
    else:
        model = LinearGaussian(ndim_state=6, mapping=POSITION, noise_covar=CovarianceMatrix(np.diag(sigma**2)))
    models[key] = model
    return model


def _measurement(scan: SiteScan, z: Any, model: Any) -> StateVector:
    """One detection's measurement vector in the order and angle conventions of its model."""
    if scan.kind == "radar":
        return StateVector([Elevation(z[2]), Bearing(z[1]), z[0]])
    if scan.kind == "bearing":  # site azimuth (clockwise from north) → bearing (counter-clockwise from east)
        bearing = Bearing(np.pi / 2.0 - z[0])
        return StateVector([Elevation(z[1]), bearing]) if isinstance(model, CartesianToElevationBearing) \
            else StateVector([bearing])
    return StateVector(z)


def _detections(scan: SiteScan, models: dict[tuple[str, str, tuple[float, ...]], Any]) -> set[Detection]:
    """Stone Soup detections of one scan, each with the measurement model of its sensor, kind and noise."""
    stamp = _stamp(scan.time)
    found = set()
    for z, sigma in zip(scan.z, scan.sigma, strict=True):
        model = _model(scan, sigma, models)
        found.add(Detection(_measurement(scan, z, model), timestamp=stamp, measurement_model=model))
    return found


class PointInitiator(Initiator):
    """Passes only detections that fix a point (radar plots, positions) to its initiator: a bearing
    alone cannot give a track's position."""

    initiator: Initiator = Property(doc="The initiator that starts tracks from the point detections.")

    def initiate(self, detections: set[Detection], timestamp: datetime, **kwargs: Any) -> set[Any]:
        points = {d for d in detections if not isinstance(d.measurement_model, BEARING_MODELS)}
        return self.initiator.initiate(points, timestamp, **kwargs)


def build_tracker(settings: StoneSoupSettings, feed: list[tuple[datetime, set[Detection]]]) -> MultiTargetTracker:
    """A MultiTargetTracker over ``feed``: CV motion, EKF, Mahalanobis-gated GNN, M-of-N style initiation."""
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(settings.q)] * 3)
    predictor = ExtendedKalmanPredictor(transition)
    updater = ExtendedKalmanUpdater(measurement_model=None)
    gate = float(np.sqrt(chi2.ppf(settings.gate_probability, 3)))
    hypothesiser = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=gate)
    deleter = CompositeDeleter([UpdateTimeDeleter(timedelta(seconds=settings.delete_after_s)),
                                CovarianceBasedDeleter(covar_trace_thresh=3 * settings.max_position_sigma_m**2,
                                                       mapping=POSITION)], intersect=False)
    prior = GaussianState(StateVector(np.zeros(6)),
                          CovarianceMatrix(np.diag([0.0, settings.velocity_sigma_mps**2] * 3)))
    initiator = PointInitiator(MultiMeasurementInitiator(
        prior_state=prior, deleter=UpdateTimeDeleter(timedelta(seconds=settings.tentative_timeout_s)),
        data_associator=GNNWith2DAssignment(hypothesiser), updater=updater, min_points=settings.min_points))
    return MultiTargetTracker(initiator=initiator, deleter=deleter, detector=feed,  # type: ignore[arg-type]
                              data_associator=GNNWith2DAssignment(hypothesiser), updater=updater)


@dataclass
class StoneSoupRun:
    """Snapshots after every step, the detections fed and the seconds the tracking took."""

    snapshots: list[Snapshot]
    detections: int
    seconds: float


def run_stonesoup(scans: list[SiteScan], settings: StoneSoupSettings) -> StoneSoupRun:
    """Track every scan; track ids are numbered in order of appearance."""
    started = time.perf_counter()
    models: dict[tuple[str, str, tuple[float, ...]], Any] = {}
    usable = [s for s in scans if len(s.z) and (settings.bearings or s.kind != "bearing")]
    feed = [(_stamp(s.time), _detections(s, models)) for s in usable]
    tracker = build_tracker(settings, feed)
    names: dict[str, str] = {}
    snapshots = []
    for scan, (_, tracks) in zip(usable, tracker, strict=True):
        # Stone Soup keeps tracks in a set; order them by state so that numbering is reproducible.
        ordered = sorted(tracks, key=lambda tr: (tr.timestamp, tuple(np.asarray(tr.state_vector).ravel())))
        for track in ordered:
            names.setdefault(track.id, f"S-{len(names) + 1}")
        x = np.array([np.asarray(tr.state_vector).ravel()[POSITION + VELOCITY] for tr in ordered]).reshape(-1, 6)
        stamps = np.array([(tr.timestamp - EPOCH).total_seconds() for tr in ordered])
        x[:, :3] += x[:, 3:] * (scan.time - stamps)[:, None]
        snapshots.append(Snapshot(scan.time, tuple(names[tr.id] for tr in ordered), x))
    return StoneSoupRun(snapshots, sum(len(d) for _, d in feed), time.perf_counter() - started)
