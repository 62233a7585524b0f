"""fusion.geo: WGS84 geodetic ⇄ ECEF ⇄ local ENU and polar ⇄ ENU against known values."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.geo import (
    A,
    B,
    LocalFrame,
    ecef_to_geodetic,
    enu_rotation,
    enu_to_polar,
    geodetic_to_ecef,
    polar_to_enu,
)

MM = 1e-3
#: A site near the example sensor of the protocol text.
SITE = LocalFrame(54.3161, 23.3415, 180.0)


def random_geodetic(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-89.999, 89.999, n), rng.uniform(-180.0, 180.0, n), rng.uniform(-500.0, 30_000.0, n)


# -- geodetic ⇄ ECEF ------------------------------------------------------------------------


@pytest.mark.parametrize(("lla", "xyz"), [
    ((0.0, 0.0, 0.0), (A, 0.0, 0.0)),
    ((0.0, 90.0, 0.0), (0.0, A, 0.0)),
    ((0.0, 180.0, 0.0), (-A, 0.0, 0.0)),
    ((0.0, -90.0, 0.0), (0.0, -A, 0.0)),
    ((90.0, 0.0, 0.0), (0.0, 0.0, B)),
    ((-90.0, 0.0, 0.0), (0.0, 0.0, -B)),
    ((0.0, 0.0, 1000.0), (A + 1000.0, 0.0, 0.0)),
    ((90.0, 0.0, -100.0), (0.0, 0.0, B - 100.0)),
    # An independently published reference point (pymap3d's test suite).
    ((42.0, -82.0, 200.0), (660675.2518247, -4700948.68316, 4245737.66222)),
])
def test_geodetic_to_ecef_known_points(lla: tuple[float, float, float], xyz: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(geodetic_to_ecef(*lla), xyz, rtol=0, atol=MM)


def test_wgs84_constants() -> None:
    assert A == 6378137.0
    assert B == pytest.approx(6356752.314245, abs=1e-6)


@pytest.mark.parametrize("lla", [(0.0, 0.0, 0.0), (90.0, 0.0, 0.0), (-90.0, 0.0, 1234.5), (42.0, -82.0, 200.0),
                                 (54.3161, 23.3415, 180.0), (-33.9, 151.2, -30.0), (0.0, 180.0, 10_000.0)])
def test_ecef_to_geodetic_known_points(lla: tuple[float, float, float]) -> None:
    lat, lon, alt = ecef_to_geodetic(geodetic_to_ecef(*lla))
    assert float(lat) == pytest.approx(lla[0], abs=1e-9)
    if abs(lla[0]) < 90.0:  # longitude is undefined at a pole
        assert float(lon) % 360.0 == pytest.approx(lla[1] % 360.0, abs=1e-9)
    assert float(alt) == pytest.approx(lla[2], abs=MM)


def test_geodetic_ecef_round_trip_below_a_millimetre() -> None:
    lat, lon, alt = random_geodetic(10_000)
    xyz = geodetic_to_ecef(lat, lon, alt)
    assert xyz.shape == (10_000, 3)
    back = ecef_to_geodetic(xyz)
    assert np.max(np.linalg.norm(geodetic_to_ecef(*back) - xyz, axis=-1)) < MM
    np.testing.assert_allclose(back[0], lat, atol=1e-9)
    np.testing.assert_allclose(back[2], alt, atol=MM)


def test_vectorised_over_leading_axes() -> None:
    lat, lon, alt = (np.reshape(a, (4, 5)) for a in random_geodetic(20))
    xyz = geodetic_to_ecef(lat, lon, alt)
    assert xyz.shape == (4, 5, 3)
    assert ecef_to_geodetic(xyz)[0].shape == (4, 5)
    np.testing.assert_allclose(xyz[2, 3], geodetic_to_ecef(lat[2, 3], lon[2, 3], alt[2, 3]))


# -- ENU ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 0.0), (54.3161, 23.3415), (-45.0, -120.0), (89.9, 10.0)])
def test_enu_rotation_is_a_proper_rotation(lat: float, lon: float) -> None:
    r = enu_rotation(lat, lon)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_enu_axes_at_the_equator() -> None:
    """At (0°, 0°): east is +Y, north is +Z, up is +X of ECEF."""
    np.testing.assert_allclose(enu_rotation(0.0, 0.0), [[0, 1, 0], [0, 0, 1], [1, 0, 0]], atol=1e-15)


def test_known_enu_offsets() -> None:
    frame = LocalFrame(0.0, 0.0, 0.0)
    dlon = 0.01
    # Along the equator: exact circle geometry of radius A.
    expected = [A * np.sin(np.radians(dlon)), 0.0, A * (np.cos(np.radians(dlon)) - 1.0)]
    np.testing.assert_allclose(frame.from_geodetic(0.0, dlon, 0.0), expected, atol=MM)
    # Straight up the ellipsoid normal, anywhere.
    np.testing.assert_allclose(SITE.from_geodetic(SITE.lat, SITE.lon, SITE.alt_m + 250.0), [0, 0, 250.0], atol=MM)
    np.testing.assert_allclose(SITE.from_geodetic(SITE.lat, SITE.lon, SITE.alt_m), [0, 0, 0], atol=MM)


def test_enu_reference_point() -> None:
    """pymap3d's reference: 1 km at azimuth 33°, elevation 70° from (42°, -82°, 200 m)."""
    frame = LocalFrame(42.0, -82.0, 200.0)
    enu = polar_to_enu(1000.0, 33.0, 70.0)
    np.testing.assert_allclose(enu, [186.277521, 286.84222, 939.69262], atol=MM)
    lat, lon, alt = frame.to_geodetic(enu)
    assert (float(lat), float(lon), float(alt)) == pytest.approx((42.002582, -81.997752, 1139.702), abs=1e-3)


def test_enu_round_trip_below_a_millimetre() -> None:
    rng = np.random.default_rng(3)
    enu = rng.uniform([-60_000, -60_000, -200], [60_000, 60_000, 8_000], size=(5_000, 3))
    back = SITE.from_geodetic(*SITE.to_geodetic(enu))
    assert np.max(np.linalg.norm(back - enu, axis=-1)) < MM


def test_north_and_east_point_the_right_way() -> None:
    north = SITE.from_geodetic(SITE.lat + 0.01, SITE.lon, SITE.alt_m)
    east = SITE.from_geodetic(SITE.lat, SITE.lon + 0.01, SITE.alt_m)
    assert north[1] > 1000 and abs(north[0]) < MM
    assert east[0] > 600 and abs(east[1]) < 1.0


def test_transform_between_frames_is_exact() -> None:
    other = LocalFrame(54.20, 23.55, 140.0)
    m, b = SITE.transform_to(other)
    enu = np.random.default_rng(5).uniform(-20_000, 20_000, size=(100, 3))
    expected = other.from_geodetic(*SITE.to_geodetic(enu))
    np.testing.assert_allclose(enu @ m.T + b, expected, atol=MM)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)


def test_rotate_vectors_keeps_length_and_direction() -> None:
    other = LocalFrame(54.20, 23.55, 140.0)
    v = np.array([[12.0, -3.0, 0.5], [0.0, 0.0, 1.0]])
    w = SITE.rotate_vectors_to(other, v)
    np.testing.assert_allclose(np.linalg.norm(w, axis=-1), np.linalg.norm(v, axis=-1))
    np.testing.assert_allclose(w, v, atol=0.1)  # frames 20 km apart: axes differ by a fraction of a degree
    np.testing.assert_allclose(SITE.rotate_vectors_to(SITE, v), v, atol=1e-12)


# -- polar ⇄ ENU ----------------------------------------------------------------------------


@pytest.mark.parametrize(("enu", "polar"), [
    ((0.0, 100.0, 0.0), (100.0, 0.0, 0.0)),
    ((100.0, 0.0, 0.0), (100.0, 90.0, 0.0)),
    ((0.0, -100.0, 0.0), (100.0, 180.0, 0.0)),
    ((-100.0, 0.0, 0.0), (100.0, 270.0, 0.0)),
    ((100.0, 100.0, 0.0), (100.0 * np.sqrt(2.0), 45.0, 0.0)),
    ((0.0, 100.0, 100.0), (100.0 * np.sqrt(2.0), 0.0, 45.0)),
    ((0.0, 0.0, -50.0), (50.0, 0.0, -90.0)),
    ((-3.0, 4.0, 12.0), (13.0, 360.0 - np.degrees(np.arctan2(3.0, 4.0)), np.degrees(np.arcsin(12.0 / 13.0)))),
])
def test_polar_known_values(enu: tuple[float, float, float], polar: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(enu_to_polar(enu), polar, atol=1e-9)
    np.testing.assert_allclose(polar_to_enu(*polar), enu, atol=1e-9)


def test_polar_round_trip() -> None:
    rng = np.random.default_rng(11)
    r, az, el = rng.uniform(1.0, 50_000.0, 1000), rng.uniform(0.0, 360.0, 1000), rng.uniform(-89.0, 89.0, 1000)
    enu = polar_to_enu(r, az, el)
    assert enu.shape == (1000, 3)
    back = enu_to_polar(enu)
    np.testing.assert_allclose(back[0], r, rtol=1e-12)
    np.testing.assert_allclose(back[1], az, atol=1e-9)
    np.testing.assert_allclose(back[2], el, atol=1e-9)


def test_azimuth_is_always_below_360() -> None:
    """A target a hair west of north must not get azimuth 360 (the decoder rejects it)."""
    east = np.array([-1e-18, -1e-15, -1e-12, 0.0, 1e-15])
    _, az, _ = enu_to_polar(np.stack([east, np.ones(5), np.zeros(5)], axis=-1))
    assert np.all((az >= 0.0) & (az < 360.0))
