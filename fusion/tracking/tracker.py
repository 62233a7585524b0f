"""The tracker: one entry point, ``Tracker.step(scan)``, that advances every track with one sensor message.

A step, all in array operations over tracks × detections:

1. track management at the scan time (coasting, deletions);
2. batched prediction of every track to the scan time (tracks already newer than the scan
   are retrodicted, only to recognise their detections; tracks that only bearings see switch
   modes more slowly, ``_imm_predict``);
3. per measurement model, batched innovations, covariances and chi² gates of every IMM mode, each linearised at its
   own prediction: a pair's likelihood is the modes' mixture, its gate the union of the gates of the modes that are
   not negligible (``gating.gate``), so a target that stops or turns hard stays in its own track's gate;
4. one association over all detections of the message, with Remote ID serials forcing their bound
   track and each RF identity's earlier bearings weighing its bearing's pairs (``_weigh_identities``):
   JPDA by default (``fusion.tracking.jpda``: association probabilities per gated pair),
   or GNN (one ``linear_sum_assignment``), set by ``TrackerParams.association``;
5. batched EKF updates (JPDA: of every gated pair, mixed by those probabilities); each established track
   a plot fixed then takes its formation's velocity as a measurement (``_hold_formation``,
   ``fusion.tracking.formation``); label fusion (an RF bearing's drone evidence weighed by the probability
   that its emitter is the track, from the fit and the tracks' classes: ``_weigh_identities``; any other
   bearing's class evidence by its association probability β), confirmation;
6. new tentative tracks from unassigned (JPDA: unexplained) radar plots and Remote ID positions, except near
   established tracks that got no detection (see ``_near_missed``); a plot among detected established
   tracks starts with its neighbour's velocity (a formation member, ``_velocity_prior``);
7. unassigned bearings are crossed with the stored strobes of other sensors (weighted least
   squares, ``fusion.tracking.triangulation``); each accepted crossing starts a tentative
   track, and the bearings that cross nothing are stored as strobes;
8. tracks detected by the scan are tested against the others for duplicates of one target, and
   lasting duplicates are merged (``fusion.tracking.merging``; the merged-away track ends with
   ``Ended.merged_into`` naming its survivor).

Bearing-only detections (acoustic, RF direction finding) update any track they gate with. A
bearing fixes a track's position (keeps it alive) only with a recent plot or report, or with a
recent bearing of another sensor whose line of sight crosses it at ``min_crossing_deg`` or more:
along two nearly collinear direction finders the distance is free (in ``default`` a radar track
of a drone that stopped drifted 1.4 km along their line; GOSPA false part 611 → 494 m² with
merging on). Bearings count towards confirmation only for tracks started by crossing bearings,
so a radar clutter plot that happens to lie on a bearing line is not confirmed by it (counting RF bearings for
every track was measured: in the swarm it confirmed duplicate tracks, GOSPA 72 → 128 m). Nor do
they fix such a tentative track: clutter times out, and the bearings start a crossing track of
their own (measured on sector-radar recordings: low-drone GOSPA 62.5 → 44.0 m, mass 189 → 171 m), while
a track whose plots' SNR shows a trackable target lives on while the bearings that fit it outweigh
its missed scans, up to ``delete_after_s`` (``_tentative_life``).
Confirmation: ``confirm_hits`` hits, or sooner a track score of ``confirm_score`` (``Tracker._score``:
the summed log-likelihood ratios, target against clutter, of the track's detections, less ln(1 − Pd)
per missed revisit); bearings of any sensor add their (weak) ratios to it, so a plot that another
sensor's bearings agree with confirms a scan or two earlier, while chance clutter stays far below.
The score confirms at the detection that brings it to the threshold, a bearing too (a sequential test
decides when it crosses), between fixes only for a track one plot short of ``confirm_hits``
(``Tracker._confirm``): a small drone that the radar sees every third scan at 4–5 km is confirmed by its
direction finder's bearing between plots instead of at the next plot, or not at all if its tentative
track times out first (measured on ``mass``: 17 → 14 wave drones later than 5 s after their second
sensor, the latest 56.3 → 20.2 s).
A radar plot weighs in with the track's own detection probability (``fusion.tracking.amplitude``: from
the SNR of its plots, Swerling 1, between ``min_detection_probability`` and ``detection_probability``),
not one Pd for every target: a small drone that the radar sees in a third of its scans at 4–5 km
loses ln(1 − 0.35) per missed scan, not ln(1 − 0.9). A tentative track is deleted once a target of
that Pd would have been missed that long with probability ``tentative_miss_probability``
(``Tracker._tentative_life``), so its next plot finds it alive; clutter, whose plots barely cross the
threshold (Pd ≈ 0: not a trackable target), and tracks without SNR keep ``tentative_timeout_s``.
A plot's SNR also weighs in the track score (``_amplitude_ratios``): its excess power over the threshold,
likelier from a target whose plots exceeded it by as much than from clutter or from a new target (as
often as the radar's free plots, strong and weak, say new targets appear); the first plot's, a new
target's against clutter's, starts the score (``_birth_amplitude_ratios``).
A scan older than a track's state never updates that track: its detections are counted as
out of order and consumed, so they neither corrupt the track nor start a duplicate.
The tracker never reads the clock: time is the scan's ``time`` or an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from fusion.tracking import amplitude, classify, formation, initiation, jpda
from fusion.tracking.amplitude import REFERENCE_RANGE_M, detection_probability, excess_power, over_threshold
from fusion.tracking.association import (
    IdentityEvidence,
    gnn_assign,
    identity_probabilities,
)
from fusion.tracking.filters import (
    combine,
    combine_position_variance,
    imm_predict,
    mode_posterior,
    project_covariance,
    slower_switching,
    update,
)
from fusion.tracking.gating import (
    Gating,
    chi2_gates,
    gate,
    innovations,
    masked_covariance,
    plausible,
    short_max,
    short_sum,
    squared_distances,
)
from fusion.tracking.measurements import (
    BEARING,
    POSITION,
    RADAR,
    MeasurementModel,
    predict_measurement,
)
from fusion.tracking.merging import Coalescence, Merged
from fusion.tracking.motion import STATE_DIM
from fusion.tracking.params import TrackerParams
from fusion.tracking.scan import MeasurementBlock, Scan
from fusion.tracking.strobes import StrobeStore, StrobeView
from fusion.tracking.tracks import (
    COASTING,
    CONFIRMED,
    N_CLASSES,
    TENTATIVE,
    TrackTable,
    track_id,
)
from fusion.tracking.triangulation import Rays, crossing_sines, rays, triangulate

Array = NDArray[np.float64]

#: With fewer tracks than this, every track is predicted and gated (``Tracker._plausible``).
_PREGATE_MIN_TRACKS = 24


@dataclass(frozen=True)
class Ended:
    """Tracks ended at one time, with their last states (for 'track lost' alerts): deleted, or merged
    into another track (``merged_into``, 0: deleted), whose target is then not lost."""

    time: float
    numbers: NDArray[np.int64]
    x: Array
    last_update: Array
    was_confirmed: NDArray[np.bool_]
    merged_into: NDArray[np.int64]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(track_id(n) for n in self.numbers)

    @staticmethod
    def none(time: float) -> Ended:
        return Ended(time, np.zeros(0, dtype=np.int64), np.zeros((0, 6)), np.zeros(0), np.zeros(0, dtype=bool),
                     np.zeros(0, dtype=np.int64))

    def and_merged(self, merged: Merged) -> Ended:
        """These tracks and the ``merged`` ones."""
        if len(merged.numbers) == 0:
            return self
        return Ended(self.time, np.concatenate([self.numbers, merged.numbers]), np.concatenate([self.x, merged.x]),
                     np.concatenate([self.last_update, merged.last_update]),
                     np.concatenate([self.was_confirmed, merged.was_confirmed]),
                     np.concatenate([self.merged_into, merged.into]))


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
class _Modes:
    """IMM prediction of the tracks to the scan time ``time``: per-mode states, covariances, mode probabilities
    (only ``rows`` are predicted; tracks that cannot gate with the scan keep their unpredicted state: see
    ``Tracker._plausible``)."""

    x: Array
    p: Array
    c: Array
    rows: NDArray[np.intp]
    time: float


class Tracker:
    """Multi-sensor, multi-target tracker: IMM-EKF per track, JPDA or GNN association, M-hits or score confirmation."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self.table = TrackTable(len(self.params.modes))
        self.identities = initiation.IdentityMap()
        #: Per RF identity and track, the evidence that its bearings are the track's, as the association weighs it: a
        #: new track whose score says target rather than clutter counts from the level of the identity's best track
        #: (``IdentityEvidence.history``'s ``level``, ``_weigh_identities``).
        self.evidence = IdentityEvidence(self.params.identity_memory_s, self.params.gate_probability)
        #: The same evidence as labels weigh it, where every new track counts from 0 (``_weigh_identities``).
        self.label_evidence = IdentityEvidence(self.params.identity_memory_s, self.params.gate_probability)
        #: Per RF identity and track, the summed class log-odds of its bearings (``_emitter_classes``), faded alike
        #: (the same fading store as ``evidence``; only its ``history`` and ``add`` apply to class log-odds).
        self.carriers = IdentityEvidence(self.params.identity_memory_s, self.params.gate_probability)
        self.strobe_store = StrobeStore(N_CLASSES)
        self._gates = chi2_gates(self.params.gate_probability)
        #: Origin of every bearing sensor seen, by sensor column (``_crosses``).
        self._bearing_origins: dict[int, Array] = {}
        self.coalescence = Coalescence(self.params, float(chi2_gates(self.params.merge_gate_probability)[6]),
                                       class_prior=self._class_prior)
        #: Velocity sigma (east, north, up) of a track started without a velocity measurement, m/s.
        self._velocity_sigma = np.array([self.params.initial_velocity_sigma_mps] * 2
                                        + [self.params.initial_vertical_velocity_sigma_mps])
        #: The IMM modes of tracks that only bearings see (``slower_switching``, ``_imm_predict``).
        self._bearing_modes = slower_switching(self.params.modes, self.params.bearing_only_switch_scale)
        #: Per radar (sensor column), the detection threshold on power over noise: the weakest plot it reported.
        self._threshold: dict[int, float] = {}
        #: Per radar (sensor column), the excess powers over its threshold of the plots that no track explained (they
        #: started tracks): clutter's, and how many were new targets' (``_learn_free_plots``, ``_amplitude_ratios``).
        self._free_plots: dict[int, amplitude.FreePlots] = {}
        #: Scan period of each sensor column that has sent plots or position reports, s (``_count``).
        self._fix_periods: dict[int, float] = {}

    def step(self, scan: Scan) -> StepResult:
        """Process one sensor message at its own time; return what changed."""
        prm, tab = self.params, self.table
        tab.sensor_column(scan.sensor_id)
        ended = self.maintain(scan.time)
        if scan.n_detections == 0:  # the sensor looked and saw nothing: no track to predict or update
            return StepResult(scan.time, (), (), (), ended, 0)
        self._learn_threshold(scan)
        near = self._plausible(scan)
        modes = self._predict(near, scan.time)
        x_pred, p_pred = combine(modes.x[near], modes.p[near], modes.c[near])
        coverage = np.ones(len(tab))
        if scan.bearings is not None:
            coverage[near] = self._coverage(x_pred, p_pred, scan)

        gated = [self._gate(block, modes, x_pred, p_pred, near, scan) for block in scan.blocks]
        offsets = np.concatenate([[0], np.cumsum([len(block) for block in scan.blocks])]).astype(np.intp)
        n_columns = int(offsets[-1])
        cost = np.zeros((len(tab), n_columns))
        allowed = np.zeros((len(tab), n_columns), dtype=bool)
        for b, (block, g) in enumerate(zip(scan.blocks, gated)):
            cost[:, offsets[b]:offsets[b + 1]] = g.cost
            allowed[:, offsets[b]:offsets[b + 1]] = g.inside
        det_index = np.concatenate([block.index for block in scan.blocks]) if scan.blocks \
            else np.zeros(0, dtype=np.intp)
        forced = np.concatenate([np.full(len(block), block.model is POSITION) for block in scan.blocks]) \
            if scan.blocks else np.zeros(0, dtype=bool)
        bearing_only = np.zeros(scan.n_detections, dtype=bool)
        if scan.bearings is not None:
            bearing_only[scan.bearings.index] = True
        loglik = classify.evidence(scan.class_probs, scan.has_class, scan.emitter, prm.class_evidence_weight,
                                   prm.class_floor, classify.emitter_likelihoods(
                                       bearing_only, prm.emitter_likelihood, prm.bearing_emitter_likelihood))
        pd = (prm.detection_probability * coverage)[:, None]  # one per track: the miss hypothesis is the track's
        density = np.where(bearing_only[det_index], prm.bearing_clutter_density, prm.clutter_density)
        prior, tracked, carried = self._weigh_identities(scan, det_index, forced, cost, allowed, loglik, pd)
        bound = self._apply_identities(scan, det_index, forced, cost, allowed)

        if prm.association != "gnn":
            rows, cols, owned, updated_rows, explained, out_of_order = self._jpda(scan, cost, allowed, offsets, modes,
                                                                                 prior, pd, density, coverage)
            consumed = bound | tracked | explained | self._near_missed(scan, gated, offsets, updated_rows)
        else:
            live = np.flatnonzero(allowed.any(axis=1))  # a track that gates with nothing stays unassigned anyway
            rows, cols = gnn_assign(cost[live] - 2.0 * prior[live], allowed[live], prm.non_assignment_cost)
            rows = live[rows]
            consumed = bound | tracked | self._near_missed(scan, gated, offsets, rows)
            consumed[cols] = True
            usable = tab.t[rows] <= scan.time
            out_of_order = int(np.count_nonzero(~usable))
            rows, cols = rows[usable], cols[usable]
            owned = np.zeros(cost.shape)
            owned[rows, cols] = 1.0
            self._score(scan, offsets, rows, cols, cost, coverage)  # before ``_update`` counts (``_count``) the fixes
            for b, block in enumerate(scan.blocks):
                in_block = (cols >= offsets[b]) & (cols < offsets[b + 1])
                self._update(block, rows[in_block], cols[in_block] - offsets[b], modes, scan)
            updated_rows = np.sort(rows)

        self._hold_formation(updated_rows, scan.time, modes)
        # Detections tell what a track is only while its position is fixed (by this detection, or by any within
        # the crossing window): a bearing on a track that no sensor has placed lately may come from anything
        # along its line. A bearing's class evidence counts only as far as the bearing is the track's: an RF
        # identity's as far as its emitter is the track (``carried``), any other bearing with class evidence (an RF
        # bearing without an identity, an acoustic array's) by its association probability updated by the tracks'
        # classes (``_class_aided``: its line runs through every target behind it), one without by β; a plot's
        # whole (weighing plots by β too cost label accuracy on the swarm, 0.993 → 0.990: formation mates share gates).
        placed = tab.t_fix[rows] >= scan.time - prm.crossing_window_s
        labelled, label_cols = rows[placed], cols[placed]
        if len(labelled):
            weight = carried[labelled, label_cols]
            aided = self._class_aided(scan, det_index, bearing_only, owned, loglik, carried)[labelled, label_cols]
            weight = np.where(np.isnan(weight), aided, weight)
            weight = np.where(np.isnan(weight), np.where(bearing_only[det_index[label_cols]],
                                                         owned[labelled, label_cols], 1.0), weight)
            moving = classify.associated(loglik[det_index[label_cols]], weight, prm.class_prior) + np.where(
                (tab.status[labelled] != TENTATIVE)[:, None],
                classify.speed_evidence(np.linalg.norm(tab.x[labelled, 3:5], axis=1), prm.speed_evidence_weight,
                                        prm.class_floor), 0.0)
            tab.label_logp[labelled] = classify.fuse(tab.label_logp[labelled], moving, prm.class_min_p)
        if scan.keys:  # a position report binds its identities at once; bearings through ``_weigh_identities``
            for row, col in zip(rows.tolist(), cols.tolist()):
                if forced[col]:
                    self.identities.bind(int(tab.number[row]), scan.keys[det_index[col]], reported=True)
        confirmed = self._confirm(updated_rows, scan.time)
        started = self._initiate(scan, offsets, consumed, loglik, gated, updated_rows)
        bearings = scan.bearings
        if bearings is not None:
            b = scan.blocks.index(bearings)
            crossed = self._cross(scan, bearings, ~consumed[offsets[b]:offsets[b + 1]], loglik)
            started = np.concatenate([started, crossed])
        updated = tab.number[updated_rows]
        mass = np.zeros(len(tab))  # the detections each track explains (tracks started since have none)
        mass[:len(owned)] = owned.sum(axis=1)
        # The started tracks' rows: track numbers only grow and compaction keeps their order, so ``tab.number`` is
        # sorted, and this step's new tracks, numbered in order, are all still in it.
        merged = self.coalescence.merge(tab, self.identities, scan.time, updated_rows, mass,
                                        np.searchsorted(tab.number, started), *self._scan_detection(scan),
                                        lambda rows: self._carried(rows, scan.time, modes, bearing_modes=False),
                                        self._revisit(scan))
        if len(merged.numbers):  # a merged-away track is reported as ended only
            self.evidence.merge(merged.numbers, merged.into)
            self.label_evidence.merge(merged.numbers, merged.into)
            self.carriers.merge(merged.numbers, merged.into)
            started, confirmed, updated = (n[~np.isin(n, merged.numbers)] for n in (started, confirmed, updated))
        ended = ended.and_merged(merged)
        return StepResult(
            time=scan.time,
            started=tuple(track_id(n) for n in started),
            confirmed=tuple(track_id(n) for n in confirmed),
            updated=tuple(track_id(n) for n in updated),
            ended=ended,
            out_of_order=out_of_order,
        )

    def maintain(self, now: float) -> Ended:
        """Apply track management at fusion time ``now``: coast stale confirmed tracks, delete dead ones.

        Age counts from the last position fix, so a track that only one bearing sensor still
        updates (its range drifting along the line) coasts and dies like an unobserved one.
        """
        prm, tab = self.params, self.table
        age = now - tab.t_fix
        stretch = self._stretch()
        # Stretched, but a track still coasts ``coast_after_s`` before ``delete_after_s`` ends it.
        longest = max(prm.coast_after_s, prm.delete_after_s - prm.coast_after_s)
        coast_after = np.minimum(prm.coast_after_s * stretch, longest)
        tab.status[(tab.status == CONFIRMED) & (age > coast_after)] = COASTING
        position_var = short_sum(np.diagonal(tab.p[:, :3, :3], axis1=1, axis2=2), 1)  # the trace
        # A tentative life is at least the shorter of the two timeouts: only older tentative tracks need theirs.
        expired = (tab.status == TENTATIVE) & (age > min(prm.tentative_timeout_s, prm.delete_after_s) * stretch)
        if expired.any():
            old = np.flatnonzero(expired)
            expired[old] = age[old] > self._tentative_life(old, stretch[old])
        dead = (expired | ((tab.status == COASTING) & (age > prm.delete_after_s))
                | (position_var > prm.max_position_sigma_m**2))
        if not dead.any():
            return Ended.none(now)
        ended = Ended(now, tab.number[dead], tab.x[dead], tab.t[dead], tab.status[dead] != TENTATIVE,
                      np.zeros(int(dead.sum()), dtype=np.int64))
        self.identities.forget(ended.numbers)
        tab.keep(~dead)
        return ended

    def _tentative_life(self, rows: NDArray[np.intp] | None = None, stretch: Array | None = None) -> Array:
        """How long each track of ``rows`` (default: every track; ``stretch``: theirs, ``_stretch``) may stay tentative
        without a fix, s: until a target of its detection probability Pd would have been missed that long with
        probability ``tentative_miss_probability`` α, the bearings it took
        since its last fix (``support`` S, their summed log-likelihood ratios, at least 0) weighed against the
        misses, i.e. ``T · (ln α - S) / ln(1 - Pd)`` with T its revisit (``revisit``, its sensors' scan period),
        within [``tentative_timeout_s``, ``delete_after_s``] (both stretched for a slow sensor, ``_stretch``): the
        lower boundary of a sequential test on the evidence since the fix, where each missed revisit says
        ``ln(1 - Pd)`` against the target and each bearing that fits it its ratio for it.

        A fixed timeout killed the tracks of small drones that a radar sees in a third of its scans at
        4–5 km before their next plot. Only a track whose plots show a trackable target (Pd of at least
        ``min_detection_probability``) lives longer: clutter crosses the threshold barely, so its plots
        say Pd ≈ 0 and it keeps ``tentative_timeout_s``, as does a track whose plots carry no SNR. Bearings that
        fit say the target is still there while the radar misses it (``default``: the radar missed uav-1, a plot
        of 18 dB at 3.3 km, four scans running while its direction finder kept its bearing; the track died and
        the drone was confirmed 8.1 s after its second sensor, 6.1 s with the bearings' support). Clutter, whose
        plots say Pd ≈ 0, gains nothing from them.
        """
        prm, tab = self.params, self.table
        if rows is None:
            rows = np.arange(len(tab))
        plots = tab.plots[rows]
        pd = np.minimum(detection_probability(tab.excess[rows], plots, tab.radar_range[rows]), prm.detection_probability)
        trackable = (plots > 0) & (pd >= prm.min_detection_probability)
        life = tab.revisit[rows] * (np.log(prm.tentative_miss_probability) - np.maximum(tab.support[rows], 0.0)) / (
            np.log1p(-np.maximum(pd, prm.min_detection_probability)))
        stretch = self._stretch()[rows] if stretch is None else stretch
        timeout = prm.tentative_timeout_s * stretch
        # np.minimum(np.maximum(...)) is np.clip without its Python-level checks.
        return np.where(trackable, np.minimum(np.maximum(life, timeout), prm.delete_after_s * stretch), timeout)

    def _stretch(self) -> Array:
        """Per track, how much longer than configured its timeouts run: its revisit (``_count``) over ``revisit_s``,
        at least 1. A tentative track of a 3 s radar may wait as many scans for its next plot as one of a 1 s radar
        (its life and both its bounds stretch), and a confirmed track is not coasting between two scans (it still
        coasts ``coast_after_s`` before ``delete_after_s``). ``delete_after_s`` does not stretch: it is how long a
        target that has gone is still shown (on a 3 s radar, stretching it too was measured: the tracks of drones
        that left lingered, a 600 s ``crossing``'s false part 267 → 933 m²). ``revisit_s`` is both the period the
        timeouts are set for and the period of a sensor that states none: a slow radar says so in its status
        (``scan_period_s``), not through it."""
        return np.maximum(self.table.revisit / self.params.revisit_s, 1.0)

    def _revisit(self, scan: Scan) -> float:
        """How often the sensor of ``scan`` looks, s: its stated scan period, else ``revisit_s``."""
        return self.params.revisit_s if scan.revisit_s is None else scan.revisit_s

    def _detection_probability(self, rows: NDArray[np.intp], range_m: Array) -> Array:
        """Per track of ``rows``, the probability that a radar scan detects it at ``range_m``, from its plots' SNR
        (``detection_probability`` for a track without any), within [``min_detection_probability``,
        ``detection_probability``]; see ``detection_probability``."""
        prm, tab = self.params, self.table
        pd = detection_probability(tab.excess[rows], tab.plots[rows], range_m)
        return np.where(tab.plots[rows] > 0, np.clip(pd, prm.min_detection_probability, prm.detection_probability),
                        prm.detection_probability)

    def _scan_detection(self, scan: Scan) -> tuple[Array | None, Array | None]:
        """Per track, the probability that this radar scan detects its target where the track is, and when this
        radar last detected it (both None: not a radar scan); a track the radar never placed gets the least,
        ``min_detection_probability`` (it may be invisible to radar)."""
        if scan.radar is None:
            return None, None
        tab = self.table
        return (np.where(tab.plots > 0, self._radar_detection(scan), self.params.min_detection_probability),
                tab.sensor_last[:, tab.sensor_column(scan.sensor_id)])

    def _radar_detection(self, scan: Scan) -> Array:
        """Per track, the probability that the radar of ``scan`` detects its target at the track's range from it
        (``_detection_probability``)."""
        return self._detection_probability(np.arange(len(self.table)),
                                           np.linalg.norm(self.table.x[:, :3] - scan.origin, axis=1))

    def _learn_threshold(self, scan: Scan) -> None:
        """Lower the scan's radar's detection threshold to its weakest plot: a radar reports every crossing of its
        threshold, clutter included, so over many plots the smallest reported power is the threshold."""
        if scan.radar is None:
            return
        known = scan.snr_db[~np.isnan(scan.snr_db)]  # np.nanmin's checks cost more than this
        if not len(known):
            return
        column = self.table.sensor_column(scan.sensor_id)
        weakest = 1.0 + 10.0 ** (float(known.min()) / 10.0)
        self._threshold[column] = min(self._threshold.get(column, weakest), weakest)

    def _snr(self, scan: Scan, dets: NDArray[np.intp]) -> tuple[Array, float]:
        """The reported SNRs (dB; NaN: none) of the scan's plots ``dets`` (indices into the message) and its radar's
        detection threshold (``_learn_threshold``; NaN: none yet)."""
        snr = scan.snr_db[dets] if len(scan.snr_db) else np.full(len(dets), np.nan)
        return snr, self._threshold.get(self.table.sensor_column(scan.sensor_id), np.nan)

    def _amplitude_ratios(self, scan: Scan, rows: NDArray[np.intp], dets: NDArray[np.intp], range_m: Array) -> Array:
        """Per pair of a track of ``rows`` and the radar plot ``dets`` (index into the message) at ``range_m`` that it
        took, the log-likelihood ratio of the plot's amplitude, from the track's target against from no track's
        (``amplitude.log_ratios``): the track's plots' excess powers carried by the radar equation to the plot's range
        (``TrackTable.excess``, before this plot joins them); this radar's free plots for clutter and new targets
        (``_learn_free_plots``). For the track score only: in the association, with the tracker's one clutter density
        and no density of undetected targets around a formation, it drew plots of a formation's untracked members
        to its tracks (measured: swarm ID switches up on 13 draws, docs/performance.md, v14)."""
        tab, cap = self.table, self.params.amplitude_max_log_ratio
        if cap == 0.0:
            return np.zeros(len(rows))
        snr, threshold = self._snr(scan, dets)  # without a threshold yet every excess is NaN: ratio 0
        # The stored excesses were normalised by the threshold of their time, a running minimum that settles within
        # the radar's first scans; and one per track, whichever radar saw it (as for its Pd).
        free = self._free_plots_of(scan)
        track_excess = threshold * tab.excess[rows] * (REFERENCE_RANGE_M / range_m) ** 4
        return amplitude.log_ratios(over_threshold(snr, threshold), track_excess, tab.plots[rows], free, cap)

    def _birth_amplitude_ratios(self, scan: Scan, excess: Array) -> Array:
        """Per radar plot of the scan that starts a track, whose power exceeds the threshold by ``excess`` (``P - T``,
        NaN: unknown), its amplitude's log-likelihood ratio, a new target's against clutter
        (``amplitude.birth_log_ratios``, before the plot joins the radar's free plots): the track score's first term."""
        cap = self.params.amplitude_max_log_ratio
        if cap == 0.0:
            return np.zeros(len(excess))
        return amplitude.birth_log_ratios(excess, self._free_plots_of(scan), cap)

    def _learn_free_plots(self, scan: Scan, excess: Array) -> None:
        """Add the excess powers over the threshold (``P - T``, NaN: unknown) of radar plots of the scan that no track
        explained to its radar's statistics of free plots (``amplitude.FreePlots``, ``_amplitude_ratios``)."""
        self._free_plots[self.table.sensor_column(scan.sensor_id)] = self._free_plots_of(scan).learn(excess)

    def _free_plots_of(self, scan: Scan) -> amplitude.FreePlots:
        """The statistics of the free plots of the scan's radar so far (none yet: empty)."""
        return self._free_plots.get(self.table.sensor_column(scan.sensor_id), amplitude.FreePlots())

    def _amplitudes(self, scan: Scan, dets: NDArray[np.intp]) -> tuple[Array, Array]:
        """The normalised excess powers (``excess_power``; NaN without an SNR) and ranges (m) of radar plots ``dets``
        (indices into the message) of this scan, whose radar block holds them."""
        radar = scan.radar
        if radar is None:
            return np.full(len(dets), np.nan), np.full(len(dets), np.nan)
        range_m = radar.z[np.searchsorted(radar.index, dets), 0]
        return excess_power(*self._snr(scan, dets), range_m), range_m

    def strobes(self, now: float) -> StrobeView:
        """The bearings of each sensor's latest scan that no track explains and nothing crossed, with labels."""
        prm = self.params
        view = self.strobe_store.latest(now, prm.strobe_max_age_s)
        prior = classify.prior_logp(self._class_prior(), len(view.time))
        return replace(view, label_logp=classify.fuse(prior, view.label_logp, prm.class_min_p))

    def _class_prior(self) -> tuple[float, ...]:
        """The class prior of a new track: the configured one with the established tracks' class mix
        (``classify.class_mix``)."""
        tab = self.table
        return classify.class_mix(tab.label_logp[tab.status != TENTATIVE], self.params.class_prior,
                                  self.params.class_mix_strength)

    def predicted(self, now: float) -> tuple[Array, Array]:
        """Every track's (combined IMM) state and covariance predicted to ``now``, without changing the table."""
        return combine(*self._imm_predict(np.arange(len(self.table)), now))

    def predicted_position_spread(self, now: float) -> tuple[Array, Array]:
        """Every track's combined IMM state predicted to ``now`` and the trace of its position covariance.

        What a tracks message shows (``combine_position_variance``: the full 6×6 mixture cost more than the rest
        of the message)."""
        return combine_position_variance(*self._imm_predict(np.arange(len(self.table)), now))

    def _plausible(self, scan: Scan) -> NDArray[np.intp]:
        """Rows of the tracks that may come within ``initiation_exclusion`` gates of a detection of the scan,
        and those bound to its RF identities; only these are predicted and gated.

        Most messages are a few bearings of one sensor, and an IMM prediction and gating of every
        track for each cost more than everything else: a cheap conservative bound
        (``gating.plausible``) on each track's position carried at constant velocity rules the
        others out. Its bounds, from the combined state at the track's time and ``a = |dt|``:
        the IMM mean is within ``min(ω a², 3a)·(|v| + √tr P_vv)`` of the constant-velocity
        position (ω the fastest turn, or 1/τ of a hover or an altitude hold whose velocity decays with time
        constant τ; twice the mode's deviation), and the trace of the predicted
        position covariance is below ``5 (tr P_pp + a² tr P_vv) + 2 offset² + tr Q_pp``. The gate is per mode
        (``_gate``), and a mode of small probability may lie far from the combined state, so both bounds take every
        mode: the variances are the largest of any mode's (and the combined), and the modes' spread about the
        combined state (per axis, the largest deviation of any mode: ``s_p`` in position, ``s_v`` in velocity)
        widens the offset by ``s_p + a s_v`` and the speed in it by ``s_v``, and the variance by ``20 (s_p² + a² s_v²)``
        (the mixing's spread term, up to twice the deviation per axis, carried like a covariance). Checked against
        the per-mode gate, with modes of tiny probability far out, by
        ``test_the_plausibility_pre_gate_keeps_every_track_within_its_gate_of_a_detection``.
        Below ``_PREGATE_MIN_TRACKS`` tracks the bound costs more than it saves: all rows are kept.
        """
        tab, prm = self.table, self.params
        if len(tab) < _PREGATE_MIN_TRACKS:
            return np.arange(len(tab), dtype=np.intp)
        a = np.abs(scan.time - tab.t)
        variances = np.maximum(tab.p.reshape(len(tab), 36)[:, ::7],
                               short_max(np.diagonal(tab.pm, axis1=2, axis2=3), 1))
        position_var, velocity_var = variances.reshape(-1, 2, 3).sum(axis=2).T
        spread = short_max(np.abs(tab.xm - tab.x[:, None, :]), 1)
        # Three norms per track in one go (each of a few numbers: numpy's norm costs mostly its own overhead).
        spread_pos, spread_vel, speed = np.sqrt(np.square(np.concatenate([spread, tab.x[:, 3:]], axis=1)).reshape(
            -1, 3, 3).sum(axis=2)).T
        omega, q_pos = self._pregate_rates
        offset = (np.minimum(omega * a * a, 3.0 * a) * (speed + spread_vel + np.sqrt(velocity_var))
                  + spread_pos + a * spread_vel)
        var = (5.0 * (position_var + a * a * velocity_var) + 2.0 * offset**2
               + 20.0 * (spread_pos**2 + a * a * spread_vel**2) + q_pos * a**3)
        pos = tab.drifted(scan.time)
        # Only confirmed and coasting tracks look beyond their gate (``_near_missed``).
        wide = np.where(tab.status != TENTATIVE, max(prm.initiation_exclusion, 1.0), 1.0)[:, None]
        near = np.zeros(len(tab), dtype=bool)
        for block in scan.blocks:
            near |= plausible(pos, var, offset, block.z, block.r, block.mask, block.model, scan.m, scan.b,
                              wide * self._gates[block.mask.sum(axis=1)])
        for keys in scan.keys:
            number = self.identities.track_of(keys) if keys else None
            if number is not None:
                near[np.searchsorted(tab.number, number)] = True
        return np.flatnonzero(near)

    @cached_property
    def _pregate_rates(self) -> tuple[float, float]:
        """The modes' fastest rate at which a prediction leaves constant velocity, 1/s (the fastest turn, or 1/τ of a
        velocity or altitude decay), and their largest position process noise per axis (``_plausible``)."""
        modes = self.params.modes
        omega = max(max(abs(mode.omega), 1.0 / mode.velocity_tau_s, 1.0 / mode.vertical_tau_s) for mode in modes)
        return omega, max(2.0 * mode.q_horizontal + mode.q_vertical for mode in modes) / 3.0

    def _predict(self, rows: NDArray[np.intp], now: float) -> _Modes:
        """IMM prediction of ``rows`` to ``now``, in arrays over all tracks (the other rows as they are)."""
        tab = self.table
        x, p, c = tab.xm.copy(), tab.pm.copy(), tab.mu.copy()
        x[rows], p[rows], c[rows] = self._imm_predict(rows, now)
        return _Modes(x, p, c, rows, now)

    def _imm_predict(self, rows: NDArray[np.intp], now: float) -> tuple[Array, Array, Array]:
        """Per-mode states, covariances and mode probabilities of ``rows`` predicted to ``now``. Tracks that only
        bearings see (``_bearings_only``) switch modes ``bearing_only_switch_scale`` times slower
        (``slower_switching``): their bearings cannot tell the modes apart."""
        tab = self.table
        weak = self._bearings_only(rows)
        if len(rows) and not weak.any():  # the usual case: one prediction of every row
            return imm_predict(tab.xm[rows], tab.pm[rows], tab.mu[rows], now - tab.t[rows], self.params.modes)
        x, p, c = tab.xm[rows], tab.pm[rows], tab.mu[rows]  # copies (fancy indexing)
        for part, modes in ((~weak, self.params.modes), (weak, self._bearing_modes)):
            if part.any():
                sub = rows[part]
                x[part], p[part], c[part] = imm_predict(tab.xm[sub], tab.pm[sub], tab.mu[sub], now - tab.t[sub], modes)
        return x, p, c

    def _bearings_only(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Whether no plot or position report updated each of ``rows`` within ``sensor_recent_s`` of its last update
        (by measurement, not by sensor: an RF sensor may send a drone's Remote ID position and bearings alike)."""
        tab = self.table
        return tab.t[rows] - tab.t_point[rows] > self.params.sensor_recent_s

    def _gate(self, block: MeasurementBlock, modes: _Modes, x_pred: Array, p_pred: Array, rows: NDArray[np.intp],
              scan: Scan) -> Gating:
        """Gate the predicted tracks of ``rows`` against every detection of one block, their IMM modes as a mixture,
        each linearised at its own prediction (``gating.gate``: the modes' mixture likelihood, the union of the gates
        of the most probable mode and of every mode of probability at least 1 - ``gate_probability``: what the modes
        left out may lose is at most their number times the gate's own loss);
        ``x_pred``, ``p_pred``: their combined states. Other rows are beyond every gate."""
        n, m = len(self.table), len(block)
        if not len(rows):
            return Gating(d2=np.full((n, m), np.inf), cost=np.full((n, m), np.inf), inside=np.zeros((n, m), dtype=bool))
        k, n_modes = len(rows), modes.x.shape[1]
        z_pred, h = predict_measurement(block.model, modes.x[rows].reshape(k * n_modes, STATE_DIM), scan.m, scan.b)
        hph = project_covariance(h, modes.p[rows].reshape(k * n_modes, STATE_DIM, STATE_DIM))
        g = gate(z_pred.reshape(k, n_modes, -1), hph.reshape(k, n_modes, *hph.shape[1:]), block.z, block.r,
                 block.mask, block.model.angles, self._gates, wide=max(self.params.initiation_exclusion, 1.0),
                 weights=modes.c[rows], floor=1.0 - self.params.gate_probability, place=(rows, n))
        d2, cost, inside = g.d2, g.cost, g.inside
        if block.model is BEARING:  # a bearing has no range of its own: the sensor's coverage bounds it
            beyond = rows[self._beyond_coverage(x_pred, p_pred, scan)]
            d2[beyond], cost[beyond], inside[beyond] = np.inf, np.inf, False
        return Gating(d2=d2, cost=cost, inside=inside)

    def _coverage(self, x: Array, p: Array, scan: Scan) -> Array:
        """The probability that each track (states ``x``, covariances ``p``) lies within the scan's sensor's stated
        range ``max_range_m``: ``Φ((R - d) / σ_d)``, d its distance from the sensor and σ_d the sd of d (the
        covariance along the line of sight, linearised); 1 for an unbounded sensor. At least ``1 - gate_probability``:
        a stated range is nominal, and a bearing from a little beyond it then weighs on a track (and on its RF
        identity's evidence) about as much as one outside its gate (``IdentityEvidence.outside``), not without bound.

        A bearing sensor hears nothing beyond its range, so it detects a track with probability Pd times this. The
        hard cut (``_beyond_coverage``) leaves alone a track that may still be within ``coverage_margin`` times the
        range, and a crossing two direction finders just started is uncertain by hundreds of metres along their
        lines: with Pd whole, an acoustic array's false bearing took such a track 1.86 km from the 1.5 km array
        (β ≈ 1) and pulled it 500 m off its drone.
        """
        offset = x[:, :3] - scan.origin
        distance = np.linalg.norm(offset, axis=1)
        los = offset / np.maximum(distance, 1e-9)[:, None]
        sigma = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", los, p[:, :3, :3], los), 1e-6))
        return np.maximum(ndtr((scan.max_range_m - distance) / sigma), 1.0 - self.params.gate_probability)

    def _beyond_coverage(self, x: Array, p: Array, scan: Scan) -> NDArray[np.bool_]:
        """Which tracks (states ``x``, covariances ``p``) lie surely beyond the scan's sensor range: farther
        than ``coverage_margin`` times its stated ``max_range_m`` by more than three position sigmas.

        A bearing sensor's line runs on for ever, but it hears or receives nothing past its range:
        without this, the bearing of a near target updates (and labels) every track farther down its line.
        """
        distance = np.linalg.norm(x[:, :3] - scan.origin, axis=1)
        sigma = np.sqrt(np.trace(p[:, :3, :3], axis1=1, axis2=2))
        return distance - 3.0 * sigma > self.params.coverage_margin * scan.max_range_m

    def _near_missed(self, scan: Scan, gated: list[Gating], offsets: NDArray[np.intp],
                     assigned: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Columns within ``initiation_exclusion`` gates of a confirmed or coasting track that got no detection,
        fewer for a track the scan's radar sees less often (``_exclusion``).

        Such a plot is most likely that track's target manoeuvring out of its gate; starting a
        second track on it would duplicate the target. A track that did get a detection in this
        scan has its target accounted for, so plots near it are other targets (a close formation)
        and may start tracks. So may a plot inside the gate of such a detected established track:
        it lies among established targets, where an undetected neighbour (Pd well below 1 at long
        range) is far likelier than one that left its 99.9 % gate, and the association has already
        weighed it against the tracks that gate it.
        """
        near = np.zeros(int(offsets[-1]), dtype=bool)
        established = self.table.status != TENTATIVE
        missed = established.copy()
        missed[assigned] = False
        if not any(np.isfinite(g.d2[missed]).any() for g in gated):  # no missed track reaches a plot (d² inf)
            return near
        detected = established & ~missed
        exclusion = self._exclusion(scan)
        for b, g in enumerate(gated):
            dof = scan.blocks[b].mask.sum(axis=1)
            wide = g.d2 <= exclusion[:, None] * self._gates[dof][None, :]
            among = (g.inside & detected[:, None]).any(axis=0)
            near[offsets[b]:offsets[b + 1]] = (wide & missed[:, None]).any(axis=0) & ~among
        return near

    def _exclusion(self, scan: Scan) -> Array:
        """Per track, within how many of its gates a plot of this scan that it missed starts no track
        (``_near_missed``). For a radar scan, ``initiation_exclusion`` less a part in proportion to how much less often
        than ``detection_probability`` this radar sees the track's target where it is (its plots' SNR,
        ``_radar_detection``): 1 + (ie - 1) Pd / Pd_nominal, between 1.7 gates at ``min_detection_probability``
        0.2 and ie (4) for a target seen every scan or plots without SNR; for any other scan, ie.

        A plot just outside a missed track's gate is the track's target only if the radar detected that target (odds
        in Pd) and a neighbour only if it missed it (in 1 - Pd): a radar that sees a drone in a third of its scans
        misses it most of the time wherever it flies. The linear rule is a heuristic between those two. In a wave of
        such drones a fixed four gates (at least 340 m across the line of sight at 4 km with a 0.6° radar) kept the
        plots of the tracks' untracked neighbours from starting tracks (traced on ``mass`` seed 2: wave-north-9's
        plots, 230 m from the nearest track, started none for 30 s); one gate for every track instead cost
        ``default`` and ``birds`` 82 more ID switches on 7 draws, since near targets that a radar sees every scan do
        leave their gates when they manoeuvre.
        """
        prm, tab = self.params, self.table
        if scan.radar is None:
            return np.full(len(tab), prm.initiation_exclusion)
        floor = min(prm.initiation_exclusion, 1.0)
        return floor + (prm.initiation_exclusion - floor) * self._radar_detection(scan) / prm.detection_probability

    def _emitter_classes(self, scan: Scan, det_index: NDArray[np.intp], allowed: NDArray[np.bool_],
                         loglik: Array, cols: NDArray[np.intp]) -> Array:
        """Log-odds (N, len(cols)) by class alone that the RF emitter's detection of each column of ``cols`` comes
        from each gated track rather than from clutter or a new target, whose class mix is the configured prior
        (``classify.association_log_ratios``), clipped at 0; 0 for detections without an emitter and outside the
        gate.

        Clipped, because the class says what does not carry an emitter (a bird), not which drone carries this
        one: a goose's track that a direction finder's line also crosses loses ``ln(Σ P_goose ℓ / Σ π ℓ)`` (0.67
        with the default likelihoods) per bearing whether or not a drone's track competes, while a drone's track,
        an unlabelled one and one that already carries another emitter (a drone may have several links) are
        weighed by the fit alone (``_weigh_identities``). Ranking the candidates against the likeliest instead left
        the goose alone against a drone known by another emitter, and excluding such drones from the ranking is
        what let it win (measured on ``mass``: label accuracy 0.996 with this rule, 0.997 with the exclusion,
        whose goose case failed)."""
        emitted = np.flatnonzero(scan.emitter[det_index[cols]])
        out = np.zeros((len(self.table), len(cols)))
        if not len(emitted) or not len(self.table):
            return out
        ratio = classify.association_log_ratios(self.table.label_logp, loglik[det_index[cols[emitted]]],
                                                self.params.class_prior)
        out[:, emitted] = np.where(allowed[:, cols[emitted]], np.minimum(ratio, 0.0), 0.0)
        return out

    def _class_aided(self, scan: Scan, det_index: NDArray[np.intp], bearing_only: NDArray[np.bool_], beta: Array,
                     loglik: Array, carried: Array) -> Array:
        """The weight (N, columns) of each bearing's class evidence (an emitter's, or a classifier's output: an
        acoustic array's) for each track's label where no identity weighs it (``carried`` NaN: an acoustic bearing,
        an RF one without ``emitter_id``, which the protocol makes optional, or a Remote ID serial that a position
        report bound): ``w_i = β_i / (β_i + Σ_{k≠i} β_k r_k + β_0)``, with ``beta`` the association
        probabilities, β_0 = 1 - Σβ that of clutter or a new target, and r_k track k's class likelihood ratio
        against the latter, whose class mix is the configured prior (``classify.association_log_ratios``). NaN elsewhere.

        This is the exact mixture weight of ``classify.associated``: the bearing's class likelihood for track i is
        ``β_i ℓ + Σ_{k≠i} β_k L_k + β_0 L_0``, and the other tracks explain it by their own classes (a bird carries
        no emitter), so along a direction finder's line through a drone and a goose, the goose's fitting the
        bearing a little better no longer makes it a drone. Track i's own r_i stays out: putting it in would count
        the bearing's class twice. Plain β (``step``) is the case r_k = 1. With ``association: gnn`` β is one-hot
        and the weight 1: hard assignments leave nothing to weigh."""
        out = np.full(beta.shape, np.nan)
        cols = np.flatnonzero((scan.emitter[det_index] | scan.has_class[det_index]) & bearing_only[det_index])
        cols = cols[np.isnan(carried[:, cols]).all(axis=0)]  # no identity weighs them
        if not len(cols) or not len(self.table):
            return out
        b = beta[:, cols]
        explained = b * np.exp(classify.association_log_ratios(self.table.label_logp, loglik[det_index[cols]],
                                                               self.params.class_prior))
        others = explained.sum(axis=0) - explained + np.maximum(1.0 - b.sum(axis=0), 0.0)
        out[:, cols] = b / np.maximum(b + others, np.finfo(float).tiny)
        return out

    def _weigh_identities(self, scan: Scan, det_index: NDArray[np.intp], forced: NDArray[np.bool_], cost: Array,
                          allowed: NDArray[np.bool_], loglik: Array, pd: Array
                          ) -> tuple[Array, NDArray[np.bool_], Array]:
        """Prior log-odds (N, columns) that each bearing carrying an RF identity comes from each track, from
        the identity's earlier bearings (``association.IdentityEvidence``; 0 for other columns), which
        columns' identities more likely belong to some track than to none (evidence above 0 for a track:
        their bearings start nothing), and the probability (N, columns; NaN for other columns) that each track
        is the column's emitter, for its label (``classify.associated``);
        then add the bearings to that evidence and bind every identity to the track its evidence assigns it.

        The prior is the identity's evidence for the track less that of its best hypothesis (a track, or no
        track): ``ln P(k is i) - ln P(k's best)``, at most 0. It multiplies the pair's likelihood ratio, so
        the association weighs each bearing by its whole history instead of its one scan.
        ``cost`` and ``allowed`` are the message's, before ``_apply_identities`` narrows them; ``pd`` (N, 1) each
        track's detection probability by the sensor (``step``: within the sensor's range only).

        That probability weighs the identity's evidence (its bearings' fit) and its bearings' class log-odds
        (``_emitter_classes`` from the detections' class log-likelihoods ``loglik``, summed over the same memory
        in ``carriers``) together: an emitter is one target, so its bearings are drone evidence for a track only
        as far as it is that track. Along a direction finder's line through a drone and a goose both fit, the
        goose a little better at times, and each bearing, counted whole, was 5:1 for a drone on the goose's
        label (measured on ``birds``, seed 11: a goose labelled drone for 17 s). The class log-odds change labels
        only, never the association: weighing every emitter's bearings by the tracks' classes in JPDA as well
        moved the swarm's tracks (GOSPA 41.2 → 45.1 m, ID switches 5 → 7).

        The two read the evidence differently for a new track. The association (``evidence``) starts a track born
        since the identity's last bearing level with the identity's best track if that bearing falls in its gate and
        its score says target rather than clutter (above 0: by then its first plot's amplitude ratio and whatever
        fixed it since), so that a drone's radar track born after its emitter's first bearings competes for them on
        its fit; a clutter plot's track (below 0), one whose plots carry no SNR or begun without a plot (0) start at
        0 as before (level for every new track gave more false drone tracks: 1 → 3 on 21 draws). The label
        (``label_evidence``) starts every new track at 0: level, a gull's new track 200 m from a drone, on both
        direction finders' lines, took the drone emitter's class at once (``birds`` seed 1, traced).
        """
        prior, tracked = np.zeros(cost.shape), np.zeros(cost.shape[1], dtype=bool)
        carried = np.full(cost.shape, np.nan)
        if not scan.keys:
            return prior, tracked, carried
        # A key that a position report bound (a Remote ID serial) is that track's: bearings weigh only the others.
        weighed = [bool(keys) and not self.identities.reported(keys[0])
                   for keys in (scan.keys[d] for d in det_index.tolist())]
        cols = np.flatnonzero(~forced & np.array(weighed, dtype=bool))
        if not len(cols):
            return prior, tracked, carried
        prm, numbers = self.params, self.table.number
        keys = [scan.keys[det_index[c]][0] for c in cols.tolist()]  # the most specific identity
        # Level only for the identities whose bearing a new track gates: a track that never fitted one gets none.
        level = (self.table.score > 0.0)[:, None] & allowed[:, cols]
        history = self.evidence.history(scan.time, keys, numbers, level)
        for_label = self.label_evidence.history(scan.time, keys, numbers)
        best = history.max(axis=0, initial=0.0)  # at least 0: "no track"
        prior[:, cols] = history - best
        tracked[cols] = best > 0.0
        log_ratio = jpda.log_likelihood_ratios(np.where(allowed[:, cols], cost[:, cols], 0.0),
                                               pd, prm.bearing_clutter_density,
                                               prm.gate_probability)
        fit = np.where(allowed[:, cols], log_ratio, self.evidence.outside)
        history += fit
        for_label += fit
        self.evidence.add(scan.time, keys, numbers, history)
        self.label_evidence.add(scan.time, keys, numbers, for_label)
        classes = self.carriers.history(scan.time, keys, numbers) + self._emitter_classes(scan, det_index, allowed,
                                                                                          loglik, cols)
        self.carriers.add(scan.time, keys, numbers, classes)
        carried[:, cols] = identity_probabilities(for_label + classes)
        for key, number in self.evidence.assign(scan.time, numbers):
            if self.identities.reported(key):
                continue
            if number is None:
                self.identities.release(key)
            else:
                self.identities.bind(number, (key,))
        return prior, tracked, carried

    def _apply_identities(self, scan: Scan, det_index: NDArray[np.intp], forced: NDArray[np.bool_], cost: Array,
                          allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Constrain columns of position reports with RF identities, in place; return which are bound to a track.

        A position report (Remote ID) whose identity is bound may only go to that track, at zero
        cost and even outside the gate: it decodes the drone's own serial. One with an unbound
        identity may not go to a track that already has another identity of the same kind. A
        bearing's identity is not a constraint but evidence, weighed by ``_weigh_identities``: a
        binding made on bearings among close targets can be wrong, and forcing it would drag the
        track along another target's line. Only RF detections carry identities, so this loop is
        over a handful of columns.
        """
        bound = np.zeros(len(det_index), dtype=bool)
        if not scan.keys:
            return bound
        numbers = self.table.number
        kinds_of_rows: list[tuple[str, ...]] | None = None  # only for unbound identities, which are rare
        for col in range(len(det_index)):
            keys = scan.keys[det_index[col]]
            if not keys or not forced[col]:  # a bearing's identity weighs through ``_weigh_identities``
                continue
            number = self.identities.track_of(keys)
            row = -1 if number is None else int(np.searchsorted(numbers, number))
            if row >= 0 and not forced[col] and allowed[row, col]:
                allowed[:, col] = False
                allowed[row, col] = True
                continue
            if row >= 0 and forced[col]:
                bound[col] = True
                allowed[:, col] = False
                allowed[row, col] = True
                cost[row, col] = 0.0
                continue
            kinds = {key.split(":", 1)[0] for key in keys}
            if kinds_of_rows is None:
                kinds_of_rows = [self.identities.namespaces(n) for n in numbers.tolist()]
            taken = np.array([bool(kinds.intersection(row_kinds)) for row_kinds in kinds_of_rows], dtype=bool)
            allowed[taken, col] = False
        return bound

    def _jpda(self, scan: Scan, cost: Array, allowed: NDArray[np.bool_], offsets: NDArray[np.intp], modes: _Modes,
              prior: Array, pd: Array, density: Array, coverage: Array
              ) -> tuple[NDArray[np.intp], NDArray[np.intp], Array, NDArray[np.intp], NDArray[np.bool_], int]:
        """JPDA (or JPDA*) association and update of one message (``fusion.tracking.jpda``).

        ``prior`` (tracks, columns) adds to each pair's ``ln L`` (the identities' evidence, ``_weigh_identities``).
        ``pd`` (tracks, 1) is each track's detection probability by the sensor, ``density`` (columns) the density
        of detections from no track per resolution cell (``step``): a bearing is weighed, as by the track score and
        the identities, against ``bearing_clutter_density``, not against a radar cell's ``clutter_density``, and a
        track that may lie beyond the bearing sensor's range is detected only as likely as it lies within
        (``_coverage``, also the ``coverage`` (tracks,) that ``_score`` takes).
        Every track is updated with all its gated detections at once, weighted by their marginal
        association probabilities (pairs of negligible β are dropped). A track counts as detected
        (hits, fix time, sensors) when its miss probability is below ½, through the block of its
        most probable detection. Returns the pairs of β ≥ ½ (for labels and identities; at most
        one per track and per detection), every pair's β (tracks, columns), the detected rows, the
        columns some track explains (Σβ ≥ ``jpda_explained`` and given to a track by the most likely
        joint event: they start no track) and the number of detected rows too new for the scan.
        """
        prm, tab = self.params, self.table
        n_columns = cost.shape[1]
        if not allowed.any():  # nothing gated (a quarter of ``mass``'s steps): every track missed, every column free
            none = np.zeros(0, dtype=np.intp)
            for block in scan.blocks:
                self._count(block.model, none, scan)
            return none, none, np.zeros(cost.shape), none, np.zeros(n_columns, dtype=bool), 0
        ratio = jpda.likelihood_ratios(cost - 2.0 * prior, allowed, pd, density, prm.gate_probability)
        beta = jpda.marginals(ratio, prm.jpda_max_exact, star=prm.association == "jpda_star")
        pair_beta, miss = beta[:, :n_columns], beta[:, n_columns]
        usable = tab.t <= scan.time
        detected = miss < 0.5
        out_of_order = int(np.count_nonzero(detected & ~usable))
        block_of = np.searchsorted(offsets, np.arange(n_columns), side="right") - 1
        track, col = np.nonzero((pair_beta > jpda.NEGLIGIBLE) & usable[:, None])
        if len(scan.blocks) > 1:  # the pairs block after block, each block's in row order
            order = np.argsort(block_of[col], kind="stable")
            track, col = track[order], col[order]
        if len(track):
            bounds = np.searchsorted(block_of[col], np.arange(len(scan.blocks) + 1)).tolist()
            posteriors = [self._posteriors(block, track[start:end], col[start:end] - offsets[b], modes, scan)
                          for b, (block, start, end) in enumerate(zip(scan.blocks, bounds, bounds[1:])) if end > start]
            touched = np.flatnonzero(np.bincount(track, minlength=len(tab)))  # the rows of ``track``, sorted
            xm, pm, mu = jpda.mix(modes.x[touched], modes.p[touched], modes.c[touched], miss[touched],
                                  np.searchsorted(touched, track), pair_beta[track, col],
                                  *(np.concatenate(part) for part in zip(*posteriors)))
            tab.xm[touched], tab.pm[touched], tab.mu[touched] = xm, pm, mu
            tab.x[touched], tab.p[touched] = combine(xm, pm, mu)
            tab.t[touched] = scan.time
        hit = np.flatnonzero(detected & usable)
        dominant = block_of[pair_beta[hit].argmax(axis=1)] if len(hit) else np.zeros(0, dtype=np.intp)
        rows, cols = np.nonzero((pair_beta >= 0.5) & usable[:, None])
        self._score(scan, offsets, rows, cols, cost, coverage)  # before ``_count`` moves the fix times, resets support
        for b, block in enumerate(scan.blocks):
            self._count(block.model, hit[dominant == b], scan)
        return (rows, cols, pair_beta, hit,
                (pair_beta.sum(axis=0) >= prm.jpda_explained) & _in_best_event(ratio), out_of_order)

    def _update(self, block: MeasurementBlock, rows: NDArray[np.intp], dets: NDArray[np.intp], modes: _Modes,
                scan: Scan) -> None:
        """Batched IMM-EKF update of the assigned (track, detection) pairs of one block."""
        if len(rows) == 0:
            return
        tab = self.table
        x_new, p_new, loglik = self._posteriors(block, rows, dets, modes, scan)
        mu = mode_posterior(modes.c[rows], loglik)
        tab.xm[rows] = x_new
        tab.pm[rows] = p_new
        tab.mu[rows] = mu
        tab.x[rows], tab.p[rows] = combine(tab.xm[rows], tab.pm[rows], mu)
        tab.t[rows] = scan.time
        self._count(block.model, rows, scan)

    def _hold_formation(self, rows: NDArray[np.intp], now: float, modes: _Modes | None = None) -> None:
        """Give each established track of ``rows`` that a plot or report fixed at ``now`` its formation's velocity
        (``fusion.tracking.formation``): the mean velocity of its mates (established tracks fixed by a plot
        or report within ``sensor_recent_s``, predicted to ``now``, within ``formation_radius_m``, velocities
        consistent) as a measurement of every IMM mode's velocity, its covariance widened by the track's own (which
        the mates may share), and its flock's class (``_share_class``). Once per track and time
        (``TrackTable.t_formation``): a second message stamped with the same time (a bearing, another radar) would
        repeat the same measurement. Off with ``formation_radius_m`` = 0. ``modes``: the step's prediction, if any
        (``_carried``).

        Tentative tracks neither give nor take it: giving it to them as well measured no fewer ID switches and a worse
        GOSPA on six swarm seeds, to them alone worse still (shipped swarm: 6 → 11 ID switches).
        """
        prm, tab = self.params, self.table
        rows = rows[(tab.t_point[rows] == now) & (tab.status[rows] != TENTATIVE) & (tab.t_formation[rows] < now)]
        if prm.formation_radius_m <= 0.0 or not len(rows):
            return
        finite = np.isfinite(tab.x).all(axis=1) & np.isfinite(tab.p.reshape(len(tab), 36)).all(axis=1)
        members = (tab.status != TENTATIVE) & (tab.t_point >= now - prm.sensor_recent_s) & finite
        # Only tracks whose constant-velocity position is within twice the radius (the formation's for the velocity,
        # the larger for the class) of a fixed track can be mates: the rest need no prediction (most of the cost on a
        # crowded scene).
        reach = max(prm.formation_radius_m, prm.flock_radius_m if prm.formation_class_weight > 0.0 else 0.0)
        drifted = tab.drifted(now)[:, :2]
        drift = _horizontal_distances(drifted[rows], drifted)
        members &= (drift <= 2.0 * reach).any(axis=0)
        x, p = tab.x.copy(), tab.p.copy()
        stale = np.flatnonzero(members & (tab.t != now))
        if len(stale):  # a mate's velocity and its error as they are now, not at its last update
            x[stale], p[stale] = self._carried(stale, now, modes)
        velocity, velocity_cov = x[:, 3:], p[:, 3:, 3:]
        apart = _horizontal_distances(x[rows], x)
        d2 = formation.velocity_distances(apart, velocity, velocity_cov, rows, members, reach,
                                          prm.formation_velocity_spread_mps)
        d2[d2 > self._gates[3]] = np.inf  # velocities inconsistent with the formation model: no mate
        moving = np.sqrt(short_sum(velocity[:, :2]**2, 1)) >= prm.flock_min_speed_mps
        self._share_class(rows, np.where((apart <= prm.flock_radius_m) & moving[rows, None] & moving[None, :], d2,
                                         np.inf))
        formation_near: NDArray[np.bool_] = np.any(drift <= 2.0 * prm.formation_radius_m, axis=0)  # without flocks
        mates = np.isfinite(d2) & (apart <= prm.formation_radius_m) & formation_near[None, :]
        grouped = mates.any(axis=1)
        rows, mates = rows[grouped], mates[grouped]
        if not len(rows):
            return
        mean, cov = formation.group_velocity(velocity, velocity_cov, rows, mates, prm.formation_velocity_spread_mps)
        k, n_modes = len(rows), tab.xm.shape[1]
        xm, pm = tab.xm[rows].reshape(k * n_modes, 6), tab.pm[rows].reshape(k * n_modes, 6, 6)
        h = np.zeros((k * n_modes, 3, 6))
        h[:, :, 3:] = np.eye(3)
        r = np.repeat(cov, n_modes, axis=0)
        x_new, p_new = update(xm, pm, np.repeat(mean, n_modes, axis=0) - xm[:, 3:], h, pm[:, 3:, 3:] + r, r)
        tab.xm[rows], tab.pm[rows] = x_new.reshape(k, n_modes, 6), p_new.reshape(k, n_modes, 6, 6)
        tab.x[rows], tab.p[rows] = combine(tab.xm[rows], tab.pm[rows], tab.mu[rows])
        tab.t_formation[rows] = now

    def _share_class(self, rows: NDArray[np.intp], d2: Array) -> None:
        """Each track of ``rows`` takes its flock's class as evidence (``TrackTable.flock_logp``): its flock mates' mean
        class probabilities from their own evidence (``label_logp``), each mate weighed by how well its velocity fits
        (``formation.group_class``; ``d2`` (k, N): velocity distances under the formation model of the mates within
        ``flock_radius_m`` that both fly at ``flock_min_speed_mps`` or faster, inf for the others), to the power
        ``formation_class_weight`` times the best fit; no evidence for a track with no mate.

        Members of a flock or a formation share a class. Traced on ``birds`` seed 1: a goose's track among five tracks
        of geese, all birds at P 1.00, turned 'drone' for 10 s on a chance run of a weak radar classifier's outputs;
        a gull whose flock mates flew 160-270 m away (beyond ``formation_radius_m``, which is set for the velocity of
        drones in formation 40-60 m apart) did for 1.5 s. The evidence replaces the track's previous flock evidence
        instead of adding to it: mates' beliefs are not new evidence at every fix (added up, two mates with no class
        evidence of their own drove each other from P 0.35 to 0.997 in a minute), and a drone flying among birds is
        pulled by at most ``formation_class_weight`` · ln(1 / ``class_min_p``) nats (0.69), not without end.
        Standing still, a clutter track and a hovering drone agree in velocity by chance (traced on ``mass`` seed 6:
        a slow false track 33-46 m from a drone flying at 1-3 m/s took its class, a duplicate drone track). Replaced,
        it may be redone by a second message of the same time, unlike the formation velocity.
        """
        prm, tab = self.params, self.table
        tab.flock_logp[rows] = 0.0
        flocking = np.isfinite(d2).any(axis=1)
        if prm.formation_class_weight <= 0.0 or not flocking.any():
            return
        group, fit = formation.group_class(np.exp(tab.label_logp), d2[flocking])
        tab.flock_logp[rows[flocking]] = (prm.formation_class_weight * fit)[:, None] * np.log(
            np.maximum(group, prm.class_min_p))

    def _carried(self, rows: NDArray[np.intp], now: float, modes: _Modes | None,
                 bearing_modes: bool = True) -> tuple[Array, Array]:
        """Combined states (k, 6) and covariances (k, 6, 6) of ``rows``, not updated since ``_predict``, predicted to
        the scan time ``now``: the step's own IMM prediction (``modes``, if given and made for ``now``) where it made
        one (the same numbers as a new prediction without its cost: formation mates and merge candidates are mostly
        near the scan's detections), else a new one. ``bearing_modes=False``: every row with the tracker's modes
        (as ``Coalescence.merge`` predicts), so bearings-only rows (``_imm_predict``) are predicted anew."""
        tab = self.table
        known = np.zeros(len(tab), dtype=bool)
        if modes is not None and modes.time == now:
            known[modes.rows] = True
        reuse = known[rows] if bearing_modes else known[rows] & ~self._bearings_only(rows)
        x, p = np.empty((len(rows), STATE_DIM)), np.empty((len(rows), STATE_DIM, STATE_DIM))
        if modes is not None and reuse.any():
            old = rows[reuse]
            x[reuse], p[reuse] = combine(modes.x[old], modes.p[old], modes.c[old])
        fresh = rows[~reuse]
        if len(fresh):
            x[~reuse], p[~reuse] = combine(*(self._imm_predict(fresh, now) if bearing_modes else imm_predict(
                tab.xm[fresh], tab.pm[fresh], tab.mu[fresh], now - tab.t[fresh], self.params.modes)))
        return x, p

    def _posteriors(self, block: MeasurementBlock, rows: NDArray[np.intp], dets: NDArray[np.intp], modes: _Modes,
                    scan: Scan) -> tuple[Array, Array, Array]:
        """Per-mode EKF posteriors (k, r, 6), (k, r, 6, 6) and measurement log-likelihoods (k, r) of k pairs.

        Every mode of every pair is updated at once (k·r filters, each linearised at its own
        prediction); the likelihoods reweight the mode probabilities (and JPDA's hypotheses).
        """
        tab, model = self.table, block.model
        k, r_modes = len(rows), modes.x.shape[1]
        xm, pm = modes.x[rows].reshape(k * r_modes, 6), modes.p[rows].reshape(k * r_modes, 6, 6)
        each = np.repeat(dets, r_modes)  # every pair's detection once per mode
        z, mask, r = block.z[each], block.mask[each], block.r[each]
        z_pred, h = predict_measurement(model, xm, scan.m, scan.b)
        h = h * mask[:, :, None]
        y, s = innovations(z_pred, project_covariance(h, pm), z, r, mask, model.angles)
        x_new, p_new = update(xm, pm, y, h, s, masked_covariance(r, mask))
        d2 = np.einsum("ki,ki->k", y, np.linalg.solve(s, y[..., None])[..., 0])
        loglik = -0.5 * (d2 + np.linalg.slogdet(s)[1])
        # Only tracks that bearings alone started take the altitude prior: mostly none (all 1,332 bearing updates of
        # ``mass``), so the prior's filter update on no rows is skipped.
        if not model.starts_tracks and tab.from_bearings[rows].any():
            weak = np.repeat(tab.from_bearings[rows], r_modes)
            elapsed = np.repeat(scan.time - tab.t[rows], r_modes)[weak]
            x_new[weak], p_new[weak] = self._altitude_prior(x_new[weak], p_new[weak], elapsed, float(scan.origin[2]))
        return x_new.reshape(k, r_modes, 6), p_new.reshape(k, r_modes, 6, 6), loglik.reshape(k, r_modes)

    def _count(self, model: MeasurementModel, rows: NDArray[np.intp], scan: Scan) -> None:
        """Bookkeeping of tracks detected by this scan: position fix time, the sensor's last update, hits."""
        tab = self.table
        column = tab.sensor_column(scan.sensor_id)
        fixed = rows
        if not model.starts_tracks:  # bearings fix a track with another sensor's recent update that they cross
            others = tab.sensor_last[rows] >= scan.time - self.params.crossing_window_s
            others[:, column] = False
            others &= self._crosses(column, scan.origin, tab.x[rows, :3])
            # Bearings do not fix a tentative track that a plot started: if bearings are all that see it, it dies
            # (later for a trackable target, ``_tentative_life``) and the bearings start a crossing track of their own.
            fixed = rows[others.any(axis=1) & (tab.from_bearings[rows] | (tab.status[rows] != TENTATIVE))]
        tab.t_fix[fixed] = scan.time
        tab.support[fixed] = 0.0
        tab.sensor_last[rows, column] = scan.time
        if model.starts_tracks:
            tab.t_point[rows] = scan.time
            # A fix is due as often as the slowest sensor that recently fixed the track allows.
            self._fix_periods[column] = self._revisit(scan)
            columns = np.fromiter(self._fix_periods, dtype=np.intp)
            periods = np.fromiter(self._fix_periods.values(), dtype=float)
            recent = tab.sensor_last[rows[:, None], columns] >= scan.time - self.params.sensor_recent_s
            tab.revisit[rows] = np.where(recent, periods[None, :], 0.0).max(axis=1)  # this sensor's at least
        tab.hits[rows] += 1 if model.starts_tracks else tab.from_bearings[rows]

    def _score(self, scan: Scan, offsets: NDArray[np.intp], rows: NDArray[np.intp], cols: NDArray[np.intp],
               cost: Array, coverage: Array | None = None) -> None:
        """Add to the scores of tracks ``rows`` the log-likelihood ratios of their detections ``cols`` (columns of
        ``cost``): ``ln(Pd N(ν; 0, S) / λ)``, target against clutter, in the association's units (``cost`` is
        ``-2 ln(p(z) √|2πR|)``, ``d² + ln|S R⁻¹|`` for one Gaussian, λ per sensor resolution cell √|2πR|), a plot's with
        its amplitude's (``_amplitude_ratios``, before the plot joins the track's amplitude). For a radar
        plot Pd is the track's own
        (``_detection_probability``, before the plot), and the plot's SNR then joins the track's estimate; in a
        message with bearings it is times ``coverage``, the chance that the track lies within the sensor's range.

        The ratio weighs what a detection says: a plot where the track predicted it, in a sparse
        measurement space, is strong evidence; a bearing is weak (its one or two angles leave few
        cells, ``bearing_clutter_density`` each), so a bearing line through a clutter plot adds little,
        while two sensors agreeing add up. A plot or report also pays ``ln(1 - Pd)`` for every revisit of the
        scan's sensor (``_revisit``) it was missed since the last fix: clutter, which does not recur where a track
        predicts, sinks between its rare chance hits. This is the sequential-probability-ratio track score.
        """
        if not len(rows):  # no detection scored (a quarter of ``mass``'s JPDA steps): nothing to add
            return
        prm, tab = self.params, self.table
        density = np.array([prm.bearing_clutter_density if block.model is BEARING else prm.clutter_density
                            for block in scan.blocks])
        places = np.array([block.model.starts_tracks for block in scan.blocks], dtype=bool)
        block_of = np.searchsorted(offsets, cols, side="right") - 1
        missed = np.maximum(np.floor((scan.time - tab.t_fix[rows]) / self._revisit(scan) - 0.5), 0.0) * places[block_of]
        pd = np.full(len(rows), prm.detection_probability)
        if coverage is not None:  # a sensor with bearings detects a track only within its range (``_coverage``)
            pd *= coverage[rows]
        plot = np.array([block.model is RADAR for block in scan.blocks], dtype=bool)[block_of]
        amplitude_ratio = np.zeros(len(rows))
        if plot.any():
            det_index = np.concatenate([block.index for block in scan.blocks])
            excess, range_m = self._amplitudes(scan, det_index[cols[plot]])
            pd[plot] = self._detection_probability(rows[plot], range_m)
            amplitude_ratio[plot] = self._amplitude_ratios(scan, rows[plot], det_index[cols[plot]], range_m)
            known = ~np.isnan(excess)
            seen = rows[plot][known]
            tab.excess[seen] += excess[known]
            tab.plots[seen] += 1
            tab.radar_range[seen] = range_m[known]
        ratio = np.log(pd / density[block_of]) - 0.5 * cost[rows, cols] + amplitude_ratio
        tab.score[rows] += ratio + missed * np.log1p(-pd)  # rows are unique: one detection per track
        bearing = ~places[block_of]
        tab.support[rows[bearing]] += ratio[bearing]

    def _crosses(self, column: int, origin: Array, points: Array) -> NDArray[np.bool_]:
        """Per point (k,) and sensor column, whether a recent update by that sensor and a bearing of sensor
        ``column`` (at ``origin``) together fix a target there: a plot or report does; another bearing only
        if the horizontal lines of sight cross at ``min_crossing_deg`` or more (as for starting a track),
        since along nearly collinear bearings the distance stays free (two direction finders on one line).
        Remembers ``origin`` as sensor ``column``'s."""
        self._bearing_origins[column] = origin
        ok = np.ones((len(points), len(self.table.sensor_ids)), dtype=bool)
        columns = [c for c in self._bearing_origins if c != column]
        if columns:
            sines = crossing_sines(points, origin, np.array([self._bearing_origins[c] for c in columns]))
            ok[:, columns] = sines >= np.sin(np.radians(self.params.min_crossing_deg))
        return ok

    def _altitude_prior(self, x: Array, p: Array, elapsed: Array, sensor_up: float) -> tuple[Array, Array]:
        """A leaky altitude prior for tracks that only bearings see: small drones fly a few tens of metres
        above the ground (the sensors' level), and bearings at low elevation barely fix the height.

        The pseudo-measurement ``up = sensor_up + crossing_altitude_m`` with variance
        ``σ² · τ / elapsed`` (σ = ``crossing_altitude_sigma_m``, τ = ``altitude_prior_period_s``)
        adds the information of one σ-measurement per τ seconds, however often bearings arrive.
        """
        prm = self.params
        h = np.zeros((len(x), 1, 6))
        h[:, 0, 2] = 1.0
        r = (prm.crossing_altitude_sigma_m**2 * prm.altitude_prior_period_s
             / np.maximum(elapsed, 1e-3))[:, None, None]
        y = (sensor_up + prm.crossing_altitude_m - x[:, 2])[:, None]
        return update(x, p, y, h, p[:, 2:3, 2:3] + r, r)

    def _confirm(self, rows: NDArray[np.intp], now: float) -> NDArray[np.int64]:
        """Promote tracks detected at ``now``: coasting → confirmed and tentative with ``confirm_hits`` hits → confirmed
        if the detection fixed their position; tentative with a score of ``confirm_score`` → confirmed if the detection
        fixed it or, between fixes, if it is one hit short of ``confirm_hits`` (the score confirms sooner where
        sensors agree well).

        The score is a sequential test, which decides when its threshold is crossed: a bearing that adds the
        last of it to a radar track (one direction finder following a small drone between the radar's sparse
        plots) confirms it then, not at the next plot, which at 4–5 km may come seconds later or, after the
        track has timed out, never. But bearings leave the distance along their line free, and reports of one
        line come fast and say the same thing, so between fixes only a track whose plots have recurred twice
        after its birth qualifies: a pair of clutter plots on a bearing line is not confirmed by the bearings
        (``test_bearings_do_not_confirm_a_pair_of_plots_on_their_line``; with any second fix, random clutter
        around one acoustic line confirmed about twice as many false tracks)."""
        prm, tab = self.params, self.table
        status, fixed = tab.status[rows], tab.t_fix[rows] == now
        scored = fixed | (tab.hits[rows] >= prm.confirm_hits - 1)  # may the score confirm it now
        newly = (status == TENTATIVE) & ((fixed & (tab.hits[rows] >= prm.confirm_hits))
                                         | (scored & (tab.score[rows] >= prm.confirm_score)))
        tab.status[rows[((status == COASTING) & fixed) | newly]] = CONFIRMED
        return tab.number[rows[newly]]

    def _initiate(self, scan: Scan, offsets: NDArray[np.intp], consumed: NDArray[np.bool_],
                  loglik: Array, gated: list[Gating], detected: NDArray[np.intp]) -> NDArray[np.int64]:
        """Start tentative tracks from unconsumed radar plots and Remote ID positions (``detected``: the rows
        this scan detected, whose gates give a plot its velocity prior, ``_velocity_prior``)."""
        prm = self.params
        started = []
        for b, block in enumerate(scan.blocks):
            free = ~consumed[offsets[b]:offsets[b + 1]]
            if block.model is BEARING or not free.any():
                continue
            z, mask, r = block.z[free], block.mask[free], block.r[free]
            if block.model is RADAR:
                x, p = initiation.from_radar(z, mask, r, scan.m, scan.b,
                                             *self._velocity_prior(gated[b].d2[:, free], gated[b].inside[:, free],
                                                                   detected),
                                             prm.missing_elevation_sigma_rad)
            elif block.model is POSITION:
                x, p = initiation.from_position(z, mask, r, self._velocity_sigma,
                                                prm.missing_altitude_sigma_m)
            else:
                continue
            dets = block.index[free]
            logp = classify.fuse(classify.prior_logp(self._class_prior(), len(dets)), loglik[dets], prm.class_min_p)
            excess, range_m, score = None, None, np.zeros(len(dets))
            if block.model is RADAR:
                excess, range_m = self._amplitudes(scan, dets)
                over = over_threshold(*self._snr(scan, dets))
                score = self._birth_amplitude_ratios(scan, over)
                self._learn_free_plots(scan, over)
            numbers = self.table.add(x, p, prm.initial_mode_p, scan.time, logp, scan.sensor_id, score=score,
                                     excess=excess, radar_range=range_m, revisit=self._revisit(scan))
            if scan.keys:
                for number, det in zip(numbers.tolist(), dets.tolist()):
                    self.identities.bind(number, scan.keys[det], reported=block.model is POSITION)
            started.append(numbers)
        return np.concatenate(started) if started else np.zeros(0, dtype=np.int64)

    def _velocity_prior(self, d2: Array, inside: NDArray[np.bool_], detected: NDArray[np.intp]) -> tuple[Array, Array]:
        """Velocity prior means (k, 3) and covariances (k, 3, 3) of tracks started from k plots, from their
        gating (``d2``, ``inside``: tracks × plots) against the established tracks that this scan ``detected``.

        A plot inside the gate of such a track lies among tracked targets that were detected: most likely a
        member of the same formation or flock, flying with it. Its prior is that track's velocity, with the
        track's velocity covariance plus ``formation_velocity_sigma_mps`` per axis for the spread of a group's
        velocities (the closest such track by d²). Any other plot gets the zero-mean prior of
        ``initial_velocity_sigma_mps``. With that prior for every plot, a new formation member's gates
        spread over all its neighbours within seconds, their plots went to it or to the older tracks at
        random, and it died unconfirmed (swarm, measured: GOSPA 43.7 → 41.5 m, ID switches 12 → 6, the last
        drone confirmed 17 s instead of 72 s after its second sensor; the other scenarios equal or better).
        """
        prm, tab = self.params, self.table
        n, k = d2.shape  # rows: the tracks before this scan's new ones
        mean = np.zeros((k, 3))
        cov = np.broadcast_to(np.diag(self._velocity_sigma**2), (k, 3, 3)).copy()
        established = np.zeros(n, dtype=bool)
        established[detected] = tab.status[detected] != TENTATIVE
        near = np.where(inside & established[:, None], d2, np.inf)
        if not len(near) or not np.isfinite(near).any():
            return mean, cov
        best = near.argmin(axis=0)
        among = np.isfinite(near[best, np.arange(k)])
        mean[among] = tab.x[best[among], 3:]
        cov[among] = tab.p[best[among], 3:, 3:] + prm.formation_velocity_sigma_mps**2 * np.eye(3)
        return mean, cov

    def _cross(self, scan: Scan, block: MeasurementBlock, free: NDArray[np.bool_], loglik: Array) -> NDArray[np.int64]:
        """Cross this scan's free bearings with stored strobes of other sensors; start tracks at the crossings.

        Every (new bearing, strobe) pair is triangulated at once; a pair is allowed if the geometry
        is sound, the χ² of the residuals is inside the gate, the position sigma is below the
        divergence limit and their RF identities do not contradict. One GNN assignment on the χ²
        picks at most one partner per bearing. What is not crossed becomes a strobe.
        """
        prm, store = self.params, self.strobe_store
        store.keep(store.time >= scan.time - prm.crossing_window_s)
        column = self.table.sensor_column(scan.sensor_id)
        z, mask, r, dets = block.z[free], block.mask[free], block.r[free], block.index[free]
        var = r[:, [0, 1], [0, 1]]  # the azimuth and elevation variances (k, 2)
        new = rays(z[:, 0], np.where(mask[:, 1], z[:, 1], 0.0), scan.m, scan.origin)
        keys = [scan.keys[d] if scan.keys else () for d in dets.tolist()]
        partners = np.flatnonzero((store.sensor != column) & (store.time <= scan.time))
        started = np.zeros(0, dtype=np.int64)
        used_new = np.zeros(len(z), dtype=bool)
        if len(z) and len(partners):
            old = store.rays
            pair = Rays(*(_pairs(getattr(new, f), getattr(old, f)[partners]) for f in ("origin", "direction", "n_az",
                                                                                         "n_el")))
            n, s_ = len(z), len(partners)
            lateral = (prm.crossing_speed_mps * (scan.time - store.time[partners]))**2
            crossing = triangulate(
                pair, _pairs(var[:, 0], store.var_az[partners]), _pairs(var[:, 1], store.var_el[partners]),
                _pairs(mask[:, 1], store.has_el[partners]), _pairs(np.zeros(n), lateral),
                np.ones((n * s_, 2), dtype=bool), pair.origin[..., 2].mean(axis=1) + prm.crossing_altitude_m,
                prm.crossing_altitude_sigma_m, np.radians(prm.min_crossing_deg))
            reach = prm.coverage_margin * _pairs(np.full(n, scan.max_range_m), store.max_range[partners])
            sound = (crossing.ok & ((crossing.dof == 0) | (crossing.chi2 <= self._gates[crossing.dof]))
                     & (np.trace(crossing.covariance, axis1=1, axis2=2) <= prm.max_position_sigma_m**2)
                     & (np.linalg.norm(crossing.position[:, None, :] - pair.origin, axis=2) <= reach).all(axis=1))
            contradict = np.array([bool(a and store.keys[j] and not set(a) & set(store.keys[j]))
                                   for a in keys for j in partners.tolist()], dtype=bool)
            allowed = (sound & ~contradict).reshape(n, s_)
            rows, cols = gnn_assign(crossing.chi2.reshape(n, s_), allowed, prm.non_assignment_cost)
            if len(rows):
                flat = rows * s_ + cols
                x = np.zeros((len(rows), 6))
                x[:, :3] = crossing.position[flat]
                p = np.zeros((len(rows), 6, 6))
                p[:, :3, :3] = crossing.covariance[flat]
                p[:, 3:, 3:] = np.diag(self._velocity_sigma**2)
                mates = partners[cols]
                evidence = loglik[dets[rows]] + store.loglik[mates]
                logp = classify.fuse(classify.prior_logp(self._class_prior(), len(rows)), evidence, prm.class_min_p)
                started = self.table.add(x, p, prm.initial_mode_p, scan.time, logp, scan.sensor_id, hits=2,
                                         from_bearings=True, revisit=prm.revisit_s)
                added = np.arange(len(self.table) - len(rows), len(self.table))
                self.table.sensor_last[added, store.sensor[mates]] = store.time[mates]
                for number, row, mate in zip(started.tolist(), rows.tolist(), mates.tolist()):
                    self.identities.bind(number, keys[row] + store.keys[mate])
                used_new[rows] = True
                gone = np.ones(len(store), dtype=bool)
                gone[mates] = False
                store.keep(gone)
        lone = ~used_new
        store.add(column, scan.time, Rays(new.origin[lone], new.direction[lone], new.n_az[lone], new.n_el[lone]),
                  z[lone], mask[lone], var[lone], loglik[dets[lone]], [k for k, u in zip(keys, lone.tolist()) if u],
                  scan.max_range_m)
        return started


def _in_best_event(ratio: Array) -> NDArray[np.bool_]:
    """Detections that the most likely joint association event gives to a track (ratios ``L_ij`` (N, M)).

    That event maximises ``Π L_ij`` over its pairs (an unassigned detection or track weighs 1): one
    assignment on ``-ln L`` in which a pair is worth making only if ``L_ij > 1``. A detection it leaves
    out is, in the best explanation of the message, a new target or clutter, even when the marginals
    spread over many tracks add up to more than ``jpda_explained`` for it: with more plots than tracks
    in a close formation every plot can look explained while one of them must be a target with no track.
    """
    useful = ratio > 1.0
    if (useful.sum(axis=1) <= 1).all():  # no track has a choice: every detection worth pairing gets a track
        return useful.any(axis=0)
    assigned = np.zeros(ratio.shape[1], dtype=bool)
    live = np.flatnonzero(useful.any(axis=1))
    if len(live):
        _, cols = gnn_assign(-np.log(np.where(useful[live], ratio[live], 1.0)), useful[live], 0.0)
        assigned[cols] = True
    return assigned


def _horizontal_distances(a: Array, b: Array) -> Array:
    """Horizontal distances (k, N) from each of k points (k, ≥2) to each of N (N, ≥2): ``np.linalg.norm`` of the
    differences over the east and north axes, the same numbers (``squared_distances``)."""
    return np.sqrt(squared_distances(a[:, :2], b[:, :2]))


def _pairs(new: NDArray[Any], old: NDArray[Any]) -> NDArray[Any]:
    """Every (new, old) pair of rows, new-major: shape (len(new) * len(old), 2, ...)."""
    a, b = np.broadcast_arrays(new[:, None], old[None, :])
    return np.stack([a, b], axis=2).reshape(len(new) * len(old), 2, *new.shape[1:])
