"""Primary field of a coil in free space: vector potential, primary E and flux density B.

Tier two (validated functions): inputs are converted and checked once, singular points are
refused explicitly, then a kernel does the work (numba by default, NumPy twin on request).

Physics (SI): for a coil current ``I(t)`` the vector potential is ``A = I · a(r)`` with
``a = mu0/(4 pi) ∮ dl / |r − r'|`` per ampere; the primary (free-space, quasi-static) electric
field is ``E_p = −dA/dt = −(dI/dt) · a(r)`` in V/m and the flux density ``B = I · curl a``
in tesla.
"""

from __future__ import annotations

import importlib
import math
import os

import numpy as np
from scipy.constants import mu_0

from .._common.validation import as_points, as_scalar
from ._wires import wire_layout

__all__ = [
    "MU0",
    "WIRE_CLEARANCE",
    "vector_potential",
    "primary_efield",
    "magnetic_field",
    "check_clearance",
    "kernels",
]

#: vacuum permeability (CODATA, via scipy.constants), H/m
MU0 = float(mu_0)
_MU0_4PI = MU0 / (4.0 * math.pi)

#: points closer than this to a wire filament or a dipole (metres) are refused: the field of
#: a filament is singular on it, and a real conductor has a finite cross-section there.
WIRE_CLEARANCE = 1e-6

_BACKENDS = {"numba": "efield.physics._kernels", "numpy": "efield.physics._kernels_numpy"}


def kernels(backend: str | None = None):
    """The kernel module for ``backend`` ("numba" or "numpy"; default: $EFIELD_BACKEND or numba)."""
    name = backend or os.environ.get("EFIELD_BACKEND", "numba")
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {sorted(_BACKENDS)}; got {name!r}")
    return importlib.import_module(_BACKENDS[name])


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray, backend=None):
    """Min distance (n,) metres from each point to the segments a→b, and the nearest index."""
    dist = np.empty(len(points))
    idx = np.empty(len(points), dtype=np.int64)
    kernels(backend).segment_distance(*_split(points), *_split(a), *_split(b), dist, idx)
    return dist, idx


def check_clearance(coil, points: np.ndarray, clearance: float = WIRE_CLEARANCE, name: str = "points",
                    backend: str | None = None) -> None:
    """Raise ``ValueError`` if a point lies within ``clearance`` (m) of a wire or dipole.

    Only points inside the sources' bounding box grown by 1 mm are measured, so points in a
    head under a coil cost nothing here.
    """
    src = coil.points
    margin = max(clearance, 1e-3)
    lo, hi = src.min(axis=0) - margin, src.max(axis=0) + margin
    near = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
    if len(near) == 0:
        return
    p = points[near]
    checks = []
    if coil.n_segments:
        real = coil.weight != 0
        dist, idx = _segment_distance(p, coil.start[real], coil.end[real], backend)
        checks.append(("a wire (segment", dist, np.flatnonzero(real)[idx]))
    if coil.n_dipoles:
        from scipy.spatial import cKDTree  # nearest dipole per point in O(n log m) memory, not (n, m, 3)

        dist, idx = cKDTree(coil.dipole_position).query(p)
        checks.append(("a dipole (index", dist, idx))
    for what, dist, idx in checks:
        bad = np.flatnonzero(dist < clearance)
        if len(bad):
            i = bad[0]
            raise ValueError(
                f"{name}[{near[i]}] lies {dist[i] * 1e6:.3g} µm from {what} {idx[i]}) of coil "
                f"{coil.name!r}; the field of a filament is singular there, so points must stay at least "
                f"{clearance * 1e6:.3g} µm away ({len(bad)} point(s) too close)"
            )


def _split(points: np.ndarray):
    return (np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1]),
            np.ascontiguousarray(points[:, 2]))


def _run(kernel_name: str, coil, points, backend, check: bool = True) -> np.ndarray:
    pts = as_points(points)
    if check:
        check_clearance(coil, pts, backend=backend)
    lay = wire_layout(coil)
    mod = kernels(backend)
    out = np.empty((3, len(pts)))
    wire_args = lay.wire_args_a if kernel_name == "vector_potential" else lay.wire_args_b
    getattr(mod, kernel_name)(*_split(pts), *wire_args, *lay.dipole_args, out[0], out[1], out[2])
    return out.T * _MU0_4PI


def vector_potential(coil, points, *, backend: str | None = None, check: bool = True) -> np.ndarray:
    """Magnetic vector potential per ampere of coil current.

    Parameters
    ----------
    coil : coils.Coil
        Coil in the frame of ``points`` (use ``coil.placed(pose)`` first).
    points : (n, 3) float array, metres
        Evaluation points.
    backend : {"numba", "numpy"}, optional
        Kernel implementation.
    check : bool
        Refuse points within 1 µm of a wire (default).  ``False`` skips that pass (as costly as the
        field itself when many points sit inside the coil's bounding box) for callers that keep their
        points clear of the coil by construction (e.g. a head below a coil resting on its scalp).

    Returns
    -------
    (n, 3) float array, T·m per ampere (V·s/m per ampere).
    """
    return _run("vector_potential", coil, points, backend, check)


def primary_efield(coil, points, didt, *, backend: str | None = None) -> np.ndarray:
    """Primary (free-space) induced electric field ``E_p = −(dI/dt) a(r)``.

    Parameters
    ----------
    coil : coils.Coil
        Coil in the frame of ``points``.
    points : (n, 3) float array, metres
        Evaluation points.
    didt : float, A/s
        Rate of change of the coil current (e.g. 100 A/µs = 1e8 A/s).

    Returns
    -------
    (n, 3) float array, V/m.
    """
    didt = as_scalar(didt, "didt", "A/s")
    return -didt * vector_potential(coil, points, backend=backend)


def magnetic_field(coil, points, current=1.0, *, backend: str | None = None) -> np.ndarray:
    """Magnetic flux density ``B`` of the coil carrying ``current``.

    Parameters
    ----------
    coil : coils.Coil
        Coil in the frame of ``points``.
    points : (n, 3) float array, metres
        Evaluation points.
    current : float, amperes
        Coil current.

    Returns
    -------
    (n, 3) float array, tesla.
    """
    current = as_scalar(current, "current", "A")
    return current * _run("flux_density", coil, points, backend)
