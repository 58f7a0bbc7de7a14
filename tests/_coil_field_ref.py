"""Plain-NumPy reference fields of a coil (per ampere), independent of the efield package.

Exact straight segments (start → end, weight w), points p, a = p − start, b = p − end:

* B = μ0/(4π) · w · (a × b)(|a| + |b|) / (|a||b| (|a||b| + a·b))
* A = μ0/(4π) · w · û · ln((|a| + |b| + L) / (|a| + |b| − L)),  û = (end − start)/L

Dipoles (moment m per ampere, r = p − position):

* B = μ0/(4π) · (3 r̂ (m·r̂) − m) / |r|³
* A = μ0/(4π) · m × r / |r|³
"""

from __future__ import annotations

import numpy as np

MU0_4PI = 1e-7  # μ0/(4π) in T·m/A (SI definition before 2019; differs from CODATA by < 1e-9)

_CHUNK = 512


def _chunks(points):
    for lo in range(0, len(points), _CHUNK):
        yield slice(lo, lo + _CHUNK), points[lo:lo + _CHUNK]


def flux_density(coil, points) -> np.ndarray:
    """B per ampere of coil current, (n, 3) tesla per ampere, at ``points`` (n, 3) metres."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    out = np.zeros((len(points), 3))
    for sl, p in _chunks(points):
        if coil.n_segments:
            a = p[:, None, :] - coil.start[None]
            b = p[:, None, :] - coil.end[None]
            na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
            den = na * nb * (na * nb + np.einsum("nmk,nmk->nm", a, b))
            out[sl] += np.einsum("nmk,nm->nk", np.cross(a, b), coil.weight * (na + nb) / den)
        if coil.n_dipoles:
            r = p[:, None, :] - coil.dipole_position[None]
            nr = np.linalg.norm(r, axis=2)
            rh = r / nr[..., None]
            mr = np.einsum("mk,nmk->nm", coil.dipole_moment, rh)
            out[sl] += ((3 * rh * mr[..., None] - coil.dipole_moment[None]) / nr[..., None] ** 3).sum(axis=1)
    return MU0_4PI * out


def vector_potential(coil, points) -> np.ndarray:
    """A per ampere of coil current, (n, 3) T·m per ampere, at ``points`` (n, 3) metres."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    out = np.zeros((len(points), 3))
    if coil.n_segments:
        d = coil.end - coil.start
        length = np.linalg.norm(d, axis=1)
        u = d / length[:, None] * coil.weight[:, None]
    for sl, p in _chunks(points):
        if coil.n_segments:
            na = np.linalg.norm(p[:, None, :] - coil.start[None], axis=2)
            nb = np.linalg.norm(p[:, None, :] - coil.end[None], axis=2)
            s = na + nb
            out[sl] += np.log((s + length) / (s - length)) @ u
        if coil.n_dipoles:
            r = p[:, None, :] - coil.dipole_position[None]
            nr = np.linalg.norm(r, axis=2)
            out[sl] += (np.cross(coil.dipole_moment[None], r) / nr[..., None] ** 3).sum(axis=1)
    return MU0_4PI * out


def grid_below(half_width, depths, n=21) -> np.ndarray:
    """(n·n·len(depths), 3) points on square grids at z = −depth (metres) under the coil."""
    xs = np.linspace(-half_width, half_width, n)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    return np.concatenate([
        np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, -d)], axis=1) for d in depths
    ])


def simnibs_coil_file(name: str):
    """Path of a SimNIBS reference coil file (GPL-3.0, read in place); skip the test if absent.

    Folder: ``$EFIELD_SHARED_DIR/data/simnibs_coils`` or ``<repo>/../shared/data/simnibs_coils``.
    """
    import pytest

    from tests.conftest import shared_dir

    path = shared_dir() / "data" / "simnibs_coils" / name
    if not path.is_file():
        pytest.skip(f"reference coil file {path} is not available")
    return path
