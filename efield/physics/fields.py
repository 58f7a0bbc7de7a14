"""Fields of a placed coil in a head: the objects users hold (tier three).

``total_efield`` dispatches on the head model; ``cortex_field`` evaluates E on the head's
cortical surface and returns a :class:`FieldResult` that carries its provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import weakref

import numpy as np

from .._common.validation import MODEL_CHOICES, as_points, as_scalar
from .placement import is_mesh_head as _is_mesh_head
from .placement import is_sphere_head as _is_sphere_head
from .sphere import source_distance, sphere_efield

__all__ = ["FieldResult", "total_efield", "cortex_field", "check_coil_outside", "standard_pose"]


from ._solvers import mesh_solver  # noqa: E402,F401  (kept here: the name every caller imports)


def _solution(solver, coil, didt):
    """The FEM solution of ``coil`` at ``didt`` on ``solver``; the last one is kept, so that the cortex
    field and the depth profile of one pose need one solve."""
    last = getattr(solver, "_last_solution", None)
    if last is not None and last[0]() is coil and last[1] == didt:
        return last[2]
    sol = solver.solve(coil, didt)
    try:
        solver._last_solution = (weakref.ref(coil), didt, sol)
    except TypeError:  # an object that cannot be weakly referenced: do not keep it
        pass
    return sol


def _wire_samples(coil, lo, hi, spacing: float = 0.5e-3) -> np.ndarray:
    """Points (n, 3) m of ``coil``: its dipoles and wire end points, and points at most ``spacing`` (m)
    apart along every wire segment whose bounding box meets the box ``lo``-``hi`` (m)."""
    pts = [np.asarray(coil.points, dtype=float).reshape(-1, 3)]
    if coil.n_segments:
        a, b = np.asarray(coil.start, dtype=float), np.asarray(coil.end, dtype=float)
        near = np.all(np.minimum(a, b) <= hi, axis=1) & np.all(np.maximum(a, b) >= lo, axis=1)
        a, b = a[near], b[near]
        n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / spacing)).astype(int)
        idx = np.repeat(np.arange(len(a)), n)
        k = np.concatenate([np.arange(1, m + 1) for m in n]) if len(a) else np.zeros(0)
        f = (k / n[idx])[:, None]
        pts.append(a[idx] + f * (b[idx] - a[idx]))
    return np.concatenate(pts)


def _check_coil_outside_mesh(coil, head) -> None:
    """Refuse a coil any of whose wires (sampled every 0.5 mm, not only at the segment ends) or dipoles
    lies inside the mesh head."""
    lo, hi = head.nodes.min(axis=0), head.nodes.max(axis=0)
    pts = _wire_samples(coil, lo, hi)
    box = np.all((pts >= lo) & (pts <= hi), axis=1)
    inside = np.zeros(len(pts), dtype=bool)
    inside[box] = head.contains(pts[box])
    if np.any(inside):
        p = pts[np.flatnonzero(inside)[0]] * 1e3
        raise ValueError(
            f"coil {coil.name!r} intersects the head: its wires pass inside the {head.name!r} mesh "
            f"({int(inside.sum())} sample point(s) every 0.5 mm along them), e.g. at "
            f"({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm; place it outside the scalp"
        )


def check_coil_outside(coil, head) -> float:
    """Raise ``ValueError`` if any wire or dipole of ``coil`` lies inside the scalp of ``head``.

    Returns the clearance (m) between the nearest source and the scalp surface.
    """
    d_src = source_distance(coil, head.center)
    if d_src <= head.scalp_radius:
        raise ValueError(
            f"coil {coil.name!r} intersects the head: its nearest wire or dipole is "
            f"{d_src * 1e3:.2f} mm from the centre of the {head.name!r} sphere head, inside the scalp "
            f"(radius {head.scalp_radius * 1e3:.2f} mm); place it outside, e.g. with coils.coil_pose(...)"
        )
    return d_src - head.scalp_radius


def total_efield(coil, head, points, didt, *, backend: str | None = None) -> np.ndarray:
    """Total induced electric field (primary + charges) at points inside a head.

    Parameters
    ----------
    coil : coils.Coil
        Coil placed in the head frame (``coil.placed(pose)``).
    head : meshes.SphereHead or meshes.MeshHead
        Head model (``meshes.sphere_head("human")``: analytic; ``meshes.builtin_head("rat")`` or
        ``meshes.load_head(path)``: second-order FEM, solver kept per head for further poses).
    points : (n, 3) float array, metres
        Evaluation points inside the head (head frame).
    didt : float, A/s
        Rate of change of the coil current.

    Returns
    -------
    (n, 3) float array, V/m.
    """
    pts = as_points(points)
    didt = as_scalar(didt, "didt", "A/s")
    if _is_mesh_head(head):
        _check_coil_outside_mesh(coil, head)
        outside = np.flatnonzero(~head.contains(pts))
        if len(outside):
            p = pts[outside[0]] * 1e3
            raise ValueError(f"points[{outside[0]}] at ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) mm is outside the "
                             f"{head.name!r} mesh ({len(outside)} point(s) outside)")
        return _solution(mesh_solver(head), coil, didt).efield_at(pts)
    if not _is_sphere_head(head):
        raise TypeError("head must be a sphere head (meshes.sphere_head) or a mesh head (meshes.builtin_head, "
                        f"meshes.load_head); got {type(head).__name__}")
    check_coil_outside(coil, head)
    radius = np.linalg.norm(pts - np.asarray(head.center), axis=1)
    outside = np.flatnonzero(radius > head.scalp_radius * (1 + 1e-12))
    if len(outside):
        i = outside[0]
        raise ValueError(
            f"points[{i}] is outside the {head.name!r} head: {radius[i] * 1e3:.2f} mm from its centre, "
            f"scalp radius {head.scalp_radius * 1e3:.2f} mm ({len(outside)} point(s) outside)"
        )
    return sphere_efield(coil, pts, didt, center=head.center, backend=backend)


def vertex_areas(points, faces) -> np.ndarray:
    """Area (n,) m² per vertex of a triangle surface: a third of each adjacent triangle.

    points : (n, 3) float array, m; faces : (f, 3) int array of vertex indices"""
    p = np.asarray(points, dtype=float)
    f = np.asarray(faces, dtype=np.int64)
    area = 0.5 * np.linalg.norm(np.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]]), axis=1)
    out = np.zeros(len(p))
    for j in range(3):
        np.add.at(out, f[:, j], area / 3.0)
    return out


@dataclass(frozen=True, eq=False)
class FieldResult:
    """E on a set of points (usually the cortical surface), with its provenance.

    Attributes
    ----------
    points : (n, 3) float array, metres (head frame)
    efield : (n, 3) float array, V/m at ``didt``
    didt : float, A/s
    normals : (n, 3) float array or None, unit outward cortical normals
    faces : (m, 3) int array or None, triangles over ``points`` (for plots and areas)
    info : mapping of provenance and assumptions (coil, head, pose, stimulator, ...)
    brain : :class:`efield.physics.cortex_model.BrainField` or None — E at a weighted sample of the brain
        volume, at the same ``didt`` (given by the precomputed cortical field model: half-value depth and
        brain fractions then need no full solve)
    """

    points: np.ndarray
    efield: np.ndarray
    didt: float
    normals: np.ndarray | None = None
    faces: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    brain: Any = None

    def __post_init__(self):
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def magnitude(self) -> np.ndarray:
        """|E| (n,), V/m."""
        return np.linalg.norm(self.efield, axis=1)

    @property
    def normal_component(self) -> np.ndarray:
        """E · n (n,), V/m (positive pointing out of the cortex); needs ``normals``."""
        if self.normals is None:
            raise ValueError("this field has no surface normals")
        return np.einsum("ij,ij->i", self.efield, self.normals)

    def scaled(self, didt: float) -> "FieldResult":
        """The same field at another dI/dt (A/s): the field is linear in dI/dt."""
        didt = as_scalar(didt, "didt", "A/s")
        factor = didt / self.didt if self.didt else 0.0
        brain = None if self.brain is None else self.brain.scaled(factor)
        return FieldResult(self.points, self.efield * factor, didt, self.normals, self.faces, self.info, brain)

    @property
    def metrics(self) -> dict:
        """Peak, 99th/99.9th area-weighted percentiles (V/m), half-max area (m²) and peak point (m) of |E|
        (:func:`efield.physics.metrics.surface_metrics`)."""
        from ._summary import surface_metrics

        return surface_metrics(self)

    def vertex_areas(self) -> np.ndarray:
        """Area (n,) m² attributed to each point (a third of each adjacent triangle)."""
        if self.faces is None:
            raise ValueError("this field has no triangles")
        return vertex_areas(self.points, self.faces)


def cortex_field(coil, head, didt, *, n_subdiv: int = 5, backend: str | None = None,
                 model: str = "fem") -> FieldResult:
    """E on the cortical surface of a head for a placed coil.

    Parameters
    ----------
    coil : coils.Coil
        Coil placed in the head frame.
    head : meshes.SphereHead or meshes.MeshHead
    didt : float, A/s
    n_subdiv : int
        Icosphere subdivision level of the cortical shell of sphere heads (5 → 10,242 vertices, mean edge
        0.038 × radius: 2.6 mm on the 70 mm human cortex).
    model : {"fem", "auto", "precomputed"}
        Mesh heads: "fem" solves the head (default); "precomputed" uses the head's cortical field model
        (:mod:`efield.physics.cortex_model`, built and cached if missing); "auto" uses it when it is
        cached and solves otherwise.  ``info["precomputed"]`` says which one ran.
    """
    if model not in MODEL_CHOICES:
        raise ValueError(f"model must be one of {', '.join(MODEL_CHOICES)}; got {model!r}")
    if _is_mesh_head(head):
        surf = head.cortex
        if surf is None:
            raise ValueError(f"mesh head {head.name!r} has no cortex surface to report E on")
        note = ""
        if model != "fem":
            res, note = _precomputed_cortex_field(coil, head, didt, build=(model == "precomputed"))
            if res is not None:
                return res
        e = total_efield(coil, head, surf.vertices, didt)
        info = {"coil": coil.name, "head": head.name, "frame": head.frame,
                "pose": np.asarray(coil.metadata.get("pose", np.eye(4))).tolist(),
                "model": "second-order FEM on the head mesh (efield.physics.fem)",
                "cortex": str(head.provenance.get("cortex", "mesh cortex surface")),
                **({"model_note": note} if note else {})}
        return FieldResult(surf.vertices, e, float(didt), surf.normals, surf.faces, info)
    surf = head.cortex_surface(n_subdiv)
    e = total_efield(coil, head, surf.vertices, didt, backend=backend)
    info = {
        "coil": coil.name,
        "head": head.name,
        "pose": np.asarray(coil.metadata.get("pose", np.eye(4))).tolist(),
        "cortex_radius_m": float(head.cortex_radius),
        "scalp_radius_m": float(head.scalp_radius),
        "model": "analytic spherical conductor (Heller & van Hulsteyn 1992; Eaton 1992)",
    }
    return FieldResult(surf.vertices, e, float(didt), surf.normals, surf.faces, info)


def _precomputed_cortex_field(coil, head, didt, build: bool):
    """(the cortex field from the head's precomputed model, "") — or (None, why not) where the head has no
    cached model and ``build`` is False, or where (``build`` False: "auto") the pose's fit residual is above
    the model's limit."""
    from .cortex_model import RESIDUAL_LIMIT, BrainField, cortex_model, residual_warning

    cm = cortex_model(head, build=build)
    if cm is None:
        return None, ""
    _check_coil_outside_mesh(coil, head)
    pose = np.asarray(coil.metadata.get("pose", np.eye(4)), dtype=float)
    own = coil.placed(np.linalg.inv(pose))  # the coil in its own frame
    brain = None
    if len(cm.brain_points):
        e, eb = cm.field(own, pose, float(didt), brain=True)
        e, brain = e[0], BrainField(cm.brain_points, eb[0], cm.brain_weights)
    else:
        e = cm.field(own, pose, float(didt))[0]
    resid = float(cm.last_residual[0])
    if resid > RESIDUAL_LIMIT and not build:  # "auto": too far outside the model's basis here; solve the head
        return None, ("the cached cortical field model was not used: the coil's field at this pose lies more "
                      "than its residual limit outside the model's basis")
    warning = residual_warning(resid)
    warning += "; --model fem solves the head" if warning else ""
    info = {"coil": coil.name, "head": head.name, "frame": head.frame, "pose": pose.tolist(),
            "model": cm.info.get("model", "precomputed cortical field model"), "precomputed": True,
            "model_key": cm.key, "model_fit_residual": resid, "model_warning": warning,
            "depth_note": ("half-value depth over the model's brain sample: " + cm.info["brain_sample"]
                           if brain is not None and "brain_sample" in cm.info else ""),
            "cortex": str(head.provenance.get("cortex", "mesh cortex surface"))}
    return FieldResult(cm.points, e, float(didt), cm.normals, cm.faces, info, brain), ""


def standard_pose(head, handle=(0.0, 1.0, 0.0), distance: float = 0.0, coil=None) -> np.ndarray:
    """Pose (4×4, metres) of a coil centred over the top (+z) of a head, handle along ``handle``.

    Sphere heads: over the top of the sphere.  Mesh heads: over the highest scalp point above the
    frame origin (bregma for rodents, the anterior commissure in MNI space; the scalp's centre in a
    subject's own frame), with the scalp normal
    averaged over a patch (:func:`efield.physics.placement.scalp_contact`); given ``coil`` (in its own
    frame), the coil is lifted until it rests on the scalp without cutting into it
    (:func:`efield.physics.placement.resting_pose`).  Dish: under the dish, facing up.
    ``distance`` (m, >= 0) is an extra gap between casing and scalp."""
    from coils import coil_pose

    from .placement import _patch_normal, resting_pose

    if _is_mesh_head(head) and head.frame == "dish":
        # under the dish, coil facing up, its casing against the dish bottom
        return coil_pose(np.zeros(3), (0.0, 0.0, -1.0), handle, distance)
    if _is_mesh_head(head):
        v = head.scalp.vertices
        # above the frame origin in MNI and bregma frames; above the scalp's centre in a subject's own frame
        origin = np.zeros(2) if head.frame in ("MNI", "bregma") else v[:, :2].mean(axis=0)
        near = np.linalg.norm(v[:, :2] - origin, axis=1)
        ring = near <= max(np.sort(near)[min(5, len(near) - 1)], 1e-9)
        k = np.flatnonzero(ring)[np.argmax(v[ring, 2])]
        normal = _patch_normal(head, v[k])
        if coil is None:
            return coil_pose(v[k], normal, handle, distance)
        return resting_pose(coil, head, v[k], normal, handle, distance)
    top = np.asarray(head.center, dtype=float) + [0.0, 0.0, head.scalp_radius]
    return coil_pose(top, (0.0, 0.0, 1.0), handle, distance)


def simulate(coil, head, didt, *, pose=None, handle=(0.0, 1.0, 0.0), distance: float = 0.0,
             n_subdiv: int = 5) -> FieldResult:
    """E on the cortex of ``head`` for ``coil`` at ``didt``: sphere heads analytically, mesh heads by FEM.

    Parameters
    ----------
    coil : coils.Coil in its own frame, or a preset id
    head : SphereHead or MeshHead (e.g. ``meshes.builtin_head("human")``)
    didt : float, A/s
    pose : (4, 4) float array, metres, optional — coil frame → head frame (e.g. from
        :func:`efield.optimize_pose`); default :func:`standard_pose` (over the top, resting on the scalp)
    handle : (3,) float array — handle direction for the default pose
    distance : float, metres — extra coil–scalp gap for the default pose
    n_subdiv : int — cortex sphere resolution (sphere heads)

    Returns
    -------
    FieldResult — ``efield`` (n, 3) V/m on the cortex, ``magnitude``, ``normal_component`` and
    ``metrics`` (peak, percentiles, half-max area); ``info`` records coil, head, pose and model.
    """
    from coils import load_coil

    if isinstance(coil, str):
        coil = load_coil(coil)
    if pose is None:
        pose = standard_pose(head, handle=handle, distance=distance, coil=coil)
    return cortex_field(coil.placed(pose), head, didt, n_subdiv=n_subdiv)
