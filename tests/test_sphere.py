"""Total E in a spherical conductor: closed form vs quadrature, identities and limits."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from coils._model import Coil
from efield import MU0, magnetic_field, primary_efield, sphere_efield
from efield.physics import sphere as sphere_mod
from tests.conftest import figure8_wires, loop_coil, polygon_loop

DIDT = 1e8  # 100 A/µs


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def _ball_points(rng, n, radius):
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1)[:, None]
    return d * radius * rng.uniform(0.05, 1.0, size=(n, 1)) ** (1 / 3)


def _dipole_sheet(start, end, normal, order):
    """Dipoles equivalent to a planar closed polygon current (unit current): a uniform moment
    density along ``normal`` over the polygon, integrated by a collapsed Gauss rule per fan triangle."""
    x, w = np.polynomial.legendre.leggauss(order)
    x, w = 0.5 * (x + 1), 0.5 * w
    centre = start.mean(axis=0)
    pos, mom = [], []
    for a, b in zip(start, end):
        area2 = np.linalg.norm(np.cross(a - centre, b - centre))  # twice the triangle area
        for xi, wi in zip(x, w):
            for eta, wj in zip(x, w):
                pos.append(centre + xi * (a - centre) + xi * eta * (b - a))
                mom.append(wi * wj * xi * area2 * normal)
    return Coil("sheet", dipole_position=np.array(pos), dipole_moment=np.array(mom))


def test_dipole_closed_form_matches_quadrature_route(backend):
    # Heller–van Hulsteyn closed form (dipoles) against eq. (1) by Gauss–Legendre (run through
    # the wire kernel with the dipoles passed as sources).
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 3))
    q = 0.1 * q / np.linalg.norm(q, axis=1)[:, None]
    m = rng.normal(size=(5, 3))
    dip = Coil("d", dipole_position=q, dipole_moment=m)
    pts = _ball_points(rng, 200, 0.085)
    closed = sphere_efield(dip, pts, DIDT, backend=backend)
    from efield.physics._kernels import sphere_poincare
    from efield.physics._wires import wire_layout

    lay = wire_layout(dip)
    gamma = 0.1 / np.linalg.norm(pts, axis=1)
    rows = np.searchsorted(sphere_mod._RULE_SIZES, sphere_mod.quadrature_order(gamma))
    out = np.zeros((3, len(pts)))
    sphere_poincare(pts[:, 0].copy(), pts[:, 1].copy(), pts[:, 2].copy(), 0.0, 0.0, 0.0, rows,
                    sphere_mod._NODES, sphere_mod._WEIGHTS, *lay.wire_args_b, *lay.dipole_args, *out)
    quad = DIDT * MU0 / (4 * np.pi) * out.T
    assert_allclose(closed, quad, rtol=0, atol=1e-12 * np.abs(quad).max())


def test_wire_loop_matches_dipole_sheet(backend):
    # A closed planar wire loop equals a dipole sheet spanning it; the sheet goes through the
    # Heller–van Hulsteyn closed form, the wires through quadrature of eq. (1): independent routes.
    start, end, _ = polygon_loop(0.025, 24, center=(0.01, -0.005, 0.095))
    wires = Coil("loop", start, end, np.ones(len(start)))
    tilt = np.eye(4)
    c, s = np.cos(0.4), np.sin(0.4)
    tilt[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    wires = wires.placed(tilt)
    normal = tilt[:3, :3] @ [0, 0, 1.0]
    rng = np.random.default_rng(1)
    pts = _ball_points(rng, 100, 0.07)
    e_wire = sphere_efield(wires, pts, DIDT, backend=backend)
    s20 = sphere_efield(_dipole_sheet(wires.start, wires.end, normal, 20), pts, DIDT, backend=backend)
    s28 = sphere_efield(_dipole_sheet(wires.start, wires.end, normal, 28), pts, DIDT, backend=backend)
    assert _rel(s20, s28) < 1e-12  # the sheet quadrature has converged
    assert _rel(e_wire, s28) < 1e-11


def test_no_radial_component_and_div_free(backend):
    coil = figure8_wires()
    rng = np.random.default_rng(2)
    pts = _ball_points(rng, 100, 0.07)
    e = sphere_efield(coil, pts, DIDT, backend=backend)
    radial = np.einsum("ij,ij->i", e, pts / np.linalg.norm(pts, axis=1)[:, None])
    assert np.abs(radial).max() < 1e-13 * np.abs(e).max()
    h = 1e-5
    div = sum((sphere_efield(coil, pts[:10] + h * u, DIDT, backend=backend)[:, j]
               - sphere_efield(coil, pts[:10] - h * u, DIDT, backend=backend)[:, j]) / (2 * h)
              for j, u in enumerate(np.eye(3)))
    assert np.abs(div).max() < 1e-6 * np.abs(e).max() / 0.01


def test_faraday_curl_e_equals_minus_db_dt(backend):
    coil = figure8_wires()
    pts = _ball_points(np.random.default_rng(3), 15, 0.06)
    h = 1e-5
    jac = np.empty((len(pts), 3, 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        jac[:, :, j] = (sphere_efield(coil, pts + step, DIDT, backend=backend)
                        - sphere_efield(coil, pts - step, DIDT, backend=backend)) / (2 * h)
    curl = np.stack([jac[:, 2, 1] - jac[:, 1, 2], jac[:, 0, 2] - jac[:, 2, 0], jac[:, 1, 0] - jac[:, 0, 1]], axis=1)
    db_dt = magnetic_field(coil, pts, DIDT, backend=backend)  # B per ampere × dI/dt = dB/dt
    assert_allclose(curl, -db_dt, rtol=0, atol=1e-7 * np.abs(db_dt).max())


def test_coaxial_loop_field_is_the_primary_field():
    # A loop centred on the axis through the centre induces azimuthal E: no charge, E = E_p.
    coil = loop_coil(0.03, 90, center=(0, 0, 0.1))
    pts = _ball_points(np.random.default_rng(4), 100, 0.08)
    assert_allclose(sphere_efield(coil, pts, DIDT), primary_efield(coil, pts, DIDT), rtol=0,
                    atol=1e-12 * np.abs(primary_efield(coil, pts, DIDT)).max())


def test_large_sphere_tends_to_primary_field_for_flat_coil():
    # A flat coil parallel to a plane induces no charge on the plane; a growing sphere that
    # touches the same plane gives fields converging to the primary field, error ~ 1/R.
    coil = figure8_wires(height=0.01)
    pts = np.array([[x, y, -0.015] for x in (-0.02, 0.0, 0.02) for y in (-0.01, 0.0, 0.01)])
    ep = primary_efield(coil, pts, DIDT)
    errors = []
    for radius in (0.1, 1.0, 10.0):
        es = sphere_efield(coil, pts, DIDT, center=(0, 0, -radius))
        errors.append(_rel(es, ep))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.2 * errors[1] < 0.04 * errors[0]
    assert errors[2] < 1e-2


def test_quadrature_has_converged():
    # Doubling the Gauss–Legendre order changes nothing at double precision, even just below
    # the scalp under a close coil.
    coil = figure8_wires(height=0.0905)
    pts = np.array([[0.0, 0.0, 0.085], [0.01, 0.0, 0.07], [0.0, 0.03, 0.02], [0.0, 0.0, 0.0]])
    e = sphere_efield(coil, pts, DIDT)
    saved = sphere_mod._TARGET
    try:
        sphere_mod._TARGET = 1e-30
        e_fine = sphere_efield(coil, pts, DIDT)
    finally:
        sphere_mod._TARGET = saved
    assert_allclose(e, e_fine, rtol=0, atol=5e-14 * np.abs(e).max())


def test_backends_agree():
    coil = figure8_wires()
    pts = _ball_points(np.random.default_rng(6), 50, 0.08)
    assert_allclose(sphere_efield(coil, pts, DIDT, backend="numpy"), sphere_efield(coil, pts, DIDT), rtol=0,
                    atol=1e-13 * np.abs(sphere_efield(coil, pts, DIDT)).max())


def test_points_beyond_the_sources_are_refused():
    coil = loop_coil(0.03, 64, center=(0, 0, 0.09))
    with pytest.raises(ValueError, match="every point must lie closer to the centre than every wire"):
        sphere_efield(coil, [[0, 0, 0.095]], DIDT)
    with pytest.raises(ValueError, match="center must be a finite"):
        sphere_efield(coil, [[0, 0, 0]], DIDT, center=(0, 0))


def test_open_current_path_is_refused():
    start, end, w = polygon_loop(0.03, 32, center=(0, 0, 0.1))
    open_coil = Coil("open", start[:-1], end[:-1], w[:-1])
    with pytest.raises(ValueError, match="the current path is open at 2 point"):
        sphere_efield(open_coil, [[0, 0, 0]], DIDT)
