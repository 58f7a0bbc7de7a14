"""A culture dish (a cylinder of medium) as a tetrahedral mesh, built with NumPy alone.

Dish frame: origin at the centre of the dish bottom (where the cells grow), +z up through the
medium, metres.  The disc is triangulated on concentric rings (scipy Delaunay of a convex point
set), extruded in layers into prisms, and each prism split into three tetrahedra by the
smallest-global-index rule, which makes neighbouring prisms agree on their shared faces.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import Delaunay

__all__ = ["disc_triangulation", "extrude_to_tets", "culture_dish_mesh"]


def disc_triangulation(radius: float, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (k, 2) m and triangles (t, 3) covering a disc of ``radius`` (m) with edges ≈ ``edge`` (m)."""
    n_rings = max(1, int(math.ceil(radius / edge)))
    pts = [np.zeros((1, 2))]
    for i in range(1, n_rings + 1):
        r = radius * i / n_rings
        n = max(6, int(round(2 * math.pi * r / edge)))
        th = 2 * math.pi * (np.arange(n) + 0.5 * (i % 2)) / n
        pts.append(np.stack([r * np.cos(th), r * np.sin(th)], axis=1))
    p = np.concatenate(pts)
    tri = Delaunay(p).simplices
    # drop slivers Delaunay may put along the convex hull of a polygonal boundary
    a = p[tri[:, 1]] - p[tri[:, 0]]
    b = p[tri[:, 2]] - p[tri[:, 0]]
    area = 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    tri = tri[area > 1e-6 * edge * edge]
    return p, tri


def extrude_to_tets(points2d: np.ndarray, triangles: np.ndarray, z_levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extrude a planar triangulation through ``z_levels`` (metres, increasing) into tetrahedra.

    Returns ``nodes (k·L, 3)`` and positively oriented ``tets (3·t·(L−1), 4)``.
    """
    z = np.asarray(z_levels, dtype=float)
    k, n_layers = len(points2d), len(z)
    nodes = np.concatenate([np.column_stack([points2d, np.full(k, zi)]) for zi in z])
    tri = np.sort(triangles, axis=1)  # v0 < v1 < v2: the shared-diagonal rule needs a global order
    tets = []
    for layer in range(n_layers - 1):
        v = tri + layer * k
        w = v + k
        tets += [np.stack([v[:, 0], v[:, 1], v[:, 2], w[:, 2]], axis=1),
                 np.stack([v[:, 0], v[:, 1], w[:, 1], w[:, 2]], axis=1),
                 np.stack([v[:, 0], w[:, 0], w[:, 1], w[:, 2]], axis=1)]
    tets = np.concatenate(tets).astype(np.int64)
    x = nodes[tets]
    vol = np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0])
    flip = vol < 0
    tets[flip] = tets[flip][:, [1, 0, 2, 3]]
    return nodes, tets


def culture_dish_mesh(diameter: float = 0.035, depth: float = 0.002, edge: float | None = None,
                      tag: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tetrahedral mesh of a dish of medium: ``(nodes (n,3) m, tets (m,4), tags (m,))``.

    Parameters
    ----------
    diameter : float, metres — inner diameter of the dish or well (35 mm dish: 0.035).
    depth : float, metres — height of the medium (e.g. 2 mm for 2 ml in a 35 mm dish).
    edge : float, metres — target edge length (default: depth / 4, at most diameter / 20).
    tag : int — tissue tag given to every tetrahedron (12: culture medium).
    """
    for name, v in (("diameter", diameter), ("depth", depth)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive length in metres; got {v!r}")
    if edge is None:
        edge = min(depth / 4.0, diameter / 20.0)
    if not (math.isfinite(edge) and edge > 0):
        raise ValueError(f"edge must be a positive length in metres; got {edge!r}")
    if diameter / edge > 400:
        raise ValueError(f"edge {edge * 1e3:g} mm is too small for a {diameter * 1e3:g} mm dish (> 400 rings)")
    p2, tri = disc_triangulation(diameter / 2.0, edge)
    n_z = max(2, int(math.ceil(depth / edge)) + 1)
    nodes, tets = extrude_to_tets(p2, tri, np.linspace(0.0, depth, n_z))
    return nodes, tets, np.full(len(tets), tag, dtype=np.int32)
