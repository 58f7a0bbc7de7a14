"""Nested ellipsoidal tissue layers meshed with gmsh (used by ``scripts/build_heads.py``).

Needs the ``gmsh`` package at build time only; the built meshes ship with the project.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nested_ellipsoids_mesh"]


def nested_ellipsoids_mesh(center, semi_axes, tags, edge: float, *, threads: int = 2):
    """Mesh nested, concentric ellipsoids (outer first) into tagged tetrahedra.

    Parameters
    ----------
    center : (3,) float, metres — common centre.
    semi_axes : sequence of (3,) floats, metres — semi-axes (x, y, z) of each surface, outer to inner;
        each must lie strictly inside the previous one.
    tags : sequence of int — tissue tag of the region just inside each surface (outer to inner).
    edge : float, metres — target edge length.

    Returns
    -------
    nodes (n, 3) metres, tets (m, 4) int64 positively oriented, tags (m,) int32
    """
    import gmsh

    axes = [np.asarray(a, dtype=float) for a in semi_axes]
    for outer, inner in zip(axes, axes[1:]):
        if np.any(inner >= outer):
            raise ValueError(f"semi_axes must shrink inwards; got {outer} then {inner}")
    scale = 1e3  # mesh in millimetres (gmsh tolerances are absolute)
    c = np.asarray(center, dtype=float) * scale
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", threads)
        gmsh.model.add("layers")
        vols = []
        for a in axes:
            s = gmsh.model.occ.addSphere(c[0], c[1], c[2], 1.0)
            gmsh.model.occ.dilate([(3, s)], c[0], c[1], c[2], *(a * scale))
            vols.append(s)
        out, _ = gmsh.model.occ.fragment([(3, vols[0])], [(3, v) for v in vols[1:]])
        gmsh.model.occ.synchronize()
        # identify each fragment by the innermost ellipsoid containing its centre of mass
        regions = []
        for dim, tag in gmsh.model.getEntities(3):
            vol = gmsh.model.occ.getMass(dim, tag)
            regions.append((tag, vol))
        # nested shells: sort fragment volumes descending = outer shell first is not guaranteed;
        # use the bounding box extent instead (outer shell has the largest box)
        boxes = {tag: np.array(gmsh.model.getBoundingBox(3, tag)) for tag, _ in regions}
        order = sorted(boxes, key=lambda t: -(boxes[t][3] - boxes[t][0]))
        for phys, tag in zip(tags, order):
            gmsh.model.addPhysicalGroup(3, [tag], phys)
        gmsh.option.setNumber("Mesh.MeshSizeMin", edge * scale * 0.8)
        gmsh.option.setNumber("Mesh.MeshSizeMax", edge * scale)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)
        gmsh.model.mesh.generate(3)
        node_tags, coords, _ = gmsh.model.mesh.getNodes()
        index = np.zeros(int(node_tags.max()) + 1, dtype=np.int64)
        index[node_tags.astype(np.int64)] = np.arange(len(node_tags))
        nodes = coords.reshape(-1, 3) / scale
        all_tets, all_tags = [], []
        for phys, tag in zip(tags, order):
            types, _, elem_nodes = gmsh.model.mesh.getElements(3, tag)
            for t, en in zip(types, elem_nodes):
                if t == 4:  # 4-node tetrahedron
                    tt = index[en.astype(np.int64)].reshape(-1, 4)
                    all_tets.append(tt)
                    all_tags.append(np.full(len(tt), phys, dtype=np.int32))
    finally:
        gmsh.finalize()
    tets = np.concatenate(all_tets)
    tissue = np.concatenate(all_tags)
    used = np.unique(tets)
    remap = np.full(len(nodes), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    nodes, tets = nodes[used], remap[tets]
    x = nodes[tets]
    vol = np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0])
    flip = vol < 0
    tets[flip] = tets[flip][:, [1, 0, 2, 3]]
    return nodes, tets, tissue
