"""Targeting results: :class:`TargetResult`, the forward-model numbers at the best pose (focality,
%MSO for a goal) and the files written for people and neuronavigation (:func:`write_targeting`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..physics.placement import is_mesh_head as _is_mesh_head
from .targets import Target, head_size

__all__ = ["TargetResult", "write_targeting"]

@dataclass(frozen=True, eq=False)
class TargetResult:
    """The best coil pose for a target and the numbers behind it (SI units).

    Attributes
    ----------
    pose : (4, 4) float array, metres — coil frame → head frame (columns x, y = handle, z = normal, origin)
    center, handle, normal : (3,) float arrays — coil origin (m, casing bottom centre), unit handle, unit normal
    target_e : float, V/m at ``didt`` — the objective's field quantity at the target (forward model)
    target_e_per_aus : float, V/m per A/µs
    target_efield : (3,) float array, V/m at ``didt`` — E vector at the target point (forward model)
    didt : float, A/s
    angles_deg, e_vs_angle : (k,) float arrays — handle angle (° from ``angle_reference``, counter-clockwise
        seen from outside) and the objective (V/m at ``didt``) at the best position
    focality : dict — area_half_max_cm2, depth_half_max_mm, brain_fraction_above_half_target, ...
    goal_e, mso_for_goal, stimulator : goal (V/m), %MSO that reaches it, stimulator used (or None)
    fast_vs_forward : float — relative difference of the fast evaluator and the forward model at the best pose
    assumptions : dict of str; timing : dict of seconds; n_poses : int
    """

    pose: np.ndarray
    center: np.ndarray
    handle: np.ndarray
    normal: np.ndarray
    coil_name: str
    head_name: str
    frame: str
    target_point: np.ndarray
    target_label: str
    target_direction: np.ndarray | None
    quantity: str
    didt: float
    target_e: float
    target_e_per_aus: float
    target_efield: np.ndarray
    angle_reference: np.ndarray
    angles_deg: np.ndarray
    e_vs_angle: np.ndarray
    focality: Mapping[str, float]
    goal_e: float | None
    mso_for_goal: float | None
    stimulator: str | None
    fast_vs_forward: float
    scalp_gap_m: float
    n_poses: int
    assumptions: Mapping[str, str] = field(default_factory=dict)
    timing: Mapping[str, float] = field(default_factory=dict)
    cortex: Any = None  #: FieldResult per A/s on the cortex at the best pose (None without focality)

    def summary(self) -> str:
        """A few lines for people: pose, E at the target, %MSO for the goal, focality."""
        c = self.center * 1e3
        h = self.handle
        lines = [
            f"target {self.target_label} on {self.head_name} ({self.frame} frame), coil {self.coil_name}",
            f"  coil centre ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm, handle ({h[0]:+.3f}, {h[1]:+.3f}, {h[2]:+.3f}), "
            f"gap to scalp {self.scalp_gap_m * 1e3:.2f} mm",
            f"  {self.quantity} at the target: {self.target_e_per_aus:.4g} V/m per A/µs, "
            f"{self.target_e:.4g} V/m at {self.didt / 1e6:.4g} A/µs",
        ]
        if self.goal_e is not None:
            mso = "n/a (no stimulator)" if self.mso_for_goal is None else f"{self.mso_for_goal:.1f} % MSO"
            lines.append(f"  goal {self.goal_e:.4g} V/m needs {mso}" + (f" on {self.stimulator}" if self.stimulator else ""))
        f = self.focality
        lines.append("  focality: " + ", ".join(f"{k} {v:.4g}" for k, v in f.items()))
        return "\n".join(lines)



def _mso_for(coil, stimulator, goal_e, e_per_as):
    from ..dose.stimulators import StimulatorError, stimulator_pair

    try:
        pair = stimulator_pair(coil.name, stimulator)
    except (StimulatorError, ValueError, KeyError) as exc:
        return None, stimulator, f"no %MSO: {exc}"
    return 100.0 * goal_e / (e_per_as * pair.didt_max), pair.stimulator, pair.describe()


def _focality(placed, head, tgt: Target, e_target_per_as: float):
    """Area (cm²) and depth (mm) above half the cortical maximum, brain fraction above half the target E
    (and above half the maximum), and the cortical field (FieldResult per A/s) they come from."""
    from ..physics.fields import cortex_field, mesh_solver
    from ..physics.metrics import half_max_depth, half_max_depth_along, surface_metrics

    res = cortex_field(placed, head, 1.0)
    m = surface_metrics(res)
    half_target = 0.5 * abs(e_target_per_as)
    out = {"peak_cortex_vm_per_aus": m["peak_vm"] * 1e6,
           "area_half_max_cm2": m["half_max_area_m2"] * 1e4}
    if not _is_mesh_head(head):
        out["depth_half_max_mm"] = half_max_depth(placed, head, 1.0, m["peak_point_m"]) * 1e3
        pts, vol = _brain_samples(head)
        from ..physics.fields import total_efield

        mag = np.linalg.norm(total_efield(placed, head, pts, 1.0), axis=1)
        out["brain_fraction_above_half_target"] = float(vol[mag >= half_target].sum() / vol.sum())
        out["brain_fraction_above_half_max"] = float(vol[mag >= 0.5 * m["peak_vm"]].sum() / vol.sum())
        return out, res
    sol = mesh_solver(head).solve(placed, 1.0)
    mag = np.linalg.norm(sol.efield_tets, axis=1)
    brain = np.isin(head.tags, [1, 2, 11])
    vol = head.tet_volumes
    out["brain_fraction_above_half_target"] = float(vol[brain & (mag >= half_target)].sum() / vol[brain].sum())
    out["brain_fraction_above_half_max"] = float(vol[brain & (mag >= 0.5 * m["peak_vm"])].sum() / vol[brain].sum())
    # depth: along the inward cortical normal at the hot spot, where |E| falls to half
    k = int(res.magnitude.argmax())
    out["depth_half_max_mm"] = half_max_depth_along(sol.efield_at, head, res.points[k], res.normals[k],
                                                    0.5 * head_size(head)) * 1e3
    return out, res


@functools.lru_cache(maxsize=8)
def _brain_cache(cortex_radius: float, center: tuple, n: int):
    rng = np.random.default_rng(12345)
    pts = rng.uniform(-1.0, 1.0, size=(4 * n, 3))
    pts = pts[np.linalg.norm(pts, axis=1) <= 1.0][:n]
    return np.asarray(center) + cortex_radius * pts, np.ones(len(pts))


def _brain_samples(head, n: int = 3000):
    """Uniform samples (n, 3) m of the brain ball of a sphere head and their weights (all equal)."""
    return _brain_cache(float(head.cortex_radius) * (1 - 1e-6), tuple(np.asarray(head.center, dtype=float)), n)


def write_targeting(result: TargetResult, coil, directory, *, title: str = "") -> list[str]:
    """Write a targeting result into ``directory`` (existing, e.g. a staged output directory).

    Files: ``pose.json`` (everything, :func:`efield.targeting.pose_io.pose_record`), ``pose_matrix.txt`` (4×4 in mm
    for neuronavigation), ``orientation.png`` (polar plot of the objective against the handle angle),
    ``field.png`` (cortical |E| with the coil in place, if the result has its cortex field) and
    ``summary.md``.  ``coil`` is the coil in its own frame.  Returns the file names written.
    """
    from pathlib import Path

    from .pose_io import write_pose_json, write_pose_matrix
    from ..views.plots import plot_orientation_polar, render_targeting

    out = Path(directory)
    names = []
    write_pose_json(result, out / "pose.json")
    write_pose_matrix(result, out / "pose_matrix.txt")
    names += ["pose.json", "pose_matrix.txt"]
    k = int(np.argmax(result.e_vs_angle))
    plot_orientation_polar(result.angles_deg, result.e_vs_angle, out / "orientation.png",
                           best_deg=float(result.angles_deg[k]),
                           title=title or f"{result.quantity} at {result.target_label}, {result.coil_name}",
                           reference_label="0° = handle towards anterior (+y) on the scalp, counter-clockwise "
                                           "seen from outside")
    names.append("orientation.png")
    if result.cortex is not None:
        placed = coil.placed(result.pose)
        segs = (placed.start, placed.end) if placed.n_segments else None
        mag = result.cortex.magnitude * result.didt
        render_targeting(result.cortex.points, result.cortex.faces, mag, out / "field.png", segments=segs,
                         target_point=result.target_point, coil_center=result.center, coil_normal=result.normal,
                         coil_handle=result.handle,
                         title=title or f"|E| at {result.didt / 1e6:.3g} A/µs: {result.coil_name} on {result.head_name}")
        names.append("field.png")
    lines = ["# Coil targeting", "", "```", result.summary(), "```", "", "## Assumptions", ""]
    lines += [f"- **{k}**: {v}" for k, v in result.assumptions.items()]
    lines += ["", "## Timing (s)", ""] + [f"- {k}: {v:.4g}" for k, v in result.timing.items()]
    lines += ["", f"fast evaluator vs forward model at the best pose: {100 * result.fast_vs_forward:.3g} %"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    names.append("summary.md")
    return names
