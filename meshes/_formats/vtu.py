"""VTK ``.vtu`` head meshes (ParaView) through meshio: metres, tissue tags in the cell array ``tissue``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._mesh import MeshHead


def _read_meshio(path: Path):
    import meshio

    try:
        return meshio.read(path, file_format="vtu")
    except Exception as exc:  # meshio raises ReadError, ValueError, ParseError... on broken files
        raise ValueError(f"cannot read VTU file {str(path)!r}: {type(exc).__name__}: {exc}") from exc


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
    return fields_from_meshio(mesh, len(mesh.points))


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
