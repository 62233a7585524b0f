"""Constant-velocity motion model with white-acceleration process noise, batched over time steps.

State order is ``[e, n, u, ve, vn, vu]`` in the site ENU frame (metres, m/s). The process
noise is the continuous white-noise-acceleration model (Bar-Shalom, *Estimation with
Applications to Tracking and Navigation*, 6.2.2): per axis, with spectral density q,
``Q = q [[dt³/3, dt²/2], [dt²/2, dt]]``. A negative ``dt`` (retrodiction) uses ``|dt|`` in Q
so that uncertainty always grows away from the estimate's time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

STATE_DIM = 6


def cv_transition(dt: ArrayLike) -> Array:
    """F(dt) of shape (..., 6, 6): position += velocity * dt."""
    step: Array = np.asarray(dt, dtype=np.float64)
    f = np.broadcast_to(np.eye(STATE_DIM), (*step.shape, STATE_DIM, STATE_DIM)).copy()
    for axis in range(3):
        f[..., axis, axis + 3] = step
    return f


def cv_process_noise(dt: ArrayLike, q_horizontal: float, q_vertical: float) -> Array:
    """Q(dt) of shape (..., 6, 6) of the white-acceleration CV model."""
    step: Array = np.abs(np.asarray(dt, dtype=np.float64))
    q = np.zeros((*step.shape, STATE_DIM, STATE_DIM))
    for axis, density in ((0, q_horizontal), (1, q_horizontal), (2, q_vertical)):
        q[..., axis, axis] = density * step**3 / 3.0
        q[..., axis, axis + 3] = q[..., axis + 3, axis] = density * step**2 / 2.0
        q[..., axis + 3, axis + 3] = density * step
    return q
