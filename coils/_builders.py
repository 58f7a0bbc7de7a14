"""Parametric wire models: flat circular spirals and figure-8 coils made of two of them.

Geometry (coil frame of :mod:`coils._model`, metres)
----------------------------------------------------
* **Winding mid-line.** Each layer is an Archimedean spiral ``r = r_a + (r_b - r_a) t``,
  ``θ = θ0 ± 2π N t`` (``t`` in [0, 1], ``N`` = turns per layer) whose mid-line runs from
  ``r_a = ID/2 + w/2`` to ``r_b = OD/2 - w/2``; ``w`` is the radial conductor width (default
  ``(OD - ID) / (2 N)``: the turns fill the annulus).  One turn with the default width is the
  circle of radius ``(ID + OD) / 4``; ``ID == OD`` gives a thin circular loop of that diameter.
* **Conductor cross-section.** The radial width is represented by the mid-line only.  The height
  ``h`` (along z) is represented by ``filaments`` parallel filaments at the Gauss–Legendre nodes of
  the height, each carrying its Gauss weight (1/2 each for two filaments) of the current;
  ``h = 0`` means one thin filament.  Two filaments reproduce the field of a uniform current over
  the height to fourth order in ``h / distance``.  Every filament is a complete closed path.
* **Layers.** Layer 0 (lowest, its conductor bottom at ``z_bottom``) runs inner→outer, layer 1
  outer→inner, ... all with the same sense of rotation, so their fields add; consecutive layers
  are joined by a short vertical wire.  If the last layer ends at the outer radius, the path
  returns over the winding: up to ``lead_gap`` above the top conductor, a straight
  (radial for whole turns) crossover wire to above the start, and down to the start.  If it ends
  at the inner radius, a vertical wire closes the path.  Crossovers sit at angle ``lead_angle``
  (default +y, towards the handle).
* **Sense.** The spiral winds counter-clockwise (seen from +z) from the inside out (a figure-8's
  −x wing is the mirror image).  ``sense=+1`` sends the current that way (magnetic moment along
  +z for a spiral); ``sense=-1`` reverses the current on the same geometry.

Sampling rule (documented, tested)
----------------------------------
* **Step.** ``segments_per_turn`` (default :func:`segments_per_turn_rule`:
  ``max(64, ceil(2π / sqrt(8 s / r_max)))`` with ``s = 30 µm``, i.e. the chord–arc gap (sagitta) is
  at most 30 µm on the outermost turn, and at least 64 chords per turn).  Each layer has
  ``K = ceil(N · segments_per_turn)`` chords at a constant angular step ``d``.
* **Area-preserving vertices.** Interior vertices are moved radially (about the spiral centre)
  to ``f · sqrt(r² + δ²/3)`` with ``f = sqrt(d / sin d)`` and ``δ`` the radial advance per step, so
  that every chord sweeps exactly the area of the spiral arc it replaces (to O(d⁴)): the polygon
  has the spiral's magnetic moment and its O(d²) error is gone.  The two end chords of a layer are
  shorter (angle ``e`` with ``e / sin e = f``) so that the spiral's end points, where joints and
  leads attach, lie exactly on the mid-line and do not move when the sampling changes.
* **Result.** The field error is O(d⁴): doubling the sampling changes B and A at points ≥ 10 mm
  below the casing by < 2e-7 of their maximum for every flat preset (tests/test_coils_builders.py
  checks < 1e-6).  Where wings are folded (``bend_angle`` with ``fold_offset``, the MC-B70), a
  chord that crosses a fold line is split at the crossing and the two pieces follow their planes;
  the chord's crossing is not the arc's, an O(d³) local error: doubling changes the fields by
  5.6e-5 of their maximum for the MC-B70 (checked < 2e-4).  Straight wires (joints, leads, crossovers) are exact single segments.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ._model import Coil

__all__ = ["spiral_coil", "figure8_coil", "segments_per_turn_rule", "MAX_SAGITTA", "SAMPLING_RULE"]

#: default sampling: the largest gap (m) between a chord and the arc it replaces, at the outermost turn
MAX_SAGITTA = 30e-6
SAMPLING_RULE = (
    "segments_per_turn = max(64, ceil(2*pi / sqrt(8 * 30 um / r_max))) (sagitta <= 30 um at the "
    "outermost mid-line radius r_max), constant angular step, interior vertices scaled radially by "
    "sqrt(d/sin d), end chords shortened so that the spiral ends lie on the mid-line "
    "(every chord sweeps the area of its arc)"
)
_SAME_POINT = 1e-12  # metres


def segments_per_turn_rule(r_max: float, max_sagitta: float = MAX_SAGITTA) -> int:
    """Default polygon vertices per turn for a spiral whose outermost mid-line radius is ``r_max`` (m).

    The angular step ``sqrt(8 · max_sagitta / r_max)`` keeps the chord–arc gap (sagitta) at or
    below ``max_sagitta`` (m) on every turn; at least 64 per turn.
    """
    if r_max <= 0:
        return 64
    return max(64, math.ceil(2.0 * math.pi / math.sqrt(8.0 * max_sagitta / r_max)))


def _positive(value, name: str, unit: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number ({unit}); got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound} ({unit}); got {value!r}")
    return v


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _winding(inner_diameter, outer_diameter, turns, layers, layer_spacing, z_bottom, sense,
             conductor_width, conductor_height, filaments, segments_per_turn, lead_gap):
    """Validate the shared parameters and return them in a dict (metres, radians)."""
    r_in = _positive(inner_diameter, "inner_diameter", "metres", allow_zero=True) / 2
    r_out = _positive(outer_diameter, "outer_diameter", "metres") / 2
    if r_out < r_in:
        raise ValueError(
            f"outer_diameter ({2 * r_out:g} m) must be >= inner_diameter ({2 * r_in:g} m)"
        )
    turns = _positive(turns, "turns", "turns per layer")
    layers = _count(layers, "layers", 1)
    if sense not in (1, -1):
        raise ValueError(f"sense must be +1 (counter-clockwise seen from +z) or -1; got {sense!r}")
    width = (r_out - r_in) / turns if conductor_width is None else _positive(
        conductor_width, "conductor_width", "metres", allow_zero=True)
    if width > r_out - r_in + 1e-15:
        raise ValueError(
            f"conductor_width ({width:g} m) exceeds the radial extent of the winding "
            f"({r_out - r_in:g} m = (outer_diameter - inner_diameter) / 2)"
        )
    height = _positive(conductor_height, "conductor_height", "metres", allow_zero=True)
    if filaments is None:
        filaments = 2 if height > 0 else 1
    filaments = _count(filaments, "filaments", 1)
    if height == 0:
        filaments = 1
    if layer_spacing is None:
        layer_spacing = height if height > 0 else max(width, 1e-3)
    layer_spacing = _positive(layer_spacing, "layer_spacing", "metres", allow_zero=layers == 1)
    if layers > 1 and layer_spacing < height:
        raise ValueError(
            f"layer_spacing ({layer_spacing:g} m) is smaller than conductor_height ({height:g} m): "
            "layers would overlap"
        )
    z_bottom = _positive(z_bottom, "z_bottom", "metres", allow_zero=height > 0)
    lead_gap = _positive(lead_gap, "lead_gap", "metres")
    if segments_per_turn is None:
        segments_per_turn = segments_per_turn_rule(r_out - width / 2)
    segments_per_turn = _count(segments_per_turn, "segments_per_turn", 8)
    nodes, gw = np.polynomial.legendre.leggauss(filaments)
    return dict(
        r_a=r_in + width / 2, r_b=r_out - width / 2, r_in=r_in, r_out=r_out, turns=turns,
        layers=layers, layer_spacing=layer_spacing, z_bottom=z_bottom, sense=int(sense), width=width,
        height=height, filaments=filaments, segments_per_turn=segments_per_turn, lead_gap=lead_gap,
        dz=nodes * height / 2, fw=gw / 2,
    )


def _chord_ratio(x: float) -> float:
    """``x / sin x``: arc area over inscribed-chord area for an angle x (rad)."""
    return x / math.sin(x) if x > 0 else 1.0


def _end_step(f: float, hi: float) -> float:
    """Angle e in (0, hi] with ``e / sin e = f`` (bisection; the ratio grows with e)."""
    lo = 0.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if _chord_ratio(mid) < f:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _sampling(total: float, n_seg: int) -> tuple[np.ndarray, float, float]:
    """Vertex angles (0 .. ``total``), the interior step d and its scale f = sqrt(d / sin d).

    Interior vertices: constant step d, radially scaled by (about) f.  End vertices: on the curve
    (scale 1), with the end step e chosen so that e / sin e = f; then the end chords (scales 1 and
    f) sweep the area of their arcs like the interior chords (scales f and f) do.
    """
    d = total / (n_seg - 2 + math.sqrt(2.0))
    for _ in range(100):
        f = math.sqrt(_chord_ratio(d))
        e = _end_step(f, d)
        d_new = (total - 2.0 * e) / (n_seg - 2)
        if abs(d_new - d) <= 1e-15 * total:
            break
        d = d_new
    angles = np.concatenate([[0.0], e + d * np.arange(n_seg - 1), [total]])
    return angles, d, f


def _spiral(r0, r1, turns, theta0, sense, n_seg, z):
    """(n_seg + 1, 3) vertices of one spiral layer from radius r0 to r1 (area-preserving).

    An arc of the spiral from radius r_i to r_j (angle d) sweeps ``d (r_i r_j + (r_j - r_i)^2 / 3) / 2``,
    a chord between vertices scaled by g_i, g_j sweeps ``g_i g_j r_i r_j sin(d) / 2``: the interior
    scale ``g = f sqrt(1 + δ^2 / (3 r^2))`` (δ = radial change per step) matches them to O(d^4).
    """
    total = 2.0 * np.pi * turns
    phi, d, f = _sampling(total, n_seg)
    r = r0 + (r1 - r0) * phi / total
    delta = (r1 - r0) * d / total
    inner = r[1:-1]
    r[1:-1] = f * np.sqrt(inner**2 + delta**2 / 3.0)
    th = theta0 + sense * phi
    return np.stack([r * np.cos(th), r * np.sin(th), np.full(n_seg + 1, z)], axis=1)


def _wing_path(g: Mapping[str, Any], handed: int, lead_angle: float, dz: float) -> np.ndarray:
    """Closed vertex chain (k, 3) of one spiral (all layers, one filament) centred on the z axis.

    ``handed=+1`` winds counter-clockwise (seen from +z) from the inside out, −1 is its mirror
    image; the chain's order is the current direction before ``sense`` is applied.
    """
    n_seg = max(math.ceil(g["turns"] * g["segments_per_turn"]), 4)
    z_mid0 = g["z_bottom"] + g["height"] / 2
    chain = []
    theta = lead_angle
    for k in range(g["layers"]):
        r0, r1 = (g["r_a"], g["r_b"]) if k % 2 == 0 else (g["r_b"], g["r_a"])
        chain.append(_spiral(r0, r1, g["turns"], theta, handed, n_seg, z_mid0 + k * g["layer_spacing"] + dz))
        theta += handed * 2.0 * np.pi * g["turns"]
    pts = np.concatenate(chain)
    start, end = pts[0], pts[-1]
    if np.linalg.norm(end - start) < _SAME_POINT:
        pts[-1] = start
        return pts
    if np.linalg.norm(end[:2] - start[:2]) < _SAME_POINT:
        return np.concatenate([pts, start[None]])
    z_lead = (g["z_bottom"] + g["height"] + (g["layers"] - 1) * g["layer_spacing"]
              + g["lead_gap"] + dz)
    lead = np.array([[end[0], end[1], z_lead], [start[0], start[1], z_lead], start])
    return np.concatenate([pts, lead])


def _split_at(pts: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``pts`` (k, 3) with a vertex inserted where a chord crosses ``u = 0`` (u: (k,) signed distance)."""
    cross = np.flatnonzero((u[:-1] > 0) != (u[1:] > 0))
    if len(cross) == 0:
        return pts
    t = u[cross] / (u[cross] - u[cross + 1])
    new = pts[cross] + t[:, None] * (pts[cross + 1] - pts[cross])
    return np.insert(pts, cross + 1, new, axis=0)


def _segments(chains, weights, sense: int):
    """Segments of closed vertex chains; ``sense=-1`` reverses the current (same geometry)."""
    starts, ends, ws = [], [], []
    for pts, w in zip(chains, weights):
        if sense < 0:
            pts = pts[::-1]
        s, e = pts[:-1], pts[1:]
        keep = np.linalg.norm(e - s, axis=1) >= _SAME_POINT
        starts.append(s[keep])
        ends.append(e[keep])
        ws.append(np.full(int(keep.sum()), float(w)))
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(ws)


def _geometry_meta(g, kind: str, **extra) -> dict:
    meta = {
        "builder": kind,
        "inner_diameter_m": 2 * g["r_in"],
        "outer_diameter_m": 2 * g["r_out"],
        "turns_per_layer": g["turns"],
        "layers": g["layers"],
        "layer_spacing_m": g["layer_spacing"],
        "winding_bottom_m": g["z_bottom"],
        "conductor_width_m": g["width"],
        "conductor_height_m": g["height"],
        "filaments": g["filaments"],
        "segments_per_turn": g["segments_per_turn"],
        "sampling_rule": SAMPLING_RULE,
        "sense": g["sense"],
    }
    meta.update(extra)
    return {"geometry": meta}


def _check_above_casing(name, z_values) -> None:
    """Refuse a coil whose wires (heights ``z_values``, m) touch or cross the casing surface z = 0."""
    low = min(float(np.min(z)) for z in z_values)
    if low <= 0:
        raise ValueError(
            f"coil {name!r}: a wire reaches z = {low * 1e3:.3g} mm; all wires must lie above the "
            "casing surface (z > 0): raise z_bottom"
        )


def _check_size(name, start, end) -> None:
    """Refuse a coil whose size is implausible in metres (the builders' unit), naming the likely unit."""
    from ._formats.ccd import EXTENT_RANGE_M

    pts = np.vstack([start, end])[:, :2]  # across the casing (heights above it are set separately)
    extent = float(np.ptp(pts, axis=0).max()) if len(pts) else 0.0
    lo, hi = EXTENT_RANGE_M
    if extent > hi or 0 < extent < lo:
        likely = "millimetres" if extent > hi else "a unit larger than metres"
        raise ValueError(f"coil {name!r} is {extent:.4g} m across; builder dimensions are in metres and a TMS coil "
                         f"is {lo * 1e3:g} mm to {hi:g} m wide — were they given in {likely}?")


def _finish(name, start, end, weight, meta, metadata, bent: bool = False) -> Coil:
    _check_size(name, start, end)
    if not bent:  # a bent coil was checked in its unbent frame
        _check_above_casing(name, (start[:, 2], end[:, 2]))
    if metadata:
        meta.update(dict(metadata))
    coil = Coil(name=name, start=start, end=end, weight=weight, metadata=meta)
    coil.check_closed()
    return coil


def spiral_coil(name: str, inner_diameter: float, outer_diameter: float, turns: float,
                layers: int = 1, *, layer_spacing: float | None = None, z_bottom: float = 4e-3,
                center=(0.0, 0.0, 0.0), sense: int = 1, conductor_width: float | None = None,
                conductor_height: float = 0.0, filaments: int | None = None,
                segments_per_turn: int | None = None, lead_gap: float = 2e-3,
                lead_angle: float = np.pi / 2, metadata: Mapping[str, Any] | None = None) -> Coil:
    """Flat circular spiral coil (one or more stacked layers) with its closing wires.

    Parameters
    ----------
    name : str
        Coil identifier.
    inner_diameter, outer_diameter : float, metres
        Inner and outer diameter of the winding (conductor edges), ``0 <= ID <= OD``.
    turns : float
        Turns per layer (> 0).
    layers : int
        Number of stacked layers (same sense of rotation, in series).
    layer_spacing : float, metres, optional
        Centre-to-centre z distance of layers (default: ``conductor_height``, or the radial
        conductor width when the height is 0).
    z_bottom : float, metres
        Height of the bottom of the lowest conductor above the casing surface (the casing
        thickness under the winding); with ``conductor_height = 0`` this is the wire height.
    center : (3,) float array, metres
        Offset of the spiral centre in the coil frame.
    sense : {+1, -1}
        +1: current counter-clockwise seen from +z (moment along +z); -1 reverses the current
        on the same wires.
    conductor_width : float, metres, optional
        Radial width of the conductor (default ``(OD - ID) / (2 turns)``).
    conductor_height : float, metres
        Height (z) of the conductor; 0 for a thin wire.
    filaments : int, optional
        Parallel filaments across the height (default 2 if ``conductor_height > 0`` else 1).
    segments_per_turn : int, optional
        Chords per turn (default: :func:`segments_per_turn_rule` of the outermost radius; see
        the module's sampling rule).
    lead_gap : float, metres
        Height of the crossover wire above the top of the winding.
    lead_angle : float, radians
        Angle (from +x towards +y) of the spiral start and of the crossover.
    metadata : mapping, optional
        Extra metadata merged into ``Coil.metadata``.

    Returns
    -------
    Coil
        Closed current path; ``n_segments ≈ filaments · layers · ceil(turns · segments_per_turn)``.
    """
    g = _winding(inner_diameter, outer_diameter, turns, layers, layer_spacing, z_bottom, sense,
                 conductor_width, conductor_height, filaments, segments_per_turn, lead_gap)
    offset = np.asarray(center, dtype=np.float64)
    if offset.shape != (3,) or not np.all(np.isfinite(offset)):
        raise ValueError(f"center must be 3 finite numbers (metres); got {center!r}")
    chains = [_wing_path(g, 1, float(lead_angle), dz) + offset for dz in g["dz"]]
    start, end, weight = _segments(chains, g["fw"], g["sense"])
    meta = _geometry_meta(g, "spiral_coil", center_m=offset.tolist())
    return _finish(name, start, end, weight, meta, metadata)


def figure8_coil(name: str, inner_diameter: float, outer_diameter: float, turns: float,
                 layers: int = 1, *, wing_spacing: float | None = None, bend_angle: float = 0.0,
                 fold_offset: float = 0.0, wing_stack: float = 0.0, top_wing: int = 1,
                 layer_spacing: float | None = None, z_bottom: float = 4e-3, sense: int = 1,
                 conductor_width: float | None = None, conductor_height: float = 0.0,
                 filaments: int | None = None, segments_per_turn: int | None = None, lead_gap: float = 2e-3,
                 metadata: Mapping[str, Any] | None = None) -> Coil:
    """Figure-8 coil: two spiral wings on the x axis with opposite circulation.

    The wings are centred at ``x = ±wing_spacing / 2``.  Their currents add under the coil
    centre along the y axis.  Current sense (``sense=+1``, the default): the +x wing circulates
    counter-clockwise seen from +z, so the current under the centre flows along −y and, for
    dI/dt > 0, the primary E there points along +y (towards the handle).  SimNIBS's validated
    MagVenture models (C-B60, Cool-B35, MC-B70; Drakaki et al. 2022) have this sign in this frame;
    its MagStim_D70.ccd has the opposite one (``sense=-1``: E away from the handle).

    Parameters
    ----------
    name : str
        Coil identifier.
    inner_diameter, outer_diameter : float, metres
        Winding diameters of each wing.
    turns : float
        Turns per layer per wing.
    layers : int
        Stacked layers per wing.
    wing_spacing : float, metres, optional
        Distance between the wing centres (default ``outer_diameter``: touching wings).  A
        spacing below ``outer_diameter`` makes the wings overlap at the centre (butterfly coils
        such as the MagVenture MC-B70); that needs ``wing_stack`` >= the conductor stack height,
        so that the overlapping windings lie one above the other.
    bend_angle : float, radians, in (−π/2, π/2)
        Each wing's outer part (beyond its fold line ``x = ±fold_offset``, on the casing surface
        ``z = z_bottom``, parallel to y) is rotated about that line by this angle: > 0 lifts the
        outer edge away from the head, < 0 bends it towards the head (a casing curved to the
        head).  Wire heights are checked in the unbent frame: all above the (bent) casing.
    fold_offset : float, metres, >= 0
        Distance of each wing's fold line from the coil centre (0: the whole wing is rotated).
    wing_stack : float, metres, >= 0
        The ``top_wing`` is raised by this height above the other wing (stacked windings where
        overlapping wings cross).
    top_wing : {+1, -1}
        Which wing lies on top where they overlap: +1 the +x wing, −1 the −x wing.
    layer_spacing, z_bottom, conductor_width, conductor_height, filaments, segments_per_turn, lead_gap
        As in :func:`spiral_coil` (metres where dimensional).
    sense : {+1, -1}
        Circulation of the +x wing seen from +z (+1 counter-clockwise); the −x wing is opposite.
    metadata : mapping, optional
        Extra metadata merged into ``Coil.metadata``.

    Returns
    -------
    Coil
        Two closed current paths; ``n_segments ≈ 2 · filaments · layers · ceil(turns · segments_per_turn)``.
    """
    g = _winding(inner_diameter, outer_diameter, turns, layers, layer_spacing, z_bottom, sense,
                 conductor_width, conductor_height, filaments, segments_per_turn, lead_gap)
    spacing = 2 * g["r_out"] if wing_spacing is None else _positive(wing_spacing, "wing_spacing", "metres")
    stack = _positive(wing_stack, "wing_stack", "metres", allow_zero=True)
    fold = _positive(fold_offset, "fold_offset", "metres", allow_zero=True)
    if top_wing not in (1, -1):
        raise ValueError(f"top_wing must be +1 (the +x wing on top) or -1 (the -x wing); got {top_wing!r}")
    stack_height = g["height"] + (g["layers"] - 1) * g["layer_spacing"]
    if spacing < 2 * g["r_out"] * (1 - 1e-12) and (stack == 0 or stack < stack_height * (1 - 1e-12)):
        raise ValueError(
            f"wing_spacing ({spacing:g} m) is below outer_diameter ({2 * g['r_out']:g} m), so the wings "
            f"overlap; wing_stack ({stack:g} m) must then be > 0 and >= the winding height ({stack_height:g} m)"
        )
    try:
        beta = float(bend_angle)
    except (TypeError, ValueError):
        beta = math.nan
    if not (-np.pi / 2 < beta < np.pi / 2):
        raise ValueError(f"bend_angle must be in (-pi/2, pi/2) radians; got {bend_angle!r}")
    chains, weights = [], []
    c, s = math.cos(beta), math.sin(beta)
    for side in (1.0, -1.0):
        for dz, w in zip(g["dz"], g["fw"]):
            pts = _wing_path(g, int(side), np.pi / 2, dz)
            pts[:, 0] += side * spacing / 2
            if side == top_wing:
                pts[:, 2] += stack
            chains.append(pts)
            weights.append(w)
    _check_above_casing(name, (p[:, 2] for p in chains))  # before bending: every wire above the casing
    if beta:
        for k, pts in enumerate(chains):
            side = 1.0 if k < len(chains) // 2 else -1.0
            pts = chains[k] = _split_at(pts, side * pts[:, 0] - fold)  # chords crossing the fold: two pieces
            u = side * pts[:, 0] - fold  # distance beyond the fold line
            out = u > 0
            zr = pts[out, 2] - g["z_bottom"]
            pts[out, 0] = side * (fold + u[out] * c - zr * s)
            pts[out, 2] = g["z_bottom"] + u[out] * s + zr * c
    start, end, weight = _segments(chains, weights, g["sense"])
    meta = _geometry_meta(g, "figure8_coil", wing_spacing_m=spacing, bend_angle_rad=beta,
                          fold_offset_m=fold, wing_stack_m=stack, top_wing=int(top_wing))
    return _finish(name, start, end, weight, meta, metadata, bent=bool(beta))
