"""Putting a coil on a head: scalp contact points, smoothed scalp normals and resting poses.

A coil *rests* on the head when its flat casing bottom (the coil frame's z = 0 plane) is tangent to
the scalp at the contact point and no scalp point under the coil's footprint lies above that plane.
On a sphere this is the tangent plane; on a mesh head (staircase voxel scalps included) the outward
normal is averaged over a patch of the scalp and the coil is lifted along it until the footprint
clears the scalp.  ``distance`` (hair, cap, air) is added on top.  Metres throughout.
"""

from __future__ import annotations

import numpy as np

from .._common.validation import as_points, as_scalar

__all__ = ["footprint_radius", "resting_pose", "scalp_contact", "scalp_gap", "smoothing_radius", "is_mesh_head",
           "is_sphere_head"]


def is_sphere_head(head) -> bool:
    """True for a concentric-sphere head (``meshes.SphereHead`` or anything with its attributes)."""
    return all(hasattr(head, a) for a in ("center", "scalp_radius", "cortex_radius", "layers"))


def is_mesh_head(head) -> bool:
    """True for a tetrahedral head (``meshes.MeshHead`` or anything with its attributes)."""
    return all(hasattr(head, a) for a in ("nodes", "tets", "tags", "conductivity"))


_is_mesh_head = is_mesh_head


def footprint_radius(coil, margin: float = 0.002) -> float:
    """Radius (m) of the disc around the coil axis that holds every wire (coil frame) plus ``margin`` (m)."""
    pts = np.asarray(coil.points, dtype=float)
    if len(pts) == 0:
        return margin
    return float(np.sqrt(pts[:, 0] ** 2 + pts[:, 1] ** 2).max()) + margin


def smoothing_radius(head) -> float:
    """Radius (m) of the scalp patch averaged for a mesh head's normal: 5 % of its bounding-box diagonal
    (≈ 16 mm on the built-in human head, ≈ 2 mm on the rat), at least twice the mean edge length."""
    s = head.scalp
    diag = float(np.linalg.norm(s.vertices.max(axis=0) - s.vertices.min(axis=0)))
    return max(0.05 * diag, 2.0 * s.mean_edge_length)


def scalp_contact(head, point, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The scalp point nearest to ``point`` and the outward scalp normal there.

    Parameters
    ----------
    head : meshes.SphereHead or meshes.MeshHead (with a ``scalp`` surface)
    point : (3,) float array, metres — any point (a cortical target, a rough coil position)
    radius : float, metres, optional — patch radius for the mesh normal (default :func:`smoothing_radius`)

    Returns
    -------
    contact : (3,) float array, metres; normal : (3,) float array, unit, pointing out of the head
    """
    p = as_points(np.reshape(point, (1, 3)), "point")[0]
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        d = p - c
        n = d / np.linalg.norm(d) if np.linalg.norm(d) > 0 else np.array([0.0, 0.0, 1.0])
        return c + head.scalp_radius * n, n
    if head.scalp is None:
        raise ValueError(f"mesh head {head.name!r} has no scalp surface to place a coil on")
    v = head.scalp.vertices
    k = int(np.argmin(np.sum((v - p) ** 2, axis=1)))
    return v[k].copy(), _patch_normal(head, v[k], radius)


def _patch_normal(head, at, radius=None) -> np.ndarray:
    """Area-weighted outward normal of the scalp triangles within ``radius`` (m) of ``at`` (3,)."""
    s = head.scalp
    rad = smoothing_radius(head) if radius is None else as_scalar(radius, "radius", "m", positive=True,
                                                                  allow_zero=False)
    dist = np.linalg.norm(s.face_centroids - at, axis=1)  # centroids and area vectors are cached per surface
    near = dist <= rad
    if not near.any():
        near = np.argsort(dist)[:8]
    n = s.face_area_vectors[near].sum(axis=0)
    # faces are counter-clockwise seen from outside; check against the vertex normals all the same
    if n @ s.normals[s.faces[near]].reshape(-1, 3).sum(axis=0) < 0:
        n = -n
    return n / np.linalg.norm(n)


def resting_pose(coil, head, contact, normal, handle, distance: float = 0.0) -> np.ndarray:
    """Pose (4×4, metres) of ``coil`` resting on the scalp at ``contact`` with its handle along ``handle``.

    Parameters
    ----------
    coil : coils.Coil in its own frame (its footprint sets which scalp points must stay below it)
    head : SphereHead or MeshHead
    contact : (3,) float array, metres — scalp point under the coil centre
    normal : (3,) float array — outward normal there (direction only)
    handle : (3,) float array — handle direction (its normal component is removed)
    distance : float, metres, >= 0 — extra gap between the casing bottom and the scalp

    On a mesh head the coil is then lifted along ``normal`` until no scalp vertex within its footprint
    (:func:`footprint_radius`) lies above the casing bottom (:func:`scalp_gap` measures the result).
    """
    from coils import coil_pose

    pose = coil_pose(contact, normal, handle, distance)
    if not _is_mesh_head(head):
        return pose
    lift = _lift(head.scalp.vertices, pose[:3, 3], pose[:3, 2], footprint_radius(coil))
    pose[:3, 3] += lift * pose[:3, 2]
    return pose


def _lift(vertices, origin, n, radius) -> float:
    rel = vertices - origin
    h = rel @ n
    lateral = np.linalg.norm(rel - h[:, None] * n, axis=1)
    under = lateral <= radius
    return float(max(0.0, h[under].max(initial=0.0)))


def scalp_gap(pose, head, coil) -> float:
    """Smallest height (m) of the scalp below the casing bottom within the coil footprint (≥ 0: no contact
    inside the head; 0: resting).  ``pose`` (4, 4) m, ``coil`` in its own frame."""
    pose = np.asarray(pose, dtype=float)
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        return float((pose[:3, 3] - c) @ pose[:3, 2] - head.scalp_radius)
    rel = head.scalp.vertices - pose[:3, 3]
    h = rel @ pose[:3, 2]
    lateral = np.linalg.norm(rel - h[:, None] * pose[:3, 2], axis=1)
    return float(np.min(-h[lateral <= footprint_radius(coil)], initial=np.inf))
