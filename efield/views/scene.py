"""Figure-ready 3-D scenes: cortex field, translucent scalp, coil, target, scale bar (pyvista, off-screen).

Inputs are SI (metres, V/m); everything is drawn in millimetres.  pyvista is imported inside the
functions, so importing this module is cheap.  Every output is written atomically: to a temporary
file in the destination folder, then moved into place with ``os.replace``
(:func:`efield._common.io.atomic_target`).

* :func:`render_scene` -- a PNG (and optionally a self-contained interactive HTML) of one scene.
* :func:`nice_ticks` -- round colour-bar ticks (steps 1, 2, 2.5 or 5 x 10^k) and the matching limits.
* :func:`write_scene_vtm` -- the same scene as a ParaView multiblock ``.vtm`` (mm).

The markers (target, hot spot) and the scale bar are drawn in a second render layer that shares the
camera, so they stay visible in front of the coil wires and the scalp.  The camera is orthographic
(parallel projection), so the scale bar has the same length in mm everywhere in the picture.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from .._common.io import atomic_target
from .._common.validation import as_points, as_vector3

__all__ = ["render_scene", "nice_ticks", "write_scene_vtm", "remote_references"]

_KINDS = ("magnitude", "normal")
_CAMERAS = ("auto", "top", "oblique")
_FRAMES = ("head", "mni", "sphere", "bregma")
_COIL_COLOR = "#c85a00"  # dark orange
_CASING_COLOR = "#3a3a3a"
_SCALP_COLOR = "#d0d0d0"
_MM = 1e3
_MANTISSAS = (1.0, 2.0, 2.5, 5.0)


# ----------------------------------------------------------------------------- ticks
def nice_ticks(lo, hi, n: int = 5):
    """Round colour-bar ticks covering ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : float, units of the data (e.g. V/m), scalars
        Data range; ``hi >= lo``.  Equal values are widened around the value.
    n : int, scalar
        Largest number of intervals (at most ``n + 1`` ticks), ``n >= 2``.

    Returns
    -------
    (ticks, clim) : ((t,) float array, (2,) tuple of float), units of the data
        Evenly spaced ticks, multiples of a step ``m x 10^k`` with ``m`` in (1, 2, 2.5, 5), the
        smallest such step giving at most ``n`` intervals; ``clim = (ticks[0], ticks[-1])``
        contains ``[lo, hi]``.  With ``lo = 0`` the ticks start at 0; symmetric limits
        (``lo = -hi``) give symmetric ticks.
    """
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"lo and hi must be numbers (units of the data); got {lo!r}, {hi!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        raise ValueError(f"lo and hi must be finite with hi >= lo; got lo={lo!r}, hi={hi!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (largest number of intervals); got {n!r}")
    if hi == lo:
        pad = 0.5 * abs(lo) or 0.5
        lo, hi = (0.0, hi + pad) if lo == 0 else (lo - pad, hi + pad)
    k = math.floor(math.log10((hi - lo) / n))
    for exponent in (k - 1, k, k + 1, k + 2):
        for m in _MANTISSAS:
            step = m * 10.0 ** exponent
            a = math.floor(lo / step + 1e-9)
            b = math.ceil(hi / step - 1e-9)
            if b - a <= n:
                decimals = max(0, -exponent) + (1 if m == 2.5 else 0)
                ticks = np.round(step * np.arange(a, b + 1), decimals) + 0.0  # + 0.0: no "-0"
                return ticks, (float(ticks[0]), float(ticks[-1]))
    raise AssertionError("unreachable: a step of 10^(k+2) always fits")  # pragma: no cover


def _tick_format(ticks) -> str:
    """printf format that prints every tick of :func:`nice_ticks` exactly (no 20.9-style labels)."""
    step = float(ticks[1] - ticks[0])
    big = float(np.abs(ticks).max())
    tol = 1e-6 * step
    if 1e-4 <= big < 1e6:
        for decimals in range(0, 10):
            if np.allclose(np.round(ticks, decimals), ticks, rtol=0, atol=tol):
                return f"%.{decimals}f"
    for digits in range(1, 15):
        fmt = f"%.{digits}g"
        if np.allclose([float(fmt % t) for t in ticks], ticks, rtol=0, atol=tol):
            return fmt
    return "%.15g"  # pragma: no cover


def _nice_length(width: float) -> float:
    """Largest 1, 2 or 5 x 10^k not above ``width`` (same units)."""
    k = math.floor(math.log10(width))
    return max(m * 10.0 ** k for m in (1.0, 2.0, 5.0) if m * 10.0 ** k <= width)


# ----------------------------------------------------------------------------- checks
def _faces(faces, n_vertices: int, name: str) -> np.ndarray:
    arr = np.asarray(faces)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty (m, 3) integer array; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer vertex indices; got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_vertices:
        raise ValueError(f"{name} must index vertices 0..{n_vertices - 1}; "
                         f"got indices in [{int(arr.min())}, {int(arr.max())}]")
    return arr.astype(np.int64)


def _surface(vertices, faces, vname: str, fname: str):
    verts = as_points(vertices, vname)
    if len(verts) < 3:
        raise ValueError(f"{vname} must have at least 3 vertices (n, 3) in metres; got {len(verts)}")
    return verts, _faces(faces, len(verts), fname)


def _scalp(scalp):
    if scalp is None:
        return None
    try:
        vertices, faces = scalp
    except (TypeError, ValueError):
        raise ValueError("scalp must be a tuple (vertices (k, 3) m, faces (f, 3) int); "
                         f"got {type(scalp).__name__}") from None
    return _surface(vertices, faces, "scalp vertices", "scalp faces")


def _segments(segments):
    if segments is None:
        return None
    try:
        start, end = segments[0], segments[1]
    except (TypeError, IndexError, KeyError):
        raise ValueError("segments must be a tuple (start (s, 3) m, end (s, 3) m); "
                         f"got {type(segments).__name__}") from None
    start, end = as_points(start, "segments start"), as_points(end, "segments end")
    if start.shape != end.shape:
        raise ValueError(f"segments start and end must have the same shape (s, 3); "
                         f"got {start.shape} and {end.shape}")
    return (start, end) if len(start) else None


def _point_values(values, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,) and arr.shape != (n, 3):
        raise ValueError(f"{name} must have shape ({n},) or ({n}, 3), one value per vertex; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; {int((~np.isfinite(arr)).sum())} value(s) are NaN or infinite")
    return arr


def _choice(value, allowed, name: str) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return key


def _suffix(path, suffix: str, name: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"{name} must be a file name ending in {suffix}; got {str(path)!r}")
    return path


def _window(window_size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise ValueError(f"window_size must be (width, height) in pixels; got {window_size!r}") from None
    if width < 200 or height < 150:
        raise ValueError(f"window_size must be at least (200, 150) pixels; got {window_size!r}")
    return width, height


def _limits(clim, vals: np.ndarray, kind: str):
    """(ticks, clim) with round ticks; magnitude from 0, normal symmetric about 0."""
    if clim is None:
        top = float(np.abs(vals).max()) or 1.0
        return nice_ticks(-top, top) if kind == "normal" else nice_ticks(0.0, top)
    try:
        lo, hi = (float(v) for v in clim)
    except (TypeError, ValueError):
        raise ValueError(f"clim must be (low, high) in V/m; got {clim!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"clim must be finite with high > low (V/m); got {clim!r}")
    if kind == "normal":
        top = max(abs(lo), abs(hi))
        lo, hi = -top, top
    return nice_ticks(lo, hi)


def _clip_normal(clip, target):
    if clip is False or clip is None:
        return None
    if target is None:
        raise ValueError("clip needs target (a (3,) point in metres) for the clipping plane; got target=None")
    if clip is True:
        return "view"
    return as_vector3(clip, "clip", "a direction (unitless)", unit_length=True)


def _check_scene(path, cortex_vertices, cortex_faces, values, kind, scalp, segments, casing, target,
                 hot_spot, clip, frame, clim, window_size, camera, scale_bar_mm, html) -> dict:
    """Validated inputs of :func:`render_scene` (metres, V/m)."""
    s = {"path": _suffix(path, ".png", "path"), "html": None if html is None else _suffix(html, ".html", "html")}
    s["verts"], s["faces"] = _surface(cortex_vertices, cortex_faces, "cortex_vertices", "cortex_faces")
    s["kind"] = _choice(kind, _KINDS, "kind")
    vals = _point_values(values, len(s["verts"]), "values")
    if vals.ndim != 1:
        raise ValueError(f"values must have shape ({len(s['verts'])},) (V/m); got {vals.shape}")
    if s["kind"] == "magnitude" and vals.min() < 0:
        raise ValueError(f"values must be >= 0 for kind='magnitude' (|E|, V/m); got a minimum of "
                         f"{vals.min():.4g} -- use kind='normal' for signed E·n")
    s["vals"], s["scalp"], s["wires"] = vals, _scalp(scalp), _segments(segments)
    s["casing"] = None if casing is None else as_points(casing, "casing")
    if s["casing"] is not None and len(s["casing"]) < 2:
        raise ValueError(f"casing must be a (p, 3) polyline in metres with p >= 2; got {s['casing'].shape}")
    s["target"] = None if target is None else as_vector3(target, "target", "m")
    s["hot_spot"] = None if hot_spot is None else as_vector3(hot_spot, "hot_spot", "m")
    s["clip"] = _clip_normal(clip, s["target"])
    s["frame"] = _choice(frame, _FRAMES, "frame")
    s["camera"] = _choice(camera, _CAMERAS, "camera")
    s["size"] = _window(window_size)
    s["ticks"], s["clim"] = _limits(clim, vals, s["kind"])
    if scale_bar_mm is not None:
        ok = isinstance(scale_bar_mm, (int, float, np.floating, np.integer)) and not isinstance(scale_bar_mm, bool)
        if not ok or not math.isfinite(float(scale_bar_mm)) or float(scale_bar_mm) <= 0:
            raise ValueError(f"scale_bar_mm must be a positive length in mm or None; got {scale_bar_mm!r}")
    return s


# ----------------------------------------------------------------------------- view
def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _outward_normal(verts: np.ndarray, faces: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Area-weighted normal of the faces around the vertex nearest ``point``, pointing away from the
    surface centre (m, unit (3,))."""
    i = int(np.argmin(np.linalg.norm(verts - point, axis=1)))
    around = faces[(faces == i).any(axis=1)]
    a, b, c = verts[around[:, 0]], verts[around[:, 1]], verts[around[:, 2]]
    normal = np.cross(b - a, c - a).sum(axis=0)
    centre = 0.5 * (verts.min(axis=0) + verts.max(axis=0))
    outward = verts[i] - centre
    if np.linalg.norm(normal) == 0:
        normal = outward if np.linalg.norm(outward) else np.array([0.0, 0.0, 1.0])
    elif np.dot(normal, outward) < 0:
        normal = -normal
    return _unit(normal)


def _view(s: dict, top: float = 0.0) -> dict:
    """Camera of the scene in mm: focus, ``toward`` (unit, focus -> camera), ``up``, ``right``,
    view height and width; the top ``top`` fraction of the picture is kept free for the title."""
    head = s["scalp"][0] if s["scalp"] is not None else s["verts"]
    lo, hi = head.min(axis=0) * _MM, head.max(axis=0) * _MM
    extent = float((hi - lo).max()) or 1.0
    width, height = s["size"]
    if s["camera"] == "auto":
        peak = s["verts"][int(np.argmax(np.abs(s["vals"])))]
        focus = next(p for p in (s["target"], s["hot_spot"], peak) if p is not None)
        toward = _outward_normal(s["verts"], s["faces"], focus)
        focus, view_h = focus * _MM, 0.65 * extent
    else:
        toward = np.array([0.0, 0.0, 1.0]) if s["camera"] == "top" else _unit([-0.55, -1.0, 0.85])
        shown = [head * _MM] + ([] if s["wires"] is None else [w * _MM for w in s["wires"]])
        shown = np.concatenate(shown)
        near = shown[np.linalg.norm(shown - 0.5 * (lo + hi), axis=1) <= extent]  # not a far-off coil
        focus, view_h = 0.5 * (near.min(axis=0) + near.max(axis=0)), 1.1 * float(np.ptp(near, axis=0).max())
    up_hint = np.array([0.0, 1.0, 0.0]) if abs(toward[2]) > 0.9 else np.array([0.0, 0.0, 1.0])
    up = _unit(up_hint - np.dot(up_hint, toward) * toward)
    right = np.cross(up, toward)
    view_h /= 1.0 - top
    focus = focus + 0.5 * top * view_h * up  # moves the scene down, under the title
    return {"focus": focus, "toward": toward, "up": up, "right": right, "height": view_h,
            "width": view_h * width / height, "lo": lo, "hi": hi, "extent": extent}


_AXIS_LABELS = {"head": ("R", "L", "A", "P", "S", "I"), "bregma": ("R", "L", "A", "P", "D", "V")}


def _orientation_points(view: dict, frame: str):
    """Label positions (mm) at the ends of the head's bounding box along +-x, +-y, +-z, pulled into
    the picture; axes pointing (nearly) at the camera are left out."""
    names = _AXIS_LABELS["bregma" if frame == "bregma" else "head"]
    centre = 0.5 * (view["lo"] + view["hi"])
    half = 0.5 * (view["hi"] - view["lo"]) + 0.04 * view["extent"]
    points, labels = [], []
    for k, name in enumerate(names):
        direction = np.zeros(3)
        direction[k // 2] = 1.0 if k % 2 == 0 else -1.0
        if abs(np.dot(direction, view["toward"])) > 0.85:
            continue
        end = centre + direction * half[k // 2] - view["focus"]
        u, v = np.dot(end, view["right"]), np.dot(end, view["up"])
        # keep clear of the colour bar (right), the title (top) and the scale bar (bottom)
        bx, by = (0.30 if u > 0 else 0.44) * view["width"], (0.33 if v > 0 else 0.38) * view["height"]
        shrink = min(1.0, bx / abs(u) if u else 1.0, by / abs(v) if v else 1.0)
        points.append(view["focus"] + shrink * (u * view["right"] + v * view["up"]) + 0.5 * view["extent"]
                      * view["toward"])
        labels.append(name)
    return np.array(points).reshape(-1, 3), labels


def _place_camera(plotter, view: dict) -> None:
    distance = 3.0 * view["extent"] + view["height"]
    plotter.camera_position = [tuple(view["focus"] + distance * view["toward"]), tuple(view["focus"]),
                               tuple(view["up"])]
    plotter.enable_parallel_projection()
    plotter.camera.parallel_scale = 0.5 * view["height"]
    plotter.renderer.ResetCameraClippingRange()


# ----------------------------------------------------------------------------- drawing
@contextlib.contextmanager
def _freetype_text():
    """Draw VTK text with FreeType inside the block (VTK's MathText backend drops "|" from "|E|")."""
    try:
        import vtkmodules.vtkRenderingFreeType  # noqa: F401  (registers the text renderer)
        from vtkmodules.vtkRenderingCore import vtkTextRenderer
        renderer = vtkTextRenderer.GetInstance()
    except ImportError:  # pragma: no cover
        renderer = None
    if renderer is None:  # pragma: no cover
        yield
        return
    previous = renderer.GetDefaultBackend()
    renderer.SetDefaultBackend(vtkTextRenderer.FreeType)
    try:
        yield
    finally:
        renderer.SetDefaultBackend(previous)


def _polydata(pv, verts_m, faces):
    return pv.PolyData(verts_m * _MM, np.hstack([np.full((len(faces), 1), 3), faces]).ravel())


def _lines(pv, start_m, end_m):
    k = len(start_m)
    cells = np.column_stack([np.full(k, 2), np.arange(k), np.arange(k, 2 * k)]).ravel()
    return pv.PolyData(np.concatenate([start_m, end_m]) * _MM, lines=cells)


def _clipped(mesh, s: dict, view: dict):
    if s["clip"] is None:
        return mesh
    normal = view["toward"] if isinstance(s["clip"], str) else s["clip"]
    return mesh.clip(normal=tuple(normal), origin=tuple(s["target"] * _MM), invert=True)


def _add_surfaces(plotter, pv, s: dict, view: dict, fonts: dict, scalar_label: str) -> None:
    cortex = _polydata(pv, s["verts"], s["faces"])
    cortex.point_data[scalar_label] = s["vals"]
    cortex = _clipped(cortex, s, view)
    fmt = _tick_format(s["ticks"])
    plotter.add_mesh(
        cortex, scalars=scalar_label, cmap="RdBu_r" if s["kind"] == "normal" else "viridis",
        clim=s["clim"], smooth_shading=True,
        scalar_bar_args={"title": "", "vertical": True, "color": "black",
                         "position_x": 0.85, "position_y": 0.1, "width": max(0.09, 75.0 / s["size"][0]), "height": 0.66,
                         "background_color": "white", "fill": True,
                         "title_font_size": fonts["bar"], "label_font_size": fonts["bar"],
                         "fmt": fmt, "n_labels": len(s["ticks"])})
    _add_bar_title(plotter, scalar_label, s["size"], fonts["bar"])
    if s["scalp"] is not None:
        scalp = _clipped(_polydata(pv, *s["scalp"]), s, view)
        plotter.add_mesh(scalp, color=_SCALP_COLOR, opacity=0.25, smooth_shading=True)
    if s["wires"] is not None:
        plotter.add_mesh(_lines(pv, *s["wires"]), color=_COIL_COLOR, line_width=1, opacity=0.35)
    if s["casing"] is not None:
        casing = pv.lines_from_points(s["casing"] * _MM)
        plotter.add_mesh(casing, color=_CASING_COLOR, line_width=3)


def _add_bar_title(plotter, label: str, size, font: int) -> None:
    """Colour-bar title on a white card just above the bar (VTK's own title overflows its card)."""
    width, height = size
    font = max(8, min(font, int(0.145 * width / (0.62 * max(1, len(label))))))
    text = plotter.add_text(label, position=(int(0.848 * width), int(0.775 * height)), font_size=font / 2,
                            color="black")
    prop = text.GetTextProperty()
    prop.SetBackgroundColor(1.0, 1.0, 1.0)
    prop.SetBackgroundOpacity(0.85)


def _marker(plotter, pv, centre, radius, color, view) -> list:
    """Flat disc with a black rim: two unlit spheres, the coloured one nudged towards the camera."""
    rim = plotter.add_mesh(pv.Sphere(radius=radius, center=centre, theta_resolution=32, phi_resolution=32),
                           color="black", lighting=False)
    core = pv.Sphere(radius=0.72 * radius, center=centre + 1.05 * radius * view["toward"],
                     theta_resolution=32, phi_resolution=32)
    return [rim, plotter.add_mesh(core, color=color, lighting=False)]


def _add_overlay(plotter, pv, s: dict, view: dict, fonts: dict, bar_mm: float, target_color) -> None:
    """Target, hot spot and scale bar, moved to a render layer drawn over everything else."""
    from vtkmodules.vtkRenderingCore import vtkRenderer

    actors, radius = [], 0.018 * view["height"]
    if s["hot_spot"] is not None:
        actors += _marker(plotter, pv, s["hot_spot"] * _MM, 0.6 * radius, "white", view)
    if s["target"] is not None:  # drawn after the coil and the hot spot
        actors += _marker(plotter, pv, s["target"] * _MM, radius, target_color, view)
    x0 = view["focus"] - 0.44 * view["width"] * view["right"] - 0.42 * view["height"] * view["up"]
    bar = pv.Line(tuple(x0), tuple(x0 + bar_mm * view["right"]))
    actors.append(plotter.add_mesh(bar, color="black", line_width=max(3, s["size"][0] // 300), lighting=False))
    # a translucent white card behind the bar and its label, so both read on a dark cortex
    pad, tall = 0.02 * view["height"], 0.07 * view["height"]
    card = pv.Plane(center=(0.5, 0.5, 0.0), direction=(0, 0, 1), i_size=1, j_size=1)
    card.points = (x0 - pad * view["right"] - pad * view["up"] - 0.01 * view["extent"] * view["toward"]
                   + np.outer(card.points[:, 0] * (bar_mm + 2 * pad), view["right"])
                   + np.outer(card.points[:, 1] * tall, view["up"]))
    actors.insert(0, plotter.add_mesh(card, color="white", opacity=0.8, lighting=False))
    actors.append(plotter.add_point_labels([x0 + 0.5 * bar_mm * view["right"] + 0.028 * view["height"] * view["up"]],
                             [f"{bar_mm:g} mm"], font_size=fonts["label"], text_color="black", shape=None,
                             show_points=False, always_visible=True,
                                           justification_horizontal="center"))
    layer = vtkRenderer()
    layer.SetLayer(1)
    layer.InteractiveOff()
    layer.SetActiveCamera(plotter.renderer.GetActiveCamera())
    for actor in actors:
        plotter.remove_actor(actor, render=False)
        layer.AddActor(actor)
    plotter.render_window.SetNumberOfLayers(2)
    plotter.render_window.AddRenderer(layer)


def _title_layout(title: str, size) -> tuple[list[str], int]:
    """Lines and font size (pixels) of ``title`` wrapped to the window width (about 0.62 x font size
    per character); the font shrinks until the title fits in five lines."""
    width = size[0]
    font = max(12, width // 70)
    while True:
        chars = max(20, int(0.80 * width / (0.62 * font)))
        lines = [line for part in title.splitlines() for line in (textwrap.wrap(part, chars) or [""])]
        if len(lines) <= 5 or font <= 10:
            return lines, font
        font -= 2


def _add_title(plotter, lines: list[str], font: int, size) -> None:
    width, height = size
    y = height - int(0.02 * height) - int(1.25 * font * len(lines))
    plotter.add_text("\n".join(lines), position=(int(0.015 * width), max(0, y)),
                     font_size=font / 2, color="black")  # pyvista doubles it for a pixel position


def _require_trame() -> None:
    try:
        import nest_asyncio2  # noqa: F401  (trame-pyvista starts its server with it)
        import trame  # noqa: F401
        import trame_pyvista  # noqa: F401
        import trame_vtk  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"html export needs the packages trame, trame-vtk, trame-pyvista and nest_asyncio2 "
                           f"(pip install trame trame-vtk trame-pyvista nest_asyncio2); missing: {exc.name}") from None


def _export_html(pv, s: dict, view: dict, label: str, target_color, title) -> None:
    """The interactive scene: the same surfaces, coil and markers on a plain plotter (vtk.js knows no render
    layers, 2-D overlays or text cards; its colour bar is the cortex's, titled with ``label``)."""
    plotter = pv.Plotter(off_screen=True, window_size=s["size"])
    try:
        plotter.set_background("white")
        cortex = _polydata(pv, s["verts"], s["faces"])
        cortex.point_data[label] = s["vals"]
        cortex = _clipped(cortex, s, view)
        plotter.add_mesh(cortex, scalars=label, cmap="RdBu_r" if s["kind"] == "normal" else "viridis",
                         clim=s["clim"], smooth_shading=True, scalar_bar_args={"title": label})
        if s["scalp"] is not None:
            plotter.add_mesh(_clipped(_polydata(pv, *s["scalp"]), s, view), color=_SCALP_COLOR, opacity=0.25)
        if s["wires"] is not None:
            plotter.add_mesh(_lines(pv, *s["wires"]), color=_COIL_COLOR, line_width=1, opacity=0.5)
        radius = 0.025 * view["height"]  # markers stand half out of the cortex, towards the viewer
        for point, color, r in ((s["hot_spot"], "white", 0.6 * radius), (s["target"], target_color, radius)):
            if point is not None:
                plotter.add_mesh(pv.Sphere(radius=r, center=point * _MM + 0.5 * r * view["toward"]), color=color)
        _place_camera(plotter, view)
        with atomic_target(s["html"], force=True, default_suffix=".html") as tmp:
            component = getattr(plotter, "trame", None)
            (component.export_html if component is not None else plotter.export_html)(str(tmp))
    finally:
        plotter.close()


def remote_references(html_text: str) -> list[str]:
    """``src``/``href`` attributes (and CSS ``url(...)``) of an HTML text that point at http(s) URLs,
    i.e. what a browser would have to download to show the page; empty for a self-contained file."""
    import re

    pattern = r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)\s*((?:https?:)?//[^"')\s>]+)"""
    return re.findall(pattern, html_text, flags=re.IGNORECASE)


def _draw(plotter, pv, s: dict, view: dict, fonts: dict, label: str, bar_mm: float, target_color,
          title) -> None:
    """Everything of :func:`render_scene` on ``plotter``: surfaces, coil, labels, overlay, title, camera."""
    plotter.set_background("white")
    _add_surfaces(plotter, pv, s, view, fonts, label)
    points, names = _orientation_points(view, s["frame"])
    if len(points):
        plotter.add_point_labels(points, names, font_size=fonts["label"], text_color="black", bold=True,
                                 shape="rect", shape_color="white", shape_opacity=0.6, margin=2,
                                 show_points=False, always_visible=True)
    _add_overlay(plotter, pv, s, view, fonts, bar_mm, target_color)
    if title[0]:
        _add_title(plotter, title[0], title[1], s["size"])
    _place_camera(plotter, view)


def render_scene(path, *, cortex_vertices, cortex_faces, values, kind: str = "magnitude", scalp=None,
                 segments=None, casing=None, target=None, hot_spot=None, clip=False, frame: str = "head",
                 title: str = "", scalar_label: str | None = None, clim=None, window_size=(1600, 1200),
                 camera: str = "auto", scale_bar_mm=None, html=None, target_color="magenta") -> dict:
    """Render a figure-ready 3-D scene (cortex field, scalp, coil, target) to a PNG, off-screen.

    Parameters
    ----------
    path : str or Path, ``.png``
        Output picture; its folder must exist.  Written atomically (an existing file is replaced).
    cortex_vertices : (n, 3) float array, metres
        Cortical surface vertices (head frame); drawn in millimetres.
    cortex_faces : (m, 3) int array, vertex indices
        Triangles over ``cortex_vertices``.
    values : (n,) float array, V/m
        Per vertex: |E| (``kind="magnitude"``, >= 0) or signed E·n (``kind="normal"``).
    kind : "magnitude" or "normal", str
        "magnitude": colour map "viridis" from 0; "normal": "RdBu_r", limits symmetric about 0.
    scalp : tuple (vertices (k, 3) float m, faces (f, 3) int), optional
        Drawn light grey, opacity 0.25, so the cortex shows through.
    segments : tuple (start (s, 3) float m, end (s, 3) float m), optional
        Coil wires (e.g. ``coil.segments[:2]``), 1-pixel dark-orange lines at opacity 0.35.
    casing : (p, 3) float array, metres, optional
        Coil casing outline, a polyline (close it by repeating the first point), drawn solid.
    target : (3,) float array, metres, optional
        Stimulation target: a disc in ``target_color`` with a black rim, drawn over everything.
    hot_spot : (3,) float array, metres, optional
        Field peak: a smaller white disc with a black rim, drawn over the coil and the scalp.
    clip : bool or (3,) float array (direction, unitless)
        With a ``target``: cut the scalp and the cortex with the plane through the target, normal to
        the view (True) or to the given direction, and drop the side towards the camera / the normal.
    frame : "head", "MNI", "sphere" or "bregma", str
        Axis labels: head/MNI/sphere +x R, +y A, +z S (L, P, I opposite); bregma R/L, A/P, D/V.
    title : str
        Wrapped to the window width (the font shrinks for long titles), top left.
    scalar_label : str or None
        Colour-bar title; default "|E| (V/m)" or "E·n (V/m)".
    clim : (low, high) float, V/m, optional
        Colour range, widened outwards to round ticks (:func:`nice_ticks`); default (0, max) for
        magnitude, (-max|values|, +max|values|) for normal.
    window_size : (width, height) int, pixels
        Default (1600, 1200), print resolution.
    camera : "auto", "top" or "oblique", str
        "auto": along the outward cortex normal at the target (else ``hot_spot``, else the peak of
        ``|values|``), 0.65 head sizes tall; "top": down -z, +y up; "oblique": from (-x, -y, +z).
        Orthographic projection, so the scale bar holds anywhere in the picture.
    scale_bar_mm : float, millimetres, optional
        Scale-bar length; default the largest 1, 2 or 5 x 10^k mm within 1/5 of the view width.
    html : str or Path, ``.html``, optional
        Also write an interactive self-contained HTML of the scene (needs trame, trame-vtk,
        trame-pyvista; otherwise RuntimeError).  Written atomically.
    target_color : colour name, hex string or RGB tuple
        Colour of the target disc (default magenta, (255, 0, 255)).

    Returns
    -------
    dict : {"png": Path, "html": Path or None, "clim": (2,) tuple V/m, "ticks": (t,) array V/m,
    "scale_bar_mm": float mm, "view_mm": (width, height) float mm of the whole picture}
    """
    s = _check_scene(path, cortex_vertices, cortex_faces, values, kind, scalp, segments, casing, target,
                     hot_spot, clip, frame, clim, window_size, camera, scale_bar_mm, html)
    if s["html"] is not None:
        _require_trame()  # before drawing: no PNG without the HTML asked for
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    lines, font = _title_layout(str(title), s["size"]) if title else ([], 0)
    view = _view(s, top=(0.03 * s["size"][1] + 1.25 * font * len(lines)) / s["size"][1] if lines else 0.0)
    bar_mm = float(scale_bar_mm) if scale_bar_mm is not None else _nice_length(view["width"] / 5.0)
    label = scalar_label if scalar_label is not None else ("E·n (V/m)" if s["kind"] == "normal" else "|E| (V/m)")
    width = s["size"][0]
    fonts = {"bar": max(12, width // 80), "label": max(12, width // 60)}
    with _freetype_text():
        plotter = pv.Plotter(off_screen=True, window_size=s["size"])
        try:
            _draw(plotter, pv, s, view, fonts, label, bar_mm, target_color, (lines, font))
            with atomic_target(s["path"], force=True, default_suffix=".png") as tmp:
                plotter.screenshot(str(tmp))
        finally:
            plotter.close()
        if s["html"] is not None:
            _export_html(pv, s, view, label, target_color, title)
    return {"png": s["path"], "html": s["html"], "clim": s["clim"], "ticks": s["ticks"], "scale_bar_mm": bar_mm,
            "view_mm": (view["width"], view["height"])}


# ----------------------------------------------------------------------------- ParaView
def _volume_block(pv, volume):
    try:
        nodes, tets, cell_data = volume
    except (TypeError, ValueError):
        raise ValueError("volume must be a tuple (nodes (N, 3) m, tets (T, 4) int, cell_data dict); "
                         f"got {type(volume).__name__}") from None
    nodes = as_points(nodes, "volume nodes")
    tets = np.asarray(tets)
    if tets.ndim != 2 or tets.shape[1] != 4 or not np.issubdtype(tets.dtype, np.integer):
        raise ValueError(f"volume tets must be a (T, 4) integer array; got shape {tets.shape}, dtype {tets.dtype}")
    if tets.size and (tets.min() < 0 or tets.max() >= len(nodes)):
        raise ValueError(f"volume tets must index nodes 0..{len(nodes) - 1}; "
                         f"got indices in [{int(tets.min())}, {int(tets.max())}]")
    cells = np.hstack([np.full((len(tets), 1), 4), tets]).ravel()
    grid = pv.UnstructuredGrid(cells, np.full(len(tets), 10, dtype=np.uint8), nodes * _MM)  # 10 = VTK_TETRA
    for name, arr in dict(cell_data or {}).items():
        grid.cell_data[str(name)] = _point_values(arr, len(tets), f"volume cell_data[{name!r}]")
    return grid


def _scene_blocks(pv, cortex_vertices, cortex_faces, point_data, scalp, segments, volume):
    verts, faces = _surface(cortex_vertices, cortex_faces, "cortex_vertices", "cortex_faces")
    blocks = pv.MultiBlock()
    cortex = _polydata(pv, verts, faces)
    if not isinstance(point_data, dict) and point_data is not None:
        raise ValueError(f"point_data must be a dict name -> (n,) or (n, 3) array; got {type(point_data).__name__}")
    for name, arr in (point_data or {}).items():
        cortex.point_data[str(name)] = _point_values(arr, len(verts), f"point_data[{name!r}]")
    blocks["cortex"] = cortex
    scalp = _scalp(scalp)
    if scalp is not None:
        blocks["scalp"] = _polydata(pv, *scalp)
    wires = _segments(segments)
    if wires is not None:
        blocks["coil"] = _lines(pv, *wires)
    if volume is not None:
        blocks["volume"] = _volume_block(pv, volume)
    return blocks


def _is_piece_folder(folder: Path) -> bool:
    """True if ``folder`` holds nothing but pieces a .vtm of the same stem would write."""
    return all(p.is_file() and p.name.startswith(f"{folder.name}_") and p.suffix.startswith(".vt")
               for p in folder.iterdir())


def write_scene_vtm(path, *, cortex_vertices, cortex_faces, point_data=None, scalp=None, segments=None,
                    volume=None) -> Path:
    """Write the scene as a ParaView multiblock (``.vtm`` plus its folder of pieces), in millimetres.

    Parameters
    ----------
    path : str or Path, ``.vtm``
        Output file; its folder must exist.  The pieces go to the sibling folder ``<stem>/``.
    cortex_vertices : (n, 3) float array, metres
        Block "cortex" (triangles), written in mm.
    cortex_faces : (m, 3) int array, vertex indices
    point_data : dict name -> (n,) or (n, 3) float array (units as given, e.g. V/m), optional
        Arrays on the cortex vertices.
    scalp : tuple (vertices (k, 3) float m, faces (f, 3) int), optional
        Block "scalp".
    segments : tuple (start (s, 3) float m, end (s, 3) float m), optional
        Block "coil": one line cell per wire segment.
    volume : tuple (nodes (N, 3) float m, tets (T, 4) int, cell_data dict name -> (T,) or (T, 3)), optional
        Block "volume": tetrahedra with their cell arrays.

    Returns
    -------
    Path of the ``.vtm``.

    Safety: everything is first written into a temporary folder next to ``path``.  Then the piece
    folder replaces ``<stem>/`` in one rename (a previous one is moved aside first and deleted after;
    a ``<stem>/`` holding anything but ``<stem>_*.vt*`` pieces is refused), and last the ``.vtm`` is
    moved onto ``path`` with :func:`efield._common.io.atomic_target`.  An error leaves the old files
    in place and removes the temporary folder.
    """
    path = _suffix(path, ".vtm", "path")
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    blocks = _scene_blocks(pv, cortex_vertices, cortex_faces, point_data, scalp, segments, volume)
    pieces = path.with_suffix("")
    if pieces.exists() and not (pieces.is_dir() and _is_piece_folder(pieces)):
        raise ValueError(f"path: the piece folder '{pieces}' exists and holds other files; "
                         "choose another .vtm name or remove it")
    with atomic_target(path, force=True, default_suffix=".vtm") as tmp_vtm:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
        try:
            blocks.save(str(staging / path.name))
            old = None
            if pieces.exists():
                old = pieces.with_name(f".{pieces.name}.old-{os.getpid()}")
                os.replace(pieces, old)
            os.replace(staging / pieces.name, pieces)
            os.replace(staging / path.name, tmp_vtm)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return path
