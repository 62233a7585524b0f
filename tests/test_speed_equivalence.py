"""The speed paths around the tracker step give bit for bit what the straightforward code gave.

``ingest`` reads each detection in one pass (attribute getters, one array per block); these tests
compare it with a per-field reference (the previous implementation) on random messages of every
kind with optional fields and sigmas present or absent. The threat memory drops tracks without
``np.isin``, and ``LocalFrame`` computes its rotation and ECEF origin once.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.geo import LocalFrame, enu_rotation, geodetic_to_ecef
from fusion.ingest import MAX_SNR_DB, UNKNOWN_ALTITUDE_M, enu_rotations, ingest
from fusion.protocol import DetectionsMessage
from fusion.threat.assess import _Memory
from fusion.tracking.classify import LABELS
from fusion.tracking.initiation import identity_keys
from fusion.tracking.measurements import BEARING, POSITION, RADAR

SITE = LocalFrame(52.0, 4.0, 10.0)
FIELDS = {"radar": ("range_m", "azimuth_deg", "elevation_deg", "radial_velocity_mps"),
          "bearing": ("azimuth_deg", "elevation_deg"), "position": ("position_m",)}


def _random_detection(rng: np.random.Generator, kind: str, with_position: bool) -> dict:
    det: dict = {"azimuth_deg": float(rng.uniform(0, 360))}
    if kind == "radar":
        det["range_m"] = float(rng.uniform(100, 9000))
        for name, value in (("elevation_deg", rng.uniform(-5, 40)), ("radial_velocity_mps", rng.normal(0, 20)),
                            ("snr_db", rng.choice([rng.normal(15, 5), 1e6]))):
            if rng.random() < 0.7:
                det[name] = float(value)
    elif rng.random() < 0.6:
        det["elevation_deg"] = float(rng.uniform(-5, 40))
    if with_position:
        det["position"] = {"lat": float(52 + rng.normal(0, 0.01)), "lon": float(4 + rng.normal(0, 0.01)),
                           "alt_m": UNKNOWN_ALTITUDE_M if rng.random() < 0.3 else float(rng.uniform(0, 300))}
        if rng.random() < 0.5:
            del det["azimuth_deg"]
        if rng.random() < 0.6:
            det["velocity"] = {"east_mps": float(rng.normal()), "north_mps": float(rng.normal()),
                               "up_mps": float(rng.normal())}
    if rng.random() < 0.7:
        names = FIELDS["radar"] + FIELDS["position"]
        det["sigma"] = {name: float(rng.uniform(0.1, 5)) for name in names if rng.random() < 0.5}
    if rng.random() < 0.7:
        det["class_probs"] = {label: 0.2 for label in LABELS if rng.random() < 0.5}
    if kind == "rf" and rng.random() < 0.5:
        det["emitter_id"] = f"e{rng.integers(3)}"
    if kind == "rf" and rng.random() < 0.3:
        det["uas_id"] = f"u{rng.integers(3)}"
    return det


def _random_message(rng: np.random.Generator, kind: str) -> DetectionsMessage:
    n = int(rng.choice([0, 1, 2, 5, 30]))
    dets = [_random_detection(rng, kind, kind == "rf" and rng.random() < 0.5) for _ in range(n)]
    origin = {"lat": 52.01, "lon": 4.02, "alt_m": 12.0}
    return DetectionsMessage.model_validate({"schema": "sargas.detections/1", "sensor_id": f"{kind}-1", "kind": kind,
                                             "time": 1e9, "seq": 1, "origin": origin, "detections": dets})


def _reference_fields(dets: list, names: tuple[str, ...], sigma_of: bool) -> np.ndarray:
    """Per field, as the code before: a field (or a sigma) of each detection, NaN where absent."""
    rows = [[(None if d.sigma is None else getattr(d.sigma, name)) if sigma_of else getattr(d, name)
             for name in names] for d in dets]
    return np.array(rows, dtype=float).reshape(len(dets), len(names))


def _reference_block(dets: list, kind: str, config: FusionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z, mask and the diagonal of r of a block, computed field by field."""
    sig = getattr(config.sigma, kind)
    model = "radar" if kind == "radar" else ("position" if dets[0].position is not None else "bearing")
    defaults = {"range_m": sig.range_m, "azimuth_deg": sig.azimuth_deg, "elevation_deg": sig.elevation_deg,
                "radial_velocity_mps": sig.radial_velocity_mps, "position_m": sig.position_m}
    own = _reference_fields(dets, FIELDS[model], sigma_of=True)
    std = np.where(np.isnan(own), np.array([defaults[name] for name in FIELDS[model]]), own)
    if model == "position":
        lat, lon, alt = (np.array([getattr(d.position, name) for d in dets]) for name in ("lat", "lon", "alt_m"))
        has_alt = alt != UNKNOWN_ALTITUDE_M
        enu = SITE.from_geodetic(lat, lon, np.where(has_alt, alt, SITE.alt_m))
        v_local = np.array([[0.0] * 3 if d.velocity is None else
                            [d.velocity.east_mps, d.velocity.north_mps, d.velocity.up_mps] for d in dets])
        v_site = np.einsum("ij,njk,nk->ni", SITE.rotation, np.swapaxes(enu_rotations(lat, lon), 1, 2), v_local)
        has_vel = np.array([d.velocity is not None for d in dets])
        mask = np.concatenate([np.ones((len(dets), 2), bool), has_alt[:, None], np.repeat(has_vel[:, None], 3, 1)], 1)
        std = np.concatenate([np.repeat(std, 3, axis=1), np.full((len(dets), 3), sig.velocity_mps)], axis=1)
        return np.concatenate([enu, v_site], axis=1), mask, std**2
    raw = _reference_fields(dets, FIELDS[model], sigma_of=False)
    present = ~np.isnan(raw)
    z = np.where(present, raw, 0.0)
    z[:, 1:3 if model == "radar" else 2] = np.radians(z[:, 1:3 if model == "radar" else 2])
    if model == "bearing":
        z[:, 0] = np.radians(z[:, 0])
    std[:, 1:3 if model == "radar" else 2] = np.radians(std[:, 1:3 if model == "radar" else 2])
    if model == "bearing":
        std[:, 0] = np.radians(std[:, 0])
    present[:, :2 if model == "radar" else 1] = True
    return z, present, std**2


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kind", ["radar", "acoustic", "rf"])
def test_ingest_gives_what_reading_each_field_separately_gave(kind: str) -> None:
    rng = np.random.default_rng(7)
    config = FusionConfig()
    for _ in range(40):
        msg = _random_message(rng, kind)
        scan = ingest(msg, SITE, config)
        dets = list(msg.detections)
        probs = np.array([[0.0] * 4 if d.class_probs is None else [d.class_probs.get(label, 0.0) for label in LABELS]
                          for d in dets], dtype=float).reshape(len(dets), 4)
        assert _same(scan.class_probs, probs)
        assert _same(scan.has_class, np.array([d.class_probs is not None for d in dets], dtype=bool))
        keys = tuple(identity_keys(d.uas_id, d.emitter_id) for d in dets)
        assert scan.keys == (keys if any(keys) else ())
        for block in scan.blocks:
            chosen = [dets[i] for i in block.index]
            z, mask, variances = _reference_block(chosen, kind, config)
            assert block.model is (RADAR if kind == "radar" else POSITION if chosen[0].position else BEARING)
            assert _same(block.z, z) and _same(block.mask, mask)
            k = variances.shape[1]
            assert _same(block.r[:, np.arange(k), np.arange(k)], variances)
            assert np.count_nonzero(block.r) == np.count_nonzero(variances)
            assert block.z.flags.c_contiguous and block.r.flags.c_contiguous
        if kind == "radar" and dets:
            snr = _reference_fields(dets, ("snr_db",), sigma_of=False)[:, 0]
            assert _same(scan.snr_db, np.where(np.isnan(snr), np.nan, np.minimum(snr, MAX_SNR_DB)))


def test_the_threat_memory_drops_exactly_the_tracks_np_isin_finds() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        numbers = np.unique(rng.integers(1, 60, rng.integers(0, 30))).astype(np.int64)
        n = len(numbers)
        memory = _Memory(numbers, rng.integers(0, 5, n), rng.random(n), rng.integers(-1, 2, n), rng.random(n) < 0.5,
                         rng.integers(0, 5, n), rng.random((n, 2)) < 0.5)
        gone = rng.integers(1, 70, rng.integers(0, 10)).astype(np.int64)
        expected = memory.take(np.flatnonzero(~np.isin(memory.numbers, gone)))
        kept = memory.without(gone)
        for name in ("numbers", "level", "score", "zone", "alerted", "peak", "inside"):
            assert _same(getattr(kept, name), getattr(expected, name))


def test_a_local_frame_computes_its_rotation_and_origin_once_as_read_only_arrays() -> None:
    frame = LocalFrame(47.3, 8.5, 400.0)
    assert frame.rotation is frame.rotation and frame.ecef_origin is frame.ecef_origin
    assert _same(frame.rotation, enu_rotation(47.3, 8.5))
    assert _same(frame.ecef_origin, geodetic_to_ecef(47.3, 8.5, 400.0))
    with pytest.raises(ValueError):
        frame.rotation[0, 0] = 1.0
    assert frame == LocalFrame(47.3, 8.5, 400.0) and hash(frame) == hash(LocalFrame(47.3, 8.5, 400.0))
