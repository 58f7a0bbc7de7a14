"""Built-in mesh heads: layered rodent heads (shipped, bregma frame), a human head (MNI frame)
and a culture dish.

The rodent meshes are built by ``scripts/build_heads.py`` (dimensions and sources there) and
ship in ``meshes/data/heads/``; the dish is meshed on demand with NumPy (no gmsh at run time).
The human head ships as a 1 mm label volume (``human_labels.npz``, built by the same script from
the MNI ICBM152 2009 template and fsaverage surfaces; licence in ``HUMAN_TEMPLATE_LICENSE.txt``)
and is meshed on first use into voxel tetrahedra (``meshes/_voxel_head.py``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ._dish import culture_dish_mesh, disc_triangulation
from ._mesh import MeshHead, surface_from_faces
from ._surface import Surface, icosphere
from ._voxel_head import human_head

__all__ = ["builtin_head", "list_builtin_heads", "culture_dish", "example_subject_folder", "example_subject_affine"]

_HEADS = Path(__file__).parent / "data" / "heads"
#: depth of the surface where E is reported below the brain surface (m), per rodent
_CORTEX_DEPTH = {"rat": 0.3e-3, "mouse": 0.15e-3}
#: shipped file stem → head name, where they differ
_FILE_NAMES = {"human_labels": "human"}


def list_builtin_heads() -> list[str]:
    """Names accepted by :func:`builtin_head`."""
    return sorted([_FILE_NAMES.get(p.stem, p.stem) for p in _HEADS.glob("*.npz")] + ["dish"])


def _ellipsoid_surface(center, semi_axes, n_subdiv: int = 4) -> Surface:
    unit = icosphere(1.0, n_subdiv)
    a = np.asarray(semi_axes, dtype=float)
    verts = np.asarray(center, dtype=float) + unit.vertices * a
    normals = unit.vertices / a**2
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    return Surface(verts, unit.faces, normals)


@functools.lru_cache(maxsize=8)
def builtin_head(name: str) -> MeshHead:
    """A built-in mesh head: ``"rat"``, ``"mouse"`` (layered ellipsoids, bregma frame), ``"human"``
    (MNI152 voxel head, frame ``"MNI"``, metres; see :func:`meshes._voxel_head.human_head`) or
    ``"dish"`` (a 35 mm dish with 2 mm of medium; see :func:`culture_dish` for other sizes).

    The human head is meshed from its label volume on first use (a few seconds, then cached):
    2.6 mm voxels, each split into 6 tetrahedra (≈ 1.25 M tets, 0.22 M nodes), tags 1 WM, 2 GM,
    3 CSF, 4 bone, 5 scalp; ``cortex`` is the fsaverage5 mid-cortical surface (20484 vertices).
    """
    key = str(name).strip().lower()
    if key == "dish":
        return culture_dish()
    if key == "human":
        path = _HEADS / "human_labels.npz"
        if not path.exists():
            raise ValueError(f"built-in head 'human' needs {path.name}; build it with "
                             "'python scripts/build_heads.py --only human'")
        return human_head(path)
    path = _HEADS / f"{key}.npz"
    if key in _FILE_NAMES or not path.exists():
        raise ValueError(f"built-in head {name!r} is unknown; known: {', '.join(list_builtin_heads())}")
    with np.load(path) as data:
        nodes = data["nodes"].astype(np.float64)
        tets = data["tets"].astype(np.int64)
        tags = data["tags"].astype(np.int32)
        prov = json.loads(str(data["provenance"]))
    axes = {k: np.asarray(v) * 1e-3 for k, v in prov["semi_axes_mm"].items()}
    center = np.asarray(prov["center_mm"]) * 1e-3
    cortex = _ellipsoid_surface(center, axes["brain"] - _CORTEX_DEPTH[key])
    scalp = _ellipsoid_surface(center, axes["scalp"])
    prov["cortex"] = f"ellipsoid {_CORTEX_DEPTH[key] * 1e3:g} mm inside the brain surface"
    return MeshHead(name=key, nodes=nodes, tets=tets, tags=tags, cortex=cortex, scalp=scalp, frame="bregma",
                    provenance=prov)


def culture_dish(diameter: float = 0.035, depth: float = 0.002, edge: float | None = None) -> MeshHead:
    """A dish or well of culture medium (tag 12, 1.6 S/m by default) in the dish frame.

    Parameters
    ----------
    diameter : float, metres — inner diameter (35 mm dish: 0.035; 6-well plate well: ~0.035; 24-well: ~0.0156).
    depth : float, metres — height of the medium.
    edge : float, metres — mesh edge length (default: depth / 4, at most diameter / 20).

    The surface where E is reported (``cortex``) is the cell layer: a disc 1 % of the depth above the
    dish bottom; ``scalp`` is the medium's top surface (a coil is usually held below or above the dish).
    """
    nodes, tets, tags = culture_dish_mesh(diameter, depth, edge)
    p2, tri = disc_triangulation(diameter / 2.0 * (1 - 1e-6), edge or min(depth / 4.0, diameter / 20.0))
    up = np.tile([0.0, 0.0, 1.0], (len(p2), 1))
    cells = Surface(np.column_stack([p2, np.full(len(p2), 0.01 * depth)]), tri, up)
    outline = MeshHead(name="dish", nodes=nodes, tets=tets, tags=tags, frame="dish")
    boundary = surface_from_faces(nodes, outline.boundary_faces())
    prov = {"name": "dish", "diameter_m": diameter, "depth_m": depth,
            "model": "cylinder of culture medium; the dish wall and the air around are insulating",
            "cortex": "cell layer, 1 % of the depth above the dish bottom"}
    return MeshHead(name="dish", nodes=nodes, tets=tets, tags=tags, cortex=cells, scalp=boundary, frame="dish",
                    provenance=prov)


#: the made-up subject space of :func:`example_subject_folder`: MNI (mm) → subject (mm), a rigid motion
#: (8° about z, 5° about x, then 4, −12, 18 mm), as a scanner frame differs from MNI's
def example_subject_affine() -> np.ndarray:
    """4×4 affine (mm) from MNI coordinates to the example subject's (see :func:`example_subject_folder`)."""
    a, b = np.radians(8.0), np.radians(5.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx
    m[:3, 3] = [4.0, -12.0, 18.0]
    return m


def example_subject_folder(folder, *, voxel: float = 0.005, force: bool = False) -> Path:
    """Write an example SimNIBS-style subject folder ``m2m_<id>/`` to try the subject workflow.

    The head is the built-in human head meshed at ``voxel`` (m; 5 mm: about 0.15 M tets) and moved
    from MNI space into a made-up subject space by :func:`example_subject_affine`, which is written
    as ``toMNI/MNI2conform_12DOF.txt`` — as SimNIBS's ``charm`` leaves a subject's head in the
    scanner frame of the T1 with its MNI transforms beside it.  It is not anybody's head.

    Returns
    -------
    The folder (``folder``).
    """
    from dataclasses import replace

    from ._formats import save_subject_folder

    if not 0.002 <= voxel <= 0.01:
        raise ValueError(f"voxel must be between 0.002 and 0.01 m (2-10 mm); got {voxel!r}")
    head = human_head(_HEADS / "human_labels.npz", voxel=voxel)
    m = example_subject_affine()

    def move(p):
        return (p * 1e3 @ m[:3, :3].T + m[:3, 3]) * 1e-3

    scalp = surface_from_faces(move(head.scalp.vertices), head.scalp.faces)
    cortex = surface_from_faces(move(head.cortex.vertices), head.cortex.faces)
    name = Path(folder).name[4:] or "example"
    moved = replace(head, name=name, nodes=move(head.nodes), scalp=scalp, cortex=cortex, frame="head",
                    provenance={**head.provenance, "example_subject": "built-in human head moved by "
                                "meshes.example_subject_affine(); not a real subject"})
    return save_subject_folder(moved, folder, mni_to_head_mm=m, force=force)
