"""gmsh ``.msh`` head meshes (SimNIBS convention: millimetres, ``gmsh:physical`` tissue tags).

Reading goes through meshio (v2.2 and v4.x, ASCII and binary).  Writing uses the small writers
below: v2.2 ASCII or binary (what SimNIBS reads) and v4.1 binary.  meshio 5.3's writers cannot be
used: its v4.1 writer cannot give several tissues their own physical tags, and its v2.2 ASCII
writer prints NumPy-2 scalars into data sections.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._mesh import TISSUE_NAMES, MeshHead

_GMSH_TYPE = {"triangle": 2, "tetra": 4}
_DIM = {"triangle": 2, "tetra": 3}


def _read_meshio(path: Path):
    import meshio

    try:
        with open(path, "rb") as fh:
            if _is_v2(fh):
                return _read_v2(fh)
        return meshio.read(path, file_format="gmsh")
    except Exception as exc:  # meshio raises ReadError, ValueError, IndexError... on broken files
        raise ValueError(f"cannot read gmsh file {str(path)!r}: {type(exc).__name__}: {exc}") from exc


def _is_v2(fh) -> bool:
    """Whether the file is gmsh v2 (leaves ``fh`` after the version line)."""
    line = fh.readline().decode(errors="replace").strip()
    while line == "$Comments":
        while fh.readline().decode(errors="replace").strip() != "$EndComments":
            pass
        line = fh.readline().decode(errors="replace").strip()
    if line != "$MeshFormat":
        raise ValueError("not a gmsh file: it does not start with $MeshFormat")
    fields = fh.readline().decode(errors="replace").split()
    fh.seek(0)
    return bool(fields) and fields[0].split(".")[0] == "2"


def _read_v2(fh):
    """gmsh v2 through meshio's section readers.

    meshio 5.3's own v2 reader fails on any ``$ElementData`` (it splits the data by the length of
    ``(type, cells)`` tuples), which every SimNIBS result file has; this loop splits it by block size.
    """
    import meshio
    from meshio.gmsh import _gmsh22, common
    from meshio.gmsh.main import _read_header

    fh.readline()  # $MeshFormat
    _, data_size, is_ascii = _read_header(fh)
    points, cells, field_data, point_data, raw, cell_tags = None, [], {}, {}, {}, {}
    while True:
        line, eof = common._fast_forward_over_blank_lines(fh)
        if eof:
            break
        section = line[1:].strip()
        if section == "PhysicalNames":
            common._read_physical_names(fh, field_data)
        elif section == "Nodes":
            points, point_tags = _gmsh22._read_nodes(fh, is_ascii)
        elif section == "Elements":
            _, cell_tags = _gmsh22._read_cells(fh, cells, point_tags, is_ascii)
        elif section == "NodeData":
            common._read_data(fh, "NodeData", point_data, data_size, is_ascii)
        elif section == "ElementData":
            common._read_data(fh, "ElementData", raw, data_size, is_ascii)
        else:
            common._fast_forward_to_end_block(fh, section)
    if points is None or not cells:
        raise ValueError("the file has no $Nodes or no $Elements section")
    bounds = np.cumsum([len(c) for _, c in cells])[:-1]
    cell_data = {k: np.split(v, bounds) for k, v in raw.items()}
    for tag_name, by_type in cell_tags.items():
        offset = {}
        cell_data[tag_name] = []
        for kind, block in cells:
            start = offset.get(kind, 0)
            offset[kind] = start + len(block)
            cell_data[tag_name].append(np.asarray(by_type.get(kind, [])[start:start + len(block)]))
    return meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data, field_data=field_data)


def read(path: Path, *, units=None, conductivity=None, name=None) -> MeshHead:
    from . import head_from_meshio
    from .surface import unit_scale

    u, scale = unit_scale(units, "mm")
    mesh = _read_meshio(path)
    return head_from_meshio(mesh, path=path, fmt="msh", units=u, scale=scale, conductivity=conductivity,
                            name=name, tag_keys=("gmsh:physical", "gmsh:geometrical"))


def read_fields(path: Path):
    from . import fields_from_meshio

    mesh = _read_meshio(path)
    return fields_from_meshio(mesh, len(mesh.points))


def _physical_name(tag: int) -> str:
    if tag > 1000 and tag - 1000 in TISSUE_NAMES:
        return f"{TISSUE_NAMES[tag - 1000]}_surface"
    return TISSUE_NAMES.get(tag, f"tag_{tag}")


def write(head: MeshHead, path: Path, *, fields, msh_format: str = "2.2") -> None:
    from . import cells_for_writing

    points_m, blocks, node_data, cell_data = cells_for_writing(head, fields, pad_value=0.0)
    points_mm = points_m * 1e3
    if msh_format != "4.1":  # v2.2: tets in head order, one tag per element
        blocks = blocks[:-1] + [("tetra", blocks[-1][1], np.asarray(head.tags))]
        flat_cells = {k: np.concatenate(v) for k, v in cell_data.items()}
        _write_v22(path, points_mm, blocks, node_data, flat_cells, binary=msh_format == "2.2-binary")
        return
    # v4.1: one entity per tissue, so tets are grouped by tag (stable within a tag) and the
    # cell fields follow the same order
    tet_cells = blocks[-1][1]
    split = blocks[:-1]
    n_tri = sum(len(b[1]) for b in split)
    perm = [np.arange(n_tri)]
    for tag in np.unique(head.tags):
        sel = np.flatnonzero(head.tags == tag)
        split.append(("tetra", tet_cells[sel], int(tag)))
        perm.append(n_tri + sel)
    perm = np.concatenate(perm)
    flat_cells = {k: np.concatenate(v)[perm] for k, v in cell_data.items()}
    _write_v41(path, points_mm, split, node_data, flat_cells)


def _write_data_v2(fh, section, key, values, binary):
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    fh.write(f'${section}\n1\n"{key}"\n1\n0.0\n3\n0\n{values.shape[1]}\n{len(values)}\n'.encode())
    ids = np.arange(1, len(values) + 1)
    if binary:
        rec = np.empty(len(values), dtype=[("i", "i4"), ("v", "f8", (values.shape[1],))])
        rec["i"], rec["v"] = ids, values
        rec.tofile(fh)
        fh.write(b"\n")
    else:
        np.savetxt(fh, np.column_stack([ids, values]), fmt=["%d"] + ["%.16g"] * values.shape[1])
    fh.write(f"$End{section}\n".encode())


def _physical_names(fh, blocks):
    names = {(_DIM[kind], int(t)): _physical_name(int(t)) for kind, _, tag in blocks for t in np.unique(tag)}
    fh.write(f"$PhysicalNames\n{len(names)}\n".encode())
    for (dim, tag), name in names.items():
        fh.write(f'{dim} {tag} "{name}"\n'.encode())
    fh.write(b"$EndPhysicalNames\n")


def _write_v22(path, points, blocks, node_data, cell_data, binary):
    """gmsh 2.2 (what SimNIBS reads): physical and elementary tag = tissue tag.

    (meshio 5.3's v2.2 writer prints NumPy-2 scalars as ``np.float64(…)`` in ASCII data.)
    """
    n = len(points)
    with open(path, "wb") as fh:
        fh.write(f"$MeshFormat\n2.2 {int(binary)} 8\n".encode())
        if binary:
            np.array([1], dtype="i4").tofile(fh)
            fh.write(b"\n")
        fh.write(b"$EndMeshFormat\n")
        _physical_names(fh, blocks)
        fh.write(f"$Nodes\n{n}\n".encode())
        ids = np.arange(1, n + 1)
        if binary:
            rec = np.empty(n, dtype=[("i", "i4"), ("x", "f8", (3,))])
            rec["i"], rec["x"] = ids, points
            rec.tofile(fh)
            fh.write(b"\n")
        else:
            np.savetxt(fh, np.column_stack([ids, points]), fmt=["%d", "%.17g", "%.17g", "%.17g"])
        total = sum(len(c) for _, c, _ in blocks)
        fh.write(f"$EndNodes\n$Elements\n{total}\n".encode())
        first = 1
        for kind, cells, tag in blocks:
            cells = np.asarray(cells, dtype=np.int64).reshape(len(cells), -1)
            m = len(cells)
            ids = np.arange(first, first + m)
            tags = np.broadcast_to(np.asarray(tag), (m,))
            table = np.column_stack([ids, tags, tags, cells + 1])
            if binary:
                np.array([_GMSH_TYPE[kind], m, 2], dtype="i4").tofile(fh)
                table.astype("i4").tofile(fh)
            else:
                head = np.column_stack([ids, np.full(m, _GMSH_TYPE[kind]), np.full(m, 2)])
                np.savetxt(fh, np.column_stack([head, table[:, 1:]]), fmt="%d")
            first += m
        if binary:
            fh.write(b"\n")
        fh.write(b"$EndElements\n")
        for key, values in node_data.items():
            _write_data_v2(fh, "NodeData", key, values, binary)
        for key, values in cell_data.items():
            _write_data_v2(fh, "ElementData", key, values, binary)


def _write_v41(path, points, blocks, node_data, cell_data):
    """gmsh 4.1 binary: one entity per (dimension, tag) with that tag as its physical tag."""
    size_t, c_int, c_double = np.dtype("u8"), np.dtype("i4"), np.dtype("f8")
    n = len(points)
    with open(path, "wb") as fh:
        fh.write(b"$MeshFormat\n4.1 1 8\n")
        np.array([1], dtype=c_int).tofile(fh)
        fh.write(b"\n$EndMeshFormat\n")
        _physical_names(fh, blocks)
        fh.write(b"$Entities\n")
        surfaces = [b for b in blocks if b[0] == "triangle"]
        volumes = [b for b in blocks if b[0] == "tetra"]
        np.array([0, 0, len(surfaces), len(volumes)], dtype=size_t).tofile(fh)
        for _, cells, tag in surfaces + volumes:
            used = points[np.unique(cells)]
            np.array([tag], dtype=c_int).tofile(fh)
            np.concatenate([used.min(axis=0), used.max(axis=0)]).astype(c_double).tofile(fh)
            np.array([1], dtype=size_t).tofile(fh)
            np.array([tag], dtype=c_int).tofile(fh)
            np.array([0], dtype=size_t).tofile(fh)
        fh.write(b"\n$EndEntities\n$Nodes\n")
        # all nodes in one block of the first volume entity (gmsh and meshio look nodes up by tag)
        np.array([1, n, 1, n], dtype=size_t).tofile(fh)
        np.array([3, volumes[0][2], 0], dtype=c_int).tofile(fh)
        np.array([n], dtype=size_t).tofile(fh)
        np.arange(1, n + 1, dtype=size_t).tofile(fh)
        np.ascontiguousarray(points, dtype=c_double).tofile(fh)
        fh.write(b"\n$EndNodes\n$Elements\n")
        total = sum(len(c) for _, c, _ in blocks)
        np.array([len(blocks), total, 1, total], dtype=size_t).tofile(fh)
        first = 1
        for kind, cells, tag in blocks:
            np.array([_DIM[kind], tag, _GMSH_TYPE[kind]], dtype=c_int).tofile(fh)
            np.array([len(cells)], dtype=size_t).tofile(fh)
            ids = np.arange(first, first + len(cells), dtype=size_t)
            np.column_stack([ids, np.asarray(cells, dtype=size_t) + 1]).astype(size_t).tofile(fh)
            first += len(cells)
        fh.write(b"\n$EndElements\n")
        for section, data in (("NodeData", node_data), ("ElementData", cell_data)):
            for key, values in data.items():
                values = np.asarray(values, dtype=c_double).reshape(len(values), -1)
                header = f'${section}\n1\n"{key}"\n1\n0.0\n3\n0\n{values.shape[1]}\n{len(values)}\n'
                fh.write(header.encode())
                rec = np.empty(len(values), dtype=[("i", c_int), ("v", c_double, (values.shape[1],))])
                rec["i"] = np.arange(1, len(values) + 1)
                rec["v"] = values
                rec.tofile(fh)
                fh.write(f"\n$End{section}\n".encode())
