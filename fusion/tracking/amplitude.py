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

The same amplitudes weigh in the track score (``log_ratios``, the amplitude likelihood ratio of Lerro &
Bar-Shalom's amplitude-aided PDA, 1993; ``birth_log_ratios`` for the plot that starts a track): a plot's excess
power is likelier from a track's target, whose plots exceeded the threshold by so much, than from clutter, which
barely crosses it, or the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Range to which excess powers are carried (``excess_power``), m: keeps ``r⁴`` near 1.
REFERENCE_RANGE_M = 1000.0


def over_threshold(snr_db: Array, threshold: float) -> Array:
    """Plots' power over the detection threshold, ``P - T`` in noise powers, with ``P = 1 + 10^(snr_db / 10)``.
    NaN where the SNR or the threshold is unknown."""
    return 1.0 + np.power(10.0, np.asarray(snr_db, dtype=float) / 10.0) - threshold


def excess_power(snr_db: Array, threshold: float, range_m: Array) -> Array:
    """Plots' power above the detection threshold, relative to it and carried to 1 km by the radar equation:
    ``(P - T) / T · (r / 1 km)⁴`` (``over_threshold``). NaN where the SNR or the threshold is unknown."""
    return over_threshold(snr_db, threshold) / threshold * (np.asarray(range_m, dtype=float) / REFERENCE_RANGE_M) ** 4


def detection_probability(excess: Array, plots: NDArray[np.int64], range_m: Array) -> Array:
    """Per track, ``exp(-T / μ)`` at ``range_m`` from the summed ``excess`` (``excess_power``) of its ``plots``:
    ``μ / T`` is their mean carried back from 1 km by ``r⁻⁴`` (μ ≈ S for a target strong enough to track).
    0 without plots or without power above the threshold."""
    ratio = excess / np.maximum(plots, 1) * (REFERENCE_RANGE_M / np.asarray(range_m, dtype=float)) ** 4
    return np.where(ratio > 0.0, np.exp(-1.0 / np.maximum(ratio, 1e-300)), 0.0)


#: Clutter's mean excess power over the threshold before a radar's first free plot, in noise powers: that of a
#: square-law detector's noise alone (P - T exponential with mean 1). It counts as one plot (``FreePlots``).
NOISE_EXCESS = 1.0
#: A free plot (one that no track explains) counts as clutter only if its excess is below this many times the
#: clutter's mean so far; above, as a new target's (``FreePlots.learn``). Clutter's excess, exponential, exceeds 10
#: means once in 22,000 plots (and the mean of what is kept is 0.9995 of the whole), while a new target's first plot
#: can exceed the clutter's mean a thousandfold and would otherwise outweigh a thousand clutter plots. A mean set
#: too low by the noise prior still grows to the clutter's: each scan keeps plots up to ten times the last mean.
CLUTTER_OUTLIER = 10.0


@dataclass(frozen=True)
class FreePlots:
    """What one radar's free plots showed: ``clutter`` plots (below ``CLUTTER_OUTLIER`` clutter means) whose excesses
    sum to ``total``, and ``strong`` ones, taken for new targets' first plots."""

    total: float = 0.0
    clutter: int = 0
    strong: int = 0

    @property
    def clutter_mean(self) -> float:
        """Clutter's mean excess over the threshold (noise powers), with one pseudo-plot of ``NOISE_EXCESS``."""
        return (NOISE_EXCESS + self.total) / (1 + self.clutter)

    @property
    def new_share(self) -> float:
        """The share w of new targets' first plots among free plots. Of those, whose excess is Lomax with a = 1 and b
        the clutter mean m (the target prior of ``log_ratios``), 1/(1 + 10) exceed ``CLUTTER_OUTLIER`` clutter means,
        as e⁻¹⁰ of clutter's do: the share f of strong free plots (Laplace's rule of succession) is ``(1 - w) e⁻¹⁰ +
        w / 11``, solved for w (within [f, ½])."""
        strong = (self.strong + 1) / (self.clutter + self.strong + 2)
        clutter = math.exp(-CLUTTER_OUTLIER)
        return min(max((strong - clutter) / (1.0 / (1.0 + CLUTTER_OUTLIER) - clutter), strong), 0.5)

    def learn(self, excess: Array) -> FreePlots:
        """These statistics with more free plots' ``excess`` (NaN: no SNR, left out)."""
        known = np.asarray(excess, dtype=float)
        known = known[~np.isnan(known)]
        weak = known < CLUTTER_OUTLIER * self.clutter_mean
        return FreePlots(self.total + float(known[weak].sum()), self.clutter + int(weak.sum()),
                         self.strong + int((~weak).sum()))


def _log_lomax(e: Array, a: Array | float, b: Array | float) -> Array:
    """ln of the Lomax density ``a/b (1 + e/b)^-(a+1)``: the next excess of a Swerling-1 target whose mean excess has a
    gamma prior on its inverse, after the plots that made it (a, b)."""
    return np.log(a / b) - (a + 1.0) * np.log1p(e / b)


def log_ratios(excess: Array, track_excess: Array, track_plots: NDArray[np.int64], free: FreePlots,
               cap: float) -> Array:
    """``ln p(e | the track's target) / p(e | no track's)`` of plots whose powers exceed the threshold by ``excess``
    (``P - T`` in noise powers, NaN: no SNR), for tracks whose ``track_plots`` plots exceeded it by ``track_excess`` in
    all, carried to the plots' ranges (arrays that broadcast together); within ±``cap``, 0 where unknown.

    A target's excess is exponential with a mean μ of its own (Swerling 1, memoryless above the threshold), unknown:
    with a gamma prior on 1/μ worth one plot at the clutter's mean, the next plot's excess after n plots summing s is
    Lomax with ``a = 1 + n``, ``b = clutter mean + s`` (``_log_lomax``): heavy-tailed while n is small, so one weak
    first plot does not make a strong target's next plot look like clutter. A plot of no track's (the association's
    other hypothesis, whose density ``clutter_density`` counts clutter and new targets alike) is clutter, exponential
    with the radar's clutter mean, or, with the ``free.new_share`` of free plots, a new target's first plot, Lomax with
    the prior alone. So a plot far stronger than clutter favours a strong target's track, and a weak one's only
    as far as a new target's is less likely; its ratio grows with the log of the track's power, not linearly.
    The cap bounds what one plot says where the radar's targets are not Swerling 1 (the protocol does not define
    ``snr_db``)."""
    mean, share = free.clutter_mean, free.new_share
    a = 1.0 + np.asarray(track_plots, dtype=float)
    b = mean + np.asarray(track_excess, dtype=float)
    known = ~np.isnan(np.asarray(excess, dtype=float))
    e = np.where(known, excess, 0.0)
    elsewhere = np.logaddexp(math.log1p(-share) - math.log(mean) - e / mean, math.log(share) + _log_lomax(e, 1.0, mean))
    return np.where(known, np.clip(_log_lomax(e, a, b) - elsewhere, -cap, cap), 0.0)


def birth_log_ratios(excess: Array, free: FreePlots, cap: float) -> Array:
    """``ln p(e | a new target) / p(e | clutter)`` of plots that start tracks, whose powers exceed the threshold by
    ``excess`` (``P - T`` in noise powers, NaN: no SNR): the first term of a track's score (Blackman's track score
    counts every plot's signal, the first too). Under the hypothesis that the track is clutter its first plot is
    clutter, exponential with the radar's clutter mean m; under the other, a new target's, Lomax with the prior of
    ``log_ratios`` (a = 1, b = m): ``e/m - 2 ln(1 + e/m)``, -0.19 on average over clutter, 5.2 at ten clutter means.
    Within ±``cap``, 0 where unknown."""
    mean = free.clutter_mean
    known = ~np.isnan(np.asarray(excess, dtype=float))
    x = np.where(known, excess, 0.0) / mean
    return np.where(known, np.clip(x - 2.0 * np.log1p(x), -cap, cap), 0.0)
