"""TMS electric-field dosimetry: fields of coils in heads, dose and targeting.

Subpackages, importing downwards only (contracts in pyproject.toml): :mod:`efield.physics` (forward
models), :mod:`efield.views` (pictures), :mod:`efield.dose` (intensities, stimulators, thresholds,
translation), :mod:`efield.targeting` (coil poses for a target), :mod:`efield.cohort` (study plans on
Dask); :mod:`efield.cli` and
:mod:`efield.demo` on top, :mod:`efield._common` (checks, atomic outputs) beneath.

Public names are imported lazily, so ``import efield`` stays fast (numba compiles on first use).
"""

from __future__ import annotations

import importlib
import os

# numba's OpenMP workers otherwise spin between parallel regions and slow the single-threaded SciPy/pyamg
# work between them: the FEM solve on the rat mesh took 2.2x longer (0.82 s instead of 0.38 s)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_EXPORTS = {
    "primary_efield": "efield.physics.biot_savart",
    "magnetic_field": "efield.physics.biot_savart",
    "vector_potential": "efield.physics.biot_savart",
    "MU0": "efield.physics.biot_savart",
    "sphere_efield": "efield.physics.sphere",
    "total_efield": "efield.physics.fields",
    "cortex_field": "efield.physics.fields",
    "FieldResult": "efield.physics.fields",
    "standard_pose": "efield.physics.fields",
    "simulate": "efield.physics.fields",
    "self_inductance": "efield.physics.inductance",
    "Intensity": "efield.dose.intensity",
    "parse_intensity": "efield.dose.intensity",
    "Setup": "efield.dose.dosimetry",
    "dose": "efield.dose.dosimetry",
    "translate": "efield.dose.translation",
    "plausible_setups": "efield.dose.translation",
    "destination_setup": "efield.dose.translation",
    "stimulator_pair": "efield.dose.stimulators",
    "threshold_table": "efield.dose.thresholds",
    "optimize_pose": "efield.targeting.search",
    "resolve_target": "efield.targeting.targets",
    "list_targets": "efield.targeting.targets",
    "Target": "efield.targeting.targets",
    "TargetResult": "efield.targeting.results",
    "write_targeting": "efield.targeting.results",
    "read_pose_file": "efield.targeting.navigation",
    "write_navigation_files": "efield.targeting.navigation",
    "load_any_head": "efield.physics.heads",
    "CortexFieldModel": "efield.physics.cortex_model",
    "cortex_model": "efield.physics.cortex_model",
    "run_cohort": "efield.cohort",
}

#: subpackages, and the modules that lived at the top level before the split (``efield.metrics`` etc.
#: keep working as attributes of ``efield``)
_SUBMODULES = {
    "physics": "efield.physics", "dose": "efield.dose", "targeting": "efield.targeting", "views": "efield.views",
    "cli": "efield.cli", "demo": "efield.demo", "cohort": "efield.cohort",
    "biot_savart": "efield.physics.biot_savart", "sphere": "efield.physics.sphere", "fem": "efield.physics.fem",
    "fields": "efield.physics.fields", "placement": "efield.physics.placement", "metrics": "efield.physics.metrics",
    "inductance": "efield.physics.inductance", "coil_compare": "efield.physics.coil_compare",
    "units": "efield.dose.units", "intensity": "efield.dose.intensity", "stimulators": "efield.dose.stimulators",
    "dosimetry": "efield.dose.dosimetry", "thresholds": "efield.dose.thresholds",
    "translation": "efield.dose.translation", "batch": "efield.dose.batch", "plots": "efield.views.plots",
    "_target_io": "efield.targeting.pose_io",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'efield' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
