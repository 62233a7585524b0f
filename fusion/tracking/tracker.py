"""The tracker: one entry point, ``Tracker.step(scan)``, that advances every track with one sensor message.

A step, all in array operations over tracks × detections:

1. track management at the scan time (coasting, deletions);
2. batched prediction of every track to the scan time (tracks already newer than the scan
   are retrodicted, only to recognise their detections);
3. per measurement model, batched innovations, covariances and chi² gates;
4. one GNN assignment (``linear_sum_assignment``) over all detections of the message, with
   RF identities forcing their bound track;
5. batched EKF updates of the assigned pairs, label fusion, confirmation;
6. new tentative tracks from unassigned radar plots and Remote ID positions, except near
   established tracks (see ``_near_established``).

Bearing-only detections (acoustic, RF direction finding) only update confirmed or coasting
tracks they gate with; they never start tracks and do not count towards confirmation.
A scan older than a track's state never updates that track: its detections are counted as
out of order and consumed, so they neither corrupt the track nor start a duplicate.
The tracker never reads the clock: time is the scan's ``time`` or an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.tracking import classify, initiation
from fusion.tracking.association import gnn_assign
from fusion.tracking.filters import predict, project_covariance, update
from fusion.tracking.gating import Gating, chi2_gates, gate, masked_covariance
from fusion.tracking.measurements import BEARING, POSITION, RADAR, predict_measurement
from fusion.tracking.params import TrackerParams
from fusion.tracking.scan import MeasurementBlock, Scan
from fusion.tracking.tracks import COASTING, CONFIRMED, TENTATIVE, TrackTable, track_id

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Ended:
    """Tracks deleted at one time, with their last states (for 'track lost' alerts)."""

    time: float
    numbers: NDArray[np.int64]
    x: Array
    last_update: Array
    was_confirmed: NDArray[np.bool_]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(track_id(n) for n in self.numbers)

    @staticmethod
    def none(time: float) -> Ended:
        return Ended(time, np.zeros(0, dtype=np.int64), np.zeros((0, 6)), np.zeros(0), np.zeros(0, dtype=bool))


@dataclass(frozen=True)
class StepResult:
    """What one step changed; ids are in track-number order."""

    time: float
    started: tuple[str, ...]
    confirmed: tuple[str, ...]
    updated: tuple[str, ...]
    ended: Ended
    #: Detections that belonged to tracks already newer than the scan (not used).
    out_of_order: int


@dataclass(frozen=True)
class _Gated:
    """Gating of one measurement block against all predicted tracks."""

    gating: Gating
    h: Array


class Tracker:
    """Multi-sensor, multi-target tracker: CV-EKF per track, GNN association, M-hits confirmation."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self.table = TrackTable()
        self.identities = initiation.IdentityMap()
        self._gates = chi2_gates(self.params.gate_probability)

    def step(self, scan: Scan) -> StepResult:
        """Process one sensor message at its own time; return what changed."""
        prm, tab = self.params, self.table
        tab.sensor_column(scan.sensor_id)
        ended = self.maintain(scan.time)
        x_pred, p_pred = predict(tab.x, tab.p, scan.time - tab.t, prm.q_horizontal, prm.q_vertical)

        gated = [self._gate(block, x_pred, p_pred, scan) for block in scan.blocks]
        offsets = np.concatenate([[0], np.cumsum([len(block) for block in scan.blocks])]).astype(np.intp)
        n_columns = int(offsets[-1])
        cost = np.zeros((len(tab), n_columns))
        allowed = np.zeros((len(tab), n_columns), dtype=bool)
        for b, (block, g) in enumerate(zip(scan.blocks, gated)):
            cost[:, offsets[b]:offsets[b + 1]] = g.gating.d2 + g.gating.log_det_ratio
            allowed[:, offsets[b]:offsets[b + 1]] = self._allowed(block, g.gating)
        det_index = np.concatenate([block.index for block in scan.blocks]) if scan.blocks \
            else np.zeros(0, dtype=np.intp)
        bound = self._apply_identities(scan, det_index, cost, allowed)

        rows, cols = gnn_assign(cost, allowed, prm.non_assignment_cost)
        consumed = bound | self._near_established(scan, gated, offsets)
        consumed[cols] = True
        usable = tab.t[rows] <= scan.time
        out_of_order = int(np.count_nonzero(~usable))
        rows, cols = rows[usable], cols[usable]

        for b, (block, g) in enumerate(zip(scan.blocks, gated)):
            in_block = (cols >= offsets[b]) & (cols < offsets[b + 1])
            self._update(block, g, rows[in_block], cols[in_block] - offsets[b], x_pred, p_pred, scan)

        loglik = classify.evidence(scan.class_probs, scan.has_class, scan.emitter, prm.class_evidence_weight,
                                   prm.class_floor, prm.emitter_likelihood)
        if len(rows):
            tab.label_logp[rows] = classify.fuse(tab.label_logp[rows], loglik[det_index[cols]], prm.class_min_p)
        if scan.keys:
            for row, col in zip(rows.tolist(), cols.tolist()):
                self.identities.bind(int(tab.number[row]), scan.keys[det_index[col]])
        updated_rows = np.sort(rows)
        confirmed = self._confirm(updated_rows)
        started = self._initiate(scan, offsets, consumed, loglik)
        return StepResult(
            time=scan.time,
            started=tuple(track_id(n) for n in started),
            confirmed=tuple(track_id(n) for n in confirmed),
            updated=tuple(track_id(n) for n in tab.number[updated_rows]),
            ended=ended,
            out_of_order=out_of_order,
        )

    def maintain(self, now: float) -> Ended:
        """Apply track management at fusion time ``now``: coast stale confirmed tracks, delete dead ones."""
        prm, tab = self.params, self.table
        age = now - tab.t
        tab.status[(tab.status == CONFIRMED) & (age > prm.coast_after_s)] = COASTING
        position_var = np.trace(tab.p[:, :3, :3], axis1=1, axis2=2)
        dead = (((tab.status == TENTATIVE) & (age > prm.tentative_timeout_s))
                | ((tab.status == COASTING) & (age > prm.delete_after_s))
                | (position_var > prm.max_position_sigma_m**2))
        if not dead.any():
            return Ended.none(now)
        ended = Ended(now, tab.number[dead], tab.x[dead], tab.t[dead], tab.status[dead] != TENTATIVE)
        self.identities.forget(ended.numbers)
        tab.keep(~dead)
        return ended

    def predicted(self, now: float) -> tuple[Array, Array]:
        """Every track's state and covariance predicted to ``now``, without changing the table."""
        return predict(self.table.x, self.table.p, now - self.table.t, self.params.q_horizontal,
                       self.params.q_vertical)

    def _gate(self, block: MeasurementBlock, x_pred: Array, p_pred: Array, scan: Scan) -> _Gated:
        z_pred, h = predict_measurement(block.model, x_pred, scan.m, scan.b)
        gating = gate(z_pred, project_covariance(h, p_pred), block.z, block.r, block.mask, block.model.angles,
                      self._gates)
        return _Gated(gating, h)

    def _near_established(self, scan: Scan, gated: list[_Gated], offsets: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Columns within ``initiation_exclusion`` gates of a confirmed or coasting track.

        Such a plot is most likely that track's target manoeuvring out of its gate; starting a
        second track on it would duplicate the target. (The price: a second target closer than
        that to an established track is only picked up once they separate.)
        """
        near = np.zeros(int(offsets[-1]), dtype=bool)
        established = self.table.status != TENTATIVE
        for b, g in enumerate(gated):
            dof = scan.blocks[b].mask.sum(axis=1)
            wide = g.gating.d2 <= self.params.initiation_exclusion * self._gates[dof][None, :]
            near[offsets[b]:offsets[b + 1]] = (wide & established[:, None]).any(axis=0)
        return near

    def _allowed(self, block: MeasurementBlock, gating: Gating) -> NDArray[np.bool_]:
        """Pairs that may be assigned: inside the gate, and for bearings only established tracks."""
        if block.model.starts_tracks:
            return gating.inside
        return gating.inside & (self.table.status != TENTATIVE)[:, None]

    def _apply_identities(self, scan: Scan, det_index: NDArray[np.intp], cost: Array,
                          allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Constrain columns of detections with RF identities, in place; return which are bound to a track.

        A detection whose identity is bound may only go to that track (at zero cost); one with an
        unbound identity may not go to a track that already has another identity of the same kind.
        Only RF detections carry identities, so this loop is over a handful of columns.
        """
        bound = np.zeros(len(det_index), dtype=bool)
        if not scan.keys:
            return bound
        numbers = self.table.number
        kinds_of_rows = [self.identities.namespaces(int(n)) for n in numbers]
        for col in range(len(det_index)):
            keys = scan.keys[det_index[col]]
            if not keys:
                continue
            number = self.identities.track_of(keys)
            if number is not None:
                row = int(np.searchsorted(numbers, number))
                bound[col] = True
                allowed[:, col] = False
                allowed[row, col] = True
                cost[row, col] = 0.0
                continue
            kinds = {key.split(":", 1)[0] for key in keys}
            taken = np.array([bool(kinds.intersection(row_kinds)) for row_kinds in kinds_of_rows], dtype=bool)
            allowed[taken, col] = False
        return bound

    def _update(self, block: MeasurementBlock, g: _Gated, rows: NDArray[np.intp], dets: NDArray[np.intp],
                x_pred: Array, p_pred: Array, scan: Scan) -> None:
        """Batched EKF update of the assigned (track, detection) pairs of one block."""
        if len(rows) == 0:
            return
        tab = self.table
        mask = block.mask[dets]
        h = g.h[rows] * mask[:, :, None]
        r = masked_covariance(block.r[dets], mask)
        x_new, p_new = update(x_pred[rows], p_pred[rows], g.gating.y[rows, dets], h, g.gating.s[rows, dets], r)
        tab.x[rows] = x_new
        tab.p[rows] = p_new
        tab.t[rows] = scan.time
        tab.sensor_last[rows, tab.sensor_column(scan.sensor_id)] = scan.time
        if block.model.starts_tracks:
            tab.hits[rows] += 1

    def _confirm(self, rows: NDArray[np.intp]) -> NDArray[np.int64]:
        """Promote updated tracks: coasting → confirmed, tentative with enough hits → confirmed."""
        tab = self.table
        status = tab.status[rows]
        newly = (status == TENTATIVE) & (tab.hits[rows] >= self.params.confirm_hits)
        tab.status[rows[(status == COASTING) | newly]] = CONFIRMED
        return tab.number[rows[newly]]

    def _initiate(self, scan: Scan, offsets: NDArray[np.intp], consumed: NDArray[np.bool_],
                  loglik: Array) -> NDArray[np.int64]:
        """Start tentative tracks from unconsumed radar plots and Remote ID positions."""
        prm = self.params
        started = []
        for b, block in enumerate(scan.blocks):
            free = ~consumed[offsets[b]:offsets[b + 1]]
            if block.model is BEARING or not free.any():
                continue
            z, mask, r = block.z[free], block.mask[free], block.r[free]
            if block.model is RADAR:
                x, p = initiation.from_radar(z, mask, r, scan.m, scan.b, prm.initial_velocity_sigma_mps,
                                             prm.missing_elevation_sigma_rad)
            elif block.model is POSITION:
                x, p = initiation.from_position(z, mask, r, prm.initial_velocity_sigma_mps,
                                                prm.missing_altitude_sigma_m)
            else:
                continue
            dets = block.index[free]
            logp = classify.fuse(classify.prior_logp(prm.class_prior, len(dets)), loglik[dets], prm.class_min_p)
            numbers = self.table.add(x, p, scan.time, logp, scan.sensor_id)
            if scan.keys:
                for number, det in zip(numbers.tolist(), dets.tolist()):
                    self.identities.bind(number, scan.keys[det])
            started.append(numbers)
        return np.concatenate(started) if started else np.zeros(0, dtype=np.int64)
