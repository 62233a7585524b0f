"""A track's detection probability from its radar plots' SNR: Swerling-1 targets, a square-law detector.

The received power over noise ``P`` of a Swerling-1 target is exponential with mean ``μ = 1 + S`` (S the
mean SNR, falling with range as r⁻⁴ by the radar equation); the radar declares a plot where ``P``
crosses its threshold ``T = -ln Pfa``, so a scan detects the target with ``Pd = exp(-T / μ)``. The
protocol gives each plot's optional ``snr_db`` without defining it further; this module assumes it is
``10 log10(P - 1)`` against the radar's own noise, and that the radar reports its clutter plots too, so
that the weakest plots it reports (clutter crosses the threshold barely) show ``T``
(``Tracker._learn_threshold``, a running minimum per radar). Given a detection, ``P - T`` is again
exponential with mean ``μ`` (memorylessness), so the mean excess of a track's plots estimates ``μ``
without the bias of the truncation, however few of a weak target's scans crossed ``T``. Where the
assumptions fail the estimate only matters for tentative tracks (their score and life), and it is
clipped to [``min_detection_probability``, ``detection_probability``]; a radar without ``snr_db`` is
tracked with the nominal ``detection_probability``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Range to which excess powers are carried (``excess_power``), m: keeps ``r⁴`` near 1.
REFERENCE_RANGE_M = 1000.0


def excess_power(snr_db: Array, threshold: float, range_m: Array) -> Array:
    """Plots' power above the detection threshold, relative to it and carried to 1 km by the radar equation:
    ``(P - T) / T · (r / 1 km)⁴`` with ``P = 1 + 10^(snr_db / 10)``. NaN where the SNR or the threshold is unknown."""
    power = 1.0 + np.power(10.0, np.asarray(snr_db, dtype=float) / 10.0)
    return (power - threshold) / threshold * (np.asarray(range_m, dtype=float) / REFERENCE_RANGE_M) ** 4


def detection_probability(excess: Array, plots: NDArray[np.int64], range_m: Array) -> Array:
    """Per track, ``exp(-T / μ)`` at ``range_m`` from the summed ``excess`` (``excess_power``) of its ``plots``:
    ``μ / T`` is their mean carried back from 1 km by ``r⁻⁴`` (μ ≈ S for a target strong enough to track).
    0 without plots or without power above the threshold."""
    ratio = excess / np.maximum(plots, 1) * (REFERENCE_RANGE_M / np.asarray(range_m, dtype=float)) ** 4
    return np.where(ratio > 0.0, np.exp(-1.0 / np.maximum(ratio, 1e-300)), 0.0)
