"""VTK ``.vtu`` head meshes (ParaView) through meshio: metres, tissue tags in the cell array ``tissue``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._mesh import MeshHead


def _read_meshio(path: Path):
    import meshio

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # meshio warns on odd files; problems are checked below
            mesh = meshio.read(path, file_format="vtu")
    except (Exception, SystemExit) as exc:  # meshio raises ReadError, ParseError... and calls exit()
        raise ValueError(f"cannot read VTU file {str(path)!r}: expected a VTK XML unstructured grid; "
                         f"meshio failed with {type(exc).__name__}: {exc}") from exc
    n = len(mesh.points)
    points = np.asarray(mesh.points)
    if points.ndim != 2 or points.shape[1] < 3 or not np.issubdtype(points.dtype, np.floating) \
            and not np.issubdtype(points.dtype, np.integer):
        raise ValueError(f"VTU file {str(path)!r}: points must be real (n, 3) coordinates; "
                         f"got {points.dtype} array of shape {points.shape}")
    if not np.isfinite(points.astype(np.float64)).all():
        raise ValueError(f"VTU file {str(path)!r}: points must be finite")
    for block in mesh.cells:
        data = np.asarray(block.data)
        if data.size and (not np.issubdtype(data.dtype, np.integer) or data.min() < 0 or data.max() >= n):
            raise ValueError(f"VTU file {str(path)!r}: {block.type} connectivity must be point indices "
                             f"0..{n - 1}; got values {data.min()}..{data.max()} ({data.dtype})")
    for key, blocks in mesh.cell_data.items():
        for block, values in zip(mesh.cells, blocks):
            if len(values) != len(block.data):
                raise ValueError(f"VTU file {str(path)!r}: cell array {key!r} has {len(values)} values for "
                                 f"{len(block.data)} {block.type} cells")
    for key, values in mesh.point_data.items():
        if len(values) != n:
            raise ValueError(f"VTU file {str(path)!r}: point array {key!r} has {len(values)} values for {n} points")
    return mesh


def read(path: Path, *, units=None, conductivity=None, name=None) -> MeshHead:
    """Tets with tags from the cell array ``tissue`` (or ``gmsh:physical``); metres unless ``units="mm"``."""
    from . import head_from_meshio
    from .surface import unit_scale

    u, scale = unit_scale(units, "m")
    mesh = _read_meshio(path)
    return head_from_meshio(mesh, path=path, fmt="vtu", units=u, scale=scale, conductivity=conductivity,
                            name=name, tag_keys=("tissue", "gmsh:physical"))


def read_fields(path: Path):
    from . import fields_from_meshio

    mesh = _read_meshio(path)
    return fields_from_meshio(mesh)


def write(head: MeshHead, path: Path, *, fields) -> None:
    """Metres; cell array ``tissue`` (int32); cell fields NaN on the scalp/cortex triangles."""
    import meshio

    from . import cells_for_writing

    points, blocks, node_data, cell_data = cells_for_writing(head, fields, pad_value=np.nan)
    cells = [(kind, np.asarray(c)) for kind, c, _ in blocks]
    tissue = [np.full(len(c), tag, dtype=np.int32) for _, c, tag in blocks[:-1]]
    tissue.append(np.asarray(head.tags, dtype=np.int32))
    data = {"tissue": tissue, **cell_data}
    mesh = meshio.Mesh(points, cells, point_data=node_data, cell_data=data)
    meshio.write(path, mesh, file_format="vtu", binary=True, compression="zlib")
