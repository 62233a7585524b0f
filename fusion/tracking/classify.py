"""Label fusion: each track carries log-probabilities of (drone, bird, aircraft, unknown).

Classifier outputs (``class_probs``) are treated as tempered likelihoods: the unassigned
mass is spread evenly, each value is floored (one output never rules a class out) and
raised to ``weight`` < 1 because successive outputs of one sensor are correlated. An RF
emitter or Remote ID is strong evidence of a drone and multiplies in ``emitter_likelihood``.
Posteriors are floored at ``min_p`` so that a label can still change later. An RF bearing only shows an
emitter somewhere along a line, a gate hundreds of metres wide at a few km, where another drone's link or
a Wi-Fi access point explains it as well as the track: it gets the far weaker ``bearing_emitter_likelihood``.
Nor is it all this track's: an emitter is one target, so its bearings' evidence for a track is weighed by the
probability w that the emitter is that track (``associated``: ``w ℓ + (1 - w) Σ π ℓ``). The tracker takes w from
all the identity's recent bearings, their fit and the classes of the tracks free to carry it alike
(``association_log_ratios``; a bird carries no emitter, a track with another emitter is another drone): where a
direction finder's line runs through a drone's track and a goose's, the goose's fitting the bearings a little
better no longer makes the goose a drone in four bearings. A bearing without an identity (an acoustic array's) is
weighed the same way by its JPDA association probability β with the track: its line runs through every target
behind it, and a gull under a degree off a drone's line took the drone's sound whole whenever JPDA gave it the
bearing at β ≥ ½ (measured on ``birds``, seed 3: a gull labelled drone for 5 s). A bearing with class evidence
that no identity weighs (an acoustic array's, an RF one without ``emitter_id``) gets the exact mixture weight of
β updated by the other tracks' classes (``Tracker._class_aided``): plain β still let a gull's track take a drone's
sound at β 0.5-0.7 and be a drone for 2 s (``birds``, seed 29). Plots keep weight 1: a plot
fixes its target in range too, and weighing plots by β (formation mates share gates) cost label accuracy on the
swarm (0.993 → 0.990).

A new track starts from the airspace's class mix, not a fixed prior (``class_mix``: the established tracks' drone,
bird and aircraft proportions, the configured prior worth ``class_mix_strength`` tracks), and is labelled drone only
at twice the odds of all else (``MIN_DRONE_P``): among geese and gulls a radar's weak micro-Doppler outputs that
favour drone by chance for a few looks no longer make a bird's new track a drone.

Kinematics add the one thing every sensor's track has: speed. Small drones and birds fly
below about 35 and 25 m/s, aircraft above their stall speed of about 30 m/s, so each class
gets a logistic likelihood of the track's speed (unknown a flat one), floored and tempered
like a classifier output because successive speed estimates of a track are correlated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Label = Literal["drone", "bird", "aircraft", "unknown"]

LABELS: tuple[Label, Label, Label, Label] = ("drone", "bird", "aircraft", "unknown")
DRONE, BIRD, AIRCRAFT, UNKNOWN = 0, 1, 2, 3


def normalise(logp: Array, min_p: float = 0.0) -> Array:
    """Rows of log-probabilities normalised to sum to one, each at least ``min_p``."""
    p = np.exp(logp - logp.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if min_p > 0.0:
        p = np.maximum(p, min_p)
        p /= p.sum(axis=-1, keepdims=True)
    return np.log(p)


def prior_logp(prior: tuple[float, ...], n: int) -> Array:
    """The normalised class prior repeated for n tracks."""
    return np.repeat(normalise(np.log(np.asarray(prior, dtype=float)))[None], n, axis=0)


def class_mix(track_logp: Array, prior: tuple[float, ...], strength: float) -> tuple[float, ...]:
    """The class prior of a new track: the configured ``prior``'s share of the known classes (drone, bird,
    aircraft) spread in the proportions of the established tracks' class probabilities ``track_logp`` (N, 4),
    with the configured proportions as a Dirichlet prior worth ``strength`` tracks; 'unknown' keeps its share.

    The class mix of the airspace is a base rate, and base rates differ by site and hour: among a flock of
    geese and a few gulls a new radar track is most likely a bird, in a raid most likely a drone. A weak
    classifier's few first looks (a radar's micro-Doppler, about 1.5:1 for the true class) are weighed against
    that base rate instead of a fixed 1:1 drone-to-bird prior (measured on ``birds``, seeds 3, 23 and 29: two to
    nine radar outputs that favoured drone by chance made a bird's new track a drone for 0.5 to 11 s).
    The posterior mean of the mix (soft counts) is the empirical-Bayes estimate."""
    base, known, pseudo_counts = _mix_constants(tuple(prior), strength)
    counts = np.exp(track_logp[:, :UNKNOWN]).sum(axis=0) + pseudo_counts
    total = counts.sum()
    if total <= 0.0:  # no established track and no weight on the prior: the prior
        return base
    return (*(known * counts / total).tolist(), base[UNKNOWN])


@lru_cache(maxsize=8)
def _mix_constants(prior: tuple[float, ...], strength: float) -> tuple[tuple[float, ...], float, Array]:
    """``class_mix``'s constants of one configuration, computed once: the normalised ``prior``, its known classes'
    share and their Dirichlet pseudo-counts worth ``strength`` tracks (read-only: the cache shares it)."""
    base = np.asarray(prior, dtype=float) / np.sum(prior)
    known = base[:UNKNOWN].sum()
    pseudo_counts = strength * base[:UNKNOWN] / known
    pseudo_counts.setflags(write=False)
    return tuple(base.tolist()), float(known), pseudo_counts


def evidence(probs: Array, has_probs: NDArray[np.bool_], emitter: NDArray[np.bool_], weight: float,
             floor: float, emitter_likelihood: tuple[float, ...] | Array) -> Array:
    """Log-likelihoods (n, 4) of detections from their class_probs (n, 4) and emitter flags (n,);
    ``emitter_likelihood`` is one (4,) for all detections or one row (n, 4) per detection."""
    spread = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, 1.0) / probs.shape[1]
    loglik = weight * np.log(np.maximum(probs + spread, floor))
    loglik = np.where(has_probs[:, None], loglik, 0.0)
    return loglik + np.where(emitter[:, None], np.log(np.asarray(emitter_likelihood)), 0.0)


def emitter_likelihoods(bearing: NDArray[np.bool_], located: tuple[float, ...],
                        bearing_only: tuple[float, ...]) -> Array:
    """Per detection (n, 4): the emitter likelihood of a bearing-only detection, else of a located one."""
    return np.where(bearing[:, None], np.asarray(bearing_only)[None], np.asarray(located)[None])


#: Per class (drone, bird, aircraft): speed (m/s) where the likelihood is one half, and its sign
#: (+1: likely above it, -1: likely below it); the logistic width is ``SPEED_WIDTH``.
SPEED_EDGES = ((35.0, -1.0), (25.0, -1.0), (30.0, 1.0))
SPEED_WIDTH = 3.0


def speed_evidence(speed: Array, weight: float, floor: float) -> Array:
    """Log-likelihoods (n, 4) of tracks' speeds (n,) m/s; 'unknown' gets a flat 0.5."""
    lik = np.full((len(speed), len(LABELS)), 0.5)
    for c, (edge, sign) in enumerate(SPEED_EDGES):
        lik[:, c] = 1.0 / (1.0 + np.exp(-sign * (speed - edge) / SPEED_WIDTH))
    return weight * np.log(np.maximum(lik, floor))


def association_log_ratios(track_logp: Array, loglik: Array, prior: tuple[float, ...]) -> Array:
    """Per (track, detection) (N, M), what the detection's class evidence says about its origin: the log of
    ``Σ_c P_i(c) ℓ_j(c) / Σ_c π_c ℓ_j(c)``, its likelihood if it came from track i (class probabilities
    ``track_logp`` (N, 4)) over its likelihood if it came from clutter or a new target (the class prior π);
    ``loglik`` (M, 4) are the detections' log-likelihoods (``evidence``).

    Classification-aided association (Bar-Shalom, Kirubarajan & Gokberk, 2005): an RF emitter's bearing is
    five times likelier to come from a drone's track than from a bird's where both lie on its line. A detection
    without class evidence gives 0.
    """
    lik, base = _with_prior(loglik, prior)
    return np.log(np.exp(track_logp) @ lik.T) - np.log(base)[None, :]


def associated(loglik: Array, w: Array, prior: tuple[float, ...]) -> Array:
    """Log-likelihoods (k, 4) of detections that are their track's with probability ``w`` (k,): the mixture
    ``w ℓ_c + (1 - w) Σ_c' π_c' ℓ_c'``, since a detection from elsewhere (clutter, another target) says
    nothing of this track's class; ``loglik`` (k, 4) are the detections' own (``evidence``), π the class prior.

    An emitter that is a goose's track with probability 0.1 barely moves the goose's label."""
    lik, other = _with_prior(loglik, prior)
    return np.log(w[:, None] * lik + (1.0 - w[:, None]) * other[:, None])


def _with_prior(loglik: Array, prior: tuple[float, ...]) -> tuple[Array, Array]:
    """Detections' likelihoods (k, 4), each row scaled to a maximum of 1 (the scale cancels in every ratio
    and posterior), and their averages (k,) over the normalised class prior."""
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    return lik, lik @ np.exp(normalise(np.log(np.asarray(prior, dtype=float))))


def fuse(logp: Array, loglik: Array, min_p: float) -> Array:
    """Posterior log-probabilities after multiplying in the likelihoods."""
    return normalise(logp + loglik, min_p)


#: A track is given a class only once that class is more likely than all others together; below, it is
#: 'unknown' with the probability of the 'unknown' class (Chow's reject option: a weak classifier's first few
#: looks often favour a wrong class a little).
MIN_LABEL_P = 0.5
#: The drone label asks more: a drone at least twice as likely as all other classes together. A false drone label
#: sends the operator after a bird (and cries wolf: the next true alert is trusted less), while a drone left
#: 'unknown' a little longer is still tracked, shown and watched: Chow's rule with a false drone label costing
#: 1.5 times another wrong label, 1 - ½/1.5 = 2/3. Drones' own evidence (an emitter, a rotor's sound) passes it
#: within a look or two; a bird's radar track whose weak micro-Doppler outputs favoured drone by chance for a few
#: looks peaked at P(drone) 0.52-0.67 (``birds``, seeds 3, 23, 29). Threat alerts start at the same probability
#: (``fusion.threat.ThreatParams.min_p``).
MIN_DRONE_P = 2.0 / 3.0


def best_label(logp: Array) -> tuple[NDArray[np.intp], Array]:
    """Label index (N,) and its probability (N,): the most probable class if its probability is at least
    ``MIN_LABEL_P`` (``MIN_DRONE_P`` for a drone), else 'unknown'."""
    idx = np.argmax(logp, axis=1)
    rows = np.arange(len(logp))
    least = np.where(idx == DRONE, np.log(MIN_DRONE_P), np.log(MIN_LABEL_P))
    idx = np.where(logp[rows, idx] >= least, idx, UNKNOWN)
    return idx, np.exp(logp[rows, idx])
