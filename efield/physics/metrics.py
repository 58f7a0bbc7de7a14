"""Summary numbers of a cortical field: peak, percentiles, focality and depth.

The numbers of one computed field live in :mod:`efield.physics._summary` (re-exported here);
:func:`half_max_depth` computes the field along a radius itself, so it sits above the field code.
"""

from __future__ import annotations

import numpy as np

from meshes import BRAIN_TAGS  # tissue tags counted as brain (white matter, grey matter, one-compartment brain)

from ._summary import half_crossing, half_max_depth_along, surface_metrics, weighted_percentile
from .fields import total_efield

__all__ = ["weighted_percentile", "surface_metrics", "half_max_depth", "half_max_depth_along", "hot_spot_depth"]


def half_max_depth(coil, head, didt, peak_point, *, samples: int = 400, backend: str | None = None) -> float:
    """Depth (m) below the cortical surface, along the radius through ``peak_point``, at which
    |E| falls to half of its value at the cortical surface (linear interpolation between
    ``samples`` points; NaN if it never does).

    Parameters
    ----------
    peak_point : (3,) float array, metres — a point on the cortex (usually the |E| peak).
    """
    c = np.asarray(head.center, dtype=float)
    d = np.asarray(peak_point, dtype=float) - c
    d /= np.linalg.norm(d)
    depth = np.linspace(0.0, head.cortex_radius, samples)
    pts = c + (head.cortex_radius - depth)[:, None] * d
    mag = np.linalg.norm(total_efield(coil, head, pts, didt, backend=backend), axis=1)
    return half_crossing(depth, mag)


def hot_spot_depth(coil, head, result, didt: float = 1.0) -> float:
    """Half-value depth d½ (m; Deng et al. 2013): how deep below the cortical surface the brain still
    sees at least half of the peak cortical |E| — one definition for every command and head.

    Sphere heads: along the radius through the hot spot (:func:`half_max_depth`), where |E| falls
    monotonically.  Mesh heads: the deepest brain tetrahedron (tags 1, 2, 11) whose |E| is at least
    half the peak |E| on the reporting surface, its depth being the distance of its centroid from the
    nearest surface vertex on the inner side (a folded cortex has no single radius; a line from the
    hot spot can cross sulci, where |E| jumps with the conductivity).  NaN if no brain tet reaches half.
    A result from the precomputed cortical field model carries a brain sample (``result.brain``: one
    tetrahedron per voxel cell, ≈ 3 mm on the human head, every brain tet on the rodents); the depth is
    then taken over that sample, with no full solve.

    Parameters
    ----------
    coil : coils.Coil placed in the head frame
    head : SphereHead or MeshHead
    result : FieldResult of ``coil`` on ``head`` at ``didt`` (``points`` (n, 3) m, ``normals``, ``magnitude`` V/m)
    didt : float, A/s — the dI/dt of ``result``
    """
    from scipy.spatial import cKDTree

    from .fields import _solution, mesh_solver
    from .placement import is_sphere_head

    k = int(np.argmax(result.magnitude))
    if is_sphere_head(head):
        return half_max_depth(coil, head, didt, result.points[k])
    half = 0.5 * float(result.magnitude[k])
    brain = getattr(result, "brain", None)
    if brain is not None:  # the precomputed model's brain sample (one tet per voxel cell), as ``result``'s dI/dt
        centroids = brain.points[np.linalg.norm(brain.efield, axis=1) >= half]
    else:
        e = np.linalg.norm(_solution(mesh_solver(head), coil, didt).efield_tets, axis=1)
        centroids = head.tet_centroids[np.isin(head.tags, BRAIN_TAGS) & (e >= half)]
    if not len(centroids):
        return float("nan")
    dist, nearest = cKDTree(result.points).query(centroids)
    inside = np.einsum("ij,ij->i", centroids - result.points[nearest], result.normals[nearest]) < 0
    return float(np.max(np.where(inside, dist, 0.0)))
