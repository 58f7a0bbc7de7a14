"""TMS electric-field dosimetry: fields of coils in heads, dose and targeting.

Public names are imported lazily, so ``import efield`` stays fast (numba compiles on first use).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "primary_efield": "efield.biot_savart",
    "magnetic_field": "efield.biot_savart",
    "vector_potential": "efield.biot_savart",
    "MU0": "efield.biot_savart",
    "sphere_efield": "efield.sphere",
    "total_efield": "efield.fields",
    "cortex_field": "efield.fields",
    "FieldResult": "efield.fields",
    "standard_pose": "efield.fields",
    "simulate": "efield.fields",
    "Intensity": "efield.intensity",
    "parse_intensity": "efield.intensity",
    "Setup": "efield.dosimetry",
    "dose": "efield.dosimetry",
    "translate": "efield.translation",
    "plausible_setups": "efield.translation",
    "destination_setup": "efield.translation",
    "stimulator_pair": "efield.stimulators",
    "self_inductance": "efield.inductance",
    "optimize_pose": "efield.targeting",
    "resolve_target": "efield.targeting",
    "list_targets": "efield.targeting",
    "TargetResult": "efield.targeting",
    "Target": "efield.targeting",
}

_SUBMODULES = {"metrics", "plots", "sphere", "biot_savart", "fields", "units", "inductance", "demo", "cli",
               "intensity", "stimulators", "batch", "targeting", "placement", "fem", "dosimetry", "translation",
               "_target_io"}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"efield.{name}")
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'efield' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
