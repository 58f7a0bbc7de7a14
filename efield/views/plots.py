"""Pictures for people: fields on shells (pyvista, off-screen) and simple charts (matplotlib, Agg).

Coordinates come in metres and are drawn in millimetres.  pyvista and matplotlib are imported
inside the functions, so importing this module is cheap.  Every picture is written atomically:
to a temporary file in the target directory, then moved into place with ``os.replace``.
"""

from __future__ import annotations

import contextlib
import math
import os
import textwrap
from pathlib import Path

import numpy as np

from .._common.validation import as_points, as_vector3

__all__ = ["render_shell_field", "render_targeting", "plot_profile", "bar_chart", "plot_orientation_polar"]

_CAMERAS = ("top", "oblique")
_COIL_COLOR = "#ff2d55"  # a red that stands out against viridis and the white background
_DIPOLE_COLOR = "#ff8c00"
_MARKER_COLOR = "#00e5ff"  # cyan: stands out against viridis, the coil red and the white background


# ----------------------------------------------------------------------------- helpers
def _atomic_target(path):
    """Temporary path next to ``path``, renamed onto it on success (plots overwrite their own files)."""
    from .._common.io import atomic_target

    return atomic_target(path, force=True, default_suffix=".png")


def _check_png(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png; got {str(path)!r}")
    return path


def _as_faces(faces, n_vertices: int) -> np.ndarray:
    arr = np.asarray(faces)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"faces must be an (m, 3) integer array; got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"faces must hold integer vertex indices; got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_vertices):
        raise ValueError(
            f"faces must index vertices 0..{n_vertices - 1}; got indices in [{int(arr.min())}, {int(arr.max())}]"
        )
    return arr.astype(np.int64, copy=False)


def _as_values(values, n: int, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one value per vertex; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; {int((~np.isfinite(arr)).sum())} value(s) are NaN or infinite")
    return arr


def _surface_field_inputs(path, surface_vertices, faces, values):
    """Checked (PNG path, vertices (n, 3) m, faces (m, 3) int, values (n,)) of a surface-field picture."""
    path = _check_png(path)
    verts = as_points(surface_vertices, "surface_vertices")
    return path, verts, _as_faces(faces, len(verts)), _as_values(values, len(verts))


def _check_clim(clim, values: np.ndarray) -> tuple[float, float]:
    if clim is None:
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0:
            lo = 0.0
        else:  # signed quantity: symmetric about zero
            hi = max(abs(lo), abs(hi))
            lo = -hi
        if hi <= lo:
            hi = lo + 1.0
        return lo, hi
    try:
        lo, hi = (float(v) for v in clim)
    except (TypeError, ValueError):
        raise ValueError(f"clim must be (low, high) in the units of values; got {clim!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"clim must be finite with high > low; got {clim!r}")
    return lo, hi


def _wrap(title: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) for part in str(title).splitlines() or [""])


@contextlib.contextmanager
def _freetype_text():
    """Draw VTK text with FreeType while inside the block.

    With matplotlib installed VTK routes text through its MathText backend, which treats "|" as
    a table-cell separator and drops it ("|E|" would print as "E").
    """
    try:
        import vtkmodules.vtkRenderingFreeType  # noqa: F401  (registers the text renderer)
        from vtkmodules.vtkRenderingCore import vtkTextRenderer
    except ImportError:  # pragma: no cover - a VTK build without FreeType
        yield
        return
    renderer = vtkTextRenderer.GetInstance()
    if renderer is None:  # pragma: no cover
        yield
        return
    previous = renderer.GetDefaultBackend()
    renderer.SetDefaultBackend(vtkTextRenderer.FreeType)
    try:
        yield
    finally:
        renderer.SetDefaultBackend(previous)


def _near(points: np.ndarray, center: np.ndarray, reach: float) -> np.ndarray:
    """The points within ``reach`` of ``center`` (all of them if none is)."""
    keep = np.linalg.norm(points - center, axis=1) <= reach
    return points[keep] if keep.any() else points


def _frame_camera(plotter, points_mm: np.ndarray, camera: str) -> None:
    """Point the camera along the named view and fit ``points_mm`` (k, 3) with a margin."""
    lo, hi = points_mm.min(axis=0), points_mm.max(axis=0)
    focus = 0.5 * (lo + hi)
    span = float(np.linalg.norm(hi - lo)) or 1.0
    if camera == "top":
        view, up = np.array([0.0, 0.0, 1.0]), (0.0, 1.0, 0.0)
    else:
        view, up = np.array([-0.55, -1.0, 0.85]), (0.0, 0.0, 1.0)
        view /= np.linalg.norm(view)
    pad = 0.08 * span
    bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad, lo[2] - pad, hi[2] + pad)
    plotter.camera_position = [tuple(focus + 3.0 * span * view), tuple(focus), up]
    plotter.reset_camera(bounds=bounds)


# ----------------------------------------------------------------------------- 3-D
def render_shell_field(surface_vertices, faces, values, path, *, segments=None, dipoles=None,
                       title: str = "", scalar_label: str = "|E| (V/m)", clim=None,
                       camera: str = "top", window_size=(900, 700), cmap: str | None = None,
                       markers=None) -> Path:
    """Render a field on a triangulated shell, with the coil, to a PNG (off-screen, no display).

    Parameters
    ----------
    surface_vertices : (n, 3) float array, metres
        Shell vertices (head frame); drawn in millimetres.
    faces : (m, 3) int array
        Triangles over ``surface_vertices``.
    values : (n,) float array
        Value per vertex (e.g. |E| in V/m), shown with a colour bar.
    path : str or Path
        Output file, ``.png``; its directory must exist.  Written atomically.
    segments : tuple (start (k, 3), end (k, 3)) of float arrays, metres, optional
        Coil wires drawn as lines in a contrasting colour.
    dipoles : (k, 3) float array, metres, optional
        Magnetic dipole positions drawn as points.
    title : str
        Text in the upper left (put the assumptions here: coil, head, dI/dt, ...).
    scalar_label : str
        Colour-bar title.
    clim : (low, high) or None
        Colour range in the units of ``values``; default ``(0, max)`` for non-negative values,
        symmetric about zero otherwise.
    camera : "top" or "oblique"
        "top" looks down the −z axis with +y up and +x right in the image; "oblique" looks from
        (−x, −y, +z) towards the field, +z up.  The camera frames the strong part of the field and
        the coil within two shell radii of the shell (so a large coil cannot shrink a small head).
    window_size : (width, height) ints, pixels
    cmap : str or None
        Matplotlib colour-map name; default "viridis" (non-negative) or "RdBu_r" (signed).
    markers : (k, 3) float array, metres, optional
        Points marked with cyan spheres (e.g. a stimulation target); kept in the camera frame.

    Returns
    -------
    Path of the written PNG.
    """
    path, verts, tri, vals = _surface_field_inputs(path, surface_vertices, faces, values)
    if camera not in _CAMERAS:
        raise ValueError(f"camera must be one of {_CAMERAS}; got {camera!r}")
    width, height = _check_window(window_size)
    lo, hi = _check_clim(clim, vals)
    if cmap is None:
        cmap = "RdBu_r" if lo < 0 else "viridis"
    wires = _check_segments(segments)
    dip = None
    if dipoles is not None:
        dip = as_points(dipoles, "dipoles")
        dip = dip if len(dip) else None
    marks = _check_markers(markers)

    def place_camera(plotter, frame_mm, verts_mm):
        _frame_camera(plotter, frame_mm, camera)

    return _render_field(verts, tri, vals, path, wires=wires, dip=dip, marks=marks, title=title,
                         scalar_label=scalar_label, clim=(lo, hi), cmap=cmap, size=(width, height),
                         place_camera=place_camera)


def _check_window(window_size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise ValueError(f"window_size must be (width, height) in pixels; got {window_size!r}") from None
    if width < 100 or height < 100:
        raise ValueError(f"window_size must be at least (100, 100) pixels; got {window_size!r}")
    return width, height


def _check_segments(segments):
    """``(start, end)`` (k, 3) arrays in metres, or None when there are no wires."""
    if segments is None:
        return None
    try:
        start, end = segments
    except (TypeError, ValueError):
        raise ValueError("segments must be a tuple (start (k, 3), end (k, 3)) in metres") from None
    start, end = as_points(start, "segments start"), as_points(end, "segments end")
    if start.shape != end.shape:
        raise ValueError(f"segments start and end must have the same shape; got {start.shape} and {end.shape}")
    return (start, end) if len(start) else None


def _check_markers(markers):
    """Marker points as a (k, 3) array in metres (one (3,) point is accepted), or None."""
    if markers is None:
        return None
    if np.shape(markers) == (3,):
        markers = [markers]
    arr = as_points(markers, "markers")
    return arr if len(arr) else None


def _vec3(value, name: str, unit: str, *, unit_length: bool = False) -> np.ndarray:
    """A finite (3,) float array (normalised if ``unit_length``) or a ValueError naming ``name``."""
    return as_vector3(value, name, unit, unit_length=unit_length)


def _render_field(verts, tri, vals, path, *, wires, dip, marks, title, scalar_label, clim, cmap, size,
                  place_camera) -> Path:
    """Draw a validated shell field with wires, dipoles and markers; ``place_camera(plotter,
    frame_points_mm, shell_vertices_mm)`` aims the camera; screenshot atomically to ``path``."""
    lo, hi = clim
    width, height = size
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    mm = 1e3
    shell = pv.PolyData(verts * mm, np.hstack([np.full((len(tri), 1), 3), tri]).ravel())
    shell.point_data["values"] = vals
    # what the camera frames: the coil and the part of the shell where the field is strong
    # (coil parts far beyond a small head, e.g. a human coil over a mouse, are left out of the frame)
    strong = np.abs(vals) >= 0.3 * max(abs(lo), abs(hi))
    frame = [verts[strong] if (wires is not None or dip is not None) and strong.any() else verts]
    shell_center = 0.5 * (verts.min(axis=0) + verts.max(axis=0))
    reach = 2.0 * float(np.linalg.norm(verts - shell_center, axis=1).max())
    with _freetype_text():
        plotter = pv.Plotter(off_screen=True, window_size=(width, height))
        try:
            plotter.set_background("white")
            plotter.add_mesh(
                shell, scalars="values", cmap=cmap, clim=(lo, hi), smooth_shading=True,
                scalar_bar_args={
                    # the trailing newline lifts the title clear of the top tick label
                    "title": f"{scalar_label}\n", "vertical": True, "color": "black",
                    "position_x": 0.84, "position_y": 0.1, "width": 0.07, "height": 0.7,
                    "title_font_size": 16, "label_font_size": 14, "fmt": "%.3g", "n_labels": 6,
                },
            )
            if wires is not None:
                start, end = wires
                k = len(start)
                lines = np.column_stack([np.full(k, 2), np.arange(k), np.arange(k, 2 * k)]).ravel()
                plotter.add_mesh(pv.PolyData(np.concatenate([start, end]) * mm, lines=lines),
                                 color=_COIL_COLOR, line_width=3 if k <= 400 else 1.5, opacity=0.85)
                frame += [_near(start, shell_center, reach), _near(end, shell_center, reach)]
            if dip is not None:
                plotter.add_points(dip * mm, color=_DIPOLE_COLOR, point_size=8, render_points_as_spheres=True)
                frame.append(_near(dip, shell_center, reach))
            if marks is not None:
                radius = 0.015 * float(np.linalg.norm(verts.max(axis=0) - verts.min(axis=0))) * mm
                for point in marks * mm:
                    plotter.add_mesh(pv.Sphere(radius=radius, center=point, theta_resolution=24,
                                               phi_resolution=24),
                                     color=_MARKER_COLOR, smooth_shading=True)
                frame.append(marks)
            if title:
                plotter.add_text(_wrap(title, max(30, width // 11)), position="upper_left", font_size=12,
                                 color="black")
            plotter.add_axes(color="black")
            place_camera(plotter, np.concatenate(frame) * mm, verts * mm)
            with _atomic_target(path) as tmp:
                plotter.screenshot(str(tmp))
        finally:
            plotter.close()
    return path


def render_targeting(surface_vertices, faces, values, path, *, segments, target_point, coil_center,
                     coil_normal, title: str = "", clim=None, unit: str = "V/m", coil_handle=None,
                     window_size=(900, 700), cmap: str | None = None) -> Path:
    """Render the cortical field of a targeted coil: the field, the coil wires in place and the target.

    The camera looks along −``coil_normal`` at ``coil_center`` from outside the head (the view of
    someone holding the coil), framing the coil and the strong part of the field; the target is a
    cyan sphere.

    Parameters
    ----------
    surface_vertices : (n, 3) float array, metres
        Cortex (or any shell) vertices, head frame; drawn in millimetres.
    faces : (m, 3) int array
        Triangles over ``surface_vertices``.
    values : (n,) float array, in ``unit``
        Field per vertex (|E|, or a signed component) shown with a colour bar.
    path : str or Path
        Output ``.png``; its directory must exist.  Written atomically (an existing picture is replaced).
    segments : tuple (start (k, 3), end (k, 3)) of float arrays, metres
        Coil wires in the head frame (already posed); may be None for no wires.
    target_point : (3,) float array, metres
        The stimulation target, marked with a sphere.
    coil_center : (3,) float array, metres
        Coil origin (centre of the casing bottom) in the head frame; the camera aims here.
    coil_normal : (3,) float array, any length
        Coil normal pointing away from the head; the camera sits on this side and looks along its
        negative.
    title : str
        Text in the upper left (coil, head, dI/dt, target, ...).
    clim : (low, high) or None
        Colour range in ``unit``; default ``(0, max)`` for non-negative values, symmetric otherwise.
    unit : str
        Unit of ``values`` for the colour-bar title ("|E| (unit)", or "E (unit)" for signed values).
    coil_handle : (3,) float array, any length, optional
        Handle direction; if given it points up in the image.  Default: the head +z axis (or +y when
        the normal is nearly vertical) projected onto the image plane.
    window_size : (width, height) ints, pixels
    cmap : str or None
        Matplotlib colour map; default "viridis" (non-negative) or "RdBu_r" (signed).

    Returns
    -------
    Path of the written PNG.
    """
    path, verts, tri, vals = _surface_field_inputs(path, surface_vertices, faces, values)
    target = _vec3(target_point, "target_point", "metres")
    center = _vec3(coil_center, "coil_center", "metres")
    normal = _vec3(coil_normal, "coil_normal", "a direction", unit_length=True)
    if coil_handle is not None:
        up = _vec3(coil_handle, "coil_handle", "a direction", unit_length=True)
        up = up - np.dot(up, normal) * normal
        if np.linalg.norm(up) < 1e-6:
            raise ValueError("coil_handle must not be parallel to coil_normal")
    else:
        up = np.array([0.0, 1.0, 0.0]) if abs(normal[2]) > 0.9 else np.array([0.0, 0.0, 1.0])
        up = up - np.dot(up, normal) * normal
    up /= np.linalg.norm(up)
    width, height = _check_window(window_size)
    lo, hi = _check_clim(clim, vals)
    if cmap is None:
        cmap = "RdBu_r" if lo < 0 else "viridis"
    wires = _check_segments(segments)
    scalar_label = f"E ({unit})" if lo < 0 else f"|E| ({unit})"

    def place_camera(plotter, frame_mm, verts_mm):
        focus = center * 1e3
        rel = frame_mm - focus
        along = rel @ normal
        across = float(np.linalg.norm(rel - along[:, None] * normal, axis=1).max())
        # fit the frame's spread around the viewing axis in the narrower image direction
        half = 1.2 * max(across, 1.0) * max(1.0, height / width)
        view_angle = 30.0
        distance = half / math.tan(math.radians(view_angle / 2)) + max(float(along.max()), 0.0)
        plotter.camera.focal_point = tuple(focus)
        plotter.camera.position = tuple(focus + distance * normal)
        plotter.camera.up = tuple(up)
        plotter.camera.view_angle = view_angle
        plotter.renderer.ResetCameraClippingRange()

    return _render_field(verts, tri, vals, path, wires=wires, dip=None, marks=target[None, :], title=title,
                         scalar_label=scalar_label, clim=(lo, hi), cmap=cmap, size=(width, height),
                         place_camera=place_camera)


# ----------------------------------------------------------------------------- 2-D
def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with _atomic_target(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, facecolor="white")
    return path


def plot_profile(depth_mm, values, path, *, labels=None, xlabel: str = "depth below the scalp (mm)",
                 ylabel: str = "|E| (V/m)", title: str = "", markers=None, figsize=(6.4, 4.4)) -> Path:
    """Line plot of a field against depth (e.g. |E| along the radius under the coil).

    Parameters
    ----------
    depth_mm : (n,) float array, millimetres
        Depths (an edge function: people read mm).
    values : (n,) or (k, n) float array
        One curve, or k curves sharing ``depth_mm``.
    path : str or Path
        Output ``.png`` (directory must exist); written atomically.
    labels : sequence of k str, optional
        Legend entries, one per curve.
    markers : mapping str → float (millimetres), optional
        Vertical reference lines, e.g. ``{"cortex": 15.0}``.
    xlabel, ylabel, title : str
    figsize : (width, height) inches at 100 dpi
    """
    path = _check_png(path)
    x = np.asarray(depth_mm, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"depth_mm must be a 1-D array of at least 2 depths in mm; got shape {x.shape}")
    y = np.asarray(values, dtype=np.float64)
    y = y[None, :] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[1] != len(x):
        raise ValueError(f"values must have shape ({len(x)},) or (k, {len(x)}); got {np.shape(values)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("depth_mm and values must be finite")
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != len(y):
            raise ValueError(f"labels must hold one entry per curve ({len(y)}); got {len(labels)}")
    fig = _figure(figsize)
    ax = fig.add_subplot()
    for i, row in enumerate(y):
        ax.plot(x, row, lw=2, label=labels[i] if labels else None)
    for name, pos in (markers or {}).items():
        ax.axvline(float(pos), color="0.4", ls="--", lw=1)
        ax.annotate(str(name), (float(pos), 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=9, color="0.3")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=min(0.0, float(y.min())))
    if labels:
        ax.legend()
    return _save(fig, path)


def bar_chart(labels, values, path, ylabel: str = "", title: str = "", *, figsize=None) -> Path:
    """Bar chart comparing one number per item (e.g. peak |E| per coil), values printed on the bars.

    Parameters
    ----------
    labels : sequence of str
        One label per bar (may contain newlines).
    values : sequence of float or None
        Bar heights; None or NaN draws no bar and writes "n/a".
    path : str or Path
        Output ``.png`` (directory must exist); written atomically.
    ylabel, title : str
    figsize : (width, height) inches at 100 dpi, optional; default grows with the number of bars.
    """
    path = _check_png(path)
    labels = [str(s) for s in labels]
    vals = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if len(labels) != len(vals):
        raise ValueError(f"labels and values must have the same length; got {len(labels)} and {len(vals)}")
    if len(vals) == 0:
        raise ValueError("values must hold at least one bar; got none")
    if np.isinf(vals).any():
        raise ValueError("values must be finite numbers or None/NaN for missing ones")
    if figsize is None:
        figsize = (max(6.0, 0.9 * len(vals) + 2.0), 4.8)
    fig = _figure(figsize)
    ax = fig.add_subplot()
    pos = np.arange(len(vals))
    ok = np.isfinite(vals)
    colors = [f"C{i % 10}" for i in range(len(vals))]
    ax.bar(pos[ok], vals[ok], color=[c for c, k in zip(colors, ok) if k], edgecolor="black", lw=0.6)
    top = float(np.nanmax(np.abs(vals))) if ok.any() else 1.0
    for p, v in zip(pos, vals):
        text = "n/a" if not np.isfinite(v) else f"{v:.3g}"
        y = 0.0 if not np.isfinite(v) else v
        ax.annotate(text, (p, y), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(pos, labels, rotation=30 if len(vals) > 5 else 0, ha="right" if len(vals) > 5 else "center",
                  fontsize=9)
    ax.set_ylim(min(0.0, float(np.nanmin(vals)) if ok.any() else 0.0), 1.15 * top if top > 0 else 1.0)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def plot_orientation_polar(angles_deg, values, path, *, best_deg=None, unit: str = "V/m", title: str = "",
                           reference_label: str = "0° = handle reference", figsize=(5.6, 5.6)) -> Path:
    """Polar plot of the field at the target against the handle angle around the coil normal.

    Angle 0 points up and angles grow counter-clockwise: the picture is the coil seen from outside
    the head (looking along −normal), a positive angle being a right-handed turn about the normal.
    The curve is closed when the angles go round the circle (the gap from the last angle back to
    the first, through 360°, is at most 1.5 sampling steps); otherwise it is drawn open.

    Parameters
    ----------
    angles_deg : (k,) float array, degrees, k >= 3
        Handle angles (any order; any range, taken modulo 360).
    values : (k,) float array, in ``unit``
        Field at the target for each angle (e.g. |E| in V/m at the stated dI/dt).
    path : str or Path
        Output ``.png`` (directory must exist); written atomically.
    best_deg : float, degrees, optional
        Angle to mark (the best orientation): a radial line and a dot on the curve, with its value.
    unit : str
        Unit of ``values``, used to label the radial axis.
    title : str
    reference_label : str
        What 0° means, written under the plot.
    figsize : (width, height) inches at 100 dpi

    Returns
    -------
    Path of the written PNG.
    """
    path = _check_png(path)
    theta = np.asarray(angles_deg, dtype=np.float64)
    r = np.asarray(values, dtype=np.float64)
    if theta.ndim != 1 or len(theta) < 3:
        raise ValueError(f"angles_deg must be a 1-D array of at least 3 angles in degrees; got shape {theta.shape}")
    if r.shape != theta.shape:
        raise ValueError(f"values must have the same shape as angles_deg {theta.shape}; got {r.shape}")
    if not np.isfinite(theta).all():
        raise ValueError(f"angles_deg must be finite; {int((~np.isfinite(theta)).sum())} value(s) are NaN or infinite")
    if not np.isfinite(r).all():
        raise ValueError(f"values must be finite; {int((~np.isfinite(r)).sum())} value(s) are NaN or infinite")
    if best_deg is not None:
        try:
            best_deg = float(best_deg)
        except (TypeError, ValueError):
            raise ValueError(f"best_deg must be an angle in degrees; got {best_deg!r}") from None
        if not math.isfinite(best_deg):
            raise ValueError(f"best_deg must be finite; got {best_deg}")
    order = np.argsort(np.mod(theta, 360.0), kind="stable")
    theta, r = np.mod(theta, 360.0)[order], r[order]
    steps = np.diff(theta)
    closing_gap = 360.0 - (theta[-1] - theta[0])
    closed = closing_gap > 0 and closing_gap <= 1.5 * max(float(steps.max()), 1e-9)
    t_plot, r_plot = (np.append(theta, theta[0] + 360.0), np.append(r, r[0])) if closed else (theta, r)

    fig = _figure(figsize)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)
    ax.plot(np.radians(t_plot), r_plot, color="C0", lw=2, marker="o", ms=3, label=f"E ({unit})")
    top = float(r.max())
    bottom = min(0.0, float(r.min()))
    if top <= bottom:
        top = bottom + 1.0
    ax.set_ylim(bottom, top * 1.08 if top > 0 else top)
    if bottom < 0:  # signed values: the centre is the minimum; show where zero is
        ax.plot(np.linspace(0, 2 * np.pi, 181), np.zeros(181), color="0.4", ls=":", lw=1)
    if best_deg is not None:
        b = best_deg % 360.0
        value = float(np.interp(b, theta, r, period=360.0)) if closed else float(np.interp(b, theta, r))
        ax.plot([np.radians(b)] * 2, [bottom, value], color="C3", lw=1.5, ls="--")
        ax.plot([np.radians(b)], [value], "o", color="C3", ms=8,
                label=f"best {best_deg:.3g}°: {value:.3g} {unit}")
        ax.legend(loc="upper left", bbox_to_anchor=(-0.12, 1.12), fontsize=9, frameon=False)
    ax.set_rlabel_position(112.5)
    ax.text(0.0, -0.01, f"radius: E ({unit})", transform=ax.transAxes, ha="left", va="top", fontsize=9)
    ax.grid(True, alpha=0.4)
    ax.set_xlabel(reference_label, fontsize=9)
    if title:
        ax.set_title(title, pad=18)
    return _save(fig, path)
