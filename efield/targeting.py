"""Coil targeting: the coil pose that maximises the field at a cortical target.

Search
------
Positions lie on the scalp within ``search_radius`` of the scalp point nearest the target (a
hexagonal grid of spacing ``step``), the handle turns over 360° (``n_angles`` steps) at each, and
the best grid pose is refined continuously (Nelder–Mead over the two scalp coordinates and the
handle angle).  The coil rests on the scalp (tangent, lifted clear of it on mesh heads, see
:mod:`efield.placement`) plus ``distance``.

Why a pose is cheap (no solve per pose)
---------------------------------------
* Sphere heads: the induced field in a spherically symmetric conductor is
  ``E(r) = (dI/dt) r × ∫₀¹ λ b(λ r) dλ`` (Poincaré gauge; b = B per ampere).  Exchanging the line
  integral over the coil with the λ-integral gives ``E(r) = (dI/dt) μ0/4π r × Σ dl × H(q)``, with
  ``H(q) = ∫₀¹ λ (λr − q)/|λr − q|³ dλ`` a smooth kernel of the wire points ``q`` alone (Gauss–
  Legendre in λ, order chosen from the coil–target geometry).  One pose costs
  (2 points per wire segment) × (λ nodes) kernel evaluations and no field solve.
* Mesh heads (reciprocity): for a direction ``d`` the FEM value ``d·∇φ(r_t)`` equals ``ψ_dᵀ b``
  where ``ψ_d`` solves the same FEM system with the point functional ``d·∇v(r_t)`` as its right-hand
  side (one solve per direction, three in all).  ``ψ_dᵀ b`` is a sum over mesh nodes of weights
  ``W_n`` times the coil's vector potential at the node, which by the symmetry of the 1/|r−q| kernel
  equals ``Σ dl · U_d(q)`` over the coil's wire points, ``U_d(q) = μ0/4π Σ_n W_n / |q − x_n|``.
  ``U_d`` is tabulated once on a grid covering every reachable coil position (trilinear
  interpolation); the primary part ``μ0/4π Σ dl/|r_t − q|`` is summed exactly.  The pose's E at the
  target is therefore a Biot–Savart-like sum over the coil's wires.

The reported numbers at the best pose (target E, focality, orientation curve) come from the
forward model (:func:`efield.total_efield`, i.e. the analytic sphere or a FEM solve), not from the
fast evaluator; the difference between the two is reported as ``fast_vs_forward``.
"""

from __future__ import annotations

import functools
import math
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping

import numpy as np

from ._validation import as_scalar
from .fields import _is_mesh_head

__all__ = ["Target", "TargetResult", "list_targets", "optimize_pose", "resolve_target", "PoseEvaluator",
           "evaluator_for"]

_DIRECTIONS = {
    "anterior": (0.0, 1.0, 0.0), "posterior": (0.0, -1.0, 0.0), "right": (1.0, 0.0, 0.0),
    "left": (-1.0, 0.0, 0.0), "superior": (0.0, 0.0, 1.0), "dorsal": (0.0, 0.0, 1.0),
    "inferior": (0.0, 0.0, -1.0), "ventral": (0.0, 0.0, -1.0),
}


class TargetError(ValueError):
    """A target, direction or search option that cannot be used."""


# ----------------------------------------------------------------------------- targets
@functools.lru_cache(maxsize=1)
def _targets_file() -> dict:
    with resources.files("efield").joinpath("data/targets.toml").open("rb") as fh:
        return tomllib.load(fh)


def list_targets(species: str | None = None) -> dict[str, dict]:
    """Named targets by species ("human", "rat", "mouse"): coordinates (mm), description, source, flag."""
    data = {k: v for k, v in _targets_file().items() if k != "frames"}
    return {species: dict(data.get(species, {}))} if species else data


def _species(head) -> str:
    name = str(getattr(head, "name", "")).lower()
    for s in ("human", "rat", "mouse"):
        if name.startswith(s):
            return s
    return name


@dataclass(frozen=True, eq=False)
class Target:
    """A cortical target in the head frame.

    Attributes
    ----------
    point : (3,) float array, metres — the target (centre of the region)
    region : (k, 3) float array, metres — points averaged by the objective (``[point]`` for a point)
    direction : (3,) unit float array or None — wanted field direction (None: maximise |E|)
    label : str — name or coordinates as given
    direction_label : str — "normal", "anterior", …, "custom" or "|E|"
    source : str — where a named target's coordinates come from (with its flag)
    """

    point: np.ndarray
    region: np.ndarray
    direction: np.ndarray | None
    label: str
    direction_label: str
    source: str = ""


def _frame_point(head, coords_mm, kind: str) -> np.ndarray:
    """Head-frame point (m) of MNI or bregma coordinates (mm) on ``head``."""
    p = np.asarray(coords_mm, dtype=float) * 1e-3
    species = _species(head)
    if _is_mesh_head(head):
        want = "MNI" if kind == "mni" else "bregma"
        if head.frame != want:
            raise TargetError(f"{kind} coordinates need a head in the {want} frame; {head.name!r} is in the "
                              f"{head.frame!r} frame")
        return p
    # sphere heads: direction from the frame's anchor, onto the cortex sphere
    if kind == "mni":
        if species != "human":
            raise TargetError(f"MNI coordinates need a human head; got {head.name!r}")
        anchor = np.asarray(_targets_file()["frames"]["human_sphere"]["mni_center_mm"], dtype=float) * 1e-3
        d = p - anchor
        return np.asarray(head.center, dtype=float) + head.cortex_radius * d / np.linalg.norm(d)
    if species not in ("rat", "mouse"):
        raise TargetError(f"bregma coordinates need a rat or mouse head; got {head.name!r}")
    skull = next(layer.outer_radius for layer in head.layers if layer.tissue == "skull")
    return np.asarray(head.center, dtype=float) + p + [0.0, 0.0, skull]


def _below_brain_surface(head, ml_ap_mm, depth_mm) -> np.ndarray:
    """Head-frame point (m) ``depth_mm`` below the brain's dorsal surface at bregma coordinates ``ml_ap_mm``
    (x to the right, y anterior; mm), found along the vertical through them."""
    x, y = (float(v) * 1e-3 for v in ml_ap_mm)
    depth = float(depth_mm) * 1e-3
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        top = _frame_point(head, [0.0, 0.0, 0.0], "bregma")  # bregma on this sphere
        r2 = head.cortex_radius ** 2 - (top[0] + x - c[0]) ** 2 - (top[1] + y - c[1]) ** 2
        if r2 <= 0:
            raise TargetError(f"bregma ({ml_ap_mm[0]}, {ml_ap_mm[1]}) mm lies beyond the brain of {head.name!r}")
        return np.array([top[0] + x, top[1] + y, c[2] + math.sqrt(r2) - depth])
    if head.frame != "bregma":
        raise TargetError(f"bregma coordinates need a head in the bregma frame; {head.name!r} is in {head.frame!r}")
    brain = [t for t in (11, 1, 2) if np.any(head.tags == t)]
    zs = np.arange(0.01, -0.03, -2e-5)
    line = np.column_stack([np.full_like(zs, x), np.full_like(zs, y), zs])
    cells = head.find_tets(line)
    inside = (cells >= 0) & np.isin(head.tags[np.maximum(cells, 0)], brain)
    if not inside.any():
        raise TargetError(f"no brain below bregma ({ml_ap_mm[0]}, {ml_ap_mm[1]}) mm in head {head.name!r}")
    return np.array([x, y, zs[np.argmax(inside)] - depth])


def _parse_coords(text: str, what: str) -> list[float]:
    parts = [t for t in text.replace(";", ",").replace(" ", ",").split(",") if t]
    try:
        vals = [float(t) for t in parts]
    except ValueError:
        vals = []
    if len(vals) != 3 or not np.isfinite(vals).all():
        raise TargetError(f"target {what} coordinates must be three numbers in mm, e.g. 'mni:-37,-21,58'; got {text!r}")
    return vals


def _cortex_normal(head, point) -> np.ndarray:
    if not _is_mesh_head(head):
        d = np.asarray(point) - np.asarray(head.center, dtype=float)
        return d / np.linalg.norm(d)
    if head.cortex is None:
        raise TargetError(f"mesh head {head.name!r} has no cortex surface, so 'normal' is undefined; give a vector")
    v, nrm = head.cortex.vertices, head.cortex.normals
    dist = np.linalg.norm(v - point, axis=1)
    near = dist <= max(np.sort(dist)[min(7, len(dist) - 1)], 1e-12)
    n = nrm[near].sum(axis=0)
    return n / np.linalg.norm(n)


def _region_points(head, point, radius, max_points=32) -> np.ndarray:
    if radius == 0:
        return point[None].copy()
    if _is_mesh_head(head):
        if head.cortex is None:
            raise TargetError(f"mesh head {head.name!r} has no cortex surface to take a region from")
        v = head.cortex.vertices
        sel = v[np.linalg.norm(v - point, axis=1) <= radius]
    else:
        c = np.asarray(head.center, dtype=float)
        n = (point - c) / np.linalg.norm(point - c)
        e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        rho = np.linalg.norm(point - c)
        pts = []
        for r in np.linspace(0, radius, 4):
            for a in np.linspace(0, 2 * np.pi, max(1, int(round(6 * r / max(radius, 1e-12) * 3))), endpoint=False):
                q = point + r * (np.cos(a) * e1 + np.sin(a) * e2)
                pts.append(c + rho * (q - c) / np.linalg.norm(q - c))
        sel = np.asarray(pts)
    if len(sel) == 0:
        return point[None].copy()
    if len(sel) > max_points:
        sel = sel[np.linspace(0, len(sel) - 1, max_points).round().astype(int)]
    return np.vstack([point[None], sel])


def resolve_target(head, target, *, direction=None, radius: float = 0.0) -> Target:
    """A :class:`Target` on ``head`` from a name, coordinates or a point.

    Parameters
    ----------
    head : SphereHead or MeshHead
    target : Target, (3,) float array in metres (head frame), a name from :func:`list_targets`
        (e.g. "M1_hand_left", "DLPFC_left", "M1_forelimb_left"), "mni:x,y,z" (mm, human heads) or
        "bregma:x,y,z" (mm; x to the right, y anterior, z dorsal from bregma on the skull; rodents)
    direction : None, "normal" (to the cortex), "anterior", "posterior", "left", "right", "superior",
        "inferior", "dorsal", "ventral", "named" (the named target's own) or a (3,) vector
        (dimensionless) — the wanted field direction; None maximises |E|
    radius : float, metres, >= 0 — the objective averages over cortical points within this distance
    """
    if isinstance(target, Target):
        return target
    radius = as_scalar(radius, "radius", "m", positive=True)
    source, named_dir = "", None
    if isinstance(target, str):
        text = target.strip()
        low = text.lower()
        if low.startswith(("mni:", "bregma:")):
            kind, _, rest = low.partition(":")
            point = _frame_point(head, _parse_coords(rest, kind), kind)
            label = text
        else:
            species = _species(head)
            table = list_targets().get(species, {})
            match = {k.lower(): k for k in table}.get(low)
            if match is None:
                known = ", ".join(sorted(table)) or "none"
                raise TargetError(f"target {text!r} is not a named target for {species} heads; known: {known}; "
                                  "or give 'mni:x,y,z' / 'bregma:x,y,z' (mm) or a point in metres")
            entry = table[match]
            if "mni_mm" in entry:
                point = _frame_point(head, entry["mni_mm"], "mni")
            else:
                point = _below_brain_surface(head, entry["bregma_ml_ap_mm"], entry["depth_below_brain_surface_mm"])
            label = match
            source = f"{entry['source']} ({entry['flag']})"
            named_dir = entry.get("direction")
    else:
        arr = np.asarray(target, dtype=float)
        if arr.shape != (3,) or not np.isfinite(arr).all():
            raise TargetError(f"target must be a name, 'mni:x,y,z', 'bregma:x,y,z' or a finite (3,) point in metres; "
                              f"got {target!r}")
        point = arr.copy()
        label = "({:.1f}, {:.1f}, {:.1f}) mm".format(*(arr * 1e3))
    inside = head.contains(point[None])[0] if _is_mesh_head(head) else (
        np.linalg.norm(point - np.asarray(head.center)) < head.cortex_radius * (1 + 1e-9))
    if not inside:
        raise TargetError(f"target {label} at ({', '.join(f'{x * 1e3:.1f}' for x in point)}) mm lies outside the "
                          f"{'mesh' if _is_mesh_head(head) else 'cortex sphere'} of head {head.name!r}")
    if isinstance(direction, str) and direction.strip().lower() == "named":
        direction = named_dir
    if direction is None:
        d, dlabel = None, "|E|"
    elif isinstance(direction, str):
        key = direction.strip().lower()
        if key == "normal":
            if not _is_mesh_head(head):
                raise TargetError("direction 'normal' is undefined on a sphere head: the field normal to a "
                                  "spherical cortex is zero (E·r̂ = 0 in a spherically symmetric conductor); "
                                  "maximise |E| (direction=None) or give a tangential direction")
            d, dlabel = _cortex_normal(head, point), "normal"
        elif key in _DIRECTIONS:
            d, dlabel = np.asarray(_DIRECTIONS[key]), key
        else:
            raise TargetError(f"direction must be None, 'normal', one of {', '.join(_DIRECTIONS)} or a 3-vector; "
                              f"got {direction!r}")
    else:
        d = np.asarray(direction, dtype=float)
        if d.shape != (3,) or not np.isfinite(d).all() or np.linalg.norm(d) == 0:
            raise TargetError(f"direction must be a finite non-zero 3-vector; got {direction!r}")
        d, dlabel = d / np.linalg.norm(d), "custom"
    return Target(point=point, region=_region_points(head, point, radius), direction=d, label=label,
                  direction_label=dlabel, source=source)


# ----------------------------------------------------------------------------- coil quadrature
def _coil_quadrature(coil, depth: float = np.inf):
    """Wire points (n, 3) m and current elements (n, 3) m·A/A of ``coil`` in its frame, for targets at least
    ``depth`` (m) below the casing bottom: each segment is cut into pieces no longer than a quarter of its
    smallest possible distance to such a target (its height above the casing plus ``depth``), then
    integrated by 2-point Gauss–Legendre (relative error ~ (L/d)⁴/4000 ≲ 1e-7 per piece)."""
    if coil.n_dipoles:
        raise TargetError(f"coil {coil.name!r} is a dipole model; the fast pose search needs a wire model "
                          "(every preset is one); use method='direct'")
    a, b, w = np.asarray(coil.start), np.asarray(coil.end), np.asarray(coil.weight)
    reach = np.maximum(np.minimum(a[:, 2], b[:, 2]), 0.0) + depth
    pieces = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / (0.25 * reach))).astype(int)
    idx = np.repeat(np.arange(len(a)), pieces)
    k = np.concatenate([np.arange(n) for n in pieces]) if len(a) else np.zeros(0)
    frac0, frac1 = (k / pieces[idx])[:, None], ((k + 1) / pieces[idx])[:, None]
    a, b = a[idx] + (b[idx] - a[idx]) * frac0, a[idx] + (b[idx] - a[idx]) * frac1
    w = w[idx]
    half = 0.5 / math.sqrt(3.0)
    q = np.vstack([a + (b - a) * (0.5 - half), a + (b - a) * (0.5 + half)])
    dl = np.vstack([(b - a) * (0.5 * w)[:, None]] * 2)
    return np.ascontiguousarray(q), np.ascontiguousarray(dl)


def _target_depth(head, target: Target) -> float:
    """Smallest depth (m) of the target region below the scalp (distance to the nearest scalp point)."""
    from .placement import scalp_contact

    return max(min(float(np.linalg.norm(scalp_contact(head, p)[0] - p)) for p in target.region), 1e-5)


def _split(arr):
    return tuple(np.ascontiguousarray(arr[:, k]) for k in range(3))


# ----------------------------------------------------------------------------- evaluators
class PoseEvaluator:
    """E per A/s at the target region for many poses of one coil on one head (see the module docstring).

    Call with ``poses`` (P, 4, 4) metres; returns (P, k, 3) V/m per A/s (k region points on sphere
    heads; k = 1, the region mean, on mesh heads)."""

    method = "direct"

    def __init__(self, coil, head, target: Target):
        self.coil, self.head, self.target = coil, head, target

    def __call__(self, poses) -> np.ndarray:
        from .fields import total_efield

        poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
        out = np.empty((len(poses), len(self.target.region), 3))
        for i, pose in enumerate(poses):
            out[i] = total_efield(self.coil.placed(pose), self.head, self.target.region, 1.0)
        return out


class SphereEvaluator(PoseEvaluator):
    """Closed-form-in-q, Gauss–Legendre-in-λ Poincaré sum (sphere heads)."""

    method = "sphere reciprocity kernel"

    def __init__(self, coil, head, target: Target, tol: float = 1e-9):
        super().__init__(coil, head, target)
        q, dl = _coil_quadrature(coil, _target_depth(head, target))
        self._q, self._dl = _split(q), _split(dl)
        self.center = np.asarray(head.center, dtype=float)
        self._targets = np.ascontiguousarray(target.region - self.center)
        # λ rule: the integrand's nearest singularity is at λ* ≈ |q|/|r| > 1; with the coil on the scalp,
        # |q| ≥ scalp radius, so the Bernstein ellipse through λ* bounds the error of an n-point rule
        r = np.linalg.norm(self._targets, axis=1).max()
        gamma = head.scalp_radius / r
        s = 2.0 * gamma - 1.0  # λ* mapped to [-1, 1]
        rho = s + math.sqrt(s * s - 1.0)
        n = int(min(64, max(4, math.ceil(math.log(1.0 / tol) / (2.0 * math.log(rho))) + 2)))
        x, w = np.polynomial.legendre.leggauss(n)
        self.lam, self.lw = 0.5 * (x + 1.0), 0.5 * w

    def __call__(self, poses) -> np.ndarray:
        from . import _targeting_kernels as K

        poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
        rot = np.ascontiguousarray(poses[:, :3, :3])
        trans = np.ascontiguousarray(poses[:, :3, 3] - self.center)
        out = np.empty((len(poses), len(self._targets), 3))
        K.sphere_poses(*self._q, *self._dl, rot, trans, self._targets, self.lam, self.lw, out)
        return out


class MeshEvaluator(PoseEvaluator):
    """FEM reciprocity with the reciprocal vector potential tabulated on a grid (mesh heads)."""

    method = "FEM reciprocity + gridded reciprocal potential"
    #: reach: (n, 3) m, wire points of the reachable poses (the grids cover them);
    #: grid_step: m, fine grid spacing (default half the closest wire–source distance)

    def __init__(self, coil, head, target: Target, reach, grid_step: float | None = None):
        from . import _targeting_kernels as K
        from .fem import _QUAD
        from .fields import mesh_solver

        super().__init__(coil, head, target)
        q, dl = _coil_quadrature(coil, _target_depth(head, target))
        self._q, self._dl = _split(q), _split(dl)
        solver = mesh_solver(head)
        self.solver = solver
        cells, lam = solver.locate(target.region)
        # gradient functionals g_d (n_dofs,) for d = x, y, z, averaged over the region points
        ndof = solver.n_dofs
        weights = np.zeros((len(solver.nodes), 3, 3))
        for d in range(3):
            g = np.zeros(ndof)
            for c, l in zip(cells, lam):
                np.add.at(g, solver.dofs[c], solver.basis_gradients(c, l)[:, d] / len(cells))
            psi = solver.solve_rhs(g - g.mean(), tol=1e-6)[0]
            # W_n = Σ_t ∫_t λ_n σ ∇ψ dV (4-point rule, exact for the quadratic integrand)
            for lam_q in _QUAD:
                grad = solver.gradient_at(psi, np.arange(len(solver.tets)), np.broadcast_to(lam_q, (len(solver.tets), 4)))
                flux = np.einsum("tij,tj->ti", solver.sigma, grad) * (0.25 * solver.volumes)[:, None]
                for k in range(4):
                    for c3 in range(3):
                        weights[:, d, c3] += np.bincount(solver.tets[:, k], weights=lam_q[k] * flux[:, c3],
                                                         minlength=len(solver.nodes))
        # sources: nodes carrying reciprocal current; their distance to the reachable wire points sets
        # the grid spacing (trilinear error ~ (h/d)²/8 of each source's share)
        wmag = np.abs(weights).reshape(len(weights), 9).max(axis=1)
        keep = wmag > 1e-12 * wmag.max()
        strong = wmag > 1e-3 * wmag.max()
        from scipy.spatial import cKDTree

        d_src = cKDTree(solver.nodes[strong]).query(reach)[0]
        d_min = float(d_src.min())
        # measured on the rat head (25 mm figure-8): fine h = d_min/2 with a 4× coarser outer grid gave
        # 0.05 % error against the exact reciprocity sum, d_min/4 gave 0.03 %, 3 d_min/4 gave 0.5 %
        fine_step = d_min / 2.0 if grid_step is None else float(grid_step)
        near = reach[d_src <= 4.0 * d_min]
        src = _split(solver.nodes[keep])
        w9 = np.ascontiguousarray(weights[keep].reshape(-1, 9).T)
        self.levels = []
        for pts, step in ((near, fine_step), (reach, 4.0 * fine_step)):
            lo = pts.min(axis=0) - 1.5 * step
            hi = pts.max(axis=0) + 1.5 * step
            shape = tuple(int(x) for x in np.ceil((hi - lo) / step).astype(int) + 1)
            axes = [lo[k] + step * np.arange(shape[k]) for k in range(3)]
            gx, gy, gz = (np.ascontiguousarray(a.ravel()) for a in np.meshgrid(*axes, indexing="ij"))
            grid = np.empty((len(gx), 9))
            K.grid_potential(gx, gy, gz, *src, w9, grid)
            self.levels.append((np.ascontiguousarray(grid.reshape(*shape, 3, 3)), lo, float(step)))
        self._target = np.ascontiguousarray(target.region.mean(axis=0))
        #: most wire points of one pose that fell outside both grids (their reciprocal part left out)
        self.max_outside = 0

    def __call__(self, poses) -> np.ndarray:
        from . import _targeting_kernels as K

        poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
        rot = np.ascontiguousarray(poses[:, :3, :3])
        trans = np.ascontiguousarray(poses[:, :3, 3])
        out = np.empty((len(poses), 3))
        outside = np.zeros(len(poses), dtype=np.int64)
        (fine, f_lo, f_h), (coarse, c_lo, c_h) = self.levels
        K.grid_poses(*self._q, *self._dl, rot, trans, self._target, fine, f_lo, f_h, coarse, c_lo, c_h, out, outside)
        self.max_outside = max(self.max_outside, int(outside.max(initial=0)))
        return out[:, None, :]


# ----------------------------------------------------------------------------- scalp parametrisation
class _Scalp:
    """Smooth local scalp around the target: contact point and outward normal as functions of (u, v) (m)."""

    def __init__(self, head, target_point, fit_radius):
        from .placement import scalp_contact

        self.head = head
        c0, n0 = scalp_contact(head, target_point)
        ref = np.array([0.0, 1.0, 0.0])
        if abs(ref @ n0) > 0.95:
            ref = np.array([1.0, 0.0, 0.0])
        e1 = ref - (ref @ n0) * n0
        e1 /= np.linalg.norm(e1)
        self.c0, self.n0, self.e1, self.e2 = c0, n0, e1, np.cross(n0, e1)
        self.reference = e1  # handle angle 0: anterior (+y) projected on the scalp
        if _is_mesh_head(head):
            v = head.scalp.vertices - c0
            uv = np.column_stack([v @ self.e1, v @ self.e2])
            h = v @ n0
            near = (np.linalg.norm(uv, axis=1) <= fit_radius) & (h > -fit_radius)
            u, w = uv[near, 0], uv[near, 1]
            A = np.column_stack([np.ones_like(u), u, w, u * u, u * w, w * w])
            self.coef = np.linalg.lstsq(A, h[near], rcond=None)[0]
            self.fit_rms = float(np.sqrt(np.mean((A @ self.coef - h[near]) ** 2)))
        else:
            self.coef, self.fit_rms = None, 0.0

    def frame(self, u, v):
        """Contact point (3,) m and unit outward normal (3,) at scalp coordinates (u, v) (m)."""
        if self.coef is None:
            c = np.asarray(self.head.center, dtype=float)
            R = self.head.scalp_radius
            d = (self.c0 - c) + u * self.e1 + v * self.e2
            n = d / np.linalg.norm(d)
            return c + R * n, n
        a = self.coef
        h = a[0] + a[1] * u + a[2] * v + a[3] * u * u + a[4] * u * v + a[5] * v * v
        hu, hv = a[1] + 2 * a[3] * u + a[4] * v, a[2] + a[4] * u + 2 * a[5] * v
        n = self.n0 - hu * self.e1 - hv * self.e2
        return self.c0 + u * self.e1 + v * self.e2 + h * self.n0, n / np.linalg.norm(n)

    def poses(self, coil, u, v, angles, distance):
        """Poses (len(angles), 4, 4) m of ``coil`` resting at (u, v) with handle angles ``angles`` (rad)."""
        from coils import coil_pose

        from .placement import _lift, footprint_radius

        contact, n = self.frame(u, v)
        t1 = self.reference - (self.reference @ n) * n
        t1 /= np.linalg.norm(t1)
        t2 = np.cross(n, t1)
        pose0 = coil_pose(contact, n, t1, distance)
        if _is_mesh_head(self.head):
            pose0[:3, 3] += _lift(self.head.scalp.vertices, pose0[:3, 3], n, footprint_radius(coil)) * n
        out = np.repeat(pose0[None], len(angles), axis=0)
        ca, sa = np.cos(angles), np.sin(angles)
        handle = ca[:, None] * t1 + sa[:, None] * t2
        out[:, :3, 1] = handle
        out[:, :3, 0] = np.cross(handle, n)
        return out


def _hex_grid(radius, step):
    pts = []
    n = int(math.ceil(radius / step))
    for j in range(-n, n + 1):
        for i in range(-n - 1, n + 2):
            x = (i + 0.5 * (j % 2)) * step
            y = j * step * math.sqrt(3) / 2
            if x * x + y * y <= radius * radius * (1 + 1e-9):
                pts.append((x, y))
    return np.asarray(pts)


def _head_size(head) -> float:
    if not _is_mesh_head(head):
        return float(head.scalp_radius)
    v = head.scalp.vertices
    return float(np.linalg.norm(v - v.mean(axis=0), axis=1).mean())


def evaluator_for(coil, head, target: Target, method: str = "auto", *, reach=None, grid_step=None) -> PoseEvaluator:
    """The pose evaluator for ``method``: "auto" (reciprocity kernel for the head type), "fast" or "direct"."""
    if method not in ("auto", "fast", "direct"):
        raise TargetError(f"method must be 'auto', 'fast' or 'direct'; got {method!r}")
    if method == "direct" or coil.n_dipoles:
        return PoseEvaluator(coil, head, target)
    if not _is_mesh_head(head):
        return SphereEvaluator(coil, head, target)
    if reach is None:
        raise TargetError("a mesh evaluator needs the wire points of the reachable coil poses")
    return MeshEvaluator(coil, head, target, reach, grid_step)


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class TargetResult:
    """The best coil pose for a target and the numbers behind it (SI units).

    Attributes
    ----------
    pose : (4, 4) float array, metres — coil frame → head frame (columns x, y = handle, z = normal, origin)
    center, handle, normal : (3,) float arrays — coil origin (m, casing bottom centre), unit handle, unit normal
    target_e : float, V/m at ``didt`` — the objective's field quantity at the target (forward model)
    target_e_per_aus : float, V/m per A/µs
    target_efield : (3,) float array, V/m at ``didt`` — E vector at the target point (forward model)
    didt : float, A/s
    angles_deg, e_vs_angle : (k,) float arrays — handle angle (° from ``angle_reference``, counter-clockwise
        seen from outside) and the objective (V/m at ``didt``) at the best position
    focality : dict — area_half_max_cm2, depth_half_max_mm, brain_fraction_above_half_target, ...
    goal_e, mso_for_goal, stimulator : goal (V/m), %MSO that reaches it, stimulator used (or None)
    fast_vs_forward : float — relative difference of the fast evaluator and the forward model at the best pose
    assumptions : dict of str; timing : dict of seconds; n_poses : int
    """

    pose: np.ndarray
    center: np.ndarray
    handle: np.ndarray
    normal: np.ndarray
    coil_name: str
    head_name: str
    frame: str
    target_point: np.ndarray
    target_label: str
    target_direction: np.ndarray | None
    quantity: str
    didt: float
    target_e: float
    target_e_per_aus: float
    target_efield: np.ndarray
    angle_reference: np.ndarray
    angles_deg: np.ndarray
    e_vs_angle: np.ndarray
    focality: Mapping[str, float]
    goal_e: float | None
    mso_for_goal: float | None
    stimulator: str | None
    fast_vs_forward: float
    scalp_gap_m: float
    n_poses: int
    assumptions: Mapping[str, str] = field(default_factory=dict)
    timing: Mapping[str, float] = field(default_factory=dict)
    cortex: Any = None  #: FieldResult per A/s on the cortex at the best pose (None without focality)

    def summary(self) -> str:
        """A few lines for people: pose, E at the target, %MSO for the goal, focality."""
        c = self.center * 1e3
        h = self.handle
        lines = [
            f"target {self.target_label} on {self.head_name} ({self.frame} frame), coil {self.coil_name}",
            f"  coil centre ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm, handle ({h[0]:+.3f}, {h[1]:+.3f}, {h[2]:+.3f}), "
            f"gap to scalp {self.scalp_gap_m * 1e3:.2f} mm",
            f"  {self.quantity} at the target: {self.target_e_per_aus:.4g} V/m per A/µs, "
            f"{self.target_e:.4g} V/m at {self.didt / 1e6:.4g} A/µs",
        ]
        if self.goal_e is not None:
            mso = "n/a (no stimulator)" if self.mso_for_goal is None else f"{self.mso_for_goal:.1f} % MSO"
            lines.append(f"  goal {self.goal_e:.4g} V/m needs {mso}" + (f" on {self.stimulator}" if self.stimulator else ""))
        f = self.focality
        lines.append("  focality: " + ", ".join(f"{k} {v:.4g}" for k, v in f.items()))
        return "\n".join(lines)


def _objective(fields, target: Target):
    """Objective (P,) from fields (P, k, 3): mean |E| or mean E·d over the region points."""
    if target.direction is None:
        return np.linalg.norm(fields, axis=2).mean(axis=1)
    return np.einsum("pkc,c->pk", fields, target.direction).mean(axis=1)


def _forward_objective(coil, head, target, pose):
    from .fields import total_efield

    e = total_efield(coil.placed(pose), head, target.region, 1.0)
    if _is_mesh_head(head):
        e = e.mean(axis=0, keepdims=True)
    return float(_objective(e[None], target)[0]), e


# ----------------------------------------------------------------------------- the optimiser
def optimize_pose(coil, head, target, didt: float | None = None, *, direction=None, radius: float = 0.0,
                  distance: float = 0.0, search_radius: float | None = None, step: float | None = None,
                  n_angles: int = 72, refine: bool = True, goal_e: float | None = None,
                  stimulator: str | None = None, method: str = "auto", focality: bool = True,
                  grid_step: float | None = None, off_target_weight: float = 0.0,
                  off_target_distance: float | None = None, n_off_target: int | None = None) -> TargetResult:
    """The coil pose that maximises the field at ``target``.

    Parameters
    ----------
    coil : coils.Coil or preset id (in its own frame)
    head : SphereHead or MeshHead (e.g. ``meshes.sphere_head("human")``, ``meshes.builtin_head("rat")``)
    target : see :func:`resolve_target` (name, "mni:x,y,z", "bregma:x,y,z" in mm, or a (3,) point in m)
    didt : float, A/s — intensity for the reported E (default 1 A/µs = 1e6 A/s)
    direction : see :func:`resolve_target` — maximise E along it instead of |E|
    radius : float, m — average the objective over cortical points within this distance of the target
    distance : float, m — extra coil–scalp gap (hair, cap)
    search_radius : float, m — positions within this distance of the scalp point nearest the target
        (default 25 % of the head radius: ≈ 21 mm human sphere, 2.4 mm rat sphere)
    step : float, m — spacing of the position grid (default a fifth of ``search_radius``)
    n_angles : int — handle angles over 360° on the grid (default 72: 5°)
    refine : bool — continuous refinement after the grid (Nelder–Mead)
    goal_e : float, V/m — report the %MSO that reaches this field at the target
    stimulator : str — stimulator for %MSO (default: the coil's own)
    method : "auto" (fast reciprocity evaluator), "fast" or "direct" (a forward field per pose: slow)
    focality : bool — compute the focality metrics (one more forward field over the cortex/brain)
    off_target_weight : float, dimensionless, >= 0 — focality penalty: maximise the objective minus this
        weight times the mean |E| at ``n_off_target`` cortical points ``off_target_distance`` (m) from the
        target (default 0: no penalty; distance default 25 % of the head radius; points default 8 on
        sphere heads, 4 on mesh heads, where each costs three more FEM solves)
    grid_step : float, m — spacing of the fine reciprocal-potential grid on mesh heads (default half of
        the closest distance between reachable wires and the strong reciprocal current sources)
    """
    from coils import load_coil

    t_start = time.perf_counter()
    if isinstance(coil, str):
        coil = load_coil(coil)
    didt = 1e6 if didt is None else as_scalar(didt, "didt", "A/s", positive=True, allow_zero=False)
    tgt = resolve_target(head, target, direction=direction, radius=radius)
    size = _head_size(head)
    search_radius = 0.25 * size if search_radius is None else as_scalar(search_radius, "search_radius", "m",
                                                                         positive=True)
    step = (search_radius / 5.0 if search_radius > 0 else 1.0) if step is None else as_scalar(
        step, "step", "m", positive=True, allow_zero=False)
    distance = as_scalar(distance, "distance", "m", positive=True)
    if int(n_angles) < 4:
        raise TargetError(f"n_angles must be >= 4; got {n_angles!r}")
    n_angles = int(n_angles)
    if goal_e is not None:
        goal_e = as_scalar(goal_e, "goal_e", "V/m", positive=True, allow_zero=False)
    from .placement import footprint_radius

    scalp = _Scalp(head, tgt.point, search_radius + 0.5 * footprint_radius(coil))
    grid_uv = _hex_grid(search_radius, step) if search_radius > 0 else np.zeros((1, 2))
    angles = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
    poses = np.concatenate([scalp.poses(coil, u, v, angles, distance) for u, v in grid_uv])
    t_grid_poses = time.perf_counter()

    reach = None
    if _is_mesh_head(head):
        # wire points of the grid poses and of poses up to one step beyond the search disc (refinement)
        q = np.asarray(coil.points)[:: max(1, len(coil.points) // 300)]
        rim = _hex_grid(search_radius + step, step) if search_radius > 0 else grid_uv
        extra = np.concatenate([scalp.poses(coil, u, v, angles[:: max(1, n_angles // 8)], distance)
                                for u, v in rim])
        reach = np.concatenate([q @ P[:3, :3].T + P[:3, 3] for P in extra])
    evaluator = evaluator_for(coil, head, tgt, method, reach=reach, grid_step=grid_step)
    weight = as_scalar(off_target_weight, "off_target_weight", "1", positive=True)
    off_evaluators, off_points = [], np.zeros((0, 3))
    if weight > 0:
        off_distance = 0.25 * size if off_target_distance is None else as_scalar(
            off_target_distance, "off_target_distance", "m", positive=True, allow_zero=False)
        n_off = (4 if _is_mesh_head(head) else 8) if n_off_target is None else int(n_off_target)
        if n_off < 1:
            raise TargetError(f"n_off_target must be >= 1; got {n_off_target!r}")
        off_points = _off_target_points(head, tgt, off_distance, n_off)
        groups = [off_points[k:k + 1] for k in range(n_off)] if _is_mesh_head(head) else [off_points]
        off_evaluators = [evaluator_for(coil, head, Target(point=g[0], region=g, direction=None, label="off-target",
                                                           direction_label="|E|"), method, reach=reach,
                                        grid_step=grid_step) for g in groups]

    def score(ps):
        """Objective minus the focality penalty (P,), per A/s."""
        value = _objective(evaluator(ps), tgt)
        if off_evaluators:
            off = np.concatenate([np.linalg.norm(ev(ps), axis=2) for ev in off_evaluators], axis=1)
            value = value - weight * off.mean(axis=1)
        return value

    t_setup = time.perf_counter()
    values = score(poses)
    t_search = time.perf_counter()
    n_eval = len(poses)
    best = int(np.argmax(values))
    bu, bv = grid_uv[best // n_angles]
    ba = angles[best % n_angles]

    if refine:
        from scipy.optimize import minimize

        def cost(x):
            u, v, a = x
            over = math.hypot(u, v) - search_radius
            if over > 0:
                return -values[best] + over / step
            return -float(score(scalp.poses(coil, u, v, [a], distance))[0])

        res = minimize(cost, [bu, bv, ba], method="Nelder-Mead",
                       options={"initial_simplex": [[bu, bv, ba], [bu + 0.5 * step, bv, ba], [bu, bv + 0.5 * step, ba],
                                                    [bu, bv, ba + np.deg2rad(5)]],
                                "xatol": 1e-3 * step, "fatol": 1e-9 * abs(values[best]), "maxfev": 400})
        n_eval += res.nfev
        if -res.fun >= values[best]:
            bu, bv, ba = res.x
    t_refine = time.perf_counter()
    pose = scalp.poses(coil, bu, bv, [ba], distance)[0]
    fast_value = float(_objective(evaluator(pose[None]), tgt)[0])
    curve_angles = ba + angles
    curve = _objective(evaluator(scalp.poses(coil, bu, bv, curve_angles, distance)), tgt)
    value, e_vec = _forward_objective(coil, head, tgt, pose)
    t_forward = time.perf_counter()
    fast_vs_forward = abs(fast_value - value) / max(abs(value), 1e-300)
    from .placement import scalp_gap

    gap = scalp_gap(pose, head, coil)
    assumptions = {
        "coil": f"{coil.name}: {coil.metadata.get('display_name', coil.name)} (wire model; iron and casing not modelled)",
        "head": (f"{head.name} sphere: scalp {head.scalp_radius * 1e3:.1f} mm, cortex {head.cortex_radius * 1e3:.1f} mm"
                 if not _is_mesh_head(head) else f"{head.name} mesh ({len(head.tets)} tets, {head.frame} frame; "
                 f"{head.provenance.get('model') or head.provenance.get('mesh') or 'user mesh'})"),
        "target": f"{tgt.label}" + (f" — {tgt.source}" if tgt.source else "")
                  + (f"; region of {len(tgt.region)} cortical points within {radius * 1e3:.1f} mm" if radius else ""),
        "objective": ("|E|" if tgt.direction is None else f"E along {tgt.direction_label} "
                      f"({', '.join(f'{x:+.3f}' for x in tgt.direction)})")
                     + (" averaged over the region" if radius else "")
                     + (" (mesh heads: of the region-mean field vector)" if radius and _is_mesh_head(head) else ""),
        "placement": f"coil resting on the scalp + {distance * 1e3:.1f} mm; positions within "
                     f"{search_radius * 1e3:.1f} mm (grid {step * 1e3:.2f} mm), handle every {360 / n_angles:g}°"
                     + (f"; local scalp fit rms {scalp.fit_rms * 1e3:.2f} mm" if _is_mesh_head(head) else ""),
        "evaluator": evaluator.method,
    }
    outside = max([getattr(ev, "max_outside", 0) for ev in [evaluator, *off_evaluators]])
    if outside:
        assumptions["evaluator"] += (f"; up to {outside} of {len(evaluator._q[0])} wire points of a pose fell outside "
                                     "the reciprocal grids (their secondary field was left out of the search; the "
                                     "forward check below is complete)")
    if off_evaluators:
        off_e = np.concatenate([np.linalg.norm(ev(pose[None]), axis=2) for ev in off_evaluators], axis=1)[0]
        assumptions["objective"] += (f" minus {weight:g} × mean |E| at {len(off_points)} cortical points "
                                     f"{np.linalg.norm(off_points - tgt.point, axis=1).mean() * 1e3:.1f} mm from the "
                                     f"target (there {off_e.mean() * 1e6:.3g} V/m per A/µs at the best pose)")
    focal, cortex = {}, None
    if focality:
        focal, cortex = _focality(coil.placed(pose), head, tgt, value)
    mso = None
    stim_name = stimulator
    if goal_e is not None:
        mso, stim_name, note = _mso_for(coil, stimulator, goal_e, value)
        assumptions["stimulator"] = note
    per_as = value
    curve_deg = np.round(np.rad2deg(curve_angles), 9) % 360.0
    order = np.argsort(curve_deg)
    return TargetResult(
        pose=pose, center=pose[:3, 3].copy(), handle=pose[:3, 1].copy(), normal=pose[:3, 2].copy(),
        coil_name=coil.name, head_name=head.name, frame=getattr(head, "frame", "head"),
        target_point=tgt.point, target_label=tgt.label, target_direction=tgt.direction,
        quantity="|E|" if tgt.direction is None else f"E·{tgt.direction_label}", didt=didt,
        target_e=per_as * didt, target_e_per_aus=per_as * 1e6,
        target_efield=(e_vec[0] if len(e_vec) else np.zeros(3)) * didt,
        angle_reference=scalp.reference, angles_deg=curve_deg[order], e_vs_angle=curve[order] * didt,
        focality=focal, goal_e=goal_e, mso_for_goal=mso, stimulator=stim_name,
        fast_vs_forward=fast_vs_forward, scalp_gap_m=max(gap, 0.0) if gap > -1e-9 else gap, n_poses=n_eval,
        assumptions=assumptions, cortex=cortex,
        timing={"placement": t_grid_poses - t_start, "precompute": t_setup - t_grid_poses,
                "grid_search": t_search - t_setup, "grid_poses_per_s": len(poses) / max(t_search - t_setup, 1e-12),
                "refine": t_refine - t_search, "forward_check": t_forward - t_refine,
                "total": time.perf_counter() - t_start},
    )


def _off_target_points(head, tgt: Target, distance: float, n: int) -> np.ndarray:
    """``n`` cortical points (n, 3) m on a ring ``distance`` (m) around the target (mesh: nearest cortex vertices)."""
    p = tgt.point
    if _is_mesh_head(head):
        if head.cortex is None:
            raise TargetError(f"mesh head {head.name!r} has no cortex surface for off-target points")
        normal = _cortex_normal(head, p)
    else:
        normal = (p - np.asarray(head.center)) / np.linalg.norm(p - np.asarray(head.center))
    e1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ring = p + distance * (np.cos(a)[:, None] * e1 + np.sin(a)[:, None] * e2)
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        rho = np.linalg.norm(p - c)
        return c + rho * (ring - c) / np.linalg.norm(ring - c, axis=1)[:, None]
    v = head.cortex.vertices
    return v[[int(np.argmin(np.sum((v - q) ** 2, axis=1))) for q in ring]]


def _mso_for(coil, stimulator, goal_e, e_per_as):
    from .stimulators import StimulatorError, stimulator_pair

    try:
        pair = stimulator_pair(coil.name, stimulator)
    except (StimulatorError, ValueError, KeyError) as exc:
        return None, stimulator, f"no %MSO: {exc}"
    return 100.0 * goal_e / (e_per_as * pair.didt_max), pair.stimulator, pair.describe()


def _focality(placed, head, tgt: Target, e_target_per_as: float):
    """Area (cm²) and depth (mm) above half the cortical maximum, brain fraction above half the target E
    (and above half the maximum), and the cortical field (FieldResult per A/s) they come from."""
    from .fields import cortex_field, mesh_solver
    from .metrics import half_max_depth, half_max_depth_along, surface_metrics

    res = cortex_field(placed, head, 1.0)
    m = surface_metrics(res)
    half_target = 0.5 * abs(e_target_per_as)
    out = {"peak_cortex_vm_per_aus": m["peak_vm"] * 1e6,
           "area_half_max_cm2": m["half_max_area_m2"] * 1e4}
    if not _is_mesh_head(head):
        out["depth_half_max_mm"] = half_max_depth(placed, head, 1.0, m["peak_point_m"]) * 1e3
        pts, vol = _brain_samples(head)
        from .fields import total_efield

        mag = np.linalg.norm(total_efield(placed, head, pts, 1.0), axis=1)
        out["brain_fraction_above_half_target"] = float(vol[mag >= half_target].sum() / vol.sum())
        out["brain_fraction_above_half_max"] = float(vol[mag >= 0.5 * m["peak_vm"]].sum() / vol.sum())
        return out, res
    sol = mesh_solver(head).solve(placed, 1.0)
    mag = np.linalg.norm(sol.efield_tets, axis=1)
    brain = np.isin(head.tags, [1, 2, 11])
    vol = head.tet_volumes
    out["brain_fraction_above_half_target"] = float(vol[brain & (mag >= half_target)].sum() / vol[brain].sum())
    out["brain_fraction_above_half_max"] = float(vol[brain & (mag >= 0.5 * m["peak_vm"])].sum() / vol[brain].sum())
    # depth: along the inward cortical normal at the hot spot, where |E| falls to half
    k = int(res.magnitude.argmax())
    out["depth_half_max_mm"] = half_max_depth_along(sol.efield_at, head, res.points[k], res.normals[k],
                                                    0.5 * _head_size(head)) * 1e3
    return out, res


@functools.lru_cache(maxsize=8)
def _brain_cache(cortex_radius: float, center: tuple, n: int):
    rng = np.random.default_rng(12345)
    pts = rng.uniform(-1.0, 1.0, size=(4 * n, 3))
    pts = pts[np.linalg.norm(pts, axis=1) <= 1.0][:n]
    return np.asarray(center) + cortex_radius * pts, np.ones(len(pts))


def _brain_samples(head, n: int = 3000):
    """Uniform samples (n, 3) m of the brain ball of a sphere head and their weights (all equal)."""
    return _brain_cache(float(head.cortex_radius) * (1 - 1e-6), tuple(np.asarray(head.center, dtype=float)), n)


def write_targeting(result: TargetResult, coil, directory, *, title: str = "") -> list[str]:
    """Write a targeting result into ``directory`` (existing, e.g. a staged output directory).

    Files: ``pose.json`` (everything, :func:`efield._target_io.pose_record`), ``pose_matrix.txt`` (4×4 in mm
    for neuronavigation), ``orientation.png`` (polar plot of the objective against the handle angle),
    ``field.png`` (cortical |E| with the coil in place, if the result has its cortex field) and
    ``summary.md``.  ``coil`` is the coil in its own frame.  Returns the file names written.
    """
    from pathlib import Path

    from ._target_io import write_pose_json, write_pose_matrix
    from .plots import plot_orientation_polar, render_targeting

    out = Path(directory)
    names = []
    write_pose_json(result, out / "pose.json")
    write_pose_matrix(result, out / "pose_matrix.txt")
    names += ["pose.json", "pose_matrix.txt"]
    k = int(np.argmax(result.e_vs_angle))
    plot_orientation_polar(result.angles_deg, result.e_vs_angle, out / "orientation.png",
                           best_deg=float(result.angles_deg[k]),
                           title=title or f"{result.quantity} at {result.target_label}, {result.coil_name}",
                           reference_label="0° = handle towards anterior (+y) on the scalp, counter-clockwise "
                                           "seen from outside")
    names.append("orientation.png")
    if result.cortex is not None:
        placed = coil.placed(result.pose)
        segs = (placed.start, placed.end) if placed.n_segments else None
        mag = result.cortex.magnitude * result.didt
        render_targeting(result.cortex.points, result.cortex.faces, mag, out / "field.png", segments=segs,
                         target_point=result.target_point, coil_center=result.center, coil_normal=result.normal,
                         coil_handle=result.handle,
                         title=title or f"|E| at {result.didt / 1e6:.3g} A/µs: {result.coil_name} on {result.head_name}")
        names.append("field.png")
    lines = ["# Coil targeting", "", "```", result.summary(), "```", "", "## Assumptions", ""]
    lines += [f"- **{k}**: {v}" for k, v in result.assumptions.items()]
    lines += ["", "## Timing (s)", ""] + [f"- {k}: {v:.4g}" for k, v in result.timing.items()]
    lines += ["", f"fast evaluator vs forward model at the best pose: {100 * result.fast_vs_forward:.3g} %"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    names.append("summary.md")
    return names
