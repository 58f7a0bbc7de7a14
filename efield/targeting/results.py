"""Targeting results: :class:`TargetResult`, the forward-model numbers at the best pose (focality,
%MSO for a goal) and the files written for people and neuronavigation (:func:`write_targeting`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..physics.placement import is_mesh_head as _is_mesh_head
from .targets import Target

__all__ = ["TargetResult", "write_targeting", "FOCALITY_LABELS"]

#: readable name, unit and scale (value × scale is printed) of each focality key
FOCALITY_LABELS = {
    "peak_cortex_vm_per_aus": ("peak cortical |E|", "V/m per A/µs", 1.0),
    "area_half_max_cm2": ("cortex area above half the cortical peak |E|", "cm²", 1.0),
    "depth_half_max_mm": ("half-value depth (how deep the brain sees at least half the peak cortical |E|)", "mm", 1.0),
    "brain_fraction_above_half_target": ("brain volume above half the target E", "%", 100.0),
    "brain_fraction_above_half_max": ("brain volume above half the cortical peak |E|", "%", 100.0),
}

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
    goal_reachable : bool or None — the goal needs at most 100 % MSO (None: no goal, or no %MSO known)
    e_at_max_output : float or None, V/m — the objective's field at the target at 100 % MSO (with a goal)
    mso_note : str — why %MSO could not be computed (no stimulator known for the coil, …), else ""
    head_label : str — the head and its model kind ("human (sphere)", "human (built-in mesh, FEM)")
    objective : str — the objective in words ("E along the conventional PA direction (|E·d|)")
    convention : dict or None — the target's conventional orientation (description, source, handle_direction,
        field_direction, …; see :class:`efield.targeting.targets.Target`)
    angle_to_convention_deg : float or None, degrees 0–180 — best handle vs the conventional handle, both
        projected onto the plane normal to the coil axis
    current_direction : "PA", "AP" (the convention's labels) or None — sense of E at the target for positive dI/dt
    current_direction_text : str — the same in words, with what to do for the conventional current
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
    goal_reachable: bool | None = None
    e_at_max_output: float | None = None
    mso_note: str = ""
    head_label: str = ""
    objective: str = ""
    convention: Mapping[str, Any] | None = None
    angle_to_convention_deg: float | None = None
    current_direction: str | None = None
    current_direction_text: str = ""
    head_spec: str = ""  #: how the head was given (a built-in name or the absolute path of a file or folder)

    @property
    def focality_labels(self) -> dict[str, str]:
        """Readable name and unit of each focality key (the printed value is the stored one × the scale of
        :data:`FOCALITY_LABELS`, e.g. fractions as %)."""
        return {k: f"{FOCALITY_LABELS[k][0]} ({FOCALITY_LABELS[k][1]})" if k in FOCALITY_LABELS else k
                for k in self.focality}

    def summary(self) -> str:
        """A few lines for people: pose, objective, E at the target, the orientation convention, the goal, focality."""
        c = self.center * 1e3
        h = self.handle
        lines = [
            f"target {self.target_label} on head {self.head_label or self.head_name} ({self.frame} frame), "
            f"coil {self.coil_name}",
            f"  coil centre ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm, handle direction ({h[0]:+.3f}, {h[1]:+.3f}, "
            f"{h[2]:+.3f}), gap to scalp {self.scalp_gap_m * 1e3:.2f} mm",
            f"  objective: {self.objective or self.quantity}",
            f"  {self.quantity} at the target: {self.target_e_per_aus:.4g} V/m per A/µs, "
            f"{self.target_e:.4g} V/m at dI/dt {self.didt / 1e6:.4g} A/µs",
        ]
        if self.convention:
            lines.append(f"  convention: {self.convention.get('description', '')} "
                         f"[{self.convention.get('source', '')}]")
            if self.angle_to_convention_deg is not None:
                lines.append(f"  angle between the best handle and the conventional handle: "
                             f"{self.angle_to_convention_deg:.1f}°")
            if self.current_direction:
                lines.append(f"  current direction: {self.current_direction} — {self.current_direction_text}")
        if self.goal_e is not None:
            lines.append("  " + self._goal_text())
        lines += [f"  {name}: {value}" for name, value in self._focality_text()]
        return "\n".join(lines)

    def _goal_text(self) -> str:
        stim = self.stimulator or "the stimulator"
        at_max = ("" if self.e_at_max_output is None
                  else f"; the maximum output gives {self.e_at_max_output:.4g} V/m")
        if self.mso_for_goal is None:
            need = (f"; it needs dI/dt {self.goal_e / self.target_e_per_aus:.4g} A/µs"
                    if self.target_e_per_aus > 0 else "")
            why = self.mso_note or "no stimulator with a known maximum dI/dt for this coil"
            return f"goal {self.goal_e:.4g} V/m at the target: %MSO cannot be computed ({why}){need}"
        if self.goal_reachable is False:
            return (f"goal {self.goal_e:.4g} V/m at the target is OUT OF REACH of {stim}: it needs "
                    f"{self.mso_for_goal:.1f} % MSO (the maximum is 100 %){at_max}")
        return f"goal {self.goal_e:.4g} V/m at the target needs {self.mso_for_goal:.1f} % MSO on {stim} (reachable{at_max})"

    def _focality_text(self) -> list[tuple[str, str]]:
        out = []
        for key, value in self.focality.items():
            name, unit, scale = FOCALITY_LABELS.get(key, (key, "", 1.0))
            text = "n/a" if value is None or not np.isfinite(value) else f"{value * scale:.3g}"
            out.append((name, f"{text} {unit}".rstrip()))
        return out



def _mso_for(coil, stimulator, goal_e, e_per_as) -> dict:
    """%MSO for ``goal_e`` (V/m) given the objective ``e_per_as`` (V/m per A/s) at the best pose: the
    TargetResult fields mso_for_goal, stimulator, goal_reachable, e_at_max_output, mso_note, and
    ``describe`` (the stimulator–coil pair in words, for the assumptions)."""
    from ..dose.stimulators import StimulatorError, stimulator_pair

    out = {"mso_for_goal": None, "stimulator": stimulator, "goal_reachable": None, "e_at_max_output": None,
           "mso_note": "", "describe": ""}
    if goal_e is None:
        return out
    try:
        pair = stimulator_pair(coil.name, stimulator)
    except (StimulatorError, ValueError, KeyError) as exc:
        out["mso_note"] = f"no known stimulator (maximum dI/dt) for coil {coil.name}: {exc}"
        out["describe"] = f"no %MSO: {exc}"
        return out
    out.update(stimulator=pair.stimulator, describe=pair.describe(), e_at_max_output=e_per_as * pair.didt_max)
    if e_per_as <= 0:
        out["goal_reachable"] = False
        out["mso_note"] = "the objective is not positive at the best pose: no output reaches the goal"
        return out
    out["mso_for_goal"] = 100.0 * goal_e / (e_per_as * pair.didt_max)
    out["goal_reachable"] = bool(out["mso_for_goal"] <= 100.0)
    return out


def _focality(placed, head, tgt: Target, e_target_per_as: float):
    """Area (cm²) and depth (mm) above half the cortical maximum, brain fraction above half the target E
    (and above half the maximum), and the cortical field (FieldResult per A/s) they come from."""
    from ..physics.fields import _solution, cortex_field, mesh_solver
    from ..physics.metrics import hot_spot_depth, surface_metrics

    res = cortex_field(placed, head, 1.0)
    m = surface_metrics(res)
    half_target = 0.5 * abs(e_target_per_as)
    out = {"peak_cortex_vm_per_aus": m["peak_vm"] * 1e6,
           "area_half_max_cm2": m["half_max_area_m2"] * 1e4}
    out["depth_half_max_mm"] = hot_spot_depth(placed, head, res, 1.0) * 1e3  # one definition for every command
    if not _is_mesh_head(head):
        pts, vol = _brain_samples(head)
        from ..physics.fields import total_efield

        mag = np.linalg.norm(total_efield(placed, head, pts, 1.0), axis=1)
        out["brain_fraction_above_half_target"] = float(vol[mag >= half_target].sum() / vol.sum())
        out["brain_fraction_above_half_max"] = float(vol[mag >= 0.5 * m["peak_vm"]].sum() / vol.sum())
        return out, res
    # the forward check's solve of this pose (kept by physics.fields), not a second one
    mag = np.linalg.norm(_solution(mesh_solver(head), placed, 1.0).efield_tets, axis=1)
    from meshes import BRAIN_TAGS

    brain = np.isin(head.tags, BRAIN_TAGS)
    vol = head.tet_volumes
    out["brain_fraction_above_half_target"] = float(vol[brain & (mag >= half_target)].sum() / vol[brain].sum())
    out["brain_fraction_above_half_max"] = float(vol[brain & (mag >= 0.5 * m["peak_vm"])].sum() / vol[brain].sum())
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


def _best_angle_deg(result: TargetResult) -> float:
    """Handle angle (°) of the best pose, from ``angle_reference`` counter-clockwise seen from outside (the
    curve's angle convention); with an axial objective the curve has two equal maxima and this is the chosen one."""
    n = np.asarray(result.normal, dtype=float)
    t1 = np.asarray(result.angle_reference, dtype=float)
    t1 = t1 - (t1 @ n) * n
    if np.linalg.norm(t1) < 1e-12:
        return float(result.angles_deg[int(np.argmax(result.e_vs_angle))])
    t1 /= np.linalg.norm(t1)
    h = np.asarray(result.handle, dtype=float)
    return float(np.degrees(np.arctan2(h @ np.cross(n, t1), h @ t1)) % 360.0)


def write_targeting(result: TargetResult, coil, directory, *, title: str = "", head=None, html: bool = True) -> list[str]:
    """Write a targeting result into ``directory`` (existing, e.g. a staged output directory).

    Files: ``pose.json`` (everything, :func:`efield.targeting.pose_io.pose_record`), the pose for neuronavigation
    (:data:`efield.targeting.navigation.NAV_FILES`: ``pose_simnibs.txt``, ``pose_brainsight.txt``,
    ``pose_localite.xml``; head frame, mm), ``orientation.png`` (polar plot of the objective against the handle angle),
    ``field.png``, ``field.html`` (interactive) and ``scene.vtm`` (ParaView; cortex, scalp, coil) — the cortical field of the objective
    (|E|, or E·n for a normal objective) with the scalp, the coil and the target, if the result has its cortex
    field and ``head`` (the head it was computed on) is given — ``summary.md`` and ``index.html`` (the report).
    ``coil`` is the coil in its own frame; ``html``: write the interactive scene.  Returns the file names written.
    """
    from pathlib import Path

    from ..views.field_scene import field_pictures
    from ..views.plots import plot_orientation_polar
    from ..views.report import write_report
    from .navigation import write_navigation_files
    from .pose_io import write_pose_json

    out = Path(directory)
    write_pose_json(result, out / "pose.json")
    names = ["pose.json"] + write_navigation_files(
        result.pose, out, name=result.target_label, coil=result.coil_name, didt=result.didt,
        head=result.head_spec or result.head_name, target=result.target_label)
    plot_orientation_polar(result.angles_deg, result.e_vs_angle, out / "orientation.png",
                           best_deg=_best_angle_deg(result),
                           title=title or f"{result.quantity} at {result.target_label}, {result.coil_name}",
                           reference_label="0° = handle towards anterior (+y) on the scalp, counter-clockwise "
                                           "seen from outside")
    names.append("orientation.png")
    if result.cortex is not None and head is not None:
        cortex = result.cortex.scaled(result.didt)
        kind = "normal" if result.quantity.endswith("normal") else "magnitude"  # the picture shows the objective
        what = "E·n" if kind == "normal" else "|E|"
        names += field_pictures(out, head, coil.placed(result.pose), cortex, kind=kind, target=result.target_point,
                                title=title or f"{what} at dI/dt {result.didt / 1e6:.3g} A/µs: {result.coil_name} at "
                                               f"{result.target_label} on {result.head_label or result.head_name}",
                                html=html, volume=False)  # `efield field --pose pose.json` writes the volume
    lines = ["# Coil targeting", "", "```", result.summary(), "```", ""]
    if result.convention:
        conv = result.convention
        lines += ["## Orientation convention", "", f"- **objective**: {result.objective}",
                  f"- **convention**: {conv.get('description', '')}",
                  f"- **source**: {conv.get('source', '')}",
                  "- **conventional handle direction** (head frame): "
                  f"({', '.join(f'{x:+.3f}' for x in conv.get('handle_direction', ()))})",
                  "- **angle between the best handle and the convention**: "
                  + ("n/a" if result.angle_to_convention_deg is None else f"{result.angle_to_convention_deg:.1f}°"),
                  f"- **current direction**: {result.current_direction} — {result.current_direction_text}", ""]
    lines += ["## Assumptions", ""]
    lines += [f"- **{k}**: {v}" for k, v in result.assumptions.items()]
    lines += ["", "## Timing (s)", ""] + [f"- {k}: {v:.4g}" for k, v in result.timing.items()]
    lines += ["", f"fast evaluator vs forward model at the best pose: {100 * result.fast_vs_forward:.3g} %"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    names.append("summary.md")
    write_report(out, title=f"Coil targeting: {result.target_label} on {result.head_label or result.head_name}")
    names.append("index.html")
    return names
