"""A precomputed cortical field model: the total E on a mesh head's cortex for any coil pose in milliseconds.

Method (an incident-field basis, solved once with the head's P2 FEM)
--------------------------------------------------------------------
The FEM field of a coil depends on the coil only through its vector potential ``a`` at the mesh nodes
(the load vector is ``−dI/dt ∫ σ a·∇v``), and it is linear in ``a``.  Inside the scalp ``a`` is the field
of sources outside the head, so every Cartesian component is harmonic there and the admissible ``a``
(coils resting on or above the reachable scalp) fill a subspace whose singular values fall steeply.

Build, once per head:

1. *Training fields.*  ``a`` at every node, at the cortical points and at the fit points for random
   admissible poses of the coil presets — positions over the reachable scalp (scalp vertices at or above
   the lowest cortical point), every handle angle, tilts up to 20° and gaps up to 10 mm.  The training
   coils are the presets wound with 12 straight segments per turn: polygonal but real current paths,
   so their fields are true exterior fields.
2. *Deep nodes.*  The cortex sees a coil through ``a`` at the cortex and through the charges ``a`` puts
   on the conductivity boundaries.  What no basis of a few hundred vectors holds is the near field under
   the windings: it varies on the scale of the coil's distance from the scalp and has faded a centimetre
   into the head.  Measured over all nodes it dominates the residual of small and low coils, and both
   the basis and the fitted coefficients spend themselves on it.  Both are therefore measured over the
   *deep nodes*, those at least ``deep_fraction`` (0.75) of the shallowest cortical point's depth below
   the scalp (10 mm on the built-in human head, 1.6 mm on the rat).  The part of the near field the
   basis misses at the scalp leaves charges of the same short scale there, which fade as fast on their
   way to the cortex.  On the human head (200 random poses, 24 segments per turn), the worst cortex
   error fell from 4.6 % to 2.0 % and the worst robust-peak error from 4.4 % to 0.34 %; the median from
   0.15 % to 0.10 %.  (12 segments per turn instead of 24 left the basis's error in ``a`` at the cortex
   over the same poses where it was — max 1.08 against 1.03 % — for two thirds of the training cost.)
3. *Basis.*  The leading ``r`` left singular vectors ``u_j`` of the node matrix, each training field
   normalised and both taken over the deep nodes (from the Gram matrix, accumulated in node chunks),
   ``r`` set by a relative singular-value tolerance and a cap.  The vectors themselves are the training
   fields' combinations at every node, as the FEM needs them.
4. *Modes.*  One FEM solve per ``u_j`` (8 at a time in one block CG, their loads assembled in one pass)
   gives the total field of that basis vector at the cortical points, ``E_j = −u_j − ∇φ_j``.  A mode
   enters a coil's field with a weight of the order of its singular value ``s_j`` (over the training
   poses the rms coefficient of mode j is ``s_j/√n_train`` for unit fields), so a solver error of
   relative size ε in mode j costs ≈ ε·s_j/s_0 of the field: mode j is solved to the CG tolerance
   ``mode_tol·√(s_0/s_j)``, at most ``max_mode_tol`` (each mode then adds at most ``mode_tol·√(s_j/s_0)``
   in that measure, less the deeper it is; ``max_mode_tol = mode_tol`` gives one tolerance for all).
   The same solves give the field at a *brain sample*: one brain tetrahedron per cell of a voxel grid
   (at most ``n_brain``; the rat's and mouse's brains whole), the one nearest its cell's centre, with
   the brain volume of its cell as its weight.  At its centroid the mode field is the FEM's own
   tetrahedron field (P1 primary part, P2 gradient), so half-value depths and brain volume fractions
   come from the model too (:attr:`CortexFieldModel.brain_points`).
5. *Fit operator.*  The least-squares map from ``a`` at the fit points to the basis coefficients,
   through the SVD of the basis sampled there (which also gives the fit residual for free).  The fit
   points are ``n_fit`` deep nodes drawn uniformly at random: the basis is the best one in the sum of
   squares over the deep nodes, and a uniform sample of them estimates exactly that projection.  (Fits on
   the scalp, and at nodes drawn from the whole mesh, were tried first: on the human head the worst cortex
   errors were 8.7 % and 2.5–3.3 %.)

Per pose: the coil's exact ``a`` at the ``m`` fit points (Biot–Savart, the coil's own windings), the
coefficients ``c = P a_fit`` and ``E = didt · Σ_j c_j E_j`` — one small and one large dense product;
a batch of poses is one matrix–matrix product.  Nothing per pose scales with the mesh.

The error is that of representing the coil's ``a`` in the basis, measured against full FEM solves in
``scripts/bench.py`` and the tests.  Poses far outside the training set (a coil below the lowest
cortical point, a coil much smaller than every preset) are outside what the basis was made for; the
relative fit residual of ``a`` at the fit points is kept after every call
(``CortexFieldModel.last_residual``, (k,)) and recorded in ``efield field``'s summary.  It follows the
cortex error closely, so it guards every answer: above :data:`RESIDUAL_LIMIT` (1 %) ``efield field`` and
``efield dose`` with ``--model auto`` solve the FEM instead, ``--model precomputed`` warns, and
``efield view`` shows the warning on the page.

Models are cached on disk (``$EFIELD_CACHE`` or ``~/.cache/efield``) under a key of the head's content
(nodes, tets, conductivities, cortex and scalp surfaces) and the build settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .._common.validation import as_scalar
from ._solvers import mesh_solver

__all__ = ["CortexFieldModel", "BrainField", "RESIDUAL_LIMIT", "residual_warning", "brain_sample", "cortex_model", "full_solve_at", "cached_model", "save_to_cache", "head_key", "cache_dir", "training_coils",
           "random_poses", "node_depth", "MODEL_VERSION"]

#: bump when the method or the file layout changes (old cache files are then ignored)
MODEL_VERSION = 4

#: the largest relative fit residual (dimensionless) at which the model's field is used without a warning.
#: With fits at random deep nodes the cortex error was about one to two times the residual
#: (scripts/bench.py, 200 random poses each, correlation 0.87 on the built-in human head, 0.94 on the rat).
#: Human: 199 poses at or below 1 %, cortex errors <= 1.38 %, robust-peak errors <= 0.36 %; the one above
#: (the 25 mm figure-8 low on the head) 2.0 %.  Rat: 185 poses at or below, errors <= 0.78 %; the 15 above
#: (mostly the 8 mm coil) up to 2.7 %.  Above it, cortex_field(model="auto") solves the FEM instead, and a
#: precomputed field says so.
RESIDUAL_LIMIT = 0.01


def residual_warning(residual: float) -> str:
    """The warning for a pose whose fit ``residual`` (dimensionless) exceeds :data:`RESIDUAL_LIMIT`, else ""."""
    if residual <= RESIDUAL_LIMIT:
        return ""
    return (f"the coil's field lies {residual:.1%} outside the model's basis at this pose (above "
            f"{RESIDUAL_LIMIT:.0%}): the cortex field may be off by a few per cent")

#: coil presets trained on per species (rodent heads also meet human coils in published rodent studies)
_TRAIN_COILS = {
    "rodent": ("magstim_25mm_fig8", "rodent_8mm_round", "magstim_70mm_fig8", "magstim_70mm_circular",
               "magventure_cb60", "magventure_mcb70"),
    "human": ("magstim_70mm_fig8", "magventure_mcb70", "magventure_cb60", "magstim_70mm_circular",
              "magstim_25mm_fig8"),
}


#: segments per turn of the training coils: real current paths, cheaper than the fine windings (12: about
#: a seventh of their segments; on 200 human test poses the basis's error in ``a`` at the cortex was the same
#: as with 24, max 1.08 against 1.03 %)
_TRAIN_SPT = 12


def cache_dir() -> Path:
    """Folder of cached models: ``$EFIELD_CACHE/cortex_models`` or ``~/.cache/efield/cortex_models``."""
    root = os.environ.get("EFIELD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "efield")
    return Path(root) / "cortex_models"


def _species(head) -> str:
    return "rodent" if getattr(head, "frame", "") == "bregma" else "human"


def head_key(head) -> str:
    """Hex digest (sha256, 24 chars) of the head's content: nodes, tets, conductivity per tet (tensors
    where given), the cortex and scalp surfaces."""
    h = hashlib.sha256()
    sigma = head.anisotropy if head.anisotropy is not None else head.sigma_per_tet
    for arr in (head.nodes, head.tets, sigma, head.cortex.vertices, head.cortex.faces, head.scalp.vertices):
        a = np.ascontiguousarray(arr)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def training_coils(head) -> tuple[str, ...]:
    """Preset ids the model of ``head`` is trained on (by species: rodent heads also take human coils)."""
    return _TRAIN_COILS[_species(head)]


def reachable_scalp(head) -> np.ndarray:
    """Indices of the scalp vertices a coil can be centred over: at or above the lowest cortical point."""
    zmin = float(head.cortex.vertices[:, 2].min())
    idx = np.flatnonzero(head.scalp.vertices[:, 2] >= zmin)
    return idx if len(idx) else np.arange(len(head.scalp.vertices))


def node_depth(head, points) -> np.ndarray:
    """Depth (n,) m of ``points`` (n, 3) m below the scalp: the distance to the nearest scalp vertex."""
    from scipy.spatial import cKDTree

    return cKDTree(np.asarray(head.scalp.vertices, dtype=float)).query(np.asarray(points, dtype=float))[0]


def random_poses(head, coil, n: int, rng, *, max_tilt_deg: float = 20.0, max_gap: float = 0.010) -> np.ndarray:
    """``n`` random admissible poses (n, 4, 4) m of ``coil`` (own frame) resting on the reachable scalp:
    uniform over its vertices, handle angle uniform in [0, 360)°, tilt of the coil axis from the scalp
    normal uniform up to ``max_tilt_deg`` (degrees), extra gap uniform in [0, ``max_gap``] m."""
    from .placement import resting_pose, scalp_contact

    verts = head.scalp.vertices[reachable_scalp(head)]
    out = np.empty((n, 4, 4))
    for k in range(n):
        contact, normal = scalp_contact(head, verts[rng.integers(len(verts))])
        t1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        t1 /= np.linalg.norm(t1)
        t2 = np.cross(normal, t1)
        tilt, az, handle = np.radians(rng.uniform(0.0, max_tilt_deg)), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        axis = np.cos(tilt) * normal + np.sin(tilt) * (np.cos(az) * t1 + np.sin(az) * t2)
        out[k] = resting_pose(coil, head, contact, axis, np.cos(handle) * t1 + np.sin(handle) * t2,
                              rng.uniform(0.0, max_gap))
    return out


def full_solve_at(head, coil, pose, points, tol: float = 1e-6) -> np.ndarray:
    """The reference the model is checked against: total E (n, 3) V/m per A/s at ``points`` (n, 3) m for
    ``coil`` (own frame) at ``pose`` (4, 4) m, by the head's full P2 FEM solve at CG tolerance ``tol``."""
    from .biot_savart import vector_potential

    solver = mesh_solver(head)
    placed = coil.placed(pose)
    phi = solver.solve_rhs(solver.rhs(vector_potential(placed, solver.nodes), 1.0), tol=tol)[0]
    cells, lam = solver.locate(points)
    return -vector_potential(placed, points) - solver.gradient_at(phi, cells, lam)


def _subsample(points: np.ndarray, m: int, rng) -> np.ndarray:
    """Indices of about ``m`` of ``points`` spread evenly (one per cell of a voxel grid, then random)."""
    if len(points) <= m:
        return np.arange(len(points))
    lo, hi = points.min(axis=0), points.max(axis=0)
    vol = float(np.prod(np.maximum(hi - lo, 1e-9)))
    # the scalp is a surface: cells of side ~ sqrt(area/m); start from the box's cube root and shrink
    side = (vol / m) ** (1.0 / 3.0)
    for _ in range(40):
        cell = np.floor((points - lo) / side).astype(np.int64)
        _, first = np.unique(cell, axis=0, return_index=True)
        if len(first) >= m:
            break
        side *= 0.85
    return np.sort(rng.choice(first, size=m, replace=False))


def brain_sample(head, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A sample of the brain (tags :data:`meshes.BRAIN_TAGS`) of a mesh head: indices (b,)
    of brain tetrahedra (head numbering), one per cell of a voxel grid sized for at most ``n`` cells (the
    one whose centroid is nearest its cell's centre), and the brain volume (b,) m³ of each cell.  All
    brain tetrahedra, weighted by their own volumes, where there are no more than ``n``."""
    from meshes import BRAIN_TAGS

    brain = np.flatnonzero(np.isin(head.tags, BRAIN_TAGS))
    vol = np.abs(np.asarray(head.tet_volumes, dtype=float)[brain])
    if len(brain) <= n:
        return brain, vol
    c = np.asarray(head.tet_centroids, dtype=float)[brain]
    lo = c.min(axis=0)
    side = (vol.sum() / n) ** (1.0 / 3.0)
    for _ in range(200):  # the brain fills its cells only partly at the boundary: grow the cells until <= n
        cell = np.floor((c - lo) / side).astype(np.int64)
        _, inverse = np.unique(cell, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        if inverse.max() + 1 <= n:
            break
        side *= 1.02
    d = np.linalg.norm(c - (lo + (cell + 0.5) * side), axis=1)
    order = np.lexsort((d, inverse))  # by cell, nearest the centre first
    first = order[np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]]
    return brain[first], np.bincount(inverse, weights=vol)


@dataclass(frozen=True)
class BrainField:
    """E at a sample of the brain volume (see :func:`brain_sample`).

    points : (b, 3) float array, m — tetrahedron centroids; efield : (b, 3) float array, V/m;
    weights : (b,) float array, m³ — brain volume each point stands for (they sum to the brain's volume)
    """

    points: np.ndarray
    efield: np.ndarray
    weights: np.ndarray

    def scaled(self, factor: float) -> "BrainField":
        return BrainField(self.points, self.efield * factor, self.weights)


def _fit_operator(a_fit: np.ndarray, W: np.ndarray):
    """Least squares from ``a`` at the fit points to the basis coefficients, through the SVD of the basis
    there, B = a_fitᵀ W = Uf Sf Vfᵀ (3m × r): c = Vf Sf⁻¹ Ufᵀ a.  Returns (fit_u (q, 3m), fit_map (r, q),
    condition number, rank q)."""
    uf, sf, vft = np.linalg.svd(a_fit.T @ W, full_matrices=False)
    keep = sf >= 1e-10 * sf[0]
    fit_u = np.ascontiguousarray(uf[:, keep].T)
    fit_map = np.ascontiguousarray(vft[keep].T / sf[keep])
    return fit_u, fit_map, float(sf[0] / sf[keep][-1]), int(keep.sum())


def _pose_stack(poses) -> np.ndarray:
    p = np.asarray(poses, dtype=float)
    if p.shape == (4, 4):
        p = p[None]
    if p.ndim != 3 or p.shape[1:] != (4, 4):
        raise ValueError(f"poses must be a (4, 4) pose or a (k, 4, 4) stack of poses (metres); got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("poses must be finite (metres)")
    span = np.abs(p[:, :3, 3]).max()
    if span > 5.0:
        raise ValueError(f"poses translations reach {span:.4g}: poses are in metres, not mm (divide by 1000)")
    from coils import check_pose  # the one rigid-motion check (rotation, det +1, last row, plausible shift)

    for i, pose in enumerate(p):
        check_pose(pose, f"poses[{i}]")
    return p


def _coil_a_at(coil, poses: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Vector potential per ampere (k, m, 3) of ``coil`` (own frame) placed at each of ``poses`` at
    ``points`` (m, 3) in the head frame: one Biot–Savart call over all poses' points in the coil frame."""
    from .biot_savart import vector_potential

    R, t = poses[:, :3, :3], poses[:, :3, 3]
    local = np.einsum("kij,kmi->kmj", R, points[None, :, :] - t[:, None, :])  # Rᵀ(x − t)
    a_local = vector_potential(coil, local.reshape(-1, 3)).reshape(len(poses), len(points), 3)
    return np.einsum("kij,kmj->kmi", R, a_local)


@dataclass(frozen=True, eq=False)
class CortexFieldModel:
    """Total E at a mesh head's cortical points for any coil pose, from a precomputed basis.

    Attributes
    ----------
    points : (n, 3) float array, m — cortical points (head frame); ``faces`` (f, 3) int; ``normals`` (n, 3)
    fit_points : (m, 3) float array, m — mesh nodes where the coil's exact field is evaluated per pose
    scalp_points : (s, 3) float array, m — scalp vertices spread evenly: a pose whose casing cuts below
        them is refused
    fit_u : (q, 3m) float array — orthonormal rows spanning the basis at the fit points (q ≤ r kept
        singular directions); ``fit_map`` (r, q) float array — coefficients from ``fit_u @ a_fit``
        (together the least-squares fit; ``|a|² − |fit_u a|²`` is the squared fit residual)
    modes : (r, 3n) float32 array, V/m per (A/s) per unit coefficient — total E of each basis vector
    brain_points : (b, 3) float array, m — the brain sample (:func:`brain_sample`); ``brain_weights`` (b,)
        m³; ``brain_modes`` (r, 3b) float32 array — the modes' total E there (as ``modes``)
    singular_values : (r,) float array, relative to the first
    key : str — the head content key; ``info`` : mapping — provenance, settings and build timings
    """

    points: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    fit_points: np.ndarray
    fit_u: np.ndarray
    fit_map: np.ndarray
    modes: np.ndarray
    singular_values: np.ndarray
    key: str
    info: Mapping[str, Any] = field(default_factory=dict)
    brain_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    brain_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    brain_modes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    scalp_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    train_poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))
    train_coils: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    train_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    train_weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self):
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    # ------------------------------------------------------------------ use
    @property
    def n_modes(self) -> int:
        return int(self.modes.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    def coefficients(self, coil, poses) -> tuple[np.ndarray, np.ndarray]:
        """Basis coefficients (k, r) per ampere for ``coil`` (own frame) at ``poses`` (k, 4, 4) m, and the
        relative fit residual (k,) of ``a`` at the fit points (how far the coil's field is from the basis)."""
        poses = _pose_stack(poses)
        self._check_outside(coil, poses)
        a_fit = _coil_a_at(coil, poses, self.fit_points).reshape(len(poses), -1)  # (k, 3m)
        y = a_fit @ self.fit_u.T  # (k, q): the part of a_fit in the basis' span, orthonormal coordinates
        c = y @ self.fit_map.T  # (k, r)
        a2 = np.einsum("ij,ij->i", a_fit, a_fit)
        resid = np.sqrt(np.clip(a2 - np.einsum("ij,ij->i", y, y), 0.0, None) / np.maximum(a2, 1e-300))
        return c, resid

    def field(self, coil, poses, didt, *, brain: bool = False):
        """Total E (k, n, 3) V/m at the cortical points for ``coil`` (a ``coils.Coil`` in its own frame) at
        ``poses`` ((4, 4) or (k, 4, 4), metres, coil frame → head frame) and ``didt`` (A/s).

        ``brain=True`` also returns E (k, b, 3) V/m at the brain sample (:attr:`brain_points`): a tuple
        (cortex, brain)."""
        didt = as_scalar(didt, "didt", "A/s")
        c, resid = self.coefficients(coil, poses)
        object.__setattr__(self, "last_residual", resid)
        c32 = c.astype(np.float32)
        e = (didt * (c32 @ self.modes).astype(np.float64)).reshape(len(c), self.n_points, 3)
        if not brain:
            return e
        if not len(self.brain_points):
            raise ValueError("this cortical field model holds no brain sample (the head has no brain tetrahedra)")
        eb = (didt * (c32 @ self.brain_modes).astype(np.float64)).reshape(len(c), len(self.brain_points), 3)
        return e, eb

    def _check_outside(self, coil, poses) -> None:
        """Refuse a pose whose casing bottom (coil z = 0) cuts into the scalp under the coil's footprint."""
        from .placement import footprint_radius

        radius = footprint_radius(coil, margin=0.0)
        R, t = poses[:, :3, :3], poses[:, :3, 3]
        local = np.einsum("kij,kmi->kmj", R, self.scalp_points[None] - t[:, None])
        under = np.hypot(local[..., 0], local[..., 1]) <= radius
        depth = np.where(under, local[..., 2], -np.inf).max(axis=1)
        tol = max(1e-3, 0.1 * float(self.info.get("scalp_edge_m", 1e-3)))
        bad = np.flatnonzero(depth > tol)
        if len(bad):
            raise ValueError(f"poses[{bad[0]}] puts coil {coil.name!r} {depth[bad[0]] * 1e3:.1f} mm into the scalp "
                             f"of {self.info.get('head', 'the head')!r} ({len(bad)} such pose(s)); the model holds "
                             "for coils on or outside the scalp (efield.physics.placement.resting_pose lifts a coil "
                             "onto it)")

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, head, *, n_modes: int | None = None, max_modes: int | None = None, sv_tol: float = 1e-5,
              n_train: int | None = None, n_fit: int = 2000, mode_tol: float = 1e-3, max_mode_tol: float = 3e-2,
              n_brain: int = 40_000, coils_ids=None, seed: int = 0,
              deep_fraction: float = 0.75) -> "CortexFieldModel":
        """Build the model of a mesh head (see the module docstring).

        head : meshes.MeshHead with cortex and scalp surfaces
        n_modes : int, optional — number of basis vectors; default: those with singular value ≥ ``sv_tol``
            (dimensionless) × the first, at most ``max_modes`` (default 400 on rodent heads, 600 on others)
        n_train : int, optional — training poses (default 600 on rodent heads, 1200 on others; at least
            the number of modes)
        n_fit : int — fit points, deep mesh nodes drawn at random (default 2000; the per-pose cost is ∝ fit
            points × coil segments); as many scalp vertices, spread evenly, serve the check that a coil is outside
        mode_tol : float, dimensionless — CG relative residual of the leading mode's solve; mode j is solved
            to ``mode_tol·√(s_0/s_j)`` (``s`` the singular values), at most ``max_mode_tol``
        max_mode_tol : float, dimensionless — cap of the mode tolerances (≥ ``mode_tol``; equal to it: one
            tolerance for every mode)
        n_brain : int — at most this many brain sample points (:func:`brain_sample`; human head: 40,000 of
            590,000 brain tetrahedra, cells of ≈ 3 mm; rat and mouse: every brain tetrahedron)
        coils_ids : sequence of preset ids, optional — training coils (default :func:`training_coils`)
        seed : int — training poses are drawn from ``numpy.random.default_rng(seed)``, the fit points and
            the scalp sample from ``numpy.random.default_rng([seed, 1])``
        deep_fraction : float, dimensionless, 0–1 — the basis and the fit are taken over the mesh nodes at
            least this fraction of the shallowest cortical point's depth below the scalp (0: every node)
        """
        import coils as coils_pkg

        from meshes import BRAIN_TAGS

        from .._common import progress
        from .biot_savart import vector_potential
        from .placement import is_mesh_head

        if not is_mesh_head(head):
            raise TypeError(f"CortexFieldModel needs a mesh head (meshes.MeshHead); got {type(head).__name__}; "
                            "sphere heads are analytic and fast already")
        if head.cortex is None or head.scalp is None:
            raise ValueError(f"mesh head {getattr(head, 'name', '?')!r} needs cortex and scalp surfaces for a "
                             "cortical field model")
        rodent = _species(head) == "rodent"
        if max_modes is None:
            max_modes = 400 if rodent else 600
        cap = int(n_modes) if n_modes is not None else int(max_modes)
        if cap < 1:
            raise ValueError(f"n_modes must be >= 1; got {cap}")
        if n_train is None:
            n_train = max(cap, 600 if rodent else 1200)
        n_train = int(n_train)
        if n_train < cap:
            raise ValueError(f"n_train ({n_train}) must be at least n_modes ({cap})")
        mode_tol = as_scalar(mode_tol, "mode_tol", "1 (relative residual)", positive=True, allow_zero=False)
        max_mode_tol = as_scalar(max_mode_tol, "max_mode_tol", "1 (relative residual)", positive=True, allow_zero=False)
        if not mode_tol <= max_mode_tol <= 0.1:
            raise ValueError(f"max_mode_tol must lie between mode_tol ({mode_tol:g}) and 0.1; got {max_mode_tol:g}")
        deep_fraction = as_scalar(deep_fraction, "deep_fraction", "1 (fraction of the cortex depth)", positive=True)
        if deep_fraction > 1.0:
            raise ValueError(f"deep_fraction must lie between 0 and 1 (a fraction of the shallowest cortical point's "
                             f"depth below the scalp); got {deep_fraction:g}")
        ids = tuple(coils_ids) if coils_ids is not None else training_coils(head)
        rng = np.random.default_rng(seed)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        solver = mesh_solver(head)
        timings["fem_setup_s"] = time.perf_counter() - t0

        pts = np.ascontiguousarray(head.cortex.vertices, dtype=float)
        scalp = np.ascontiguousarray(head.scalp.vertices, dtype=float)
        nodes = solver.nodes
        # fit points and the scalp sample of the outside check come from their own stream of the seed
        fit_rng = np.random.default_rng([seed, 1])
        scalp_points = scalp[_subsample(scalp, n_fit, fit_rng)]
        depth = node_depth(head, nodes)
        cut = deep_fraction * float(node_depth(head, pts).min())
        deep = np.flatnonzero(depth >= cut)
        if len(deep) < 3 * int(n_fit):
            raise ValueError(f"only {len(deep)} mesh nodes lie at least {cut * 1e3:.2f} mm below the scalp "
                             f"(deep_fraction {deep_fraction:g} of the shallowest cortical point's depth); lower "
                             "deep_fraction")
        deep_cols = (3 * deep[:, None] + np.arange(3)).ravel()  # their x, y, z columns in the node fields
        fit_points = nodes[np.sort(fit_rng.choice(deep, size=min(int(n_fit), len(deep)), replace=False))]
        fine = {c: coils_pkg.load_coil(c) for c in ids}
        coarse = {c: coils_pkg.load_coil(c, segments_per_turn=_TRAIN_SPT) for c in ids}

        t = time.perf_counter()
        with progress.task(f"cortical field model: {n_train} training poses", total=n_train) as task:
            per = [n_train // len(ids) + (1 if i < n_train % len(ids) else 0) for i in range(len(ids))]
            placed, train_poses, train_coils = [], [], []
            for ci, (cid, k) in enumerate(zip(ids, per)):
                for pose in random_poses(head, fine[cid], k, rng):
                    placed.append(coarse[cid].placed(pose))
                    train_poses.append(pose)
                    train_coils.append(ci)
            train_scale = np.empty(n_train)
            # node fields are kept in float32 (the basis only has to be some exterior field, consistently
            # used at nodes, cortex and fit points); the Gram matrix is summed in float64
            # one row per training pose (rows are written whole: contiguous)
            a_nodes = np.empty((n_train, 3 * len(nodes)), dtype=np.float32)
            a_cortex = np.empty((n_train, 3 * len(pts)))
            a_fit = np.empty((n_train, 3 * len(fit_points)))
            for j, pc in enumerate(placed):
                # training coils rest on the scalp by construction: no wire passes near a head point
                col = vector_potential(pc, nodes, check=False).ravel()
                scale = train_scale[j] = 1.0 / np.linalg.norm(col[deep_cols])
                a_nodes[j] = col * scale
                a_cortex[j] = vector_potential(pc, pts, check=False).ravel() * scale
                a_fit[j] = vector_potential(pc, fit_points, check=False).ravel() * scale
                task.advance()
        timings["training_fields_s"] = time.perf_counter() - t

        t = time.perf_counter()
        with progress.task("cortical field model: basis (Gram matrix and eigenvectors)"):
            gram = np.zeros((n_train, n_train))
            step = 50_000  # node columns per chunk: the float64 copy of a chunk is n_train × 50,000 × 8 B (0.5 GB at 1200 poses)
            for i in range(0, a_nodes.shape[1], step):
                cols = deep_cols[(deep_cols >= i) & (deep_cols < i + step)]
                blk = a_nodes[:, cols].astype(np.float64)
                gram += blk @ blk.T
            evals, evecs = np.linalg.eigh(gram)
            order = np.argsort(evals)[::-1]
            sv = np.sqrt(np.clip(evals[order], 0.0, None))
            evecs = evecs[:, order]
            rel = sv / sv[0]
            r = cap if n_modes is not None else int(min(cap, max(1, np.count_nonzero(rel >= sv_tol))))
            W = evecs[:, :r] / sv[:r]  # training weights of the orthonormal basis vectors u_j
        timings["basis_s"] = time.perf_counter() - t

        t = time.perf_counter()
        # the basis vectors at the nodes, U = Wᵀ a_nodes (r, 3N), written over the first r rows of the node
        # fields (one node chunk at a time) and the rest released: the node fields of all training poses
        # are not kept through the mode solves (human head: 1200 × 664,095 float32 = 3.2 GB → 1.6 GB)
        w32 = W.astype(np.float32)
        for i in range(0, a_nodes.shape[1], step):
            a_nodes[:r, i:i + step] = w32.T @ a_nodes[:, i:i + step]
        a_nodes.resize((r, a_nodes.shape[1]), refcheck=False)
        u_nodes = a_nodes
        del a_nodes, w32
        timings["basis_at_nodes_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cells, lam = solver.locate(pts)
        modes = np.empty((r, 3 * len(pts)), dtype=np.float32)
        brain_tets, brain_weights = brain_sample(head, int(n_brain))
        brain_pts = np.asarray(head.tet_centroids, dtype=float)[brain_tets]
        n_brain_tets = int(np.isin(head.tags, BRAIN_TAGS).sum())
        brain_vert = np.asarray(head.tets)[brain_tets]  # (b, 4) node indices: the P1 primary part at the centroid
        bcells, blam = solver.locate(brain_pts)
        brain_modes = np.empty((r, 3 * len(brain_pts)), dtype=np.float32)
        u_cortex = W.T @ a_cortex  # (r, 3n)
        iters, tols = [], np.minimum(max_mode_tol, mode_tol / np.sqrt(np.maximum(rel[:r], 1e-300)))

        # the modes are solved 8 at a time in one lock-step CG (FEMSolver.solve_rhs_block: the matrices are
        # read once per block of 8, the same iterates as 8 single solves)
        block = 8
        with progress.task(f"cortical field model: {r} FEM mode solves ({solver.n_dofs:,} unknowns)", total=r) as task:
            for j0 in range(0, r, block):
                U = u_nodes[j0:j0 + block]  # (b, 3N) float32: the basis vectors at the nodes
                B = solver.rhs_block(U.T.reshape(len(nodes), 3, len(U)), 1.0)
                # the block's tolerance is that of its leading (largest, so strictest) mode
                phi, it, _, _ = solver.solve_rhs_block(B, tol=float(tols[j0]))
                for i in range(U.shape[0]):
                    iters.append(int(it[i]))
                    phi_i = np.ascontiguousarray(phi[:, i])
                    grad = solver.gradient_at(phi_i, cells, lam).ravel()
                    modes[j0 + i] = (-u_cortex[j0 + i] - grad).astype(np.float32)
                    if len(brain_pts):
                        u_b = U[i].reshape(-1, 3)[brain_vert].mean(axis=1, dtype=np.float64)
                        brain_modes[j0 + i] = (-u_b - solver.gradient_at(phi_i, bcells, blam)).ravel()
                    task.advance()
        timings["mode_solves_s"] = time.perf_counter() - t

        t = time.perf_counter()
        fit_u, fit_map, fit_cond, fit_rank = _fit_operator(a_fit, W)
        timings["fit_operator_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        f = head.scalp.faces
        edge = float(np.linalg.norm(scalp[f[:, 0]] - scalp[f[:, 1]], axis=1).mean())
        info = {
            "model": f"precomputed cortical field model (incident-field basis, {r} modes, P2 FEM; "
                     "efield.physics.cortex_model)",
            "head": getattr(head, "name", "mesh head"), "frame": getattr(head, "frame", ""),
            "version": MODEL_VERSION, "n_modes": r, "n_train": n_train, "n_fit": int(len(fit_points)),
            "n_points": int(len(pts)), "n_brain": int(len(brain_pts)), "n_brain_max": int(n_brain),
            "brain_sample": (f"{len(brain_pts):,} of the head's {n_brain_tets:,} brain tetrahedra"
                             + ("" if len(brain_pts) == n_brain_tets else
                                f", one per cell of about {(brain_weights.sum() / max(len(brain_pts), 1)) ** (1 / 3) * 1e3:.1f} mm")),
            "brain_volume_m3": float(brain_weights.sum()), "training_coils": list(ids), "training_segments_per_turn": _TRAIN_SPT,
            "sv_tol": sv_tol, "max_modes": cap, "mode_tol": mode_tol, "max_mode_tol": max_mode_tol, "seed": seed,
            "mode_tol_last": float(tols[r - 1]),
            "last_singular_value_rel": float(rel[r - 1]),
            "next_singular_value_rel": float(rel[r]) if r < len(rel) else 0.0,
            "mode_cg_iterations_mean": float(np.mean(iters)), "fem_unknowns": int(solver.n_dofs),
            "scalp_edge_m": edge, "timings_s": timings,
            "fit_condition": fit_cond, "fit_rank": fit_rank,
            "fit_points": (f"{len(fit_points):,} mesh nodes drawn at random (seed {seed}) among those at least "
                           f"{cut * 1e3:.1f} mm below the scalp"),
            "deep_fraction": deep_fraction, "deep_depth_m": cut, "n_deep_nodes": len(deep),
            "training": "random poses resting on the scalp at or above the lowest cortical point, all handle "
                        "angles, tilt <= 20 deg, gap 0-10 mm",
        }
        return cls(pts, np.asarray(head.cortex.faces), np.asarray(head.cortex.normals), fit_points, fit_u,
                   fit_map, modes, rel[:r].copy(), head_key(head), info, brain_pts, brain_weights, brain_modes,
                   scalp_points, np.asarray(train_poses), np.asarray(train_coils, dtype=np.int64), train_scale, W)

    def refit(self, fit_points) -> "CortexFieldModel":
        """The same model with its coefficients fitted at other points ``fit_points`` (m, 3) m (head frame):
        the training fields are evaluated there (their poses, coils and scales are kept), the basis follows
        from the training weights, and the modes are reused.  Seconds, not a rebuild."""
        import coils as coils_pkg

        from .biot_savart import vector_potential

        fit_points = np.ascontiguousarray(fit_points, dtype=float)
        if fit_points.ndim != 2 or fit_points.shape[1] != 3 or not len(fit_points):
            raise ValueError(f"fit_points must be an (m, 3) array of points in metres; got shape {fit_points.shape}")
        if not len(self.train_poses):
            raise ValueError("this model keeps no training poses: it cannot be refitted (rebuild it)")
        ids = self.info["training_coils"]
        coarse = [coils_pkg.load_coil(c, segments_per_turn=int(self.info["training_segments_per_turn"])) for c in ids]
        a_fit = np.empty((len(self.train_poses), 3 * len(fit_points)))
        for j, (pose, ci) in enumerate(zip(self.train_poses, self.train_coils)):
            a_fit[j] = vector_potential(coarse[ci].placed(pose), fit_points, check=False).ravel() * self.train_scale[j]
        fit_u, fit_map, cond, rank = _fit_operator(a_fit, self.train_weights)
        info = {**dict(self.info), "n_fit": int(len(fit_points)), "fit_condition": cond, "fit_rank": rank,
                "fit_points": "refitted"}
        return dataclasses.replace(self, fit_points=fit_points, fit_u=fit_u, fit_map=fit_map, info=info)

    # ------------------------------------------------------------------ files
    def save(self, path, force: bool = False) -> Path:
        """Write the model to ``path`` (.npz), atomically."""
        from .._common.io import atomic_target

        path = Path(path)
        with atomic_target(path, force=force, default_suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, points=self.points, faces=self.faces, normals=self.normals, fit_points=self.fit_points,
                         fit_u=self.fit_u, fit_map=self.fit_map, modes=self.modes,
                         singular_values=self.singular_values, key=np.array(self.key),
                         brain_points=self.brain_points, brain_weights=self.brain_weights,
                         brain_modes=self.brain_modes, scalp_points=self.scalp_points, train_poses=self.train_poses, train_coils=self.train_coils,
                         train_scale=self.train_scale, train_weights=self.train_weights,
                         info=np.array(json.dumps(dict(self.info))))
        return path

    @classmethod
    def load(cls, path) -> "CortexFieldModel":
        """Read a model written by :meth:`save`; a damaged or foreign file raises ``ValueError`` naming it."""
        path = Path(path)
        need = ("points", "faces", "normals", "fit_points", "fit_u", "fit_map", "modes",
                "singular_values", "key", "info", "brain_points", "brain_weights", "brain_modes", "scalp_points",
                "train_poses",
                "train_coils", "train_scale", "train_weights")
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                missing = [k for k in need if k not in data.files]
                if missing:
                    raise ValueError(f"{path}: not an efield cortical field model (missing {', '.join(missing)})")
                arrays = {k: data[k] for k in need}
        except ValueError as exc:
            if str(exc).startswith(str(path)):
                raise
            raise ValueError(f"{path}: cannot read the cortical field model ({exc})") from None
        except Exception as exc:  # zip/npy errors of a damaged file
            raise ValueError(f"{path}: cannot read the cortical field model ({type(exc).__name__}: {exc})") from None
        info = json.loads(str(arrays.pop("info")))
        key = str(arrays.pop("key"))
        r, n = arrays["modes"].shape[0], arrays["points"].shape[0]
        m3 = 3 * arrays["fit_points"].shape[0]
        q = arrays["fit_u"].shape[0]
        b = arrays["brain_points"].shape[0]
        if (arrays["modes"].shape != (r, 3 * n) or arrays["fit_map"].shape != (r, q)
                or arrays["fit_u"].shape != (q, m3) or arrays["brain_weights"].shape != (b,)
                or arrays["brain_modes"].shape != ((r, 3 * b) if b else arrays["brain_modes"].shape)):
            raise ValueError(f"{path}: inconsistent cortical field model (modes {arrays['modes'].shape}, "
                             f"{n} points, fit {arrays['fit_u'].shape} and {arrays['fit_map'].shape})")
        return cls(key=key, info=info, **arrays)


def _settings_tag(**settings) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def _cache_path(head, **settings) -> Path:
    return cache_dir() / f"{head_key(head)}-v{MODEL_VERSION}-{_settings_tag(**settings)}.npz"


def cached_model(head, **settings) -> CortexFieldModel | None:
    """The cached model of ``head`` (built with ``settings``, default those of :func:`cortex_model`), or None."""
    path = _cache_path(head, **settings)
    if not path.is_file():
        return None
    try:
        model = CortexFieldModel.load(path)
    except ValueError:
        return None
    return model if model.key == head_key(head) else None


def save_to_cache(model: CortexFieldModel, head, **settings) -> Path:
    """Store ``model`` as the cached model of ``head`` built with ``settings``; returns the file's path."""
    if model.key != head_key(head):
        raise ValueError(f"this model was built for another head (key {model.key}, not {head_key(head)})")
    path = _cache_path(head, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path, force=True)
    _MEMORY.pop((model.key, _settings_tag(**settings)), None)
    return path


_MEMORY: dict = {}


def cortex_model(head, *, build: bool = True, **settings) -> CortexFieldModel | None:
    """The cortical field model of ``head``: from memory, else the disk cache, else built (``build=True``)
    and cached.  ``settings`` are passed to :meth:`CortexFieldModel.build` and are part of the cache key."""
    mem_key = (head_key(head), _settings_tag(**settings))
    if mem_key in _MEMORY:
        return _MEMORY[mem_key]
    model = cached_model(head, **settings)
    if model is None and build:
        model = CortexFieldModel.build(head, **settings)
        try:
            save_to_cache(model, head, **settings)
        except OSError:
            pass  # a read-only home: keep the model in memory only
    if model is not None:
        _MEMORY[mem_key] = model
    return model
