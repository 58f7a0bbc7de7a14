"""Voxel heads: labelled voxel volumes as conforming tetrahedral meshes, and the built-in human head.

Everything here is NumPy/SciPy (no gmsh, nilearn or mne at run time).

* :func:`voxelize_surface` — which voxel centres lie inside a closed triangulated surface
  (vectorised ray casting along +z, parity of the crossings); used by ``scripts/build_heads.py``.
* :func:`voxel_tet_mesh` — every labelled voxel split into 6 tetrahedra by the Kuhn
  (Freudenthal) split along the cube's main diagonal.  The split is the same in every voxel, so
  neighbouring voxels cut their shared square along the same diagonal: the mesh is conforming.
  Shared nodes are merged by grid position (integer indices, no floating-point merging).
* :func:`resample_labels`, :func:`clean_labels` — coarser nearest-neighbour label volumes whose
  outer boundary is a closed 2-manifold (one face-connected component, no cavities, no voxels that
  meet only along an edge or at a corner).
* :func:`separate_brain_from_skull` — a CSF layer between brain and bone after resampling.
* :func:`human_head` — the built-in ``"human"`` head from ``meshes/data/heads/human_labels.npz``.

Grid convention (all functions): voxel ``[i, j, k]`` is the cube centred at
``origin + (i, j, k) * voxel`` with edge ``voxel``; axes are x, y, z of the frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._mesh import MeshHead, surface_from_faces
from ._surface import Surface

__all__ = [
    "HUMAN_VOXEL",
    "KUHN_TETS",
    "clean_labels",
    "cortex_surface",
    "human_head",
    "resample_labels",
    "separate_brain_from_skull",
    "voxel_tet_mesh",
    "voxelize_surface",
]

#: Edge of the voxels the human head is meshed from, metres: the finest 0.1 mm step giving at most
#: 1.3 M tetrahedra (2.6 mm: 1.25 M; 2.5 mm would give 1.41 M).
HUMAN_VOXEL = 2.6e-3

#: Corners of the unit cube, numbered ``c = 4·dx + 2·dy + dz``.
_CORNERS = np.array([[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)], dtype=np.int64)


def _kuhn_tets() -> np.ndarray:
    """The 6 Kuhn tetrahedra of the unit cube as (6, 4) corner numbers, positively oriented.

    Each is the path (0,0,0) → e_a → e_a + e_b → (1,1,1) for one permutation (a, b, c) of the
    axes; its signed volume is sign(permutation)/6, so odd permutations swap their last two nodes.
    """
    out = []
    for a, b, _c in ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2)):
        p1 = np.zeros(3, dtype=np.int64)
        p1[a] = 1
        p2 = p1.copy()
        p2[b] = 1
        path = [np.zeros(3, dtype=np.int64), p1, p2, np.ones(3, dtype=np.int64)]
        ids = [int(4 * p[0] + 2 * p[1] + p[2]) for p in path]
        x = _CORNERS[ids].astype(float)
        if np.linalg.det(x[1:] - x[0]) < 0:
            ids = [ids[0], ids[1], ids[3], ids[2]]
        out.append(ids)
    return np.array(out, dtype=np.int64)


#: The Kuhn split: (6, 4) corner numbers (see ``_CORNERS``) of the tetrahedra of one voxel.
KUHN_TETS = _kuhn_tets()


# --------------------------------------------------------------------------- voxelisation
def voxelize_surface(vertices, faces, origin, voxel: float, shape) -> np.ndarray:
    """Voxel centres inside a closed triangulated surface, by ray parity along +z.

    Parameters
    ----------
    vertices : (n, 3) float array, same length unit as ``origin`` and ``voxel`` (e.g. mm)
    faces : (m, 3) int array, vertex indices (orientation is not used)
    origin : (3,) float, centre of voxel ``[0, 0, 0]``
    voxel : float, voxel edge
    shape : (nx, ny, nz) ints, grid size

    Returns
    -------
    (nx, ny, nz) bool array: True where the voxel centre is inside the surface (an odd number of
    surface crossings below it on the vertical line through it).

    Each grid column is a ray along z; a triangle is crossed by the columns whose (x, y) lies
    in its xy-projection.  The surface is shifted by ~1e-6 voxel in x and y (a fixed irrational
    offset) so that no ray passes exactly through an edge or vertex, which would count a crossing
    twice; the shift moves the classification of no voxel centre farther than that from the surface.
    """
    shape = tuple(int(s) for s in shape)
    v = (np.asarray(vertices, dtype=np.float64) - np.asarray(origin, dtype=np.float64)) / float(voxel)
    v[:, 0] += 1e-6 * np.sqrt(2.0)
    v[:, 1] += 1e-6 * np.sqrt(3.0)
    tri = v[np.asarray(faces, dtype=np.int64)]  # (m, 3 vertices, 3 coords), grid-index units
    lo = np.ceil(tri[:, :, :2].min(axis=1)).astype(np.int64)
    hi = np.floor(tri[:, :, :2].max(axis=1)).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, np.array(shape[:2]) - 1)
    span = np.maximum(hi - lo + 1, 0)
    count = span[:, 0] * span[:, 1]
    owner = np.repeat(np.arange(len(tri)), count)
    offs = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    ix = lo[owner, 0] + offs // np.maximum(span[owner, 1], 1)
    iy = lo[owner, 1] + offs % np.maximum(span[owner, 1], 1)
    a, b, c = tri[owner, 0], tri[owner, 1], tri[owner, 2]
    ab, ac = b - a, c - a
    det = ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]
    px, py = ix - a[:, 0], iy - a[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (px * ac[:, 1] - py * ac[:, 0]) / det
        t = (ab[:, 0] * py - ab[:, 1] * px) / det
    hit = (det != 0) & (s >= 0) & (t >= 0) & (s + t <= 1)
    z = a[hit, 2] + s[hit] * ab[hit, 2] + t[hit] * ac[hit, 2]
    # the crossing flips the inside state of every voxel centre above it
    k = np.clip(np.ceil(z).astype(np.int64), 0, shape[2])
    nx, ny, nz = shape
    flat = (ix[hit] * ny + iy[hit]) * (nz + 1) + k
    flips = np.bincount(flat, minlength=nx * ny * (nz + 1)).reshape(nx, ny, nz + 1)
    return (np.cumsum(flips, axis=2)[:, :, :nz] % 2).astype(bool)


# --------------------------------------------------------------------------- voxels → tetrahedra
def voxel_tet_mesh(labels, origin, voxel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split every labelled voxel (label > 0) into the 6 Kuhn tetrahedra; conforming mesh.

    Parameters
    ----------
    labels : (nx, ny, nz) int array, tissue tag per voxel, 0 = outside
    origin : (3,) float, centre of voxel ``[0, 0, 0]`` (length unit of the output, e.g. metres)
    voxel : float, voxel edge (same unit)

    Returns
    -------
    nodes : (n, 3) float64, the voxel corners used by some tetrahedron (same unit as ``origin``),
        ordered by grid position
    tets : (6·v, 4) int64, node indices, positively oriented (signed volume voxel³/6 each),
        the 6 tetrahedra of each labelled voxel consecutive, voxels in C order of ``labels``
    tags : (6·v,) int32, the label of each tetrahedron's voxel
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"labels must be a 3D array; got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"labels must hold integer tags; got dtype {lab.dtype}")
    voxel = float(voxel)
    if not voxel > 0:
        raise ValueError(f"voxel must be a positive length; got {voxel!r}")
    org = np.asarray(origin, dtype=np.float64).reshape(3)
    ijk = np.argwhere(lab > 0)  # (v, 3), C order
    if len(ijk) == 0:
        raise ValueError("labels has no voxel > 0; nothing to mesh")
    n1 = np.array(lab.shape, dtype=np.int64) + 1  # grid nodes per axis
    strides = np.array([n1[1] * n1[2], n1[2], 1], dtype=np.int64)
    corner_ids = (ijk @ strides)[:, None] + (_CORNERS @ strides)[None, :]  # (v, 8) grid-node ids
    grid_tets = corner_ids[:, KUHN_TETS].reshape(-1, 4)
    used = np.zeros(int(np.prod(n1)), dtype=bool)
    used[corner_ids.ravel()] = True
    node_ids = np.flatnonzero(used)
    renumber = np.cumsum(used) - 1
    tets = renumber[grid_tets]
    grid = np.stack([node_ids // strides[0], (node_ids // strides[1]) % n1[1], node_ids % n1[2]], axis=1)
    nodes = org - voxel / 2.0 + grid * voxel
    tags = np.repeat(lab[tuple(ijk.T)].astype(np.int32), len(KUHN_TETS))
    return nodes, tets, tags


# --------------------------------------------------------------------------- label volumes
def resample_labels(labels, origin, voxel: float, new_voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour labels on a coarser (or finer) grid covering the same box.

    Parameters
    ----------
    labels : (nx, ny, nz) int array
    origin : (3,) float, centre of voxel ``[0, 0, 0]``
    voxel, new_voxel : float, old and new voxel edge (same unit as ``origin``)

    Returns
    -------
    new_labels : (mx, my, mz) array of the dtype of ``labels``: the label of the old voxel
        holding each new voxel centre (ties at old voxel faces go to the upper voxel)
    new_origin : (3,) float, centre of new voxel ``[0, 0, 0]``.  The new grid starts at the
        lower corner of the old one; it holds the new voxels whose centre lies in the old box.
    """
    lab = np.asarray(labels)
    r = float(new_voxel) / float(voxel)
    picks = []
    for n in lab.shape:
        m = int(np.floor((n - r / 2.0) / r)) + 1
        centre = -0.5 + r / 2.0 + r * np.arange(m)  # in old index units
        picks.append(np.clip(np.floor(centre + 0.5).astype(np.int64), 0, n - 1))
    new = lab[np.ix_(*picks)]
    new_origin = np.asarray(origin, dtype=np.float64) + (-0.5 + r / 2.0) * float(voxel)
    return new, new_origin


def _largest_component(lab: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    comp, n = ndimage.label(lab > 0)  # face connectivity
    if n > 1:
        sizes = np.bincount(comp.ravel())
        sizes[0] = 0
        lab = np.where(comp == sizes.argmax(), lab, 0).astype(lab.dtype)
    return lab


def _fill_cavities(lab: np.ndarray) -> np.ndarray:
    """Give enclosed empty voxels the label of the nearest labelled voxel."""
    from scipy import ndimage

    filled = ndimage.binary_fill_holes(lab > 0)
    holes = filled & (lab == 0)
    if holes.any():
        _, idx = ndimage.distance_transform_edt(lab == 0, return_indices=True)
        lab = lab.copy()
        lab[holes] = lab[tuple(i[holes] for i in idx)]
    return lab


def _block(lab: np.ndarray, axes, offs) -> tuple:
    """View of ``lab`` shifted by ``offs`` (0/1 each) along ``axes``, trimmed to the common size."""
    s = [slice(None)] * 3
    for ax, o in zip(axes, offs):
        s[ax] = slice(1, None) if o else slice(None, -1)
    return tuple(s)


def _fix_edge_contacts(lab: np.ndarray) -> int:
    """Fill 2×2 squares of voxels around a grid edge holding exactly two diagonal labelled voxels.

    Such voxels meet only along the edge: the boundary there is not a manifold (4 triangles on
    one edge).  Both empty voxels get the larger label of the pair.  In place; returns the number
    of squares fixed.
    """
    fixed = 0
    for axes in ((0, 1), (0, 2), (1, 2)):
        for d0, d1 in (((0, 0), (1, 1)), ((0, 1), (1, 0))):
            # the empty pair is the other diagonal: offsets (d0[0], d1[1]) and (d1[0], d0[1])
            e0, e1 = (d0[0], d1[1]), (d1[0], d0[1])
            m = lab > 0
            crit = (m[_block(m, axes, d0)] & m[_block(m, axes, d1)]
                    & ~m[_block(m, axes, e0)] & ~m[_block(m, axes, e1)])
            if not crit.any():
                continue
            fixed += int(crit.sum())
            fill = np.maximum(lab[_block(lab, axes, d0)], lab[_block(lab, axes, d1)])
            for e in (e0, e1):
                view = lab[_block(lab, axes, e)]
                view[crit] = np.maximum(view[crit], fill[crit])
    return fixed


_ANTIPODES = (((0, 0, 0), (1, 1, 1)), ((1, 0, 0), (0, 1, 1)), ((0, 1, 0), (1, 0, 1)), ((0, 0, 1), (1, 1, 0)))


def _fix_corner_contacts(lab: np.ndarray) -> int:
    """Fix 2×2×2 blocks where two opposite voxels meet only at the common corner.

    Either the two are the only labelled voxels of the block (two bodies touching at a point:
    the path between them along the block's edges is filled) or the only empty ones (two empty
    regions touching at a point: both are filled).  New voxels get the largest label of the block.
    In place; returns the number of blocks fixed.
    """
    axes = (0, 1, 2)
    fixed = 0
    for p, q in _ANTIPODES:
        m = lab > 0
        views = {o: m[_block(m, axes, o)] for o in np.ndindex(2, 2, 2)}
        others = [o for o in views if o not in (p, q)]
        n_other = sum(views[o].astype(np.int8) for o in others)
        solid = views[p] & views[q] & (n_other == 0)
        hollow = ~views[p] & ~views[q] & (n_other == 6)
        if not (solid.any() or hollow.any()):
            continue
        fixed += int(solid.sum() + hollow.sum())
        top = np.max(np.stack([lab[_block(lab, axes, o)] for o in np.ndindex(2, 2, 2)]), axis=0)
        # a path p → p + one step → ... → q along the block's edges: the two intermediate corners
        step1 = tuple(q[0] if i == 0 else p[i] for i in range(3))
        step2 = tuple(q[i] if i < 2 else p[i] for i in range(3))
        for o, crit in ((step1, solid), (step2, solid), (p, hollow), (q, hollow)):
            view = lab[_block(lab, axes, o)]
            view[crit] = np.maximum(view[crit], top[crit])
    return fixed


def clean_labels(labels, max_rounds: int = 100) -> np.ndarray:
    """Labels whose labelled region (label > 0) has a closed 2-manifold boundary.

    Keeps the largest face-connected component, fills enclosed cavities (label of the nearest
    labelled voxel) and fills voxels until no two labelled voxels, nor two empty ones, meet only
    along an edge or at a corner ("well-composed" voxel set); only empty voxels are ever filled.

    Parameters
    ----------
    labels : (nx, ny, nz) int array, 0 = outside
    max_rounds : int, limit of fill rounds (each round fixes every contact found)

    Returns
    -------
    (nx, ny, nz) array of the dtype of ``labels`` (a new array).
    """
    lab = _largest_component(np.array(labels, copy=True))
    lab = _fill_cavities(lab)
    for _ in range(max_rounds):
        if _fix_edge_contacts(lab) + _fix_corner_contacts(lab) == 0:
            break
    else:
        raise RuntimeError(f"voxel contacts still present after {max_rounds} rounds of filling")
    return _fill_cavities(lab)


def separate_brain_from_skull(labels, brain=(1, 2), csf: int = 3) -> tuple[np.ndarray, int]:
    """Relabel as CSF every labelled voxel that is neither brain nor CSF but shares a face with brain.

    Coarse resampling can thin the CSF around the brain to nothing; this restores a CSF layer at
    least one voxel thick between brain and bone or scalp wherever they would share a face, the
    only contact through which current passes between the tetrahedra of two voxels (voxels that
    meet only along an edge or at a corner are left as they are, to keep the skull thickness).
    The brain is unchanged.

    Parameters
    ----------
    labels : (nx, ny, nz) int array, 0 = outside
    brain : tags of brain tissue (default WM 1, GM 2)
    csf : tag given to the relabelled voxels (default 3)

    Returns
    -------
    (new labels, number of voxels relabelled)
    """
    from scipy import ndimage

    lab = np.array(labels, copy=True)
    is_brain = np.isin(lab, brain)
    touch = ndimage.binary_dilation(is_brain) & ~is_brain & (lab > 0) & (lab != csf)
    lab[touch] = csf
    return lab, int(touch.sum())


# --------------------------------------------------------------------------- surfaces
def cortex_surface(vertices, faces, hemisphere=None) -> Surface:
    """A :class:`Surface` with area-weighted unit vertex normals pointing out of each hemisphere.

    Parameters
    ----------
    vertices : (n, 3) float array, metres
    faces : (m, 3) int array
    hemisphere : (n,) int array or None
        Hemisphere id of each vertex (e.g. 0 left, 1 right); None treats all as one.  Faces of a
        hemisphere whose normals point, on average, towards the hemisphere's centroid are
        reversed, so the result is CCW seen from outside.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).copy()
    hemi = np.zeros(len(v), dtype=np.int64) if hemisphere is None else np.asarray(hemisphere, dtype=np.int64)
    fh = hemi[f[:, 0]]
    tri = v[f]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    for h in np.unique(hemi):
        centre = v[hemi == h].mean(axis=0)
        sel = fh == h
        outward = np.einsum("ij,ij->", fn[sel], tri[sel].mean(axis=1) - centre)
        if outward < 0:
            f[sel] = f[sel][:, [0, 2, 1]]
    return surface_from_faces(v, f)


# --------------------------------------------------------------------------- the human head
def human_head(path, voxel: float = HUMAN_VOXEL) -> MeshHead:
    """The built-in human head (MNI152 frame, metres) from the label volume at ``path``.

    Parameters
    ----------
    path : path to ``human_labels.npz`` (written by ``scripts/build_heads.py human``): ``labels``
        (nx, ny, nz) uint8 SimNIBS tags on a 1 mm grid, ``origin_mm`` (3,), ``voxel_mm``,
        ``cortex_vertices_mm`` (n, 3), ``cortex_faces`` (m, 3) and ``provenance`` (JSON).
    voxel : float, metres — edge of the voxels meshed (labels resampled nearest-neighbour).

    Returns
    -------
    MeshHead with tags 1 WM, 2 GM, 3 CSF, 4 bone, 5 scalp; ``cortex`` the mid-cortical surface
    (outward normals), ``scalp`` the closed outer boundary of the mesh, ``frame`` ``"MNI"``.
    """
    path = Path(path)
    with np.load(path) as data:
        labels = data["labels"]
        origin = np.asarray(data["origin_mm"], dtype=np.float64) * 1e-3
        fine = float(data["voxel_mm"]) * 1e-3
        cv = np.asarray(data["cortex_vertices_mm"], dtype=np.float64) * 1e-3
        cf = np.asarray(data["cortex_faces"], dtype=np.int64)
        prov = json.loads(str(data["provenance"]))
    coarse, corigin = resample_labels(labels, origin, fine, voxel)
    coarse = clean_labels(coarse)
    coarse, n_csf = separate_brain_from_skull(coarse)
    nodes, tets, tags = voxel_tet_mesh(coarse, corigin, voxel)
    n_half = len(cv) // 2  # the build stores the left hemisphere first, then the right
    cortex = cortex_surface(cv, cf, np.repeat([0, 1], [n_half, len(cv) - n_half]))
    outline = MeshHead(name="human", nodes=nodes, tets=tets, tags=tags, frame="MNI")
    scalp = surface_from_faces(outline.nodes, outline.boundary_faces())
    prov.update({
        "name": "human",
        "file": path.name,
        "mesh": (f"voxel mesh: labels resampled (nearest neighbour) to {voxel * 1e3:g} mm voxels, each split "
                 "into 6 tetrahedra (Kuhn split along the main diagonal); staircase (voxel) tissue boundaries"),
        "voxel_mm": voxel * 1e3,
        "n_nodes": int(len(nodes)),
        "n_tets": int(len(tets)),
        "csf_layer": (f"{n_csf} voxels of bone or scalp sharing a face with brain after resampling relabelled "
                      "CSF, so no brain tetrahedron shares a face with bone or scalp (as in the 1 mm labels)"),
        "cortex": "mid-cortical surface: mean of the fsaverage5 pial and white surfaces (both hemispheres)",
        "scalp": "outer boundary of the voxel mesh (includes the flat cut at the bottom)",
    })
    return MeshHead(name="human", nodes=outline.nodes, tets=outline.tets, tags=outline.tags, cortex=cortex,
                    scalp=scalp, frame="MNI", provenance=prov)
