"""Heads from labelled volumes: an atlas or a lab's own segmentation → a tetrahedral :class:`MeshHead`.

:func:`head_from_labels` takes a labelled volume (NIfTI file, or an array with its voxel → world
affine in mm) and a mapping from label values to tissues, and returns a head every command accepts:

1. *Labels → tissues.*  Each label value maps to a SimNIBS tag or a tissue name of
   :data:`meshes.TISSUE_NAMES` (``"background"`` drops it); a value present in the volume but not in
   the mapping is refused (listing them), so nothing is silently dropped or kept.
2. *Resampling.*  Nearest-neighbour onto an isotropic grid aligned with the world axes (of the
   volume's frame, or the bregma frame) at ``voxel`` (default: the volume's smallest voxel edge),
   covering the labelled region and room for the added layers.
3. *Missing outer layers.*  CSF, skull (``bone``) and scalp that the volume lacks are added as shells
   of a stated thickness around what is there (distance transform, so a shell follows the brain's
   shape), from inside out; the thicknesses are those of the species' sphere head
   (``meshes/data/sphere_heads.toml``, each with its source and flag) unless ``layers`` gives others.
   A shell is at least one voxel thick (the provenance says when that made it thicker than asked).
4. *Cleaning and meshing* as for the built-in human head (:mod:`meshes._voxel_head`): largest
   component, cavities filled, no voxels meeting only at an edge or corner, a CSF voxel between brain
   and bone or scalp wherever they would share a face; each voxel split into 6 tetrahedra (conforming).
5. *Smoothing* (``smooth`` rounds, default 0): Taubin (λ/μ) smoothing of the nodes on tissue
   interfaces and the outer boundary, a node kept where a move would flatten or invert a tetrahedron;
   it rounds the staircase (its effect on accuracy is measured in ``scripts/bench.py --labels``).
6. *Surfaces.*  ``scalp``: the outer boundary.  ``cortex`` (where fields are reported): the brain's
   boundary, smoothed, moved inward by ``cortex_depth`` (default the larger of two voxels and the
   species' reporting depth: within a voxel or so of a staircase interface the field is distorted —
   on concentric spheres at 3 mm voxels, one voxel deep gave 11 % relative L2 error against the
   analytic field, two voxels deep 3.8 %), with outward normals.

Frames: ``frame="volume"`` keeps the volume's world coordinates (frame ``"head"``, metres);
``frame="bregma"`` needs ``landmarks={"bregma": (x, y, z), "lambda": (x, y, z)}`` in the volume's world
mm (on the skull surface): bregma becomes the origin, lambda → bregma the +y (anterior) axis, the
volume's +z projected perpendicular to it the +z (dorsal) axis, x to the animal's right.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._mesh import DEFAULT_CONDUCTIVITY, TISSUE_NAMES, MeshHead, surface_from_faces
from ._surface import Surface
from ._voxel_head import clean_labels, separate_brain_from_skull, voxel_tet_mesh

__all__ = ["head_from_labels", "read_label_map", "LabelHeadError", "BRAIN_TAGS", "layer_rules", "sphere_volume",
           "example_rat_volume"]

#: tags of brain tissue (white matter, grey matter, one-compartment brain)
BRAIN_TAGS = (1, 2, 11)
_NAME_TO_TAG = {v: k for k, v in TISSUE_NAMES.items()}
_ALIASES = {"skull": 4, "bone": 4, "skin": 5, "wm": 1, "gm": 2, "background": 0, "outside": 0, "air": 0}
#: the outer layers, inside out, that may be added
_ADDED = (("csf", 3), ("bone", 4), ("scalp", 5))
#: reporting depth below the brain surface (m) per species (rodents as the built-in meshes)
_CORTEX_DEPTH = {"rat": 0.3e-3, "mouse": 0.15e-3, "human": 1.5e-3}


class LabelHeadError(ValueError):
    """A labelled volume or label map that cannot make a head (the message says why and what is allowed)."""


def _tag(value, where: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if int(value) == 0 or int(value) in TISSUE_NAMES:
            return int(value)
    elif isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        if key in _ALIASES:
            return _ALIASES[key]
        if key in _NAME_TO_TAG:
            return _NAME_TO_TAG[key]
    known = ", ".join(f"{k} {v}" for k, v in TISSUE_NAMES.items())
    raise LabelHeadError(f"{where}: {value!r} is not a tissue; give a SimNIBS tag or name ({known}), "
                         "or 'background' to drop the label")


def read_label_map(path) -> dict[int, int]:
    """A label map from TOML (``1 = "grey_matter"`` lines, or a ``[labels]`` table) → {label value: tag}."""
    import tomllib

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelHeadError(f"label map '{p}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelHeadError(f"cannot read label map '{p}': {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabelHeadError(f"label map '{p}' is not valid TOML: {exc}") from None
    table = data.get("labels", data)
    if not isinstance(table, dict) or not table:
        raise LabelHeadError(f"label map '{p}' has no labels; write lines like 1 = \"grey_matter\" (label value = "
                             "tissue)")
    return _label_map(table, f"label map '{p}'")


#: the label-map key that maps every label value not listed (e.g. ``"*" = "brain"`` for a brain atlas)
OTHER_LABELS = -1


def _label_map(labels: Mapping, where: str) -> dict[int, int]:
    out = {}
    for k, v in labels.items():
        if str(k).strip() == "*":
            out[OTHER_LABELS] = _tag(v, f"{where}, label '*'")
            continue
        try:
            key = int(str(k).strip())
        except ValueError:
            raise LabelHeadError(f"{where}: label value {k!r} is not a whole number") from None
        out[key] = _tag(v, f"{where}, label {key}")
    return out


def layer_rules(species: str) -> dict[str, tuple[float, str]]:
    """Thickness (m) and its source of each outer layer (csf, bone, scalp) for ``species``, from the
    species' sphere head (``meshes/data/sphere_heads.toml``)."""
    from ._sphere import _table, sphere_head

    if species not in ("human", "rat", "mouse"):
        raise LabelHeadError(f"species must be human, rat or mouse (for the outer-layer thicknesses); got {species!r}")
    head = sphere_head(species)
    entry = _table()["heads"][species]
    radii = [lay.outer_radius for lay in head.layers]
    rules = {}
    for i, lay in enumerate(head.layers[:-1]):
        tissue = "bone" if lay.tissue in ("skull", "bone") else lay.tissue
        if tissue not in ("csf", "bone", "scalp"):
            continue
        meta = entry["layers"][i]
        rules[tissue] = (radii[i] - radii[i + 1],
                         f"{meta.get('note', '')} ({meta.get('flag', '?')}: {meta.get('source', '')}; "
                         f"the {species} sphere head, meshes/data/sphere_heads.toml)")
    return rules


def _load_volume(volume, affine):
    """(labels (nx, ny, nz) int array, affine (4, 4) voxel → world mm, description, sha256)."""
    if isinstance(volume, tuple) and len(volume) == 2 and affine is None:
        volume, affine = volume
    if isinstance(volume, (str, os.PathLike)):
        import nibabel as nib

        p = Path(volume)
        if not p.is_file():
            raise LabelHeadError(f"labelled volume '{p}' does not exist")
        try:
            img = nib.load(str(p))
            data = np.asanyarray(img.dataobj)
        except Exception as exc:  # nibabel raises many kinds for a broken file
            raise LabelHeadError(f"labelled volume '{p}' cannot be read as NIfTI/Analyze/MGH: {exc}") from None
        aff = np.asarray(img.affine, dtype=float)
        unit = "mm"
        try:
            unit = img.header.get_xyzt_units()[0] or "mm"
        except (AttributeError, IndexError):
            pass
        scale = {"mm": 1.0, "meter": 1000.0, "micron": 1e-3, "unknown": 1.0}.get(unit, 1.0)
        aff = np.diag([scale, scale, scale, 1.0]) @ aff
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        desc = f"{p.name} (NIfTI header units: {unit})"
    else:
        data = np.asarray(volume)
        if affine is None:
            raise LabelHeadError("an array volume needs its affine (4 × 4, voxel index → world mm): "
                                 "head_from_labels(array, labels, affine=A) or (array, A)")
        aff = np.asarray(affine, dtype=float)
        digest = hashlib.sha256(np.ascontiguousarray(data).tobytes() + aff.tobytes()).hexdigest()
        desc = "array given in memory"
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise LabelHeadError(f"the labelled volume must be 3D; got shape {data.shape}")
    if aff.shape != (4, 4) or not np.isfinite(aff).all() or abs(np.linalg.det(aff[:3, :3])) < 1e-12:
        raise LabelHeadError(f"the affine must be an invertible 4 × 4 matrix (voxel → world mm); got {aff.tolist()}")
    if np.issubdtype(data.dtype, np.floating):
        if not np.all(np.isfinite(data)) or not np.all(data == np.round(data)):
            raise LabelHeadError("the labelled volume holds non-integer values: it looks like an image, not labels")
        data = data.astype(np.int64)
    elif not np.issubdtype(data.dtype, np.integer):
        raise LabelHeadError(f"the labelled volume must hold integer labels; got dtype {data.dtype}")
    return np.asarray(data), aff, desc, digest


def _frame(aff, frame, landmarks):
    """(world mm → head-frame mm 4 × 4, frame name)."""
    if frame in ("volume", "head"):
        return np.eye(4), "head"
    if frame != "bregma":
        raise LabelHeadError(f"frame must be 'volume' or 'bregma'; got {frame!r}")
    if not landmarks or "bregma" not in landmarks or "lambda" not in landmarks:
        raise LabelHeadError("frame='bregma' needs landmarks={'bregma': (x, y, z), 'lambda': (x, y, z)} in the "
                             "volume's world mm (on the skull surface)")
    b = np.asarray(landmarks["bregma"], dtype=float).reshape(3)
    lam = np.asarray(landmarks["lambda"], dtype=float).reshape(3)
    d = b - lam
    if not np.isfinite(d).all() or np.linalg.norm(d) < 0.5:
        raise LabelHeadError(f"bregma and lambda must be distinct points (mm); got {b.tolist()} and {lam.tolist()}")
    y = d / np.linalg.norm(d)
    zv = np.array([0.0, 0.0, 1.0]) - y[2] * y
    if np.linalg.norm(zv) < 0.3:
        raise LabelHeadError("the lambda → bregma line is nearly parallel to the volume's z axis; the bregma frame "
                             "takes z (dorsal) from the volume's +z — reorient the volume or check the landmarks")
    z = zv / np.linalg.norm(zv)
    x = np.cross(y, z)
    rot = np.stack([x, y, z])  # rows: new axes in world coordinates
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = -rot @ b
    return m, "bregma"


def _distance_shell(occupied: np.ndarray, thickness_vox: float) -> np.ndarray:
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(~occupied)
    return (~occupied) & (dist <= thickness_vox + 1e-9)


def _taubin(points, neighbours, movable, rounds, lam=0.5, mu=-0.53, check=None):
    """Taubin smoothing of ``points`` (n, 3) over a neighbour graph (CSR of a sparse adjacency)."""
    adj = neighbours
    deg = np.asarray(adj.sum(axis=1)).ravel()
    deg[deg == 0] = 1.0
    p = points.copy()
    for _ in range(rounds):
        for f in (lam, mu):
            avg = (adj @ p) / deg[:, None]
            new = p.copy()
            new[movable] += f * (avg[movable] - p[movable])
            if check is not None:
                new = check(p, new)
            p = new
    return p


def _adjacency(faces_or_tets: np.ndarray, n: int):
    import scipy.sparse as sp

    k = faces_or_tets.shape[1]
    rows, cols = [], []
    for a in range(k):
        for b in range(k):
            if a != b:
                rows.append(faces_or_tets[:, a])
                cols.append(faces_or_tets[:, b])
    r, c = np.concatenate(rows), np.concatenate(cols)
    adj = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    adj.data[:] = 1.0
    return adj


def _volumes(nodes, tets):
    a, b, c, d = (nodes[tets[:, i]] for i in range(4))
    return np.einsum("ij,ij->i", np.cross(b - a, c - a), d - a) / 6.0


def _smooth_interfaces(nodes, tets, tags, rounds):
    """Taubin smoothing of interface and boundary nodes along the interface graph; nodes whose move
    would bring a tet below 20 % of its voxel volume stay."""
    if rounds <= 0:
        return nodes, 0
    n = len(nodes)
    # a node is on an interface if its tets carry more than one tag, or it is on the outer boundary
    tmin = np.full(n, np.iinfo(np.int32).max)
    tmax = np.full(n, -1)
    for i in range(4):
        np.minimum.at(tmin, tets[:, i], tags)
        np.maximum.at(tmax, tets[:, i], tags)
    outline = MeshHead(name="tmp", nodes=nodes, tets=tets, tags=tags)
    bnd = np.zeros(n, dtype=bool)
    bnd[outline.boundary_faces().ravel()] = True
    movable = (tmin != tmax) | bnd
    # neighbours along edges that join two movable nodes (the interface graph)
    adj = _adjacency(tets, n).tocoo()
    keep = movable[adj.row] & movable[adj.col]
    import scipy.sparse as sp

    graph = sp.csr_matrix((np.ones(keep.sum()), (adj.row[keep], adj.col[keep])), shape=(n, n))
    graph.data[:] = 1.0
    v0 = np.abs(_volumes(nodes, tets))
    floor = 0.2 * v0

    def check(old, new):
        vol = _volumes(new, tets)
        bad = vol < floor
        if bad.any():
            stuck = np.unique(tets[bad].ravel())
            new[stuck] = old[stuck]
        return new

    out = _taubin(nodes, graph, movable, rounds, check=check)
    return out, int(movable.sum())


def head_from_labels(volume, labels, *, frame: str = "volume", species: str | None = None,
                     layers: Mapping[str, float] | None = None, voxel: float | None = None,
                     landmarks: Mapping[str, Any] | None = None, smooth: int = 0,
                     cortex_depth: float | None = None, name: str | None = None, affine=None,
                     conductivity: Mapping[int, float] | None = None) -> MeshHead:
    """A tetrahedral head from a labelled volume (see the module docstring for every rule).

    Parameters
    ----------
    volume : path of a NIfTI file (``.nii``, ``.nii.gz``; nibabel), or an integer array (nx, ny, nz) with
        ``affine``, or a tuple (array, affine)
    labels : mapping label value → tissue (SimNIBS tag or name of :data:`meshes.TISSUE_NAMES`, e.g.
        ``{1: "grey_matter", 2: "csf", 3: "bone", 4: "scalp"}``; ``"background"`` drops a label; the key
        ``"*"`` maps every value not listed, e.g. ``{"*": "brain"}`` for a brain atlas); every non-zero value
        in the volume must be mapped
    frame : ``"volume"`` (the volume's world frame; the head's frame ``"head"``) or ``"bregma"``
    species : ``"human"``, ``"rat"`` or ``"mouse"`` — for the outer-layer thicknesses and the reporting
        depth (default: from the brain's size: at least 80 mm across human, from 17 mm rat, mouse below)
    layers : mapping ``"csf"``/``"bone"``/``"scalp"`` → thickness in metres (shape ()), overriding the
        species' rules; 0 leaves a layer out
    voxel : float, metres — edge of the mesh voxels (default: the volume's smallest voxel edge)
    landmarks : ``{"bregma": (3,), "lambda": (3,)}`` in the volume's world mm, for ``frame="bregma"``
    smooth : int — rounds of Taubin smoothing of the tissue interfaces (0: staircase boundaries)
    cortex_depth : float, metres — depth of the reporting surface below the brain's boundary (default the
        larger of two voxels and the species' reporting depth: rat 0.3 mm, mouse 0.15 mm, human 1.5 mm)
    name : str — the head's name (default: the file name, or ``"labels"``)
    affine : (4, 4) float array, voxel index → world mm, for an array ``volume``
    conductivity : mapping tag → S/m, added to / overriding :data:`meshes.DEFAULT_CONDUCTIVITY`

    Returns
    -------
    MeshHead (metres) with ``scalp``, ``cortex``, ``frame`` and a ``provenance`` that records the source
    volume (name, sha256), the label map, every rule applied with its source, and the mesh sizes.
    """
    data, aff, desc, digest = _load_volume(volume, affine)
    lmap = _label_map(labels, "labels")
    present = np.unique(data)
    if OTHER_LABELS in lmap:
        other = lmap.pop(OTHER_LABELS)
        lmap.update({int(v): other for v in present if v != 0 and int(v) not in lmap})
    unmapped = [int(v) for v in present if v != 0 and int(v) not in lmap]
    if unmapped:
        shown = ", ".join(map(str, unmapped[:20])) + (" …" if len(unmapped) > 20 else "")
        raise LabelHeadError(f"label values {shown} are in the volume but not in the label map; map each to a tissue "
                             "or to 'background'")
    lut_keys = np.array(sorted(lmap), dtype=np.int64)
    tags_of = np.array([lmap[k] for k in lut_keys], dtype=np.int64)
    idx = np.searchsorted(lut_keys, data)
    idx = np.clip(idx, 0, len(lut_keys) - 1)
    tissue = np.where((data != 0) & (lut_keys[idx] == data), tags_of[idx], 0)
    if not np.isin(tissue, BRAIN_TAGS).any():
        raise LabelHeadError("no label maps to brain tissue (white_matter, grey_matter or brain); the head needs a brain")
    edges = np.linalg.norm(aff[:3, :3], axis=0)  # mm per voxel step along each index axis
    if edges.min() < 0.005 or edges.max() > 10.0:
        hint = " (an affine in metres? multiply by 1000)" if edges.max() < 0.005 else \
            " (an affine in micrometres? divide by 1000)" if edges.min() > 10 else ""
        raise LabelHeadError(f"voxel edges of {', '.join(f'{e:g}' for e in edges)} mm are implausible for a head "
                             f"(allowed 0.005–10 mm){hint}")
    to_frame, frame_name = _frame(aff, frame, landmarks)
    vox_mm = float(edges.min()) if voxel is None else float(voxel) * 1e3
    if not 0.005 <= vox_mm <= 10.0:
        raise LabelHeadError(f"voxel must be 0.005–10 mm (given in metres: 5e-6 to 0.01); got {vox_mm / 1e3:g} m"
                             + (" — that looks like millimetres" if vox_mm > 10 else ""))
    # brain size → species
    brain_ijk = np.argwhere(np.isin(tissue, BRAIN_TAGS))
    world = (aff[:3, :3] @ brain_ijk.T).T + aff[:3, 3]
    span = float(np.ptp(world, axis=0).max())
    if species is None:
        species = "human" if span >= 80 else "rat" if span >= 17 else "mouse"
        species_how = f"from the brain's size ({span:.1f} mm across: human from 80 mm, rat from 17 mm, mouse below)"
    else:
        species_how = "given"
    rules = layer_rules(species)
    if layers:
        for k, v in layers.items():
            key = "bone" if k in ("skull", "bone") else k
            if key not in ("csf", "bone", "scalp"):
                raise LabelHeadError(f"layers: {k!r} is not an added layer (csf, bone/skull, scalp)")
            t = float(v)
            if not 0 <= t <= 0.05:
                raise LabelHeadError(f"layers: {k} thickness must be 0–0.05 m (metres); got {v!r}"
                                     + (" — that looks like millimetres" if t > 0.05 else ""))
            rules[key] = (t, "given (layers=)")
    # the target grid (head frame, mm): the labelled box plus room for the added layers
    lab_ijk = np.argwhere(tissue > 0)
    lo_hi = np.array([lab_ijk.min(axis=0) - 0.5, lab_ijk.max(axis=0) + 0.5])
    box = np.array([[a, b, c] for a in lo_hi[:, 0] for b in lo_hi[:, 1] for c in lo_hi[:, 2]])
    box_w = (aff[:3, :3] @ box.T).T + aff[:3, 3]
    box_f = (to_frame[:3, :3] @ box_w.T).T + to_frame[:3, 3]
    missing = [t for t, tag in _ADDED if not (tissue == tag).any()]
    room = sum(max(rules[t][0] * 1e3, vox_mm) for t in missing) + 2 * vox_mm
    lo, hi = box_f.min(axis=0) - room, box_f.max(axis=0) + room
    # the grid's lattice starts at the volume's first voxel corner (so an axis-aligned volume resampled to
    # its own or a coarser voxel keeps its voxel boundaries, as the built-in human head does)
    anchor = (to_frame @ aff @ np.array([-0.5, -0.5, -0.5, 1.0]))[:3] + vox_mm / 2
    origin = anchor + np.floor((lo + vox_mm / 2 - anchor) / vox_mm) * vox_mm
    shape = (np.floor((hi - origin) / vox_mm).astype(int) + 1)
    if np.prod(shape.astype(float)) > 400e6:
        raise LabelHeadError(f"a {vox_mm:g} mm grid over this head has {np.prod(shape.astype(float)):.3g} voxels "
                             "(at most 400 M); give a larger voxel")
    # nearest-neighbour sampling: new voxel centre (frame) → world → volume index
    inv = np.linalg.inv(aff) @ np.linalg.inv(to_frame)
    grid = np.empty(tuple(shape), dtype=np.uint8)
    ax = [origin[i] + vox_mm * np.arange(shape[i]) for i in range(3)]
    for i, x in enumerate(ax[0]):
        yy, zz = np.meshgrid(ax[1], ax[2], indexing="ij")
        p = np.stack([np.full(yy.size, x), yy.ravel(), zz.ravel(), np.ones(yy.size)])
        q = np.rint((inv @ p)[:3]).astype(np.int64)
        ok = np.all((q >= 0) & (q < np.array(tissue.shape)[:, None]), axis=0)
        sl = np.zeros(yy.size, dtype=np.uint8)
        sl[ok] = tissue[q[0, ok], q[1, ok], q[2, ok]]
        grid[i] = sl.reshape(yy.shape)
    added = {}
    for t, tag in _ADDED:
        if t not in missing:
            continue
        thick_m, source = rules[t]
        if thick_m <= 0:
            added[t] = "left out (thickness 0)"
            continue
        n_vox = max(1.0, thick_m * 1e3 / vox_mm)
        shell = _distance_shell(grid > 0, n_vox)
        grid[shell] = tag
        used = n_vox * vox_mm
        added[t] = (f"{thick_m * 1e3:g} mm shell added around the labelled tissue" +
                    (f", made {used:g} mm (one voxel) by the voxel size" if used > thick_m * 1e3 + 1e-9 else "") +
                    f"; thickness from: {source}")
    grid = clean_labels(grid)
    grid, n_csf = separate_brain_from_skull(grid, brain=BRAIN_TAGS, csf=3)
    nodes_mm, tets, tags = voxel_tet_mesh(grid, origin, vox_mm)
    nodes = nodes_mm * 1e-3
    nodes, n_smoothed = _smooth_interfaces(nodes, tets, tags, int(smooth))
    outline = MeshHead(name="tmp", nodes=nodes, tets=tets, tags=tags)
    scalp = surface_from_faces(nodes, outline.boundary_faces())
    depth = max(2 * vox_mm * 1e-3, _CORTEX_DEPTH[species]) if cortex_depth is None else float(cortex_depth)
    cortex = _cortex(nodes, tets, tags, depth)
    head_name = name or (Path(str(volume)).name.split(".")[0] if isinstance(volume, (str, os.PathLike)) else "labels")
    cond = dict(DEFAULT_CONDUCTIVITY)
    if conductivity:
        cond.update({int(k): float(v) for k, v in conductivity.items()})
    prov = {
        "name": head_name, "source_volume": desc, "source_sha256": digest,
        "source_voxel_mm": [float(e) for e in edges], "label_map": {str(k): TISSUE_NAMES.get(v, "background")
                                                                     for k, v in sorted(lmap.items())},
        "frame": frame_name, "frame_rule": ("the volume's world coordinates" if frame_name == "head" else
                                            f"bregma frame from landmarks {json.dumps({k: list(map(float, v)) for k, v in landmarks.items()})} (mm)"),
        "species": species, "species_from": species_how,
        "resampling": f"nearest neighbour onto an isotropic {vox_mm:g} mm grid aligned with the frame's axes",
        "added_layers": added or "none (the volume has CSF, bone and scalp)",
        "cleaning": (f"largest component, cavities filled, edge/corner contacts filled; {n_csf} voxels relabelled "
                     "CSF so no brain voxel shares a face with bone or scalp"),
        "smoothing": (f"{int(smooth)} rounds of Taubin smoothing (lambda 0.5, mu -0.53) of {n_smoothed} interface "
                      "and boundary nodes, a node kept where a tet would fall below 20 % of its volume"
                      if smooth else "none: staircase (voxel) tissue boundaries"),
        "cortex": f"brain boundary, Taubin-smoothed, moved {depth * 1e3:g} mm inward (reporting surface)",
        "mesh": f"each voxel split into 6 tetrahedra (Kuhn); {len(nodes):,} nodes, {len(tets):,} tets",
        "voxel_mm": vox_mm, "n_nodes": int(len(nodes)), "n_tets": int(len(tets)),
        "tools": _versions(),
    }
    return MeshHead(name=head_name, nodes=nodes, tets=tets, tags=tags, cortex=cortex, scalp=scalp,
                    frame=frame_name, provenance=prov,
                    conductivity={k: v for k, v in cond.items() if k in set(np.unique(tags).tolist())})


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for pkg in ("tms-efield", "numpy", "scipy", "nibabel"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _cortex(nodes, tets, tags, depth) -> Surface:
    """The brain's boundary (faces between brain and non-brain tets, or the outside), smoothed and moved
    ``depth`` (m) inward along its normals; outward normals."""
    brain = np.isin(tags, BRAIN_TAGS)
    sub = MeshHead(name="brain", nodes=nodes, tets=tets[brain], tags=tags[brain])
    surf = surface_from_faces(nodes, sub.boundary_faces())
    v, f = np.array(surf.vertices), np.asarray(surf.faces)
    adj = _adjacency(f, len(v))
    v = _taubin(v, adj, np.ones(len(v), dtype=bool), 10)
    s = surface_from_faces(v, f)
    moved = np.asarray(s.vertices) - depth * np.asarray(s.normals)
    return surface_from_faces(moved, np.asarray(s.faces))


def sphere_volume(voxel_mm: float, radii_mm=(85.0, 78.5, 73.9, 70.0), tags=(5, 4, 3, 2)):
    """A labelled volume of concentric spheres (validation against the analytic sphere field): voxels of
    ``voxel_mm`` (mm) whose centre lies within ``radii_mm`` (outside in; default the human sphere head's
    scalp, skull, CSF and grey-matter radii) get ``tags``.  Returns (labels (n, n, n) uint8, affine (4, 4)
    voxel → mm, centred on the origin)."""
    vox = float(voxel_mm)
    if not 0.05 <= vox <= 20:
        raise LabelHeadError(f"voxel_mm must be 0.05–20 mm; got {voxel_mm!r}")
    n = int(np.ceil(2 * (radii_mm[0] + 2 * vox) / vox))
    c = (np.arange(n) - (n - 1) / 2) * vox
    x, y, z = np.meshgrid(c, c, c, indexing="ij", sparse=True)
    r = np.sqrt(x**2 + y**2 + z**2)
    lab = np.zeros((n, n, n), np.uint8)
    for rad, t in zip(radii_mm, tags):
        lab[r <= rad] = t
    aff = np.diag([vox, vox, vox, 1.0])
    aff[:3, 3] = -(n - 1) / 2 * vox
    return lab, aff


def example_rat_volume(voxel_mm: float = 0.5):
    """A made-up labelled rat head (for examples and tests; not an atlas): brain ellipsoid 15 (ML) × 22 (AP)
    × 11 (DV) mm as the built-in rat, with olfactory bulbs and a cerebellum, under 0.7 mm of skull (label
    7) and 1 mm of scalp (label 9), 0.2 mm apart from the brain (label 3) and with no CSF label (the tool
    adds it).  Axes x right, y anterior, z dorsal (mm).  Returns (labels int16, affine (4, 4) voxel → mm,
    landmarks {"bregma", "lambda"} on the skull, mm; bregma 4 mm anterior of the brain centre, lambda
    9 mm behind bregma)."""
    from scipy import ndimage

    vox = float(voxel_mm)
    ext = np.array([12.0, 18.0, 10.0])
    n = np.ceil(2 * ext / vox).astype(int)
    axes = [(np.arange(k) - (k - 1) / 2) * vox for k in n]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    brain = (x / 7.5) ** 2 + (y / 11.0) ** 2 + (z / 5.5) ** 2 <= 1
    bulbs = ((np.abs(x) - 1.5) / 1.6) ** 2 + ((y - 12.0) / 2.5) ** 2 + ((z - 0.5) / 2.0) ** 2 <= 1
    cereb = (x / 5.5) ** 2 + ((y + 10.5) / 2.5) ** 2 + ((z + 0.5) / 3.5) ** 2 <= 1
    b = brain | bulbs | cereb
    dist = ndimage.distance_transform_edt(~b) * vox
    lab = np.zeros(b.shape, np.int16)
    lab[(dist > 0.2) & (dist <= 0.9)] = 7
    lab[(dist > 0.9) & (dist <= 1.9)] = 9
    lab[b] = 3
    aff = np.diag([vox, vox, vox, 1.0])
    aff[:3, 3] = [-(k - 1) / 2 * vox for k in n]
    top = 5.5 + 0.9  # the skull surface above the brain centre
    return lab, aff, {"bregma": (0.0, 4.0, top), "lambda": (0.0, -5.0, top - 0.5)}


#: the label map of :func:`example_rat_volume`
EXAMPLE_RAT_LABELS = {3: "brain", 7: "skull", 9: "scalp"}
