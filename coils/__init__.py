"""TMS coils as current segments and magnetic dipoles: presets, builders, poses and file formats.

Frame, units and conventions: see :mod:`coils._model` (coil frame, metres, per-ampere weights)
and :mod:`coils._pose` (placing a coil on a head).
"""

from __future__ import annotations

from ._builders import figure8_coil, spiral_coil
from ._formats import read_ccd, read_coil, read_tcd, write_ccd, write_coil, write_tcd
from ._model import Coil
from ._pose import check_pose, coil_pose
from ._presets import SIMNIBS_COILS_ENV, UnknownCoilError, coil_info, list_coils, load_coil, simnibs_coil_dirs

__all__ = [
    "Coil",
    "UnknownCoilError",
    "check_pose",
    "coil_info",
    "coil_pose",
    "figure8_coil",
    "list_coils",
    "load_coil",
    "read_ccd",
    "read_coil",
    "read_tcd",
    "simnibs_coil_dirs",
    "SIMNIBS_COILS_ENV",
    "spiral_coil",
    "write_ccd",
    "write_coil",
    "write_tcd",
]
