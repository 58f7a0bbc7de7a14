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
