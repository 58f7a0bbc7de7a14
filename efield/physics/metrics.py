"""Summary numbers of a cortical field: peak, percentiles, focality and depth.

The numbers of one computed field live in :mod:`efield.physics._summary` (re-exported here);
:func:`half_max_depth` computes the field along a radius itself, so it sits above the field code.
"""

from __future__ import annotations

import numpy as np

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
    """Half-peak depth (m) under the cortical |E| hot spot: the depth below the cortex at which |E|
    falls to half its value there — one definition for every command and head.

    Sphere heads: along the radius through the hot spot (:func:`half_max_depth`).  Mesh heads:
    inwards along the cortex normal at the hot spot while inside the mesh, at most 20 mm
    (:func:`half_max_depth_along`).  NaN if |E| never falls to half.

    Parameters
    ----------
    coil : coils.Coil placed in the head frame
    head : SphereHead or MeshHead
    result : FieldResult of ``coil`` on ``head`` (its ``points`` (n, 3) m, ``normals``, ``magnitude``)
    didt : float, A/s (the depth does not depend on it)
    """
    from .placement import is_sphere_head

    k = int(np.argmax(result.magnitude))
    if is_sphere_head(head):
        return half_max_depth(coil, head, didt, result.points[k])
    return half_max_depth_along(lambda pts: total_efield(coil, head, pts, didt), head, result.points[k],
                                result.normals[k], 0.02)
