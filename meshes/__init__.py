"""Head models: concentric spheres and triangulated surfaces (geometry and tissues, no coils).

Metres and S/m inside.  Built-in sphere heads: ``sphere_head("human" | "rat" | "mouse")``;
every radius and conductivity is sourced in ``meshes/data/sphere_heads.toml``.
"""

from ._sphere import BRAIN_TISSUES, Layer, SphereHead, list_sphere_heads, sphere_head
from ._surface import MAX_SUBDIVISIONS, Surface, icosphere

__all__ = [
    "BRAIN_TISSUES",
    "Layer",
    "MAX_SUBDIVISIONS",
    "SphereHead",
    "Surface",
    "icosphere",
    "list_sphere_heads",
    "sphere_head",
]

from ._mesh import (
    CONDUCTIVITY_SOURCES,
    DEFAULT_CONDUCTIVITY,
    MESH_FRAMES,
    PROJECT_TISSUES,
    SIMNIBS_TISSUES,
    SURFACE_TAG_OFFSET,
    TISSUE_NAMES,
    WAGNER_2004,
    MeshHead,
    surface_from_faces,
)
from ._formats import MeshFields, load_head, load_head_fields, load_surface, save_head, save_subject_folder, save_surface

__all__ += [
    "CONDUCTIVITY_SOURCES",
    "DEFAULT_CONDUCTIVITY",
    "MESH_FRAMES",
    "MeshFields",
    "MeshHead",
    "PROJECT_TISSUES",
    "SIMNIBS_TISSUES",
    "SURFACE_TAG_OFFSET",
    "TISSUE_NAMES",
    "WAGNER_2004",
    "load_head",
    "load_head_fields",
    "load_surface",
    "save_head",
    "save_subject_folder",
    "save_surface",
    "surface_from_faces",
]

from ._builtin import builtin_head, culture_dish, example_subject_affine, example_subject_folder, list_builtin_heads  # noqa: E402,E501

__all__ += ["builtin_head", "culture_dish", "example_subject_affine", "example_subject_folder", "list_builtin_heads"]

from ._labels import BRAIN_TAGS, LabelHeadError, head_from_labels, read_label_map  # noqa: E402

__all__ += ["BRAIN_TAGS", "LabelHeadError", "head_from_labels", "read_label_map"]
