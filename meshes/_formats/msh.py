"""gmsh ``.msh`` head meshes (SimNIBS convention: millimetres, ``gmsh:physical`` tissue tags).

Reading goes through meshio's file layout code (v2.2 and v4.x, ASCII and binary) with the strict
section readers below for ``$Nodes``, ``$Elements`` and ``$NodeData``/``$ElementData``: a record
count that disagrees with the records present, an element referring to a missing node, second-order
tetrahedra (type 11) and an unclosed section are refused with ``ValueError`` naming the file; node
tags are looked up through a sorted index, so sparse tags (up to 2**63) cost no memory.  Writing uses the small writers
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


class _Broken(ValueError):
    """A structural problem found by the readers below (message without the file name)."""


def _read_meshio(path: Path):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # meshio warns on odd files; every problem raises below
            with open(path, "rb") as fh:
                if _is_v2(fh):
                    mesh = _read_v2(fh)
                else:
                    mesh = _read_v4(fh)
    except (Exception, SystemExit) as exc:  # meshio raises ReadError, ValueError, IndexError...
        if isinstance(exc, _Broken):
            raise ValueError(f"cannot read gmsh file {str(path)!r}: {exc}") from None
        raise ValueError(f"cannot read gmsh file {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    n = len(mesh.points)
    for key, values in mesh.point_data.items():
        if len(values) != n:
            raise ValueError(f"cannot read gmsh file {str(path)!r}: $NodeData {key!r} has {len(values)} values "
                             f"for {n} nodes (allowed: one per node)")
    for key, blocks in mesh.cell_data.items():
        got, want = sum(len(b) for b in blocks), sum(len(c.data) for c in mesh.cells)
        if len(blocks) != len(mesh.cells) or any(len(b) != len(c.data) for b, c in zip(blocks, mesh.cells)):
            raise ValueError(f"cannot read gmsh file {str(path)!r}: $ElementData {key!r} has {got} values "
                             f"for {want} elements (allowed: one per element)")
    if any(c.type == "tetra10" for c in mesh.cells):
        raise ValueError(
            f"cannot read gmsh file {str(path)!r}: it holds second-order tetrahedra (gmsh element type 11, "
            "10 nodes); only first-order (linear, 4-node, type 4) tetrahedra are allowed.  Export the mesh "
            "as first order (gmsh: Mesh.ElementOrder = 1, or 'SetOrder 1') and read it again"
        )
    return mesh


def _end_block(fh, section: str) -> None:
    """The next non-blank line must close ``section`` (a record count that is too small leaves data)."""
    while True:
        raw = fh.readline()
        if not raw:
            raise _Broken(f"${section} is not closed by $End{section} (end of file)")
        line = raw.decode(errors="replace").strip()
        if line:
            break
    if line != f"$End{section}":
        raise _Broken(f"${section} holds more records than its count announces: expected $End{section} "
                      f"after the announced records, got {line[:60]!r}")


def _skip_section(fh, section: str) -> None:
    """Skip an unread section (gmsh: unknown sections are ignored) up to its ``$End`` line."""
    end = f"$End{section}".encode()
    for raw in fh:
        if raw.strip() == end:
            return
    raise _Broken(f"section ${section[:40]} is not closed by $End{section[:40]} (end of file)")


def _count(fh, section: str) -> int:
    raw = fh.readline().decode(errors="replace").strip()
    try:
        n = int(raw)
    except ValueError:
        raise _Broken(f"${section} must start with a record count (an integer); got {raw[:60]!r}") from None
    if n < 0:
        raise _Broken(f"${section} count must be >= 0; got {n}")
    return n


def _ascii_lines(fh, n: int, section: str) -> list[list[str]]:
    rows = []
    for _ in range(n):
        raw = fh.readline()
        line = raw.decode(errors="replace").strip()
        if not raw or line.startswith("$"):
            raise _Broken(f"${section} announces {n} records but holds only {len(rows)}")
        rows.append(line.split())
    return rows


def _remaining(fh) -> int:
    import os

    return os.fstat(fh.fileno()).st_size - fh.tell()


def _fromfile(f, dtype, count: int, is_ascii: bool, section: str):
    """``count`` values from ``f`` (never more than the file can hold), or an error."""
    if count < 0 or count * (2 if is_ascii else np.dtype(dtype).itemsize) > _remaining(f) + 1:
        raise _Broken(f"${section} announces {count} values but the file is too short to hold them")
    out = np.fromfile(f, dtype=dtype, count=count, sep=" " if is_ascii else "")
    if len(out) != count:
        raise _Broken(f"${section} ends early: expected {count} values, got {len(out)}")
    return out


def _read_data(f, section, data_dict, data_size, is_ascii):
    """A ``$NodeData``/``$ElementData`` section (gmsh v2 and v4 share the layout)."""
    def integer():
        raw = f.readline().decode(errors="replace").strip()
        try:
            return int(raw)
        except ValueError:
            raise _Broken(f"${section}: expected an integer; got {raw[:60]!r}") from None

    def lines(n, what):
        if not 0 <= n <= 64:
            raise _Broken(f"${section}: {n} {what} tags (allowed: 0 to 64)")
        return [f.readline().decode(errors="replace").strip() for _ in range(n)]

    strings = lines(integer(), "string")
    lines(integer(), "real")
    ints = lines(integer(), "integer")
    try:
        ints = [int(v) for v in ints]
    except ValueError:
        raise _Broken(f"${section}: integer tags must be integers; got {ints}") from None
    if not strings or len(ints) < 3 or not 1 <= ints[1] <= 9 or ints[2] < 0:
        raise _Broken(f"${section} needs a name, >= 3 integer tags, 1..9 components and a count >= 0; "
                      f"got names {strings}, integer tags {ints}")
    comps, n = ints[1], ints[2]
    if is_ascii:
        data = _fromfile(f, np.float64, n * (1 + comps), True, section).reshape(n, 1 + comps)
        index, data = data[:, 0], data[:, 1:]
    else:
        rec = _fromfile(f, [("i", "<i4"), ("v", "<f8", (comps,))], n, False, section)
        index, data = rec["i"], np.array(rec["v"]).reshape(n, comps)
    if not np.array_equal(index, np.arange(1, n + 1)):
        raise _Broken(f"${section} {strings[0]!r}: entries must be numbered 1..{n} in order")
    _end_block(f, section)
    data_dict[strings[0].replace('"', "")] = data[:, 0] if comps == 1 else data


def _binary(fh, dtype, n: int, section: str):
    dtype = np.dtype(dtype)
    if dtype.itemsize * n > _remaining(fh):
        raise _Broken(f"${section} announces {n} records of {dtype.itemsize} bytes but the file ends before "
                      f"({_remaining(fh)} bytes left)")
    raw = fh.read(dtype.itemsize * n)
    if len(raw) != dtype.itemsize * n:
        raise _Broken(f"${section} announces {n} records but the file ends after {len(raw) // dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype)


def _index(tags: np.ndarray, where: str) -> tuple[np.ndarray, callable]:
    """Node tags → a function mapping referenced tags to 0-based rows (no array indexed by tag)."""
    tags = np.asarray(tags, dtype=np.int64)
    if len(tags) and (tags.min() < 1):
        raise _Broken(f"{where}: node tags must be >= 1; got {int(tags.min())}")
    order = np.argsort(tags, kind="stable")
    sorted_tags = tags[order]
    if len(tags) > 1 and (np.diff(sorted_tags) == 0).any():
        dup = int(sorted_tags[1:][np.diff(sorted_tags) == 0][0])
        raise _Broken(f"{where}: node tag {dup} appears more than once")

    def rows(refs):
        refs = np.asarray(refs, dtype=np.int64)
        if len(sorted_tags) == 0:
            if refs.size:
                raise _Broken("elements refer to nodes but the file has no nodes")
            return refs
        pos = np.clip(np.searchsorted(sorted_tags, refs), 0, len(sorted_tags) - 1)
        bad = sorted_tags[pos] != refs
        if bad.any():
            raise _Broken(f"an element refers to node tag {int(refs[bad].flat[0])}, which is not in $Nodes "
                          f"(allowed: the {len(tags)} node tags listed there)")
        return order[pos]

    return order, rows


def _elements_table(kind_code: int, where: str):
    from meshio._common import num_nodes_per_cell
    from meshio.gmsh.common import _gmsh_to_meshio_type

    if kind_code not in _gmsh_to_meshio_type:
        raise _Broken(f"{where}: unknown gmsh element type {kind_code}")
    kind = _gmsh_to_meshio_type[kind_code]
    return kind, num_nodes_per_cell[kind]


def _read_v2_nodes(fh, is_ascii):
    n = _count(fh, "Nodes")
    if is_ascii:
        rows = _ascii_lines(fh, n, "Nodes")
        if any(len(r) != 4 for r in rows):
            bad = next(r for r in rows if len(r) != 4)
            raise _Broken(f"$Nodes records must be 'tag x y z' (4 fields); got {' '.join(bad)[:60]!r}")
        try:
            tags = np.array([int(r[0]) for r in rows], dtype=np.int64)
            points = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64).reshape(n, 3)
        except (ValueError, OverflowError):
            raise _Broken("$Nodes holds a record that is not 'integer x y z'") from None
    else:
        data = _binary(fh, [("i", "<i4"), ("x", "<f8", (3,))], n, "Nodes")
        tags, points = data["i"].astype(np.int64), np.array(data["x"], dtype=np.float64)
        fh.readline()  # the newline after the binary block
    if not np.isfinite(points).all():
        raise _Broken("$Nodes holds non-finite coordinates")
    _end_block(fh, "Nodes")
    return points, tags


def _read_v2_elements(fh, is_ascii, node_rows):
    total = _count(fh, "Elements")
    blocks = []  # (kind, nodes (m, k) tags, physical, geometrical)

    def add(kind, nodes, physical, geometrical):
        if blocks and blocks[-1][0] == kind:
            for part, new in zip(blocks[-1][1:], (nodes, physical, geometrical)):
                part.append(new)
        else:
            blocks.append((kind, [nodes], [physical], [geometrical]))

    if is_ascii:
        for fields in _ascii_lines(fh, total, "Elements"):
            try:
                values = [int(v) for v in fields]
            except ValueError:
                raise _Broken(f"$Elements holds a record that is not integers: {' '.join(fields)[:60]!r}") from None
            if len(values) < 3:
                raise _Broken(f"$Elements record {' '.join(fields)[:60]!r} is too short")
            kind, k = _elements_table(values[1], "$Elements")
            ntags = values[2]
            if ntags < 0 or len(values) != 3 + ntags + k:
                raise _Broken(f"$Elements record {' '.join(fields)[:60]!r}: a {kind} with {ntags} tags needs "
                              f"{3 + max(ntags, 0) + k} fields; got {len(values)}")
            tags = values[3:3 + ntags] + [0, 0]
            add(kind, np.array([values[3 + ntags:]], dtype=np.int64), [tags[0]], [tags[1]])
    else:
        seen = 0
        while seen < total:
            kind_code, m, ntags = (int(v) for v in _binary(fh, "<i4", 3, "Elements"))
            kind, k = _elements_table(kind_code, "$Elements")
            if m < 1 or ntags < 0 or seen + m > total:
                raise _Broken(f"$Elements announces {total} elements but a block header says {m} more after {seen}")
            data = _binary(fh, "<i4", m * (1 + ntags + k), "Elements").reshape(m, -1).astype(np.int64)
            tags = np.column_stack([data[:, 1:1 + ntags], np.zeros((m, 2), np.int64)])
            add(kind, data[:, 1 + ntags:], tags[:, 0], tags[:, 1])
            seen += m
        fh.readline()
    _end_block(fh, "Elements")
    from meshio.gmsh.common import _gmsh_to_meshio_order

    cells, physical, geometrical = [], [], []
    for kind, nodes, phys, geom in blocks:
        cells.append((kind, _gmsh_to_meshio_order(kind, node_rows(np.concatenate(nodes)))))
        physical.append(np.concatenate([np.asarray(p, np.int64).reshape(-1) for p in phys]))
        geometrical.append(np.concatenate([np.asarray(g, np.int64).reshape(-1) for g in geom]))
    return cells, {"gmsh:physical": physical, "gmsh:geometrical": geometrical}


def _is_v2(fh) -> bool:
    """Whether the file is gmsh v2 (leaves ``fh`` after the version line)."""
    line = fh.readline().decode(errors="replace").strip()
    while line == "$Comments":
        while True:
            raw = fh.readline()
            if not raw:
                raise _Broken("$Comments is not closed by $EndComments")
            if raw.decode(errors="replace").strip() == "$EndComments":
                break
        line = fh.readline().decode(errors="replace").strip()
    if line != "$MeshFormat":
        raise _Broken(f"not a gmsh file: it must start with $MeshFormat; got {line[:60]!r}")
    fields = fh.readline().decode(errors="replace").split()
    fh.seek(0)
    return bool(fields) and fields[0].split(".")[0] == "2"


def _read_v4(fh):
    """gmsh v4 through meshio's section loop, with the strict readers here for nodes, elements, data.

    meshio's v4 node reader sizes its arrays by the header (rows it never fills stay
    uninitialised) and its element reader allocates an array indexed by node tag.
    """
    from unittest import mock

    import meshio
    from meshio._mesh import CellBlock
    from meshio.gmsh import _gmsh41

    def read_nodes(f, is_ascii, data_size):
        size_t = _gmsh41._size_type(data_size)
        c_int = np.int64 if is_ascii else np.dtype("<i4")
        n_blocks, total = (int(v) for v in _fromfile(f, size_t, 4, is_ascii, "Nodes")[:2])
        points, tags, dim_tags = [], [], []
        for _ in range(n_blocks):
            dim, entity, parametric = (int(v) for v in _fromfile(f, c_int, 3, is_ascii, "Nodes"))
            if parametric != 0:
                raise _Broken("parametric nodes are not supported (allowed: parametric = 0)")
            n = int(_fromfile(f, size_t, 1, is_ascii, "Nodes")[0])
            if n > total:
                raise _Broken(f"$Nodes block holds {n} nodes, more than the {total} announced")
            tags.append(_fromfile(f, size_t, n, is_ascii, "Nodes").astype(np.int64))
            points.append(_fromfile(f, np.float64 if is_ascii else "<f8", 3 * n, is_ascii, "Nodes").reshape(n, 3))
            dim_tags.append(np.tile([dim, entity], (n, 1)))
            if sum(len(t) for t in tags) > total:
                break
        got = sum(len(t) for t in tags)
        if got != total:
            raise _Broken(f"$Nodes announces {total} nodes but its blocks hold {got}")
        _end_block(f, "Nodes")
        pts = np.concatenate(points) if points else np.zeros((0, 3))
        if not np.isfinite(pts).all():
            raise _Broken("$Nodes holds non-finite coordinates")
        tags = np.concatenate(tags) if tags else np.zeros(0, np.int64)
        return pts, tags, (np.concatenate(dim_tags) if dim_tags else np.zeros((0, 2), int))

    def read_elements(f, point_tags, physical_tags, bounding_entities, is_ascii, data_size, field_data):
        from meshio.gmsh.common import _gmsh_to_meshio_order

        if point_tags is None:
            raise _Broken("$Elements comes before $Nodes")
        _, rows = _index(point_tags, "$Nodes")
        size_t = _gmsh41._size_type(data_size)
        c_int = np.int64 if is_ascii else np.dtype("<i4")
        n_blocks, total = (int(v) for v in _fromfile(f, size_t, 4, is_ascii, "Elements")[:2])
        cells, physical, geometrical, got = [], [], [], 0
        for _ in range(n_blocks):
            dim, entity, code = (int(v) for v in _fromfile(f, c_int, 3, is_ascii, "Elements"))
            kind, k = _elements_table(code, "$Elements")
            n = int(_fromfile(f, size_t, 1, is_ascii, "Elements")[0])
            got += n
            if got > total:
                raise _Broken(f"$Elements announces {total} elements but its blocks hold more")
            data = _fromfile(f, size_t, n * (1 + k), is_ascii, "Elements").astype(np.int64).reshape(n, 1 + k)
            if kind == "tetra10":
                raise _Broken("it holds second-order tetrahedra (gmsh element type 11, 10 nodes); only "
                              "first-order (linear, 4-node, type 4) tetrahedra are allowed.  Export the mesh "
                              "as first order (gmsh: Mesh.ElementOrder = 1) and read it again")
            cells.append(CellBlock(kind, _gmsh_to_meshio_order(kind, rows(data[:, 1:]))))
            try:
                phys = physical_tags[dim][entity] if physical_tags else []
            except (KeyError, IndexError):
                raise _Broken(f"$Elements block refers to entity ({dim}, {entity}), which is not in $Entities") \
                    from None
            physical.append(np.full(n, phys[0] if len(phys) else 0, dtype=int))
            geometrical.append(np.full(n, entity, dtype=int))
        if got != total:
            raise _Broken(f"$Elements announces {total} elements but its blocks hold {got}")
        _end_block(f, "Elements")
        return cells, {"gmsh:physical": physical, "gmsh:geometrical": geometrical}, {}

    def end_block(f, block):
        if block in ("Nodes", "Elements", "Entities"):
            _end_block(f, block)
        else:
            _skip_section(f, block)

    with mock.patch.object(_gmsh41, "_read_nodes", read_nodes), \
            mock.patch.object(_gmsh41, "_read_elements", read_elements), \
            mock.patch.object(_gmsh41, "_read_data", _read_data), \
            mock.patch.object(_gmsh41, "_fast_forward_to_end_block", end_block):
        return meshio.read(fh.name, file_format="gmsh")


def _read_v2(fh):
    """gmsh v2: strict ``$Nodes``/``$Elements`` readers below, meshio's for the data sections.

    meshio 5.3's own v2 reader fails on any ``$ElementData`` (it splits the data by the length of
    ``(type, cells)`` tuples), which every SimNIBS result file has, ignores records beyond the
    announced counts and indexes an array by node tag; the readers here refuse miscounted
    sections and map node tags through a sorted lookup.
    """
    import meshio
    from meshio.gmsh import common
    from meshio.gmsh.main import _read_header

    fh.readline()  # $MeshFormat
    _, data_size, is_ascii = _read_header(fh)
    points, cells, field_data, point_data, raw, cell_tags = None, [], {}, {}, {}, {}
    node_rows = None
    while True:
        line, eof = common._fast_forward_over_blank_lines(fh)
        if eof:
            break
        section = line[1:].strip()
        if section == "PhysicalNames":
            common._read_physical_names(fh, field_data)
        elif section == "Nodes":
            if points is not None:
                raise _Broken("the file has two $Nodes sections")
            points, point_tags = _read_v2_nodes(fh, is_ascii)
            _, node_rows = _index(point_tags, "$Nodes")
        elif section == "Elements":
            if node_rows is None:
                raise _Broken("$Elements comes before $Nodes")
            if cells:
                raise _Broken("the file has two $Elements sections")
            cells, cell_tags = _read_v2_elements(fh, is_ascii, node_rows)
        elif section == "NodeData":
            _read_data(fh, "NodeData", point_data, data_size, is_ascii)
        elif section == "ElementData":
            _read_data(fh, "ElementData", raw, data_size, is_ascii)
        else:
            _skip_section(fh, section)
    if points is None or not cells:
        raise _Broken("the file has no $Nodes or no $Elements section")
    n_cells = sum(len(c) for _, c in cells)
    for key, values in raw.items():
        if len(values) != n_cells:
            raise _Broken(f"$ElementData {key!r} has {len(values)} values for {n_cells} elements")
    for key, values in point_data.items():
        if len(values) != len(points):
            raise _Broken(f"$NodeData {key!r} has {len(values)} values for {len(points)} nodes")
    bounds = np.cumsum([len(c) for _, c in cells])[:-1]
    cell_data = {k: np.split(v, bounds) for k, v in raw.items()}
    cell_data.update(cell_tags)
    return meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data, field_data=field_data)


def read(path: Path, *, units=None, conductivity=None, name=None) -> MeshHead:
    from . import head_from_meshio
    from .surface import unit_scale

    u, scale = unit_scale(units, "mm")
    mesh = _read_meshio(path)
    if units is None and len(mesh.points):
        extent = float(np.ptp(np.asarray(mesh.points, dtype=np.float64)[:, :3], axis=0).max())
        if extent < 1.0:
            raise ValueError(
                f"{str(path)!r}: the mesh is {extent:.3g} file units across; .msh coordinates are read as "
                "millimetres (SimNIBS convention), so a head must span at least 1 mm, and this looks like a "
                "mesh in metres.  Pass units='m' if it is"
            )
    return head_from_meshio(mesh, path=path, fmt="msh", units=u, scale=scale, conductivity=conductivity,
                            name=name, tag_keys=("gmsh:physical", "gmsh:geometrical"))


def read_fields(path: Path):
    from . import fields_from_meshio

    mesh = _read_meshio(path)
    return fields_from_meshio(mesh)


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
