"""Scalp search: the coil pose that maximises the field at a cortical target.

Positions lie on the scalp within ``search_radius`` of the scalp point nearest the target (a
hexagonal grid of spacing ``step``), the handle turns over 360° (``n_angles`` steps) at each, and
the best grid pose is refined continuously (Nelder–Mead over the two scalp coordinates and the
handle angle).  The coil rests on the scalp (tangent, lifted clear of it on mesh heads, see
:mod:`efield.physics.placement`) plus ``distance``.  Each pose is scored by a fast evaluator
(:mod:`efield.targeting.evaluators`); the reported numbers at the best pose come from the forward
model (:func:`efield.total_efield`: the analytic sphere or a FEM solve), and the difference between
the two is reported as ``fast_vs_forward``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .._common.validation import as_scalar
from ..physics.placement import is_mesh_head as _is_mesh_head
from .evaluators import PoseEvaluator, evaluator_for
from ..physics.heads import head_label
from .results import TargetResult, _focality, _mso_for
from .targets import Target, TargetError, cortex_normal, head_size, resolve_target

__all__ = ["optimize_pose"]

class _Scalp:
    """Smooth local scalp around the target: contact point and outward normal as functions of (u, v) (m)."""

    def __init__(self, head, target_point, fit_radius):
        from ..physics.placement import scalp_contact

        self.head = head
        c0, n0 = scalp_contact(head, target_point)
        ref = np.array([0.0, 1.0, 0.0])
        if abs(ref @ n0) > 0.95:
            ref = np.array([1.0, 0.0, 0.0])
        e1 = ref - (ref @ n0) * n0
        e1 /= np.linalg.norm(e1)
        self.c0, self.n0, self.e1, self.e2 = c0, n0, e1, np.cross(n0, e1)
        self.reference = e1  # handle angle 0: anterior (+y) projected on the scalp
        if _is_mesh_head(head):
            v = head.scalp.vertices - c0
            uv = np.column_stack([v @ self.e1, v @ self.e2])
            h = v @ n0
            near = (np.linalg.norm(uv, axis=1) <= fit_radius) & (h > -fit_radius)
            u, w = uv[near, 0], uv[near, 1]
            A = np.column_stack([np.ones_like(u), u, w, u * u, u * w, w * w])
            self.coef = np.linalg.lstsq(A, h[near], rcond=None)[0]
            self.fit_rms = float(np.sqrt(np.mean((A @ self.coef - h[near]) ** 2)))
        else:
            self.coef, self.fit_rms = None, 0.0

    def frame(self, u, v):
        """Contact point (3,) m and unit outward normal (3,) at scalp coordinates (u, v) (m)."""
        if self.coef is None:
            c = np.asarray(self.head.center, dtype=float)
            R = self.head.scalp_radius
            d = (self.c0 - c) + u * self.e1 + v * self.e2
            n = d / np.linalg.norm(d)
            return c + R * n, n
        a = self.coef
        h = a[0] + a[1] * u + a[2] * v + a[3] * u * u + a[4] * u * v + a[5] * v * v
        hu, hv = a[1] + 2 * a[3] * u + a[4] * v, a[2] + a[4] * u + 2 * a[5] * v
        n = self.n0 - hu * self.e1 - hv * self.e2
        return self.c0 + u * self.e1 + v * self.e2 + h * self.n0, n / np.linalg.norm(n)

    def poses(self, coil, u, v, angles, distance):
        """Poses (len(angles), 4, 4) m of ``coil`` resting at (u, v) with handle angles ``angles`` (rad)."""
        from coils import coil_pose

        from ..physics.placement import _lift, footprint_radius

        contact, n = self.frame(u, v)
        t1 = self.reference - (self.reference @ n) * n
        t1 /= np.linalg.norm(t1)
        t2 = np.cross(n, t1)
        pose0 = coil_pose(contact, n, t1, distance)
        if _is_mesh_head(self.head):
            pose0[:3, 3] += _lift(self.head.scalp.vertices, pose0[:3, 3], n, footprint_radius(coil)) * n
        out = np.repeat(pose0[None], len(angles), axis=0)
        ca, sa = np.cos(angles), np.sin(angles)
        handle = ca[:, None] * t1 + sa[:, None] * t2
        out[:, :3, 1] = handle
        out[:, :3, 0] = np.cross(handle, n)
        return out


def _hex_grid(radius, step):
    pts = []
    n = int(math.ceil(radius / step))
    for j in range(-n, n + 1):
        for i in range(-n - 1, n + 2):
            x = (i + 0.5 * (j % 2)) * step
            y = j * step * math.sqrt(3) / 2
            if x * x + y * y <= radius * radius * (1 + 1e-9):
                pts.append((x, y))
    return np.asarray(pts)



def _objective(fields, target: Target):
    """Objective (P,) from fields (P, k, 3): mean |E| or mean E·d over the region points (|mean E·d| for an
    axial, sign-agnostic target)."""
    if target.direction is None:
        return np.linalg.norm(fields, axis=2).mean(axis=1)
    value = np.einsum("pkc,c->pk", fields, target.direction).mean(axis=1)
    return np.abs(value) if target.axial else value


def _score_all(score, poses, chunk: int = 4096) -> np.ndarray:
    """``score`` of every pose (P, 4, 4), in chunks, showing progress."""
    from .._common import progress

    out = np.empty(len(poses))
    with progress.task(f"targeting: evaluating {len(poses):,} coil poses", total=len(poses)) as bar:
        for a in range(0, len(poses), chunk):
            out[a:a + chunk] = score(poses[a:a + chunk])
            bar.advance(len(out[a:a + chunk]))
    return out


def _best_grid_pose(values, poses, tgt: Target) -> int:
    """Index of the best grid pose.  For an axial objective with a conventional handle direction the two
    equal optima (handle and handle + 180°) are told apart by taking the one whose handle is nearer the
    convention's: only poses with the handle in the convention's half-plane compete."""
    hint = (tgt.convention or {}).get("handle_direction")
    if tgt.axial and hint is not None:
        near = poses[:, :3, 1] @ np.asarray(hint, dtype=float) >= 0.0
        if near.any():
            return int(np.argmax(np.where(near, values, -np.inf)))
    return int(np.argmax(values))


def _convention_report(tgt: Target, pose, e_target) -> dict:
    """Angle (°, 0–180) between the pose's handle and the conventional handle, both projected onto the plane
    normal to the coil axis, and the sense of the induced E at the target for positive dI/dt."""
    conv = tgt.convention
    if not conv:
        return {"convention": None, "angle_to_convention_deg": None, "current_direction": None,
                "current_direction_text": ""}
    n = pose[:3, 2]
    a, b = (v - (v @ n) * n for v in (pose[:3, 1], np.asarray(conv["handle_direction"], dtype=float)))
    cosang = float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))
    field_dir = np.asarray(conv["field_direction"], dtype=float)
    along = float(np.asarray(e_target) @ field_dir)
    fwd, rev = conv.get("field_label", "+"), conv.get("reverse_label", "-")
    fwd_w, rev_w = conv.get("field_toward", "along the convention"), conv.get("reverse_toward", "against it")
    if along >= 0:
        sense = fwd
        text = (f"for positive dI/dt this coil's E at the target points {fwd_w} ({fwd} current, as the "
                f"convention wants); a coil with the opposite current sense (e.g. MagVenture vs Magstim "
                f"figure-8s) in its normal direction points the other way ({rev}) — reverse its current on the "
                f"stimulator to get {fwd}")
    else:
        sense = rev
        text = (f"for positive dI/dt this coil's E at the target points {rev_w} ({rev} current, against the "
                f"convention's {fwd}); reverse the current direction on the stimulator (or use the opposite "
                f"pulse phase of a biphasic pulse) to get {fwd} current, keeping the handle where it is")
    return {"convention": dict(conv), "angle_to_convention_deg": float(np.degrees(np.arccos(cosang))),
            "current_direction": sense, "current_direction_text": text}


def _forward_objective(placed, head, target):
    """The objective and E (V/m per A/s) at the target region for ``placed`` (a coil in the head frame), by
    the forward model (on a mesh head one FEM solve, kept for the focality numbers of the same pose)."""
    from ..physics.fields import total_efield

    e = total_efield(placed, head, target.region, 1.0)
    if _is_mesh_head(head):
        e = e.mean(axis=0, keepdims=True)
    return float(_objective(e[None], target)[0]), e


@dataclass(frozen=True)
class _Plan:
    """The checked search options (SI units) and the grid they define."""

    didt: float
    search_radius: float
    step: float
    distance: float
    n_angles: int
    goal_e: float | None
    weight: float
    radius: float

    @property
    def angles(self) -> np.ndarray:
        return np.linspace(0.0, 2 * np.pi, self.n_angles, endpoint=False)

    def grid(self) -> np.ndarray:
        """Scalp coordinates (n, 2) m of the position grid."""
        return _hex_grid(self.search_radius, self.step) if self.search_radius > 0 else np.zeros((1, 2))


def _plan(head, didt, search_radius, step, distance, n_angles, goal_e, off_target_weight, radius) -> _Plan:
    """Check every option before any computation; defaults follow the head size."""
    size = head_size(head)
    didt = 1e6 if didt is None else as_scalar(didt, "didt", "A/s", positive=True, allow_zero=False)
    search_radius = 0.25 * size if search_radius is None else as_scalar(search_radius, "search_radius", "m",
                                                                         positive=True)
    step = (search_radius / 5.0 if search_radius > 0 else 1.0) if step is None else as_scalar(
        step, "step", "m", positive=True, allow_zero=False)
    distance = as_scalar(distance, "distance", "m", positive=True)
    if int(n_angles) < 4:
        raise TargetError(f"n_angles must be >= 4; got {n_angles!r}")
    if goal_e is not None:
        goal_e = as_scalar(goal_e, "goal_e", "V/m", positive=True, allow_zero=False)
    weight = as_scalar(off_target_weight, "off_target_weight", "1", positive=True)
    return _Plan(didt, search_radius, step, distance, int(n_angles), goal_e, weight, radius)


def _reach(coil, head, scalp, plan: _Plan):
    """Wire points (m) of the grid poses and of poses up to one step beyond the search disc (mesh
    heads: the region the reciprocal grids must cover); None on sphere heads."""
    if not _is_mesh_head(head):
        return None
    q = np.asarray(coil.points)[:: max(1, len(coil.points) // 300)]
    rim = _hex_grid(plan.search_radius + plan.step, plan.step) if plan.search_radius > 0 else plan.grid()
    angles = plan.angles[:: max(1, plan.n_angles // 8)]
    extra = np.concatenate([scalp.poses(coil, u, v, angles, plan.distance) for u, v in rim])
    return np.concatenate([q @ P[:3, :3].T + P[:3, 3] for P in extra])


def _off_target(coil, head, tgt: Target, plan: _Plan, distance, n_points, method, reach, grid_step):
    """Evaluators of the off-target ring (empty without a focality penalty) and its points (n, 3) m."""
    if plan.weight <= 0:
        return [], np.zeros((0, 3))
    off_distance = 0.25 * head_size(head) if distance is None else as_scalar(
        distance, "off_target_distance", "m", positive=True, allow_zero=False)
    n_off = (4 if _is_mesh_head(head) else 8) if n_points is None else int(n_points)
    if n_off < 1:
        raise TargetError(f"n_off_target must be >= 1; got {n_points!r}")
    points = _off_target_points(head, tgt, off_distance, n_off)
    groups = [points[k:k + 1] for k in range(n_off)] if _is_mesh_head(head) else [points]
    evaluators = [evaluator_for(coil, head, Target(point=g[0], region=g, direction=None, label="off-target",
                                                   direction_label="|E|"), method, reach=reach, grid_step=grid_step)
                  for g in groups]
    return evaluators, points


def _scorer(evaluator: PoseEvaluator, off_evaluators, tgt: Target, weight: float):
    def score(poses):
        """Objective minus the focality penalty (P,), per A/s."""
        value = _objective(evaluator(poses), tgt)
        if off_evaluators:
            off = np.concatenate([np.linalg.norm(ev(poses), axis=2) for ev in off_evaluators], axis=1)
            value = value - weight * off.mean(axis=1)
        return value

    return score


def _refine(score, scalp, coil, plan: _Plan, start, best_value):
    """Nelder–Mead over (u, v, handle angle) from the best grid pose; returns the best (u, v, a) and the
    number of evaluations.  Positions beyond the search disc are penalised, not evaluated."""
    from scipy.optimize import minimize

    bu, bv, ba = start
    step = plan.step

    def cost(x):
        u, v, a = x
        over = math.hypot(u, v) - plan.search_radius
        if over > 0:
            return -best_value + over / step
        return -float(score(scalp.poses(coil, u, v, [a], plan.distance))[0])

    res = minimize(cost, [bu, bv, ba], method="Nelder-Mead",
                   options={"initial_simplex": [[bu, bv, ba], [bu + 0.5 * step, bv, ba], [bu, bv + 0.5 * step, ba],
                                                [bu, bv, ba + np.deg2rad(5)]],
                            "xatol": 1e-3 * step, "fatol": 1e-9 * abs(best_value), "maxfev": 400})
    return (tuple(res.x) if -res.fun >= best_value else start), res.nfev


def _assumptions(coil, head, tgt: Target, plan: _Plan, scalp, evaluator, off_evaluators, off_points, pose) -> dict:
    """Every assumption the result rests on, as text for people."""
    radius, distance = plan.radius, plan.distance
    out = {
        "coil": f"{coil.name}: {coil.metadata.get('display_name', coil.name)} (wire model; iron and casing not modelled)",
        "head": (f"{head.name} sphere: scalp {head.scalp_radius * 1e3:.1f} mm, cortex {head.cortex_radius * 1e3:.1f} mm"
                 if not _is_mesh_head(head) else f"{head.name} mesh ({len(head.tets)} tets, {head.frame} frame; "
                 f"{head.provenance.get('model') or head.provenance.get('mesh') or 'user mesh'})"),
        "target": f"{tgt.label}" + (f" — {tgt.source}" if tgt.source else "")
                  + (f"; region of {len(tgt.region)} cortical points within {radius * 1e3:.1f} mm" if radius else ""),
        "objective": (tgt.objective_text if tgt.direction is None else f"{tgt.objective_text}, d = "
                      f"({', '.join(f'{x:+.3f}' for x in tgt.direction)})")
                     + (f"; d: the convention's {tgt.convention.get('field_label', '')} direction "
                        "projected onto the scalp tangent plane above the target; of the two equal optima "
                        "(handle and handle + 180°) the one nearer the conventional handle is taken"
                        if tgt.convention else "")
                     + (" averaged over the region" if radius else "")
                     + (" (mesh heads: of the region-mean field vector)" if radius and _is_mesh_head(head) else ""),
        "placement": f"coil resting on the scalp + {distance * 1e3:.1f} mm; positions within "
                     f"{plan.search_radius * 1e3:.1f} mm (grid {plan.step * 1e3:.2f} mm), handle every "
                     f"{360 / plan.n_angles:g}°"
                     + (f"; local scalp fit rms {scalp.fit_rms * 1e3:.2f} mm" if _is_mesh_head(head) else ""),
        "evaluator": evaluator.method,
    }
    outside = max([getattr(ev, "max_outside", 0) for ev in [evaluator, *off_evaluators]])
    if outside:
        out["evaluator"] += (f"; up to {outside} of {len(evaluator._q[0])} wire points of a pose fell outside "
                             "the reciprocal grids (their secondary field was left out of the search; the "
                             "forward check below is complete)")
    if off_evaluators:
        off_e = np.concatenate([np.linalg.norm(ev(pose[None]), axis=2) for ev in off_evaluators], axis=1)[0]
        out["objective"] += (f" minus {plan.weight:g} × mean |E| at {len(off_points)} cortical points "
                             f"{np.linalg.norm(off_points - tgt.point, axis=1).mean() * 1e3:.1f} mm from the "
                             f"target (there {off_e.mean() * 1e6:.3g} V/m per A/µs at the best pose)")
    return out


def optimize_pose(coil, head, target, didt: float | None = None, *, direction=None, radius: float = 0.0,
                  distance: float = 0.0, search_radius: float | None = None, step: float | None = None,
                  n_angles: int = 72, refine: bool = True, goal_e: float | None = None,
                  stimulator: str | None = None, method: str = "auto", focality: bool = True,
                  grid_step: float | None = None, off_target_weight: float = 0.0,
                  off_target_distance: float | None = None, n_off_target: int | None = None) -> TargetResult:
    """The coil pose that maximises the field at ``target``.

    Parameters
    ----------
    coil : coils.Coil or preset id (in its own frame)
    head : SphereHead or MeshHead (e.g. ``meshes.sphere_head("human")``, ``meshes.builtin_head("rat")``)
    target : see :func:`resolve_target` (name, "mni:x,y,z", "bregma:x,y,z" in mm, or a (3,) point in m)
    didt : float, A/s — intensity for the reported E (default 1 A/µs = 1e6 A/s)
    direction : see :func:`resolve_target` — maximise E along it instead of |E|
    radius : float, m — average the objective over cortical points within this distance of the target
    distance : float, m — extra coil–scalp gap (hair, cap)
    search_radius : float, m — positions within this distance of the scalp point nearest the target
        (default 25 % of the head radius: ≈ 21 mm human sphere, 2.4 mm rat sphere)
    step : float, m — spacing of the position grid (default a fifth of ``search_radius``)
    n_angles : int — handle angles over 360° on the grid (default 72: 5°)
    refine : bool — continuous refinement after the grid (Nelder–Mead)
    goal_e : float, V/m — report the %MSO that reaches this field at the target
    stimulator : str — stimulator for %MSO (default: the coil's own)
    method : "auto" (fast reciprocity evaluator), "fast" or "direct" (a forward field per pose: slow)
    focality : bool — compute the focality metrics (one more forward field over the cortex/brain)
    off_target_weight : float, dimensionless, >= 0 — focality penalty: maximise the objective minus this
        weight times the mean |E| at ``n_off_target`` cortical points ``off_target_distance`` (m) from the
        target (default 0: no penalty; distance default 25 % of the head radius; points default 8 on
        sphere heads, 4 on mesh heads, where each costs three more FEM solves)
    grid_step : float, m — spacing of the fine reciprocal-potential grid on mesh heads (default half of
        the closest distance between reachable wires and the strong reciprocal current sources)
    """
    from coils import load_coil

    from ..physics.placement import footprint_radius, scalp_gap

    t = {"start": time.perf_counter()}
    if isinstance(coil, str):
        coil = load_coil(coil)
    plan = _plan(head, didt, search_radius, step, distance, n_angles, goal_e, off_target_weight, radius)
    tgt = resolve_target(head, target, direction=direction, radius=radius)
    scalp = _Scalp(head, tgt.point, plan.search_radius + 0.5 * footprint_radius(coil))
    grid_uv, angles = plan.grid(), plan.angles
    poses = np.concatenate([scalp.poses(coil, u, v, angles, plan.distance) for u, v in grid_uv])
    t["grid_poses"] = time.perf_counter()

    reach = _reach(coil, head, scalp, plan)
    evaluator = evaluator_for(coil, head, tgt, method, reach=reach, grid_step=grid_step)
    off_evaluators, off_points = _off_target(coil, head, tgt, plan, off_target_distance, n_off_target, method,
                                             reach, grid_step)
    score = _scorer(evaluator, off_evaluators, tgt, plan.weight)
    t["setup"] = time.perf_counter()
    values = _score_all(score, poses)
    t["search"] = time.perf_counter()
    best = _best_grid_pose(values, poses, tgt)
    uva = (*grid_uv[best // plan.n_angles], angles[best % plan.n_angles])
    n_eval = len(poses)
    if refine:
        uva, nfev = _refine(score, scalp, coil, plan, uva, values[best])
        n_eval += nfev
    t["refine"] = time.perf_counter()
    bu, bv, ba = uva
    pose = scalp.poses(coil, bu, bv, [ba], plan.distance)[0]
    fast_value = float(_objective(evaluator(pose[None]), tgt)[0])
    curve_angles = ba + angles
    curve = _objective(evaluator(scalp.poses(coil, bu, bv, curve_angles, plan.distance)), tgt)
    placed = coil.placed(pose)  # one object: the forward check's FEM solve is reused by the focality numbers
    value, e_vec = _forward_objective(placed, head, tgt)
    t["forward"] = time.perf_counter()

    assumptions = _assumptions(coil, head, tgt, plan, scalp, evaluator, off_evaluators, off_points, pose)
    focal, cortex = _focality(placed, head, tgt, value) if focality else ({}, None)
    goal = _mso_for(coil, stimulator, plan.goal_e, value)
    if plan.goal_e is not None:
        assumptions["stimulator"] = goal.pop("describe")
    goal.pop("describe", None)
    gap = scalp_gap(pose, head, coil)
    curve_deg = np.round(np.rad2deg(curve_angles), 9) % 360.0
    order = np.argsort(curve_deg)
    return TargetResult(
        pose=pose, center=pose[:3, 3].copy(), handle=pose[:3, 1].copy(), normal=pose[:3, 2].copy(),
        coil_name=coil.name, head_name=head.name, frame=getattr(head, "frame", "head"),
        target_point=tgt.point, target_label=tgt.label, target_direction=tgt.direction,
        quantity=_quantity(tgt), didt=plan.didt,
        target_e=value * plan.didt, target_e_per_aus=value * 1e6,
        target_efield=(e_vec[0] if len(e_vec) else np.zeros(3)) * plan.didt,
        angle_reference=scalp.reference, angles_deg=curve_deg[order], e_vs_angle=curve[order] * plan.didt,
        focality=focal, goal_e=plan.goal_e, **goal,
        fast_vs_forward=abs(fast_value - value) / max(abs(value), 1e-300),
        scalp_gap_m=max(gap, 0.0) if gap > -1e-9 else gap, n_poses=n_eval, assumptions=assumptions, cortex=cortex,
        timing={"placement": t["grid_poses"] - t["start"], "precompute": t["setup"] - t["grid_poses"],
                "grid_search": t["search"] - t["setup"],
                "grid_poses_per_s": len(poses) / max(t["search"] - t["setup"], 1e-12),
                "refine": t["refine"] - t["search"], "forward_check": t["forward"] - t["refine"],
                "total": time.perf_counter() - t["start"]},
        head_label=head_label(head, head), objective=tgt.objective_text,
        **_convention_report(tgt, pose, (e_vec[0] if len(e_vec) else np.zeros(3))),
    )


def _quantity(tgt: Target) -> str:
    """Short name of the objective's field quantity: "|E|", "|E·convention|", "E·anterior", …"""
    if tgt.direction is None:
        return "|E|"
    return f"|E·{tgt.direction_label}|" if tgt.axial else f"E·{tgt.direction_label}"


def _off_target_points(head, tgt: Target, distance: float, n: int) -> np.ndarray:
    """``n`` cortical points (n, 3) m on a ring ``distance`` (m) around the target (mesh: nearest cortex vertices)."""
    p = tgt.point
    if _is_mesh_head(head):
        if head.cortex is None:
            raise TargetError(f"mesh head {head.name!r} has no cortex surface for off-target points")
        normal = cortex_normal(head, p)
    else:
        normal = (p - np.asarray(head.center)) / np.linalg.norm(p - np.asarray(head.center))
    e1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ring = p + distance * (np.cos(a)[:, None] * e1 + np.sin(a)[:, None] * e2)
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        rho = np.linalg.norm(p - c)
        return c + rho * (ring - c) / np.linalg.norm(ring - c, axis=1)[:, None]
    v = head.cortex.vertices
    return v[[int(np.argmin(np.sum((v - q) ** 2, axis=1))) for q in ring]]


