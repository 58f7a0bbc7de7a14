"""A live coil-placement page: move the coil over the scalp with sliders and watch the cortical field.

The page (trame, served on 127.0.0.1 only) shows a mesh head's cortex coloured by |E|, the translucent
scalp and the coil.  Sliders set the coil pose; every change recomputes the cortical field with a
precomputed cortical field model (:mod:`efield.physics.cortex_model`, milliseconds per pose) and
reports the E at the target, the stimulator output needed for a goal E and focality numbers.

Pieces, each usable without a browser:

* :class:`LiveSession` -- the head, coil, model and intensity; :meth:`LiveSession.pose` (sliders -> 4x4
  pose) and :meth:`LiveSession.update` (sliders -> numbers).
* :class:`LiveScene` -- the off-screen pyvista scene; :meth:`LiveScene.show` updates the cortex scalars in
  place and the coil's transform (no actors are rebuilt).
* :func:`build_app` -- the trame page on top of both; :func:`serve` starts it in a thread and returns
  its URL; :func:`update_rate` measures updates per second of the non-browser path.

Sliders (``SLIDERS``): ``azimuth_deg`` / ``elevation_deg`` -- the direction from the scalp's centre
(bounding-box centre) whose ray meets the scalp at the coil's contact point (azimuth 0 = anterior +y,
90 = right +x; elevation 90 = straight up +z); ``handle_deg`` -- handle direction, rotated
counter-clockwise seen from outside about the scalp normal from the anterior direction (+y) projected
onto the scalp tangent plane (on the very top: +y itself; where +y is normal to the scalp: +z);
``tilt_deg`` -- the coil normal tilted by this angle about the coil's x axis (positive: the handle end
lifts); ``gap_mm`` -- extra gap between the casing bottom and the scalp.  The coil is then lifted along
its normal until its footprint clears the scalp (:func:`efield.physics.placement.resting_pose`).

Layering: this module imports nothing from ``efield.dose`` or ``efield.targeting``; the command line
passes the stimulator's dI/dt at 100 % MSO as a number and a save callback.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .._common.validation import as_scalar, as_vector3
from ..physics.fields import vertex_areas

__all__ = ["SLIDERS", "LiveSession", "LiveScene", "build_app", "serve", "update_rate"]

#: slider name -> (label, unit, low, high, step, default)
SLIDERS: dict[str, tuple[str, str, float, float, float, float]] = {
    "azimuth_deg": ("position: azimuth (0 anterior, 90 right)", "°", -180.0, 180.0, 1.0, 0.0),
    "elevation_deg": ("position: elevation (90 = top)", "°", -30.0, 90.0, 1.0, 90.0),
    "handle_deg": ("handle angle (from anterior, counter-clockwise)", "°", -180.0, 180.0, 1.0, 0.0),
    "tilt_deg": ("tilt (about the coil's x axis)", "°", -30.0, 30.0, 1.0, 0.0),
    "gap_mm": ("extra gap to the scalp", "mm", 0.0, 20.0, 0.5, 0.0),
}

_MM = 1e3
_COIL_COLOR = "#c85a00"
_SCALP_COLOR = "#d0d0d0"


#: faces of the translucent scalp drawn in the live view (a decimated copy of larger scalps; display only:
#: coil placement uses the full scalp).  Human head: 49,616 faces cost ≈ 34 ms of a 78 ms frame, 8,000 ≈ 19 ms
_SCALP_FACES_SHOWN = 10_000


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _rotate(v: np.ndarray, axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """``v`` rotated by ``angle_rad`` about the unit ``axis`` (Rodrigues)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return v * c + np.cross(axis, v) * s + axis * float(axis @ v) * (1.0 - c)


def _ray_hit(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
    """Farthest intersection (m) of the ray ``origin + t direction`` (t > 0) with the triangles, or None."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    e1, e2 = b - a, c - a
    pv = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, pv)
    ok = np.abs(det) > 1e-18
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = origin - a
    u = np.einsum("ij,ij->i", tv, pv) * inv
    qv = np.cross(tv, e1)
    v = (qv @ direction) * inv
    t = np.einsum("ij,ij->i", e2, qv) * inv
    hit = ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (t > 0)
    if not hit.any():
        return None
    return origin + float(t[hit].max()) * direction


@dataclass
class LiveSession:
    """Everything one live page computes with, without any drawing.

    Attributes
    ----------
    head : meshes.MeshHead with ``scalp`` and ``cortex`` surfaces (metres, head frame)
    coil : coils.Coil in its own frame
    model : cortical field model: ``points`` (n, 3) m, ``faces`` (f, 3), ``field(coil, poses, didt)`` ->
        (k, n, 3) V/m; ``info`` (mapping, optional) describes it
    didt_max : float, A/s -- the stimulator's dI/dt at 100 % MSO with this coil
    target_point : (3,) float, m, optional -- the target (E at the target = |E| at the nearest model point)
    target_label : str -- how the target was given
    goal_e : float, V/m, optional -- goal E at the target, for the %MSO needed
    assumptions : mapping str -> str -- shown on the page header (head, coil, stimulator, ...)
    """

    head: Any
    coil: Any
    model: Any
    didt_max: float
    target_point: np.ndarray | None = None
    target_label: str = ""
    goal_e: float | None = None
    assumptions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.didt_max = as_scalar(self.didt_max, "didt_max", "A/s", positive=True, allow_zero=False)
        if self.goal_e is not None:
            self.goal_e = as_scalar(self.goal_e, "goal_e", "V/m", positive=True, allow_zero=False)
        if getattr(self.head, "scalp", None) is None:
            raise ValueError(f"head {getattr(self.head, 'name', '?')!r} has no scalp surface: the live view "
                             "needs a mesh head (e.g. rat-mesh)")
        self._scalp_v = np.asarray(self.head.scalp.vertices, dtype=float)
        self._scalp_f = np.asarray(self.head.scalp.faces, dtype=np.int64)
        self.centre = 0.5 * (self._scalp_v.min(axis=0) + self._scalp_v.max(axis=0))
        # seen from the centre, each scalp triangle lies inside the cone around its centroid's direction
        # whose half-angle reaches its farthest corner: a ray can only hit triangles whose cone holds it
        rel = self._scalp_v - self.centre
        rel /= np.linalg.norm(rel, axis=1, keepdims=True)
        cone = rel[self._scalp_f].sum(axis=1)
        cone /= np.linalg.norm(cone, axis=1, keepdims=True)
        self._cone_axis = cone
        self._cone_cos = np.einsum("fkd,fd->fk", rel[self._scalp_f], cone).min(axis=1) - 1e-9
        self.points = np.asarray(self.model.points, dtype=float)
        self.faces = np.asarray(self.model.faces, dtype=np.int64)
        self.areas = vertex_areas(self.points, self.faces)
        self._order_buf = None
        if self.target_point is not None:
            self.target_point = as_vector3(self.target_point, "target_point", "m")
            self.target_index = int(np.argmin(np.linalg.norm(self.points - self.target_point, axis=1)))
        else:
            self.target_index = None

    # ------------------------------------------------------------------ sliders
    def defaults(self) -> dict[str, float]:
        """Slider values to start from: the coil over the target (else over the top), handle anterior."""
        values = {k: spec[5] for k, spec in SLIDERS.items()}
        if self.target_point is not None:
            from ..physics.placement import scalp_contact

            d = scalp_contact(self.head, self.target_point)[0] - self.centre
            if np.linalg.norm(d) > 0:
                d = _unit(d)
                values["elevation_deg"] = float(np.clip(round(math.degrees(math.asin(np.clip(d[2], -1, 1)))),
                                                        SLIDERS["elevation_deg"][2], SLIDERS["elevation_deg"][3]))
                values["azimuth_deg"] = float(round(math.degrees(math.atan2(d[0], d[1]))))
        return values

    def _values(self, values: Mapping[str, float] | None) -> dict[str, float]:
        out = self.defaults()
        for k, v in dict(values or {}).items():
            if k not in SLIDERS:
                continue
            label, unit, lo, hi = SLIDERS[k][:4]
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{k} must be a number ({unit}); got {v!r}") from None
            if not math.isfinite(x):
                raise ValueError(f"{k} must be finite ({unit}); got {v!r}")
            out[k] = min(max(x, lo), hi)
        return out

    def placement(self, values: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        """Contact point (m), scalp normal, coil normal after tilt and handle direction for ``values``."""
        from ..physics.placement import scalp_contact

        v = self._values(values)
        az, el = math.radians(v["azimuth_deg"]), math.radians(v["elevation_deg"])
        direction = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
        near = np.flatnonzero(self._cone_axis @ direction >= self._cone_cos)
        hit = _ray_hit(self._scalp_v, self._scalp_f[near], self.centre, direction) if len(near) else None
        if hit is None:  # not star-shaped from the centre along this ray: the vertex most in that direction
            rel = self._scalp_v - self.centre
            hit = self._scalp_v[int(np.argmax(rel @ direction / np.linalg.norm(rel, axis=1)))]
        _, normal = scalp_contact(self.head, hit)
        ref = np.array([0.0, 1.0, 0.0])
        ref = ref - (ref @ normal) * normal
        if np.linalg.norm(ref) < 1e-6:
            ref = np.array([0.0, 0.0, 1.0]) - normal[2] * normal
        handle = _rotate(_unit(ref), normal, math.radians(v["handle_deg"]))
        x_axis = np.cross(handle, normal)
        coil_normal = _rotate(normal, _unit(x_axis), math.radians(v["tilt_deg"]))
        return {"contact": hit, "scalp_normal": normal, "normal": coil_normal, "handle": handle, "values": v}

    def pose(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """The coil pose (4, 4, metres, coil frame -> head frame) for slider ``values`` (missing: defaults)."""
        from ..physics.placement import resting_pose

        p = self.placement(values)
        return resting_pose(self.coil, self.head, p["contact"], p["normal"], p["handle"],
                            distance=p["values"]["gap_mm"] * 1e-3)

    # ------------------------------------------------------------------ numbers
    def evaluate(self, values: Mapping[str, float] | None = None) -> tuple[dict, np.ndarray]:
        """(numbers, |E| per model point (n,) V/m at 100 % MSO) for slider ``values``; see :meth:`update`."""
        timing = {}
        t0 = time.perf_counter()
        pose = self.pose(values)
        t1 = time.perf_counter()
        e = np.asarray(self.model.field(self.coil, pose, self.didt_max))[0]
        t2 = time.perf_counter()
        mag = np.sqrt(np.einsum("ij,ij->i", e, e))
        numbers = self._metrics(mag)
        resid = getattr(self.model, "last_residual", None)
        numbers["fit_residual"] = None if resid is None else float(np.asarray(resid)[0])
        timing.update(pose_ms=(t1 - t0) * 1e3, field_ms=(t2 - t1) * 1e3, metrics_ms=(time.perf_counter() - t2) * 1e3)
        numbers.update(pose=pose, values=self._values(values), timing_ms=timing)
        return numbers, mag

    def update(self, values: Mapping[str, float] | None = None) -> dict:
        """The numbers the page shows for slider ``values`` (a mapping name -> number; see :data:`SLIDERS`;
        missing names take :meth:`defaults`, values outside a slider's range are clipped to it).

        Returns
        -------
        dict: ``pose`` (4, 4) m; ``values`` (the slider values used); ``didt`` A/s (100 % MSO);
        ``target_e`` V/m at 100 % MSO (|E| at the model point nearest the target; None without a target);
        ``target_e_per_aus`` V/m per A/µs; ``mso_for_goal`` % (None without a goal or target; may exceed 100);
        ``peak_vm`` and ``p999_vm`` (robust peak: 99.9th area-weighted percentile) V/m at 100 % MSO;
        ``half_max_area_cm2`` cm² of cortex with |E| >= half the peak (as ``efield target``); ``fit_residual``
        (dimensionless, None for a model without one): how far the coil's field lies outside the model's
        basis (above :data:`efield.physics.cortex_model.RESIDUAL_LIMIT` the page warns); ``timing_ms``.
        """
        return self.evaluate(values)[0]

    def _metrics(self, mag: np.ndarray) -> dict:
        from ..physics._summary import weighted_percentile

        p999 = weighted_percentile(mag, self.areas, 99.9)
        peak = float(mag.max())
        target_e = None if self.target_index is None else float(mag[self.target_index])
        mso = None
        if target_e is not None and self.goal_e is not None:
            mso = 100.0 * self.goal_e / target_e if target_e > 0 else math.inf
        return {
            "didt": self.didt_max,
            "target_e": target_e,
            "target_e_per_aus": None if target_e is None else target_e / (self.didt_max * 1e-6),
            "goal_e": self.goal_e,
            "mso_for_goal": mso,
            "peak_vm": peak,
            "p999_vm": p999,
            "half_max_area_cm2": float(self.areas[mag >= 0.5 * peak].sum()) * 1e4,
        }


def _text(numbers: Mapping) -> dict[str, str]:
    """The page's read-outs as strings."""
    def fmt(x, spec, unit):
        return "–" if x is None else ("∞" if not math.isfinite(x) else f"{x:{spec}} {unit}")

    from ..physics.cortex_model import residual_warning

    pose = numbers["pose"]
    resid = numbers.get("fit_residual")
    warning = "" if resid is None else residual_warning(resid)
    if warning:
        warning = f"Here {warning}. `efield field --model fem --pose pose.json` solves this pose."
    return {
        "warning_text": warning,
        "e_text": fmt(numbers["target_e"], ".2f", "V/m"),
        "mso_text": fmt(numbers["mso_for_goal"], ".1f", "% MSO"),
        "peak_text": fmt(numbers["p999_vm"], ".2f", "V/m"),
        "max_text": fmt(numbers["peak_vm"], ".2f", "V/m"),
        "area_text": fmt(numbers["half_max_area_cm2"], ".3f", "cm²"),
        "pose_text": "centre ({:.1f}, {:.1f}, {:.1f}) mm, normal ({:.2f}, {:.2f}, {:.2f}), handle ({:.2f}, {:.2f}, "
                     "{:.2f})".format(*(pose[:3, 3] * _MM), *pose[:3, 2], *pose[:3, 1]),
    }


class LiveScene:
    """The off-screen pyvista scene of a :class:`LiveSession`: cortex coloured by |E| (V/m, 100 % MSO),
    translucent scalp, coil wires, target marker.  :meth:`show` updates it in place."""

    def __init__(self, session: LiveSession, *, window_size=(800, 600), clim=None):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        import pyvista as pv
        from vtkmodules.util.numpy_support import vtk_to_numpy

        from .scene import _lines, _polydata, _tick_format, nice_ticks

        self.session = session
        numbers, mag = session.evaluate(None)
        ticks, clim = nice_ticks(*(clim if clim is not None else (0.0, max(1.2 * numbers["p999_vm"], 1e-9))))
        self.clim = tuple(float(c) for c in clim)
        self.label = "E (V/m)"  # |E| at 100 % MSO (VTK's default text backend drops "|")
        p = pv.Plotter(off_screen=True, window_size=tuple(window_size))
        p.render_window.SetMultiSamples(0)  # no MSAA: about 2x faster in software OpenGL
        p.set_background("white")
        self.cortex = _polydata(pv, session.points, session.faces)
        self.cortex.point_data[self.label] = mag
        # flat shading: in software OpenGL, smooth shading made the human cortex cost about 35 ms a frame
        # instead of about 10 ms (41k faces, 800 x 600 px); its faces are too small to show facets
        p.add_mesh(self.cortex, scalars=self.label, cmap="viridis", clim=self.clim, smooth_shading=False,
                   scalar_bar_args={"title": self.label, "color": "black", "vertical": True, "fmt": _tick_format(ticks),
                                    "n_labels": len(ticks), "position_x": 0.86, "position_y": 0.1, "height": 0.7,
                                    "width": 0.08})
        self._array = self.cortex.GetPointData().GetArray(self.label)
        self._values = vtk_to_numpy(self._array)  # a view of the VTK array: updated in place
        scalp = session.head.scalp
        shown = _polydata(pv, np.asarray(scalp.vertices), np.asarray(scalp.faces))
        if shown.n_cells > _SCALP_FACES_SHOWN:  # translucent context only: fewer faces render faster
            shown = shown.decimate(1.0 - _SCALP_FACES_SHOWN / shown.n_cells)
        p.add_mesh(shown, color=_SCALP_COLOR, opacity=0.25)
        coil = session.coil
        self.coil_actor = p.add_mesh(_lines(pv, np.asarray(coil.start), np.asarray(coil.end)), color=_COIL_COLOR,
                                     line_width=1, opacity=0.6)
        if session.target_index is not None:  # on the cortex at the point whose |E| is reported
            size = 0.025 * float(np.ptp(session.points, axis=0).max()) * _MM
            p.add_mesh(pv.Sphere(radius=size, center=session.points[session.target_index] * _MM), color="magenta")
        self.plotter = p
        self._camera(numbers["pose"])
        self.show(numbers, mag)

    def _camera(self, pose: np.ndarray) -> None:
        """Look at the head from outside along a blend of the coil normal and an oblique direction."""
        s = self.session
        v = np.asarray(s.head.scalp.vertices)
        extent = float(np.ptp(v, axis=0).max()) * _MM
        focus = s.centre * _MM
        toward = _unit(0.6 * pose[:3, 2] + 0.4 * _unit([-0.55, -1.0, 0.85]))
        up = np.array([0.0, 0.0, 1.0]) if abs(toward[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
        self.plotter.camera_position = [tuple(focus + 4.0 * extent * toward), tuple(focus), tuple(up)]
        self.plotter.reset_camera_clipping_range()
        self.plotter.camera.zoom(1.3)

    def show(self, numbers: Mapping, mag: np.ndarray) -> None:
        """Put the field ``mag`` (n,) V/m and the coil pose of ``numbers`` into the scene (no render)."""
        self._values[:] = mag
        self._array.Modified()
        pose_mm = np.array(numbers["pose"], dtype=float)
        pose_mm[:3, 3] *= _MM
        self.coil_actor.user_matrix = pose_mm

    def render(self) -> None:
        self.plotter.render_window.Render()

    @property
    def render_window(self):
        return self.plotter.render_window

    def close(self) -> None:
        self.plotter.close()


def update_rate(session: LiveSession, scene: LiveScene | None = None, n: int = 30, seed: int = 0) -> dict:
    """Updates per second of the non-browser path (pose + model.field + metrics [+ scene update + render])
    over ``n`` random slider values; the mean milliseconds of each step."""
    rng = np.random.default_rng(seed)
    steps = {"pose_ms": 0.0, "field_ms": 0.0, "metrics_ms": 0.0, "render_ms": 0.0}
    t0 = time.perf_counter()
    for _ in range(n):
        values = {k: rng.uniform(spec[2], spec[3]) for k, spec in SLIDERS.items()}
        values["elevation_deg"] = rng.uniform(45.0, 90.0)  # over the dorsal head, where coils go
        numbers, mag = session.evaluate(values)
        for k, v in numbers["timing_ms"].items():
            steps[k] += v
        if scene is not None:
            t = time.perf_counter()
            scene.show(numbers, mag)
            scene.render()
            steps["render_ms"] += (time.perf_counter() - t) * 1e3
    total = time.perf_counter() - t0
    out = {k: v / n for k, v in steps.items()}
    out["updates_per_s"] = n / total
    return out


# ----------------------------------------------------------------------------- the page
@dataclass
class LiveApp:
    """A built page: the trame ``server``, the ``session``, the ``scene`` and the serving thread (once started)."""

    server: Any
    session: LiveSession
    scene: LiveScene
    url: str | None = None
    thread: threading.Thread | None = None
    loop: Any = None
    stats: dict = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (if started) and free the scene."""
        import asyncio

        if (self.loop is not None and not self.loop.is_closed() and self.thread is not None
                and self.thread.is_alive()):
            try:
                fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop)
                fut.result(timeout=timeout)
            except Exception:  # noqa: BLE001 - stopping: best effort, then the join below
                pass
            self.thread.join(timeout)
            if self.thread.is_alive():  # the server did not wind down: stop its event loop
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout)
        self.scene.close()


_APP_COUNT = 0


def build_app(session: LiveSession, *, on_save: Callable[[np.ndarray, dict], list[str]] | None = None,
              title: str = "efield view", window_size=(800, 600)) -> LiveApp:
    """The trame page of ``session``.

    on_save : callable(pose (4, 4) m, numbers dict of :meth:`LiveSession.update`) -> list of file names
        written; called by the "Save pose" button (none: no button).
    """
    global _APP_COUNT
    from trame.app import get_server
    from trame.ui.html import DivLayout
    from trame.widgets import html
    from trame.widgets import vtk as vtk_widgets

    _APP_COUNT += 1
    server = get_server(f"efield_view_{_APP_COUNT}", client_type="vue3")
    state, ctrl = server.state, server.controller
    scene = LiveScene(session, window_size=window_size)
    app = LiveApp(server=server, session=session, scene=scene)
    start = session.defaults()
    numbers = session.update(start)
    for k, v in start.items():
        state[k] = v
    state.update(_text(numbers))
    state.update(save_text="", n_updates=0, update_ms="")
    state.trame__title = title
    app.stats["last"] = numbers

    pending: dict = {"values": None, "task": None}

    def _refresh(values) -> None:
        t = time.perf_counter()
        try:
            nums, mag = session.evaluate(values)
        except ValueError as exc:  # e.g. a pose the model refuses
            state.save_text = f"cannot show this pose: {exc}"
            return
        scene.show(nums, mag)
        ctrl.view_update()  # renders and pushes the new picture
        app.stats["last"] = nums
        state.update(_text(nums))
        state.n_updates = int(state.n_updates or 0) + 1
        state.update_ms = f"{(time.perf_counter() - t) * 1e3:.0f} ms per update"

    async def _worker():
        import asyncio

        while pending["values"] is not None:
            await asyncio.sleep(0)  # let slider messages that are already waiting arrive: draw only the latest
            values, pending["values"] = pending["values"], None
            with state:
                _refresh(values)

    @state.change(*SLIDERS)
    def _on_slider(**kwargs):
        import asyncio

        pending["values"] = {k: kwargs.get(k, state[k]) for k in SLIDERS}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no server loop (called directly): update now
            values, pending["values"] = pending["values"], None
            _refresh(values)
            return
        if pending["task"] is None or pending["task"].done():
            pending["task"] = loop.create_task(_worker())

    def _save():
        nums = app.stats["last"]
        try:
            names = on_save(np.array(nums["pose"]), dict(nums))
        except (OSError, ValueError) as exc:
            state.save_text = f"not saved: {exc}"
            return
        state.save_text = "saved: " + ", ".join(str(n) for n in names)

    ctrl.save_pose = _save
    header = dict(session.assumptions)
    info = getattr(session.model, "info", {}) or {}
    header.setdefault("model", str(info.get("model", type(session.model).__name__)))
    header.setdefault("dI/dt at 100 % MSO", f"{session.didt_max / 1e6:.2f} A/µs")
    header.setdefault("placement", "the coil rests on the scalp at the slider position (lifted along its normal until "
                                   "its footprint clears the scalp), plus the extra gap; azimuth/elevation are taken "
                                   "from the scalp's bounding-box centre")
    header.setdefault("map", "|E| at 100 % MSO; E at the target = |E| at the cortical point nearest it; robust "
                             "peak = 99.9th area-weighted percentile of |E|; area = cortex with |E| >= half the max |E|")

    with DivLayout(server, style="font-family: sans-serif; font-size: 14px; display: flex; height: 100vh;") as layout:
        with html.Div(style="width: 380px; padding: 10px; overflow-y: auto; flex: none;"):
            html.H3(title, style="margin: 4px 0")
            with html.Div(id="assumptions", style="font-size: 12px; color: #333"):
                for k, v in header.items():
                    html.Div(f"{k}: {v}")
            html.Hr()
            for name, (label, unit, lo, hi, step, _) in SLIDERS.items():
                with html.Div(style="margin: 6px 0"):
                    html.Div(f"{label}: {{{{ {name} }}}} {unit}")
                    html.Input(type="range", min=lo, max=hi, step=step, id=f"slider-{name}",
                               v_model_number=(name, start[name]), style="width: 100%")
            html.Hr()
            with html.Table(style="font-size: 14px"):
                for label, key, elid in (("E at the target", "e_text", "e-target"),
                                         (f"%MSO for {session.goal_e:g} V/m" if session.goal_e else "%MSO for goal",
                                          "mso_text", "mso-goal"),
                                         ("robust peak |E|", "peak_text", "robust-peak"),
                                         ("max |E|", "max_text", "max-e"),
                                         ("area |E| >= half max", "area_text", "half-area")):
                    with html.Tr():
                        html.Td(label)
                        html.Td(f"{{{{ {key} }}}}", id=elid, style="font-weight: bold")
            html.Div("{{ warning_text }}", id="model-warning", style="font-size: 12px; color: #b00020; margin-top: 6px")
            html.Div("{{ pose_text }}", id="pose", style="font-size: 12px; margin-top: 6px")
            html.Div("{{ update_ms }} ({{ n_updates }} updates)", id="update-ms", style="font-size: 12px")
            if on_save is not None:
                html.Button("Save pose", id="save", click=ctrl.save_pose, style="margin-top: 8px; padding: 4px 10px")
            html.Div("{{ save_text }}", id="save-text", style="font-size: 12px")
        with html.Div(style="flex: 1; position: relative;", id="view"):
            view = vtk_widgets.VtkRemoteView(scene.render_window, interactive_ratio=1, still_quality=90,
                                             interactive_quality=70)
            ctrl.view_update = view.update
    app.layout = layout
    return app


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: LiveApp, port: int = 0, open_browser: bool = False, timeout: float = 60.0) -> str:
    """Start ``app``'s server on 127.0.0.1 (``port`` 0: a free one) in a background thread; the page's URL.

    ``app.thread`` runs the server until :meth:`LiveApp.stop`.  With ``open_browser`` the system browser
    opens the URL.
    """
    import asyncio
    import sys

    port = int(port) or _free_port()
    ready = threading.Event()
    errors: list[BaseException] = []
    argv = sys.argv

    def on_ready(**_):
        sys.argv = argv
        ready.set()

    app.server.controller.on_server_ready.add(on_ready)

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app.loop = loop
        try:
            sys.argv = argv[:1]  # trame parses the command line; efield's options are not for it
            app.server.start(port=port, host="127.0.0.1", thread=True, open_browser=False,
                             show_connection_info=False, disable_logging=True, timeout=0)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller of serve
            errors.append(exc)
            ready.set()
        finally:
            sys.argv = argv
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    app.thread = threading.Thread(target=run, name="efield-view-server", daemon=True)
    app.thread.start()
    if not ready.wait(timeout) or errors:
        if errors:
            app.thread.join(timeout)
        raise RuntimeError(f"the live view server did not start on 127.0.0.1:{port}"
                           + (f": {errors[0]}" if errors else f" within {timeout:g} s"))
    app.url = f"http://127.0.0.1:{port}/"
    if open_browser:
        import webbrowser

        webbrowser.open(app.url)
    return app.url
