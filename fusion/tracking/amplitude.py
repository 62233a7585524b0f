"""A track's radar detection probability from its plots' SNR and its hit/miss record: Swerling-1 targets,
a square-law detector.

The received power over noise ``P`` of a Swerling-1 target is exponential with mean ``μ = 1 + S`` (S the
mean SNR, falling with range as r⁻⁴ by the radar equation); the radar declares a plot where ``P``
crosses its threshold ``T = -ln Pfa``, so a scan detects the target with ``Pd = exp(-T / μ)``. The
protocol gives each plot's optional ``snr_db`` without defining it further; this module assumes it is
``10 log10(P - 1)`` against the radar's own noise, and that the radar reports its clutter plots too, so
that the weakest plots it reports (clutter crosses the threshold barely) show ``T``
(``Tracker._learn_threshold``).

A target is described by one unknown, ``s = S(1 km) / T``, its mean SNR carried to 1 km over the
threshold, so that at range r ``μ / T = m(s, r) = 1 / T + s (1 km / r)⁴``. Its posterior is kept on a
log-spaced grid (``SNR_GRID``) under the scale-invariant prior, uniform in ln s, from two kinds of
evidence (per track, summed log-likelihoods over the grid):

* each plot's power: given a detection, ``P - T`` is again exponential with mean ``μ`` (memorylessness),
  so the plot adds ``-ln m - (P - T) / (T m)`` (``plot_loglik``), unbiased by the truncation however
  weak the target;
* each radar revisit after the plot that started the track (the start is conditioned on, not evidence:
  every track begins with a detection): a detection, Bernoulli with ``Pd = exp(-1 / m)``, adds
  ``-1 / m``, a miss ``ln(1 - exp(-1 / m))`` (``revisit_loglik``).

A few plots' powers alone are a noisy estimate (the excess of each is exponential: three plots give
±58 %), and a weak target's plots barely cross the threshold like clutter's; the record of revisits is
what tells them apart: a target that recurs in scans that follow has a Pd near its hit rate whatever
its plots' powers, while clutter, one plot then misses, keeps the Pd ≈ 0 its power says. The track's
Pd at a range is the posterior mean of ``exp(-1 / m)`` (``detection_probability``). Where the
assumptions fail the estimate only matters for tentative tracks (their score and life), and the tracker
clips it to [``min_detection_probability``, ``detection_probability``]; a radar without ``snr_db`` is
tracked with the nominal ``detection_probability``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Range to which the mean SNR ``s`` is carried (``SNR_GRID``), m.
REFERENCE_RANGE_M = 1000.0
#: The grid of ``s = S(1 km) / T``, 8 points a decade from 10⁻³ (Pd ≈ Pfa even at 1 km) to 10⁶ (Pd > 0.99 out
#: to 10 km): the posterior's support.
SNR_GRID = np.logspace(-3.0, 6.0, 73)


def mean_power(threshold: Array, range_m: Array) -> Array:
    """Mean received power over the threshold, ``μ / T = 1 / T + s (1 km / r)⁴``, (k, grid) for k thresholds
    ``T`` (powers over noise) and ranges (m)."""
    spread = (REFERENCE_RANGE_M / np.asarray(range_m, dtype=float)) ** 4
    return 1.0 / np.asarray(threshold, dtype=float)[:, None] + SNR_GRID * spread[:, None]


def plot_loglik(snr_db: Array, threshold: Array, range_m: Array) -> Array:
    """Log-likelihood over ``SNR_GRID`` (k, grid) of k plots' powers given their detection: the excess
    ``(P - T) / T`` is exponential with mean ``m`` (``mean_power``), ``P = 1 + 10^(snr_db / 10)``. NaN rows
    where the SNR or the threshold is unknown."""
    excess = (1.0 + np.power(10.0, np.asarray(snr_db, dtype=float) / 10.0)) / np.asarray(threshold, dtype=float) - 1.0
    m = mean_power(threshold, range_m)
    return -np.log(m) - excess[:, None] / m


def revisit_loglik(hits: Array, misses: Array, threshold: Array, range_m: Array) -> Array:
    """Log-likelihood over ``SNR_GRID`` (k, grid) of ``hits`` detections and ``misses`` misses per track by
    scans at ``range_m``: Bernoulli with ``Pd = exp(-1 / m)``."""
    inverse = 1.0 / mean_power(threshold, range_m)
    return -np.asarray(hits, dtype=float)[:, None] * inverse + np.asarray(misses, dtype=float)[:, None] * np.log(
        -np.expm1(-inverse))


def detection_probability(loglik: Array, threshold: Array, range_m: Array) -> Array:
    """Per track, the posterior mean of ``Pd = exp(-1 / m)`` at ``range_m`` given the summed log-likelihoods
    ``loglik`` (k, grid) of its evidence, under the prior uniform in ln s."""
    weight = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    return np.einsum("kg,kg->k", weight, np.exp(-1.0 / mean_power(threshold, range_m))) / weight.sum(axis=1)

