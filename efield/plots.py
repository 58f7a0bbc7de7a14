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

from ._validation import as_points

__all__ = ["render_shell_field", "plot_profile", "bar_chart"]

_CAMERAS = ("top", "oblique")
_COIL_COLOR = "#ff2d55"  # a red that stands out against viridis and the white background
_DIPOLE_COLOR = "#ff8c00"


# ----------------------------------------------------------------------------- helpers
def _atomic_target(path):
    """Temporary path next to ``path``, renamed onto it on success (plots overwrite their own files)."""
    from ._io import atomic_target

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
                       camera: str = "top", window_size=(900, 700), cmap: str | None = None) -> Path:
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

    Returns
    -------
    Path of the written PNG.
    """
    path = _check_png(path)
    verts = as_points(surface_vertices, "surface_vertices")
    tri = _as_faces(faces, len(verts))
    vals = _as_values(values, len(verts))
    if camera not in _CAMERAS:
        raise ValueError(f"camera must be one of {_CAMERAS}; got {camera!r}")
    try:
        width, height = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise ValueError(f"window_size must be (width, height) in pixels; got {window_size!r}") from None
    if width < 100 or height < 100:
        raise ValueError(f"window_size must be at least (100, 100) pixels; got {window_size!r}")
    lo, hi = _check_clim(clim, vals)
    if cmap is None:
        cmap = "RdBu_r" if lo < 0 else "viridis"
    wires = None
    if segments is not None:
        try:
            start, end = segments
        except (TypeError, ValueError):
            raise ValueError("segments must be a tuple (start (k, 3), end (k, 3)) in metres") from None
        start, end = as_points(start, "segments start"), as_points(end, "segments end")
        if start.shape != end.shape:
            raise ValueError(f"segments start and end must have the same shape; got {start.shape} and {end.shape}")
        wires = (start, end) if len(start) else None
    dip = None
    if dipoles is not None:
        dip = as_points(dipoles, "dipoles")
        dip = dip if len(dip) else None

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
            if title:
                plotter.add_text(_wrap(title, max(30, width // 11)), position="upper_left", font_size=12,
                                 color="black")
            plotter.add_axes(color="black")
            _frame_camera(plotter, np.concatenate(frame) * mm, camera)
            with _atomic_target(path) as tmp:
                plotter.screenshot(str(tmp))
        finally:
            plotter.close()
    return path


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
