"""Batched extended Kalman filter: predict many tracks to one time, update many track/measurement pairs.

Plain numpy in the style of FilterPy, with a leading batch axis on every array. The update
uses the Joseph form, which keeps P symmetric positive definite even with the rounding of
large initial covariances.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.motion import cv_process_noise, cv_transition

Array = NDArray[np.float64]


def predict(x: Array, p: Array, dt: Array, q_horizontal: float, q_vertical: float) -> tuple[Array, Array]:
    """States (N, 6) and covariances (N, 6, 6) moved by ``dt`` (N,) seconds under the CV model."""
    f = cv_transition(dt)
    x_pred = np.einsum("nij,nj->ni", f, x)
    p_pred = f @ p @ np.swapaxes(f, -1, -2) + cv_process_noise(dt, q_horizontal, q_vertical)
    return x_pred, p_pred


def project_covariance(h: Array, p: Array) -> Array:
    """H P Hᵀ (N, m, m): the state uncertainty seen in measurement space."""
    return h @ p @ np.swapaxes(h, -1, -2)


def update(x: Array, p: Array, y: Array, h: Array, s: Array, r: Array) -> tuple[Array, Array]:
    """EKF update of k pairs: states (k, 6), covariances (k, 6, 6), innovations (k, m), H (k, m, 6),
    innovation covariances S (k, m, m) and measurement covariances R (k, m, m); Joseph form."""
    pht = p @ np.swapaxes(h, -1, -2)
    k = np.swapaxes(np.linalg.solve(s, np.swapaxes(pht, -1, -2)), -1, -2)
    x_new = x + np.einsum("kij,kj->ki", k, y)
    i_kh = np.eye(x.shape[-1]) - k @ h
    p_new = i_kh @ p @ np.swapaxes(i_kh, -1, -2) + k @ r @ np.swapaxes(k, -1, -2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, -1, -2))
