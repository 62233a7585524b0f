"""Deterministic random streams: one independent numpy Generator per (scenario seed, name).

Seeds are derived with SHA-256 rather than Python's ``hash()`` (salted per process), so the
same scenario seed gives the same streams in every run, and adding or removing one sensor
never changes the numbers another sensor draws.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *names: str) -> int:
    """A 64-bit integer seed derived from the scenario seed and a path of names."""
    text = "/".join(["sargas-sim", str(seed), *names]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def derive_rng(seed: int, *names: str) -> np.random.Generator:
    """An independent, reproducible random generator for one named consumer."""
    return np.random.Generator(np.random.PCG64(derive_seed(seed, *names)))


def derive_hex(seed: int, *names: str, length: int = 8) -> str:
    """A stable hexadecimal tag (e.g. an RF emitter id) for one named object."""
    text = "/".join(["sargas-sim", str(seed), *names]).encode()
    return hashlib.sha256(text).hexdigest()[:length]
