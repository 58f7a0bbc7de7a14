"""Total induced E inside a spherically symmetric conductor (analytic, any coil outside it).

Inside a conductor whose conductivity depends only on the distance to a centre ``c``, the
quasi-static induced field has no radial component and does not depend on the conductivity
profile (Heller & van Hulsteyn 1992; Eaton 1992).  Writing ``r = p − c`` and ``B₁`` for the
coil's flux density per ampere, the unique field with ``curl E = −dB/dt``, ``div E = 0`` and
``E·r = 0`` is

    E(r) = (dI/dt) · r × ∫₀¹ λ B₁(c + λ r) dλ                                     (1)

(the time derivative of the Poincaré-gauge vector potential, whose gauge is exactly the
surface-charge potential of the sphere).  Implemented two ways:

* **magnetic dipoles**: the closed form of Heller & van Hulsteyn (1992), eq. (1) integrated
  analytically;
* **wire segments**: (1) by Gauss–Legendre quadrature in λ of the exact segment B.  The
  integrand is analytic in λ except where ``c + λ r`` meets a source, i.e. for
  ``|λ| >= γ = d_src / |r|`` (``d_src`` the distance from the centre to the nearest wire).
  The Gauss–Legendre error then falls like ``ρ^(−2n)`` with ``ρ = τ + sqrt(τ² − 1)``,
  ``τ = 2γ − 1`` (Bernstein ellipse of [0, 1]); each point gets the smallest tabulated rule
  with ``ρ^(−2n) <= 1e-18`` (plus 4 nodes of margin), so the quadrature error is far below
  double rounding — the tests check it against rules with 16 more nodes and against the
  dipole closed form.
"""

from __future__ import annotations

import math

import numpy as np

from .._common.validation import as_points, as_scalar
from ._wires import wire_layout
from .biot_savart import _MU0_4PI, _split, check_clearance, kernels

__all__ = ["sphere_efield", "source_distance", "quadrature_order"]

_RULE_SIZES = np.array([2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
                        160, 192, 256, 320, 384, 512])
_TARGET = 1e-18


def _rules():
    nmax = int(_RULE_SIZES.max())
    nodes = np.zeros((len(_RULE_SIZES), nmax))
    weights = np.zeros((len(_RULE_SIZES), nmax))
    for row, n in enumerate(_RULE_SIZES):
        x, w = np.polynomial.legendre.leggauss(int(n))
        nodes[row, :n] = 0.5 * (x + 1.0)
        weights[row, :n] = 0.5 * w
    return nodes, weights


_NODES, _WEIGHTS = _rules()


def quadrature_order(gamma: np.ndarray) -> np.ndarray:
    """Gauss–Legendre nodes needed for distance ratio ``gamma = d_src/|r|`` (> 1), (n,) int."""
    gamma = np.asarray(gamma, dtype=float)
    tau = 2.0 * gamma - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = tau + np.sqrt(np.maximum(tau * tau - 1.0, 0.0))
        n = np.ceil(math.log(1.0 / _TARGET) / (2.0 * np.log(rho))) + 4
    n = np.where(np.isfinite(n), n, np.inf)
    return n


def source_distance(coil, center) -> float:
    """Distance (m) from ``center`` (3,) m to the nearest point of any wire or dipole of ``coil``."""
    c = np.asarray(center, dtype=float)
    best = np.inf
    if coil.n_segments:
        a, b = coil.start[coil.weight != 0], coil.end[coil.weight != 0]
        d = b - a
        l2 = np.einsum("ij,ij->i", d, d)
        t = np.clip(np.divide(np.einsum("ij,ij->i", c - a, d), l2, out=np.zeros(len(a)), where=l2 > 0), 0, 1)
        best = min(best, float(np.linalg.norm(a + t[:, None] * d - c, axis=1).min()))
    if coil.n_dipoles:
        best = min(best, float(np.linalg.norm(coil.dipole_position - c, axis=1).min()))
    return best


def sphere_efield(coil, points, didt, center=(0.0, 0.0, 0.0), *, backend: str | None = None) -> np.ndarray:
    """Total induced E at points inside a spherically symmetric conductor centred at ``center``.

    Parameters
    ----------
    coil : coils.Coil
        Coil in the head frame; all its sources must lie farther from ``center`` than every point.
    points : (n, 3) float array, metres
        Evaluation points inside the conductor.
    didt : float, A/s
        Rate of change of the coil current.
    center : (3,) float array, metres
        Centre of the spherical conductor.
    backend : {"numba", "numpy"}, optional

    Returns
    -------
    (n, 3) float array, V/m; ``E·(p − center) = 0`` up to rounding.
    """
    pts = as_points(points)
    didt = as_scalar(didt, "didt", "A/s")
    c = np.asarray(center, dtype=float).reshape(-1)
    if c.shape != (3,) or not np.isfinite(c).all():
        raise ValueError(f"center must be a finite (3,) vector in metres; got {np.asarray(center).shape}")
    if coil.n_segments:
        coil.check_closed()  # eq. (1) holds for divergence-free currents: closed paths only
    check_clearance(coil, pts)
    d_src = source_distance(coil, c)
    radius = np.linalg.norm(pts - c, axis=1)
    with np.errstate(divide="ignore"):
        gamma = np.where(radius > 0, d_src / np.maximum(radius, 1e-300), np.inf)
    n_needed = quadrature_order(gamma)
    if np.any(gamma <= 1.0) or np.any(n_needed > _RULE_SIZES[-1]):
        i = int(np.argmin(gamma))
        raise ValueError(
            f"points[{i}] is {radius[i] * 1e3:.3f} mm from the sphere centre, but the nearest source of coil "
            f"{coil.name!r} is {d_src * 1e3:.3f} mm from it; every point must lie closer to the centre than "
            "every wire or dipole (the coil must be outside the head)"
        )
    rule_index = np.searchsorted(_RULE_SIZES, np.minimum(n_needed, _RULE_SIZES[-1])).astype(np.int64)
    lay = wire_layout(coil)
    mod = kernels(backend)
    out = np.zeros((3, len(pts)))
    xyz = _split(pts)
    if lay.n_segments:
        no_dip = (np.zeros(0),) * 6
        mod.sphere_poincare(*xyz, c[0], c[1], c[2], rule_index, _NODES, _WEIGHTS,
                            *lay.wire_args_b, *no_dip, out[0], out[1], out[2])
    if lay.n_dipoles:
        tmp = np.empty((3, len(pts)))
        mod.sphere_dipoles_hvh(*xyz, c[0], c[1], c[2], *lay.dipole_args, tmp[0], tmp[1], tmp[2])
        out -= tmp  # sign fixed by the identity with (1); see tests/test_sphere.py
    return (didt * _MU0_4PI) * out.T
