"""Compare two coil models in the same spherical head and poses (a preset against a validated model).

For each pose both coils are placed identically and the analytic sphere field (see
:mod:`efield.physics.sphere`) is evaluated on the cortical shell.  Reported per pose:

* ``peak_a``, ``peak_b`` — peak cortical |E| per A/µs (V/m per A/µs) and ``peak_ratio`` = a / b;
* ``correlation`` — Pearson correlation of the two |E| patterns over the cortical shell vertices;
* ``depth_a_m``, ``depth_b_m`` — depth below the cortex, along the radius through each coil's own
  peak, at which |E| falls to half its cortical value (m);
* ``area_a_m2``, ``area_b_m2`` — cortical area with |E| at or above half of each coil's peak (m²).

The poses (:func:`comparison_poses`): ``top`` — casing centre on the top of the 85 mm human
sphere, handle along +y; ``tilted`` — the coil tilted 15° about its handle axis, raised 10 mm
along its own axis, shifted 10 mm sideways and turned 30° (a pose that is not tangent to the
sphere, so it tests the whole three-dimensional field of the coil, not only its footprint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CoilComparison", "compare_coils", "comparison_poses", "TOLERANCES"]

#: acceptance of a preset against its validated twin (issue 9): peak within 5 %, correlation >= 0.99,
#: half-value depth and half-max area within 10 %
TOLERANCES = {"peak": 0.05, "correlation": 0.99, "depth": 0.10, "area": 0.10}

_PER_AUS = 1e6  # A/s in one A/µs


@dataclass(frozen=True)
class CoilComparison:
    """Metrics of coils a and b at one pose (units in the field names; E per A/µs)."""

    pose_name: str
    peak_a: float
    peak_b: float
    correlation: float
    depth_a_m: float
    depth_b_m: float
    area_a_m2: float
    area_b_m2: float

    @property
    def peak_ratio(self) -> float:
        return self.peak_a / self.peak_b

    @property
    def depth_ratio(self) -> float:
        return self.depth_a_m / self.depth_b_m

    @property
    def area_ratio(self) -> float:
        return self.area_a_m2 / self.area_b_m2

    def within(self, tol: dict | None = None, known: dict | None = None) -> bool:
        """True when a reproduces b within ``tol`` (default :data:`TOLERANCES`); ``known`` holds a
        preset's stated known deviations (``{"<pose>_<metric>": bound}``, from its TOML ``[validation]``)."""
        t = dict(TOLERANCES if tol is None else tol)
        for key, bound in (known or {}).items():
            pose, _, metric = key.partition("_")
            if pose == self.pose_name and metric in t:
                t[metric] = float(bound)
        return (abs(self.peak_ratio - 1) <= t["peak"] and self.correlation >= t["correlation"]
                and abs(self.depth_ratio - 1) <= t["depth"] and abs(self.area_ratio - 1) <= t["area"])

    def as_dict(self) -> dict:
        return {"pose": self.pose_name, "peak_a_vm_per_aus": self.peak_a, "peak_b_vm_per_aus": self.peak_b,
                "peak_ratio": self.peak_ratio, "correlation": self.correlation,
                "depth_a_mm": self.depth_a_m * 1e3, "depth_b_mm": self.depth_b_m * 1e3,
                "area_a_cm2": self.area_a_m2 * 1e4, "area_b_cm2": self.area_b_m2 * 1e4}


def comparison_poses(head) -> dict[str, np.ndarray]:
    """The named 4×4 poses (metres, head frame) used by :func:`compare_coils` for a sphere ``head``."""
    from coils import coil_pose

    c = np.asarray(head.center, dtype=float)
    top = c + [0.0, 0.0, head.scalp_radius]
    tilt, turn = math.radians(15.0), math.radians(30.0)
    tilted = coil_pose(top, (math.sin(tilt), 0.0, math.cos(tilt)), (-math.sin(turn), math.cos(turn), 0.0), 0.010)
    tilted[:3, 3] += [0.010, 0.0, 0.0]
    return {"top": coil_pose(top, (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), 0.0), "tilted": tilted}


def _one(coil, head, pose, n_subdiv):
    from .fields import cortex_field
    from .metrics import half_max_depth

    placed = coil.placed(pose)
    res = cortex_field(placed, head, _PER_AUS, n_subdiv=n_subdiv)
    mag = res.magnitude
    areas = res.vertex_areas()
    k = int(mag.argmax())
    depth = half_max_depth(placed, head, _PER_AUS, res.points[k])
    return mag, float(mag[k]), depth, float(areas[mag >= 0.5 * mag[k]].sum())


def compare_coils(coil_a, coil_b, head=None, *, poses=None, n_subdiv: int = 5) -> list[CoilComparison]:
    """Compare ``coil_a`` with ``coil_b`` (both in their own frames) in a sphere head.

    Parameters
    ----------
    coil_a, coil_b : coils.Coil or preset id / coil file / ``simnibs:NAME``
    head : SphereHead, optional — default ``meshes.sphere_head("human")`` (85 mm, cortex 70 mm)
    poses : mapping name → (4, 4) float array, metres, optional — default :func:`comparison_poses`
    n_subdiv : int — cortical shell resolution

    Returns
    -------
    list of CoilComparison, one per pose
    """
    from coils import load_coil
    from meshes import sphere_head

    a = load_coil(coil_a) if isinstance(coil_a, str) else coil_a
    b = load_coil(coil_b) if isinstance(coil_b, str) else coil_b
    head = sphere_head("human") if head is None else head
    poses = comparison_poses(head) if poses is None else poses
    out = []
    for name, pose in poses.items():
        ma, pa, da, aa = _one(a, head, pose, n_subdiv)
        mb, pb, db, ab = _one(b, head, pose, n_subdiv)
        corr = float(np.corrcoef(ma, mb)[0, 1])
        out.append(CoilComparison(name, pa, pb, corr, da, db, aa, ab))
    return out
