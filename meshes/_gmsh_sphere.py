"""Tetrahedral meshes of concentric spheres, built with the gmsh Python API (geometry only).

Frame: the spheres are centred at the origin, metres.  gmsh is imported lazily, so importing
:mod:`meshes` does not need it.
"""

from __future__ import annotations

import logging
import math

import numpy as np

__all__ = ["concentric_sphere_mesh"]

logger = logging.getLogger(__name__)


def _check(radii, tags, edge_length, refine_cap):
    r = np.asarray(radii, dtype=float).reshape(-1)
    if r.size == 0 or not np.isfinite(r).all() or (r <= 0).any():
        raise ValueError(f"radii must be finite positive radii in metres, outer to inner; got {radii!r}")
    if (np.diff(r) >= 0).any():
        raise ValueError(f"radii must be strictly decreasing (outer to inner), metres; got {r.tolist()}")
    t = np.asarray(tags).reshape(-1)
    if t.shape != r.shape or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"tags must be {r.size} integers, one per radius; got {tags!r}")
    h = float(edge_length)
    if not (math.isfinite(h) and 0 < h < r[0]):
        raise ValueError(f"edge_length must be in (0, {r[0]}) metres; got {edge_length!r}")
    if r[0] / h > 400:
        raise ValueError(f"edge_length {h} m is too small for a sphere of radius {r[0]} m (> 400 edges per radius)")
    cap = None
    if refine_cap is not None:
        try:
            center, radius, coarse = refine_cap
            center = np.asarray(center, dtype=float).reshape(3)
            radius, coarse = float(radius), float(coarse)
        except (TypeError, ValueError):
            raise ValueError(
                "refine_cap must be (center (3,) m, radius m, coarse edge length m); " f"got {refine_cap!r}"
            ) from None
        if not (np.isfinite(center).all() and radius > 0 and coarse >= h):
            raise ValueError(f"refine_cap needs radius > 0 and a coarse edge length >= edge_length; got {refine_cap!r}")
        cap = (center, radius, coarse)
    return r, t.astype(np.int32), h, cap


def concentric_sphere_mesh(radii, tags, edge_length, *, refine_cap=None, threads: int = 1):
    """Tetrahedral mesh of nested spherical shells centred at the origin.

    Parameters
    ----------
    radii : (k,) float array, metres
        Outer radii of the shells, outside in (strictly decreasing); the last one is a full ball.
    tags : (k,) int array
        Tag of each shell (e.g. the index of the tissue), same order as ``radii``.
    edge_length : float, metres
        Target tetrahedron edge length (everywhere, or inside ``refine_cap``).
    refine_cap : (center (3,) m, radius m, coarse edge length m), optional
        Mesh with ``edge_length`` only inside the ball of ``radius`` around ``center`` and grow
        the edges linearly to ``coarse`` over one ``radius`` outside it.

    Returns
    -------
    nodes : (n, 3) float64, metres
    tets : (m, 4) int64, indices into ``nodes``, positively oriented (positive volume)
    tet_tags : (m,) int32, the tag of the shell holding each tetrahedron
    """
    r, t, h, cap = _check(radii, tags, edge_length, refine_cap)
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.Verbosity", 0)
        # one thread: the HXT mesher is then repeatable (2 threads give a different mesh each run)
        gmsh.option.setNumber("General.NumThreads", int(threads))
        gmsh.model.add("concentric_spheres")
        balls = [gmsh.model.occ.addSphere(0.0, 0.0, 0.0, float(radius)) for radius in r]
        gmsh.model.occ.fragment([(3, balls[0])], [(3, b) for b in balls[1:]])
        gmsh.model.occ.synchronize()
        # classify each resulting volume by its volume (shells are concentric, so masses differ)
        shell_vol = 4.0 / 3.0 * math.pi * (r**3 - np.append(r[1:], 0.0) ** 3)
        volumes = gmsh.model.getEntities(3)
        entity_tag = {}
        for dim, tag in volumes:
            mass = gmsh.model.occ.getMass(dim, tag)
            entity_tag[tag] = int(t[int(np.argmin(np.abs(shell_vol - mass)))])
        if sorted(entity_tag.values()) != sorted(t.tolist()):
            raise RuntimeError(f"gmsh produced volumes {entity_tag} that do not match the shells {t.tolist()}")

        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT
        gmsh.option.setNumber("Mesh.Optimize", 1)
        if cap is None:
            gmsh.option.setNumber("Mesh.MeshSizeMin", h)
            gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        else:
            center, radius, coarse = cap
            f = gmsh.model.mesh.field.add("Ball")
            gmsh.model.mesh.field.setNumber(f, "Radius", radius)
            gmsh.model.mesh.field.setNumber(f, "Thickness", radius)
            gmsh.model.mesh.field.setNumber(f, "VIn", h)
            gmsh.model.mesh.field.setNumber(f, "VOut", coarse)
            for name, value in zip(("XCenter", "YCenter", "ZCenter"), center):
                gmsh.model.mesh.field.setNumber(f, name, float(value))
            gmsh.model.mesh.field.setAsBackgroundMesh(f)
            gmsh.option.setNumber("Mesh.MeshSizeMax", coarse)
        gmsh.model.mesh.generate(3)

        node_tags, coords, _ = gmsh.model.mesh.getNodes()
        order = np.argsort(node_tags)
        node_tags = np.asarray(node_tags)[order]
        nodes = np.asarray(coords, dtype=float).reshape(-1, 3)[order]
        lookup = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
        lookup[node_tags] = np.arange(len(node_tags))
        tet_blocks, tag_blocks = [], []
        for dim, tag in volumes:
            types, _, conn = gmsh.model.mesh.getElements(dim, tag)
            for etype, c in zip(types, conn):
                if etype != 4:  # 4-node tetrahedra only
                    continue
                tt = lookup[np.asarray(c, dtype=np.int64).reshape(-1, 4)]
                tet_blocks.append(tt)
                tag_blocks.append(np.full(len(tt), entity_tag[tag], dtype=np.int32))
    finally:
        gmsh.finalize()

    tets = np.concatenate(tet_blocks)
    tet_tags = np.concatenate(tag_blocks)
    used = np.zeros(len(nodes), dtype=bool)
    used[tets.ravel()] = True
    if not used.all():  # drop nodes that belong to no tetrahedron (none expected)
        remap = np.cumsum(used) - 1
        nodes, tets = nodes[used], remap[tets]
    p = nodes[tets]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    flip = vol < 0
    tets[flip] = tets[flip][:, [0, 2, 1, 3]]
    logger.info("concentric_sphere_mesh: %d nodes, %d tets", len(nodes), len(tets))
    return np.ascontiguousarray(nodes), np.ascontiguousarray(tets, dtype=np.int64), tet_tags
