"""Head-mesh files behind a registry keyed by extension: ``load_head`` / ``save_head``.

Formats
-------
``.msh``  gmsh v2.2 and v4.x, ASCII or binary (SimNIBS heads).  Coordinates in millimetres by
          default (SimNIBS convention).  Tissue tags from ``gmsh:physical``.
``.vtu``  VTK unstructured grid (ParaView).  Coordinates in metres by default.  Tissue tags from
          the cell array ``tissue`` (or ``gmsh:physical``).

Both hold the tetrahedra (tags 1–12, see :data:`meshes.TISSUE_NAMES`) and, when present, the
scalp triangles (tag 1005) and the cortex triangles (tag 1002, or 1011 for a one-compartment
``brain``), which become :attr:`MeshHead.scalp` and :attr:`MeshHead.cortex`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np

from .._mesh import (
    CONDUCTIVITY_SOURCES,
    DEFAULT_CONDUCTIVITY,
    SURFACE_TAG_OFFSET,
    TISSUE_NAMES,
    MeshHead,
    _row_keys,
    surface_from_faces,
)
from .surface import SURFACE_FORMATS, atomic_target, existing_file, extension, load_surface, save_surface

__all__ = ["MeshFields", "load_head", "load_head_fields", "save_head", "save_subject_folder", "load_surface", "save_surface",
           "HEAD_FORMATS", "SURFACE_FORMATS"]

#: Tags of the triangles kept as scalp and as cortex (first match wins).
SCALP_TAGS = (SURFACE_TAG_OFFSET + 5,)
CORTEX_TAGS = (SURFACE_TAG_OFFSET + 2, SURFACE_TAG_OFFSET + 11)

#: largest coordinate accepted from a file, in metres (far above any head; keeps arithmetic finite)
MAX_COORDINATE_M = 1e3

_RESERVED = {"tissue", "gmsh:physical", "gmsh:geometrical", "gmsh:dim_tags"}


class MeshFields(NamedTuple):
    """Fields stored in a mesh file: per node ``{name: (n, ...)}`` and per tet ``{name: (m, ...)}``."""

    nodes: dict
    tets: dict


# --------------------------------------------------------------------------- meshio → MeshHead
def _tagged_cells(mesh, tag_keys, path):
    key = next((k for k in tag_keys if k in mesh.cell_data), None)
    types = sorted({c.type for c in mesh.cells})
    if "tetra" not in types:
        raise ValueError(f"{str(path)!r} holds no tetrahedra (cell types: {', '.join(types) or 'none'}); "
                         "a head mesh needs linear tetrahedra ('tetra')")
    if key is None:
        raise ValueError(f"{str(path)!r} has no tissue tags: expected a cell array named one of {list(tag_keys)}")
    out = {"tetra": ([], []), "triangle": ([], [])}
    for block, tags in zip(mesh.cells, mesh.cell_data[key]):
        if block.type in out:
            out[block.type][0].append(np.asarray(block.data, dtype=np.int64))
            out[block.type][1].append(np.asarray(tags).reshape(-1).astype(np.int64))
    cat = {t: (np.concatenate(c).reshape(-1, 4 if t == "tetra" else 3) if c else np.zeros((0, 3), np.int64),
               np.concatenate(g) if g else np.zeros(0, np.int64)) for t, (c, g) in out.items()}
    return key, cat


def _orient_away_from(nodes, tris, tets, tet_tags, tissue):
    """Flip triangles so they face away from the adjacent tet of ``tissue`` (kept where none is)."""
    t = tets[tet_tags == tissue]
    if len(t) == 0 or len(tris) == 0:
        return tris
    faces = np.concatenate([t[:, [1, 2, 3]], t[:, [0, 2, 3]], t[:, [0, 1, 3]], t[:, [0, 1, 2]]])
    opposite = np.concatenate([t[:, 0], t[:, 1], t[:, 2], t[:, 3]])
    n = len(nodes)
    fkeys = _row_keys(np.sort(faces, axis=1), n)
    tkeys = _row_keys(np.sort(tris, axis=1), n)
    order = np.argsort(fkeys)
    pos = np.clip(np.searchsorted(fkeys, tkeys, sorter=order), 0, len(fkeys) - 1)
    match = fkeys[order[pos]] == tkeys
    opp = opposite[order[pos]]
    normal = np.cross(nodes[tris[:, 1]] - nodes[tris[:, 0]], nodes[tris[:, 2]] - nodes[tris[:, 0]])
    toward = np.einsum("ij,ij->i", normal, nodes[opp] - nodes[tris[:, 0]]) > 0
    flip = match & toward
    tris = tris.copy()
    tris[flip] = tris[flip][:, [0, 2, 1]]
    return tris


def _tet_nodes(mesh) -> np.ndarray:
    """Indices (ascending) of the points of ``mesh`` that belong to at least one tetrahedron.

    Surface-only points (e.g. a cortex surface that is not part of the volume mesh, as
    :func:`save_head` appends) and points used by nothing are not volume nodes; they are kept
    only as surface vertices, so a save/load round trip gives back the same volume mesh.
    """
    used = np.zeros(len(mesh.points), dtype=bool)
    for block in mesh.cells:
        if block.type == "tetra":
            used[np.asarray(block.data, dtype=np.int64).ravel()] = True
    return np.flatnonzero(used)


def head_from_meshio(mesh, *, path, fmt: str, units: str, scale: float, conductivity, name,
                     tag_keys, frame: str = "head") -> MeshHead:
    """Build a :class:`MeshHead` from a ``meshio.Mesh`` (shared by the format modules)."""
    key, cells = _tagged_cells(mesh, tag_keys, path)
    tets, tet_tags = cells["tetra"]
    tris, tri_tags = cells["triangle"]
    sigma = dict(DEFAULT_CONDUCTIVITY)
    if conductivity is not None:
        if not isinstance(conductivity, Mapping):
            raise TypeError(f"conductivity must be a mapping tag → S/m; got {type(conductivity).__name__}")
        sigma.update({int(k): v for k, v in conductivity.items()})
    present = sorted(int(t) for t in np.unique(tet_tags))
    unknown = [t for t in present if t not in sigma]
    if unknown:
        known = ", ".join(f"{k} {TISSUE_NAMES.get(k, '(user)')}" for k in sorted(sigma))
        raise ValueError(
            f"{str(path)!r} has tetrahedra with tissue tag(s) {unknown} that have no conductivity; "
            f"known tags: {known}.  Pass them in S/m, e.g. load_head(path, conductivity={{"
            + ", ".join(f"{t}: 0.3" for t in unknown) + "})"
        )
    nodes = np.asarray(mesh.points, dtype=np.float64)[:, :3] * scale
    if not np.isfinite(nodes).all() or (len(nodes) and np.abs(nodes).max() > MAX_COORDINATE_M):
        raise ValueError(f"{str(path)!r}: node coordinates must be finite and within ±{MAX_COORDINATE_M:g} m "
                         f"(read as {units}); got up to {np.abs(nodes).max():.3g} m")
    keep = _tet_nodes(mesh)
    surfaces = {}
    for what, candidates in (("scalp", SCALP_TAGS), ("cortex", CORTEX_TAGS)):
        for tag in candidates:
            sel = tri_tags == tag
            if sel.any():
                oriented = _orient_away_from(nodes, tris[sel], tets, tet_tags, tag - SURFACE_TAG_OFFSET)
                surfaces[what] = surface_from_faces(nodes, oriented)
                surfaces[what + "_tag"] = tag
                break
    provenance: dict[str, Any] = {
        "file": str(path), "format": fmt, "units_in_file": units, "tag_array": key,
        "conductivity": {t: sigma[t] for t in present},
        "conductivity_source": {t: (CONDUCTIVITY_SOURCES.get(t, "") if conductivity is None or t not in conductivity
                                    else "given to load_head") for t in present},
    }
    for what in ("scalp", "cortex"):
        if what in surfaces:
            provenance[f"{what}_tag"] = surfaces[what + "_tag"]
    if len(keep) < len(nodes):
        provenance["points_not_in_tets"] = int(len(nodes) - len(keep))
        renumber = np.full(len(nodes), -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        nodes, tets = nodes[keep], renumber[tets]
    return MeshHead(
        name=name if name is not None else Path(path).name.split(".")[0],
        nodes=nodes, tets=tets, tags=tet_tags.astype(np.int32),
        conductivity={t: sigma[t] for t in present},
        scalp=surfaces.get("scalp"), cortex=surfaces.get("cortex"),
        frame=frame, provenance=provenance,
    )


def fields_from_meshio(mesh) -> MeshFields:
    """Node and tet fields of a ``meshio.Mesh``: node data on the tet nodes (the nodes of
    :func:`head_from_meshio`, same order), cell data on the tets only."""
    def shaped(a):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 2 and a.shape[1] == 1:
            return a[:, 0]
        if a.ndim == 2 and a.shape[1] == 9:
            return a.reshape(-1, 3, 3)
        return a

    keep = _tet_nodes(mesh)
    nodes = {k: shaped(v)[keep] for k, v in mesh.point_data.items() if k not in _RESERVED}
    tets = {}
    for k, blocks in mesh.cell_data.items():
        if k in _RESERVED:
            continue
        parts = [b for c, b in zip(mesh.cells, blocks) if c.type == "tetra"]
        if parts:
            tets[k] = shaped(np.concatenate([np.asarray(p).reshape(len(p), -1) for p in parts]))
    return MeshFields(nodes, tets)


# --------------------------------------------------------------------------- MeshHead → cells
def cells_for_writing(head: MeshHead, fields, pad_value: float):
    """Points (metres), blocks ``[(type, cells, tag)]``, node data and cell data for a writer.

    Surface vertices are matched to nodes (within 1e-9 of the mesh size); unmatched ones are
    appended as extra points, on which node fields are ``pad_value``.  Cell fields are given on
    the tets; triangles get ``pad_value``.
    """
    from scipy.spatial import cKDTree

    points = [head.nodes]
    n = head.n_nodes
    blocks = []
    tree = None
    size = float(np.ptp(head.nodes, axis=0).max()) or 1.0
    cortex_tag = SURFACE_TAG_OFFSET + (11 if (11 in head.tissues and 2 not in head.tissues) else 2)
    for surf, tag in ((head.scalp, SURFACE_TAG_OFFSET + 5), (head.cortex, cortex_tag)):
        if surf is None:
            continue
        tree = tree or cKDTree(head.nodes)
        dist, idx = tree.query(surf.vertices)
        far = dist > 1e-9 * size
        idx[far] = n + np.arange(int(far.sum()))
        n += int(far.sum())
        points.append(surf.vertices[far])
        blocks.append(("triangle", idx[surf.faces], tag))
    blocks.append(("tetra", np.asarray(head.tets), None))
    pts = np.concatenate(points)
    node_data, cell_data = {}, {}
    for key, value in (fields or {}).items():
        arr = np.asarray(value, dtype=np.float64)
        flat = arr.reshape(len(arr), -1) if arr.ndim else arr
        if len(flat) == head.n_tets:
            cell_data[key] = [np.full((len(b[1]), flat.shape[1]), pad_value) for b in blocks[:-1]] + [flat]
        else:
            pad = np.full((len(pts) - head.n_nodes, flat.shape[1]), pad_value)
            node_data[key] = np.concatenate([flat, pad])
    return pts, blocks, node_data, cell_data


def _check_fields(head: MeshHead, fields) -> dict:
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise TypeError(f"fields must be a mapping name → array; got {type(fields).__name__}")
    out = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not key or key in _RESERVED:
            raise ValueError(f"field names must be non-empty strings other than {sorted(_RESERVED)}; got {key!r}")
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0 or len(arr) not in (head.n_tets, head.n_nodes):
            raise ValueError(
                f"fields[{key!r}] must have one row per tet ({head.n_tets}) or per node ({head.n_nodes}); "
                f"got shape {arr.shape}"
            )
        comps = int(np.prod(arr.shape[1:], dtype=np.int64))
        if comps not in (1, 3, 9):
            raise ValueError(f"fields[{key!r}] must be scalar, (·, 3) vectors or (·, 3, 3) tensors per row; "
                             f"got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"fields[{key!r}] must be finite")
        out[key] = arr
    return out


# --------------------------------------------------------------------------- registry
def _registry():
    from . import msh, vtu

    return {".msh": msh, ".vtu": vtu}


HEAD_FORMATS = (".msh", ".vtu")


def load_head(path, *, units: str | None = None, conductivity: Mapping[int, float] | None = None,
              name: str | None = None, validate: bool = True) -> MeshHead:
    """Read a tetrahedral head mesh (``.msh`` or ``.vtu``) into a :class:`MeshHead` (metres, S/m).

    Parameters
    ----------
    path : str or path-like
    units : ``"mm"`` or ``"m"``, optional
        Length unit of the coordinates in the file.  Default: ``"mm"`` for ``.msh`` (SimNIBS
        convention), ``"m"`` for ``.vtu`` (what :func:`save_head` writes).
    conductivity : mapping tag → S/m, optional
        Added to / overriding :data:`meshes.DEFAULT_CONDUCTIVITY`; needed for any tag other than
        1–12.  Only the tags present are kept in the head.
    name : str, optional
        Head name; default the file name up to its first dot.
    validate : bool
        Run :meth:`MeshHead.validate` (inverted tets, non-manifold faces, open scalp) and raise
        on a broken mesh.

    Returns
    -------
    MeshHead in the frame ``"head"`` (use ``dataclasses.replace(head, frame="MNI")`` when you know
    better) or the frame its sidecar ``<file>.json`` declares (written by :func:`save_head` with
    ``sidecar=True``, e.g. by ``efield head build``: frame, species and provenance); triangles tagged
    1005 become ``scalp`` and 1002 (or 1011) ``cortex``, oriented away from the tissue they bound.
    """
    p = existing_file(path)
    ext = extension(p, HEAD_FORMATS)
    head = _registry()[ext].read(p, units=units, conductivity=conductivity, name=name)
    head = _apply_sidecar(head, p)
    if validate:
        try:
            head.validate()
        except ValueError as exc:
            raise ValueError(f"{str(p)!r}: {exc}") from None
    return head


#: marks a head file's sidecar JSON (``head.msh.json``) as written by this toolkit
SIDECAR_KEY = "efield_head_sidecar"


def sidecar_path(path) -> Path:
    """The sidecar of a head file: ``<file>.json`` beside it (``head.msh`` → ``head.msh.json``)."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def _apply_sidecar(head: MeshHead, path: Path) -> MeshHead:
    import dataclasses
    import json

    from .._mesh import MESH_FRAMES

    side = sidecar_path(path)
    if not side.is_file():
        return head
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"head sidecar '{side}' is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get(SIDECAR_KEY) != 1:
        return head  # someone else's JSON: not ours to interpret
    frame = data.get("frame", head.frame)
    if frame not in MESH_FRAMES:
        raise ValueError(f"head sidecar '{side}': frame must be one of {', '.join(MESH_FRAMES)}; got {frame!r}")
    prov = {**dict(head.provenance), **dict(data.get("provenance", {})), "sidecar": side.name}
    if data.get("species") in ("human", "rat", "mouse"):
        prov["species"] = data["species"]
    return dataclasses.replace(head, frame=frame, provenance=prov)


def load_head_fields(path) -> MeshFields:
    """Fields stored in a ``.msh``/``.vtu`` head file, e.g. written by :func:`save_head`.

    Returns
    -------
    MeshFields(nodes={name: (n, ...)}, tets={name: (m, ...)}) with rows in the order of the
    nodes / tets of :func:`load_head` on the same file; vectors (·, 3), tensors (·, 3, 3).
    Values are as stored (SI units, e.g. V/m, unless the file says otherwise).
    """
    p = existing_file(path)
    ext = extension(p, HEAD_FORMATS)
    return _registry()[ext].read_fields(p)


def save_head(head: MeshHead, path, *, fields: Mapping[str, Any] | None = None, force: bool = False,
              msh_format: str = "2.2", sidecar: bool = False) -> Path:
    """Write ``head`` (tets, tissue tags, scalp/cortex triangles) and ``fields`` to ``.msh`` or ``.vtu``.

    Parameters
    ----------
    head : MeshHead
    path : str or path-like; the extension picks the format.
    fields : mapping name → array, optional
        Per tet ``(m,)``, ``(m, 3)`` or ``(m, 3, 3)``, or per node ``(n, …)`` (an array with
        ``m == n`` rows counts as per tet), e.g. ``{"E": E_tets, "magnE": norm}`` in V/m.
    force : bool
        Overwrite an existing file (otherwise ``FileExistsError``).  Writes to a temporary file
        and renames it, so a failed write never leaves a partial file.
    msh_format : ``"2.2"`` (ASCII, default; read by gmsh and SimNIBS), ``"2.2-binary"`` or ``"4.1"``
        (binary); only used for ``.msh``.

    Notes
    -----
    ``.msh`` coordinates are written in millimetres (SimNIBS), ``.vtu`` in metres; tags go to
    ``gmsh:physical`` (with tissue names as physical names) or the ``tissue`` cell array.
    ``sidecar``: also write ``<file>.json`` with the head's frame, species and provenance, which
    :func:`load_head` reads back (a ``.msh`` has no place for them).
    Scalp triangles get tag 1005 and cortex 1002 (1011 for a ``brain``-only mesh); cell fields
    hold 0 (``.msh``) or NaN (``.vtu``) on those triangles.  Anisotropy is not written.

    Returns
    -------
    The path written.
    """
    if not isinstance(head, MeshHead):
        raise TypeError(f"head must be a MeshHead; got {type(head).__name__}")
    p = Path(os.fspath(path))
    ext = extension(p, HEAD_FORMATS)
    checked = _check_fields(head, fields)
    module = _registry()[ext]
    options = {"msh_format": msh_format} if ext == ".msh" else {}
    if ext == ".msh" and msh_format not in ("2.2", "2.2-binary", "4.1"):
        raise ValueError(f"msh_format must be '2.2', '2.2-binary' or '4.1'; got {msh_format!r}")
    side = sidecar_path(p)
    if sidecar and side.exists() and not force:
        raise FileExistsError(f"'{side}' exists; pass force=True (--force) to overwrite it")
    with atomic_target(p, force=force) as tmp:
        module.write(head, tmp, fields=checked, **options)
    if sidecar:
        import json

        prov = dict(head.provenance)
        record = {SIDECAR_KEY: 1, "mesh": p.name, "frame": head.frame, "species": prov.get("species"),
                  "provenance": prov}
        with atomic_target(side, force=True) as tmp:
            tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return p



def save_subject_folder(head: MeshHead, folder, *, mni_to_head_mm=None, msh_format: str = "2.2-binary",
                        force: bool = False) -> Path:
    """Write ``head`` as a SimNIBS-style subject folder ``m2m_<id>/``: ``<id>.msh`` (mm) and, given
    ``mni_to_head_mm``, ``toMNI/MNI2conform_12DOF.txt`` (the 4×4 affine MNI → head frame, mm).

    Only what this toolkit (and SimNIBS's mesh readers) use is written: no T1, no segmentation.

    Parameters
    ----------
    head : MeshHead in its own (subject) frame, metres
    folder : path whose name is ``m2m_<id>``; created (its parent must exist)
    mni_to_head_mm : (4, 4) float array, optional — affine from MNI coordinates (mm) to the head's (mm)
    msh_format, force : as in :func:`save_head`

    Returns
    -------
    The folder.
    """
    folder = Path(os.fspath(folder))
    if not folder.name.startswith("m2m_") or len(folder.name) <= 4:
        raise ValueError(f"a SimNIBS subject folder is named m2m_<id>; got {folder.name!r}")
    sub = folder.name[4:]
    (folder / "toMNI").mkdir(parents=True, exist_ok=True)
    save_head(head, folder / f"{sub}.msh", msh_format=msh_format, force=force)
    if mni_to_head_mm is not None:
        m = np.asarray(mni_to_head_mm, dtype=float)
        if m.shape != (4, 4) or not np.isfinite(m).all():
            raise ValueError(f"mni_to_head_mm must be a finite 4x4 affine (mm); got shape {m.shape}")
        with atomic_target(folder / "toMNI" / "MNI2conform_12DOF.txt", force=force) as tmp:
            np.savetxt(tmp, m, fmt="%.10g")
    return folder
