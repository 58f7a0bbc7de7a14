"""Primary field kernels against closed forms, magpylib, numerical integration and identities."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate

from coils._model import Coil
from efield import MU0, magnetic_field, primary_efield, vector_potential
from tests.conftest import figure8_wires, loop_coil, random_closed_polyline

magpy = pytest.importorskip("magpylib")


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_polygon_on_axis_b_matches_closed_form(backend):
    # B_z on the axis of a regular N-gon of circumradius R: N sides, each at distance
    # d = sqrt(z² + ap²) (apothem ap = R cos(pi/N)), half-length h = R sin(pi/N).
    radius, n = 0.04, 37
    coil = loop_coil(radius, n, center=(0, 0, 0))
    z = np.linspace(-0.1, 0.1, 21) + 0.003
    pts = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    ap, h = radius * np.cos(np.pi / n), radius * np.sin(np.pi / n)
    d = np.sqrt(z**2 + ap**2)
    bz = n * MU0 / (4 * np.pi) * 2 * h / (d * np.sqrt(h**2 + d**2)) * ap / d
    b = magnetic_field(coil, pts, 2.5, backend=backend)
    assert_allclose(b[:, 2], 2.5 * bz, rtol=1e-13)
    assert_allclose(b[:, :2], 0, atol=1e-13 * bz.max())


def test_b_matches_magpylib(backend):
    rng = np.random.default_rng(3)
    coil = random_closed_polyline(rng, n=60)
    pts = rng.normal(scale=0.05, size=(300, 3))
    verts = np.concatenate([coil.start, coil.start[:1]])
    ref = magpy.current.Polyline(current=3.0, vertices=verts).getB(pts)
    assert_allclose(magnetic_field(coil, pts, 3.0, backend=backend), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def _a_quad(a, b, p):
    d = b - a
    length = np.linalg.norm(d)
    u = d / length
    val = integrate.quad(lambda t: 1.0 / np.linalg.norm(p - a - t * u), 0, length, epsabs=0, epsrel=2e-14, limit=200)[0]
    return MU0 / (4 * np.pi) * val * u


@pytest.mark.parametrize("distance", [1e-3, 3e-3, 1e-2, 5e-2, 0.3])
def test_segment_a_matches_numerical_integral(backend, distance):
    # One straight segment: both the series branch (far) and the log branch (near) of the kernel.
    rng = np.random.default_rng(int(distance * 1e4))
    a, b = np.array([0.0, 0.0, 0.0]), np.array([0.004, 0.001, 0.0])
    coil = Coil("seg", a[None], b[None], [1.0])
    mid = 0.5 * (a + b)
    dirs = rng.normal(size=(8, 3))
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    pts = mid + distance * dirs
    got = vector_potential(coil, pts, backend=backend)
    ref = np.array([_a_quad(a, b, p) for p in pts])
    assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_series_and_log_branches_join(backend):
    # Points whose t = L/S runs across the branch switch at 0.15: the potential stays smooth.
    coil = Coil("seg", [[-0.005, 0, 0]], [[0.005, 0, 0]], [1.0])
    y = np.linspace(0.02, 0.05, 301)
    pts = np.stack([np.zeros_like(y), y, np.zeros_like(y)], axis=1)
    ax = vector_potential(coil, pts, backend=backend)[:, 0]
    ref = MU0 / (4 * np.pi) * 2 * np.arctanh(0.01 / (2 * np.sqrt(0.005**2 + y**2)))
    assert_allclose(ax, ref, rtol=1e-14)


def test_curl_a_equals_b(backend):
    coil = figure8_wires()
    rng = np.random.default_rng(5)
    pts = rng.normal(scale=0.02, size=(20, 3)) + [0, 0, 0.05]
    h = 1e-5
    jac = np.empty((len(pts), 3, 3))  # jac[:, i, j] = d A_i / d x_j
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        jac[:, :, j] = (vector_potential(coil, pts + step, backend=backend)
                        - vector_potential(coil, pts - step, backend=backend)) / (2 * h)
    curl = np.stack([jac[:, 2, 1] - jac[:, 1, 2], jac[:, 0, 2] - jac[:, 2, 0], jac[:, 1, 0] - jac[:, 0, 1]], axis=1)
    b = magnetic_field(coil, pts, backend=backend)
    # central differences: error ~ h² |d³A| ≈ 1e-10 relative at these distances
    assert_allclose(curl, b, rtol=0, atol=1e-7 * np.abs(b).max())


def test_divergence_of_a_is_zero(backend):
    coil = random_closed_polyline(np.random.default_rng(8))
    pts = np.random.default_rng(9).normal(scale=0.02, size=(10, 3))
    h = 1e-5
    div = sum((vector_potential(coil, pts + h * e, backend=backend)[:, j]
               - vector_potential(coil, pts - h * e, backend=backend)[:, j]) / (2 * h)
              for j, e in enumerate(np.eye(3)))
    scale = np.abs(vector_potential(coil, pts, backend=backend)).max() / 0.05
    assert np.abs(div).max() < 1e-7 * scale


def test_small_loop_far_field_is_a_dipole(backend):
    radius, dist = 1e-3, 0.2
    loop = loop_coil(radius, 720, center=(0, 0, 0))
    area = 720 / 2 * radius**2 * np.sin(2 * np.pi / 720)  # polygon area
    dip = Coil("dip", dipole_position=[[0, 0, 0]], dipole_moment=[[0, 0, area]])
    rng = np.random.default_rng(11)
    d = rng.normal(size=(25, 3))
    pts = dist * d / np.linalg.norm(d, axis=1)[:, None]
    # the next multipole is smaller by ~ (a/r)² = 2.5e-5
    assert _rel(magnetic_field(loop, pts, backend=backend), magnetic_field(dip, pts, backend=backend)) < 1e-4
    assert _rel(vector_potential(loop, pts, backend=backend), vector_potential(dip, pts, backend=backend)) < 1e-4


def test_dipole_closed_forms(backend):
    m = np.array([0.2, -0.1, 0.5])
    q = np.array([0.01, 0.02, 0.03])
    dip = Coil("dip", dipole_position=[q], dipole_moment=[m])
    p = np.array([[0.05, -0.02, 0.0], [0.0, 0.0, -0.1]])
    r = p - q
    rn = np.linalg.norm(r, axis=1)[:, None]
    b_ref = MU0 / (4 * np.pi) * (3 * r * (r @ m)[:, None] / rn**5 - m / rn**3)
    a_ref = MU0 / (4 * np.pi) * np.cross(m, r) / rn**3
    assert_allclose(magnetic_field(dip, p, backend=backend), b_ref, rtol=1e-14)
    assert_allclose(vector_potential(dip, p, backend=backend), a_ref, rtol=1e-14)


def test_backends_agree():
    coil = figure8_wires(n=200)
    pts = np.random.default_rng(2).normal(scale=0.03, size=(500, 3))
    for f in (vector_potential, magnetic_field):
        assert_allclose(f(coil, pts, backend="numba"), f(coil, pts, backend="numpy"), rtol=0,
                        atol=1e-13 * np.abs(f(coil, pts)).max())


def test_fields_are_linear_and_covariant():
    coil = figure8_wires()
    pts = np.random.default_rng(4).normal(scale=0.02, size=(30, 3))
    e1 = primary_efield(coil, pts, 1e8)
    assert_allclose(primary_efield(coil, pts, 2.5e8), 2.5 * e1, rtol=1e-15)
    assert_allclose(primary_efield(coil, pts, 1e8), -1e8 * vector_potential(coil, pts), rtol=1e-15)
    # rotate and shift the coil and the points together: fields rotate with them
    ang = 0.7
    rot = np.array([[np.cos(ang), 0, np.sin(ang)], [0, 1, 0], [-np.sin(ang), 0, np.cos(ang)]])
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, [0.01, -0.02, 0.03]
    moved = coil.placed(pose)
    assert_allclose(primary_efield(moved, pts @ rot.T + pose[:3, 3], 1e8), e1 @ rot.T, rtol=0,
                    atol=1e-13 * np.abs(e1).max())


def test_chain_layout_handles_separate_paths():
    # Segments given in a scrambled order (no two consecutive ones join) give the same field.
    coil = figure8_wires(n=50)
    order = np.random.default_rng(0).permutation(coil.n_segments)
    scrambled = Coil("scr", coil.start[order], coil.end[order], coil.weight[order])
    pts = np.random.default_rng(1).normal(scale=0.03, size=(50, 3))
    for f in (vector_potential, magnetic_field):
        assert_allclose(f(scrambled, pts), f(coil, pts), rtol=0, atol=1e-14 * np.abs(f(coil, pts)).max())


@pytest.mark.parametrize(
    "points, match",
    [
        (np.zeros((4, 2)), r"points must be an \(n, 3\) array"),
        (np.zeros(3), r"shape \(3,\)"),
        (np.array([[0.0, np.nan, 0.0]]), "points must be finite"),
        ("abc", "points must be an"),
    ],
)
def test_bad_points_are_refused(points, match):
    with pytest.raises((ValueError, TypeError), match=match):
        primary_efield(loop_coil(), points, 1e8)


def test_point_on_a_wire_is_refused():
    coil = loop_coil(0.03, 64, center=(0, 0, 0.1))
    on_wire = 0.5 * (coil.start[3] + coil.end[3])
    pts = np.array([[0.0, 0.0, 0.0], on_wire])
    with pytest.raises(ValueError, match=r"points\[1\] lies .* µm from a wire \(segment 3\)"):
        magnetic_field(coil, pts)
    dip = Coil("dip", dipole_position=[[0, 0, 0.1]], dipole_moment=[[0, 0, 1]])
    with pytest.raises(ValueError, match="from a dipole"):
        vector_potential(dip, [[0, 0, 0.1]])


@pytest.mark.parametrize("didt, match", [(float("nan"), "didt must be finite"), ("100A/us", "didt must be a number")])
def test_bad_didt_is_refused(didt, match):
    with pytest.raises((ValueError, TypeError), match=match):
        primary_efield(loop_coil(), [[0, 0, 0]], didt)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        magnetic_field(loop_coil(), [[0, 0, 0]], backend="gpu")


def test_long_wires_are_split_exactly(backend):
    # A square loop whose sides are 30× longer than its short stubs: the layout cuts the long
    # sides into collinear pieces; A must still equal the numerical line integral.
    corners = np.array([[0, 0, 0.1], [0.06, 0, 0.1], [0.06, 0.06, 0.1], [0, 0.06, 0.1]])
    stubs = np.linspace(corners[3], corners[0], 31)
    start = np.concatenate([corners[:3], stubs[:-1]])
    end = np.concatenate([corners[1:4], stubs[1:]])
    coil = Coil("square", start, end, np.ones(len(start)))
    pts = np.array([[0.03, 0.002, 0.1], [0.03, 0.03, 0.09], [0.061, 0.03, 0.1]])
    ref = sum(_a_quad(a, b, p)[None] * (np.arange(len(pts)) == i)[:, None]
              for a, b in zip(start, end) for i, p in enumerate(pts))
    assert_allclose(vector_potential(coil, pts, backend=backend), ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max())
