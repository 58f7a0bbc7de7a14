"""Figure-ready 2D charts (matplotlib, Agg): depth profiles, orientation polar plots, bar charts, the
translation chart.  3D scenes are in :mod:`.scene` (and :mod:`.field_scene` for a computed field).

Every chart is saved as a PNG at print resolution (:data:`PRINT_DPI`) and an SVG beside it, each written
atomically (a temporary file in the target directory, moved into place); titles are wrapped to fit and
every axis names its unit.  matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np


__all__ = ["plot_profile", "bar_chart", "plot_orientation_polar", "plot_depth_profiles", "half_value_depth",
           "plot_translation", "PRINT_DPI"]


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


def _wrap(title: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) for part in str(title).splitlines() or [""])


# ----------------------------------------------------------------------------- 2-D
#: print resolution of every 2-D picture (the SVG beside it is resolution-free)
PRINT_DPI = 300
_TITLE_SIZE = 11.0
_TICK_STEPS = (1, 2, 2.5, 5, 10)  # tick spacings people read easily: ..., 10, 20, 25, 50, 100, ...


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        width, height = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be (width, height) in inches; got {figsize!r}") from None
    if not (1.0 <= width <= 40.0 and 1.0 <= height <= 40.0):
        raise ValueError(f"figsize must be between 1 and 40 inches each way; got {figsize!r}")
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _wrap_chars(width_in: float, fontsize: float) -> int:
    """Characters of text at ``fontsize`` points that fit ``width_in`` inches (a generous average glyph
    width of 0.6 em, so the wrapped text rarely needs a second pass)."""
    return max(12, int(width_in * 72.0 / (0.6 * fontsize)))


def _set_title(fig, ax, title: str, fontsize: float = _TITLE_SIZE) -> None:
    """Figure title (centred on the figure, above the axes and any outside legend), wrapped to 0.92 of
    the figure width; :func:`_save` re-wraps narrower if the drawn text still sticks out."""
    if title:
        width = _wrap_chars(0.92 * fig.get_figwidth(), fontsize)
        fig.suptitle(_wrap(title, width), fontsize=fontsize)


def _titles(fig) -> list:
    """Every title of ``fig``: axes titles and the figure title (a figure text)."""
    return [ax.title for ax in fig.axes if ax.title.get_text()] + [t for t in fig.texts if t.get_text()]


def _fit_titles(fig) -> None:
    """Re-wrap any title whose drawn box is wider than the figure (few passes, each 15 % narrower)."""
    for _ in range(6):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        wide = [t for t in _titles(fig) if t.get_window_extent(renderer).width > 0.96 * fig.bbox.width]
        if not wide:
            return
        for t in wide:
            flat = " ".join(t.get_text().split())
            longest = max(len(line) for line in t.get_text().splitlines())
            t.set_text(textwrap.fill(flat, max(8, int(0.85 * longest))))


def _save(fig, path: Path) -> Path:
    """Write ``path`` (PNG, :data:`PRINT_DPI` dpi) and the same picture as SVG beside it (same stem),
    each atomically; titles are fitted to the figure first."""
    _fit_titles(fig)
    with _atomic_target(path) as tmp:
        fig.savefig(tmp, format="png", dpi=PRINT_DPI, facecolor="white")
    with _atomic_target(path.with_suffix(".svg")) as tmp:
        fig.savefig(tmp, format="svg", facecolor="white", metadata={"Date": None})
    return path


def _check_unit_label(label, name: str) -> str:
    """An axis label that states its unit in brackets, e.g. ``"|E| (V/m)"``; a ValueError otherwise."""
    text = str(label)
    if not any(o in text and c in text[text.index(o):] for o, c in (("(", ")"), ("[", "]"))):
        raise ValueError(f"{name} must state the unit in brackets, e.g. '|E| (V/m)'; got {text!r}")
    return text


def _nice_ticks(ax, axis: str = "y") -> None:
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(nbins="auto", steps=list(_TICK_STEPS)))


def plot_profile(depth_mm, values, path, *, labels=None, xlabel: str = "depth below the scalp (mm)",
                 ylabel: str = "|E| (V/m)", title: str = "", markers=None, figsize=(6.4, 4.4)) -> Path:
    """Line plot of a field against depth (e.g. |E| along the radius under the coil).

    Parameters
    ----------
    depth_mm : (n,) float array, millimetres
        Depths (an edge function: people read mm).
    values : (n,) or (k, n) float array, in the unit of ``ylabel``
        One curve, or k curves sharing ``depth_mm``.
    path : str or Path
        Output ``.png`` (directory must exist); written atomically at 300 dpi, with an ``.svg`` beside it.
    labels : sequence of k str, optional
        Legend entries, one per curve (the legend sits outside the data area, below it).
    markers : mapping str → float (millimetres), optional
        Vertical reference lines, e.g. ``{"cortex": 15.0}``.
    xlabel, ylabel : str
        Axis labels; each must state its unit in brackets.
    title : str
        Wrapped to the figure width.
    figsize : (width, height) inches
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
    xlabel, ylabel = _check_unit_label(xlabel, "xlabel"), _check_unit_label(ylabel, "ylabel")
    fig = _figure(figsize)
    ax = fig.add_subplot()
    for i, row in enumerate(y):
        ax.plot(x, row, lw=2, label=labels[i] if labels else None)
    for name, pos in (markers or {}).items():
        ax.axvline(float(pos), color="0.4", ls="--", lw=1)
        ax.annotate(str(name), (float(pos), 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=9, color="0.3")
    _label_axes(fig, ax, xlabel, ylabel, title)
    ax.set_ylim(bottom=min(0.0, float(y.min())))
    if labels:
        _legend_below(fig, 9, 2)
    return _save(fig, path)


def _legend_below(fig, fontsize: float, max_cols: int) -> None:
    """Figure legend under the axes, in as many columns (up to ``max_cols``) as fit the figure width."""
    handles, labels = [], []
    for ax in fig.axes:
        h, lab = ax.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    entry_in = max(len(s) for line in labels for s in line.splitlines()) * 0.6 * fontsize / 72.0 + 0.7
    ncols = max(1, min(max_cols, len(labels), int(0.95 * fig.get_figwidth() / entry_in)))
    fig.legend(handles, labels, loc="outside lower center", fontsize=fontsize, frameon=False, ncols=ncols)


def _label_axes(fig, ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _set_title(fig, ax, title)
    _nice_ticks(ax, "x")
    _nice_ticks(ax, "y")
    ax.grid(True, alpha=0.3)


def half_value_depth(depth_mm, values) -> float:
    """Depth (mm) where a profile first falls below half its first value, linearly interpolated
    between the two samples around the crossing; NaN if it never does.

    ``depth_mm`` (k,) increasing, millimetres; ``values`` (k,) in any unit (|E| in V/m, say).
    """
    d = np.asarray(depth_mm, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    half = 0.5 * v[0]
    below = np.flatnonzero(v < half)
    if v[0] <= 0 or not below.size:
        return math.nan
    i = int(below[0])
    return float(d[i - 1] + (half - v[i - 1]) * (d[i] - d[i - 1]) / (v[i] - v[i - 1]))


def _check_depth_curves(curves) -> list[tuple[str, np.ndarray, np.ndarray]]:
    try:
        items = list(curves)
    except TypeError:
        raise ValueError("curves must be a list of (label, depth_mm (k,), values (k,))") from None
    if not items:
        raise ValueError("curves must hold at least one (label, depth_mm, values) curve; got none")
    out = []
    for n, item in enumerate(items):
        try:
            label, depth, vals = item
        except (TypeError, ValueError):
            raise ValueError(f"curves[{n}] must be (label, depth_mm (k,), values (k,)); got {item!r:.80}") from None
        d, v = np.asarray(depth, dtype=np.float64), np.asarray(vals, dtype=np.float64)
        if d.ndim != 1 or len(d) < 2:
            raise ValueError(f"curves[{n}] depth_mm must be a 1-D array of at least 2 depths in mm; got shape {d.shape}")
        if v.shape != d.shape:
            raise ValueError(f"curves[{n}] values must have the shape of its depth_mm {d.shape}; got {v.shape}")
        if not (np.isfinite(d).all() and np.isfinite(v).all()):
            raise ValueError(f"curves[{n}] depth_mm and values must be finite")
        if np.any(np.diff(d) <= 0):
            raise ValueError(f"curves[{n}] depth_mm must increase strictly")
        out.append((str(label), d, v))
    return out


def _draw_depth_profiles(curves, *, title, xlabel, ylabel, figsize):
    """Figure of checked depth curves with their half-value depths (lines with gid ``half-value``)."""
    fig = _figure(figsize)
    ax = fig.add_subplot()
    for n, (label, d, v) in enumerate(curves):
        color = f"C{n % 10}"
        ax.plot(d, v, lw=2, color=color, label=label)
        d_half = half_value_depth(d, v)
        if math.isfinite(d_half):
            ax.axvline(d_half, color=color, ls="--", lw=1.2, gid="half-value",
                       label=f"{label}: half-value depth {d_half:.3g} mm")
    _label_axes(fig, ax, xlabel, ylabel, title)
    ax.set_ylim(bottom=min(0.0, min(float(v.min()) for _, _, v in curves)))
    _legend_below(fig, 9, 2)
    return fig


def plot_depth_profiles(curves, path, *, title: str, xlabel: str = "depth below the cortex (mm)",
                        ylabel: str = "|E| (V/m)", figsize=(7.0, 4.2)) -> Path:
    """Field against depth for several curves on one axis (e.g. sphere and mesh), half-value depths marked.

    Parameters
    ----------
    curves : list of (label str, depth_mm (k,) float array in millimetres, values (k,) float array)
        Each curve its own depths (strictly increasing) and values in the unit of ``ylabel``.
    path : str or Path
        Output ``.png`` (directory must exist); written atomically at 300 dpi, with an ``.svg`` beside it.
    title : str
        Wrapped to the figure width (state the assumptions: coil, head, dI/dt).
    xlabel, ylabel : str
        Axis labels; each must state its unit in brackets.
    figsize : (width, height) inches

    Each curve's half-value depth (mm; where it first falls below half its first value, see
    :func:`half_value_depth`) is a dashed vertical line in the curve's colour, named in the legend,
    which sits outside the data area.  Returns the Path of the PNG.
    """
    path = _check_png(path)
    checked = _check_depth_curves(curves)
    xlabel, ylabel = _check_unit_label(xlabel, "xlabel"), _check_unit_label(ylabel, "ylabel")
    fig = _draw_depth_profiles(checked, title=str(title), xlabel=xlabel, ylabel=ylabel, figsize=figsize)
    return _save(fig, path)


def _bar_labels(labels: list[str], per_bar_in: float, fontsize: float,
                max_height_in: float) -> tuple[list[str], int, float]:
    """Tick labels that fit the width of one bar: wrapped to it, or (when a bar is too narrow for a short
    word) turned upright in as many lines as fit side by side.  Returns (labels, rotation, font size)."""
    chars = int(0.85 * per_bar_in * 72.0 / (0.6 * fontsize))
    if chars >= 6:
        return [_wrap(s, chars) for s in labels], 0, fontsize
    line_in = 1.25 * fontsize / 72.0
    max_lines = max(1, int(0.85 * per_bar_in / line_in))
    wrapped = [textwrap.fill(" ".join(s.split()), max(12, math.ceil(len(" ".join(s.split())) / max_lines)))
               for s in labels]
    lines = max(len(s.splitlines()) or 1 for s in wrapped)
    longest = max(len(line) for s in wrapped for line in s.splitlines() or [""]) or 1
    by_width = 0.85 * per_bar_in * 72.0 / (1.25 * lines)
    by_height = max_height_in * 72.0 / (0.6 * longest)  # upright labels take at most max_height_in
    return wrapped, 90, max(4.0, min(fontsize, by_width, by_height))


def _draw_bar_chart(labels, vals, *, ylabel, title, figsize):
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
        ax.annotate(text, (p, y), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8)
    per_bar = max(fig.get_figwidth() - 1.3, 0.5) / len(vals)
    ticks, rotation, size = _bar_labels(labels, per_bar, 9.0, 0.3 * fig.get_figheight())
    ax.set_xticks(pos, ticks, rotation=rotation, ha="center", fontsize=size)
    ax.set_xlim(-0.6, len(vals) - 0.4)
    ax.set_ylim(min(0.0, float(np.nanmin(vals)) if ok.any() else 0.0), 1.15 * top if top > 0 else 1.0)
    ax.set_ylabel(ylabel)
    _set_title(fig, ax, title)
    _nice_ticks(ax, "y")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def bar_chart(labels, values, path, ylabel: str = "value (unit)", title: str = "", *, figsize=None) -> Path:
    """Bar chart comparing one number per item (e.g. peak |E| per coil), values printed on the bars.

    Parameters
    ----------
    labels : sequence of str
        One label per bar (may contain newlines); long labels are wrapped to the width of a bar (and
        turned upright when the bars are too narrow), so neighbouring labels never overlap.
    values : sequence of float or None, in the unit of ``ylabel``
        Bar heights; None or NaN draws no bar and writes "n/a".
    path : str or Path
        Output ``.png`` (directory must exist); written atomically at 300 dpi, with an ``.svg`` beside it.
    ylabel : str
        Quantity and unit in brackets, e.g. ``"peak |E| (V/m per A/µs)"``.
    title : str
        Wrapped to the figure width.
    figsize : (width, height) inches, optional; default grows with the number of bars.
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
    ylabel = _check_unit_label(ylabel, "ylabel")
    if figsize is None:
        figsize = (min(40.0, max(6.0, 0.9 * len(vals) + 2.0)), 4.8)
    return _save(_draw_bar_chart(labels, vals, ylabel=ylabel, title=title, figsize=figsize), path)


def _with_zero_crossings(t: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The polyline (t, r) with a point at r = 0 inserted wherever r changes sign between samples."""
    ts, rs = [t[:1]], [r[:1]]
    for i in range(1, len(t)):
        if r[i - 1] * r[i] < 0:
            f = r[i - 1] / (r[i - 1] - r[i])
            ts.append([t[i - 1] + f * (t[i] - t[i - 1])])
            rs.append([0.0])
        ts.append(t[i:i + 1])
        rs.append(r[i:i + 1])
    return np.concatenate(ts), np.concatenate(rs)


def _draw_polar(theta, r, *, closed, best_deg, unit, title, reference_label, figsize):
    """Polar figure of sorted angles (deg) and values; |value| is the radius, from 0."""
    from matplotlib.ticker import MaxNLocator

    t_plot, r_plot = (np.append(theta, theta[0] + 360.0), np.append(r, r[0])) if closed else (theta, r)
    t_plot, r_plot = _with_zero_crossings(t_plot, r_plot)
    signed = bool((r < 0).any())
    fig = _figure(figsize)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)
    quantity = "|E|" if signed else "E"
    ax.plot(np.radians(t_plot), np.where(r_plot >= 0, r_plot, np.nan), color="C0", lw=2,
            label=f"E ≥ 0 ({unit})" if signed else f"E ({unit})")
    ax.plot(np.radians(theta[r >= 0]), r[r >= 0], "o", color="C0", ms=3)
    if signed:
        ax.plot(np.radians(t_plot), np.where(r_plot <= 0, -r_plot, np.nan), color="C1", lw=2, ls="--",
                label=f"E < 0, drawn as |E| ({unit})")
        ax.plot(np.radians(theta[r < 0]), -r[r < 0], "s", color="C1", ms=3)
    ticks = MaxNLocator(nbins=4, steps=list(_TICK_STEPS)).tick_values(0.0, 1.04 * max(float(np.abs(r).max()), 1e-12))
    top = float(ticks[-1])
    ax.set_rlim(0.0, top)
    ax.set_rmin(0.0)
    ax.set_yticks(ticks[(ticks >= 0) & (ticks <= top)])
    if best_deg is not None:
        b = best_deg % 360.0
        value = float(np.interp(b, theta, r, period=360.0)) if closed else float(np.interp(b, theta, r))
        ax.plot([np.radians(b)] * 2, [0.0, top], color="C3", lw=1.5, ls="--",
                label=f"chosen angle {best_deg:.3g}°: E = {value:.3g} {unit}")
        ax.plot([np.radians(b)], [abs(value)], "o", color="C3", ms=8)
        ax.annotate(f"chosen {best_deg:.3g}°", (np.radians(b), 0.5 * top), ha="center", va="center", fontsize=9,
                    color="C3", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "C3", "lw": 0.8})
    ax.set_rlabel_position(112.5)
    ax.grid(True, alpha=0.4)
    note = f"{reference_label}; radius: {quantity} ({unit}) from 0"
    ax.set_xlabel(_wrap(note, _wrap_chars(0.92 * fig.get_figwidth(), 9.0)), fontsize=9)
    _set_title(fig, ax, title)
    _legend_below(fig, 9, 1)
    return fig


def plot_orientation_polar(angles_deg, values, path, *, best_deg=None, unit: str = "V/m", title: str = "",
                           reference_label: str = "0° = handle reference", figsize=(5.6, 6.2)) -> Path:
    """Polar plot of the field at the target against the handle angle around the coil normal.

    Angle 0 points up and angles grow counter-clockwise: the picture is the coil seen from outside
    the head (looking along −normal), a positive angle being a right-handed turn about the normal.
    The curve is closed when the angles go round the circle (the gap from the last angle back to
    the first, through 360°, is at most 1.5 sampling steps); otherwise it is drawn open.  The radius
    starts at 0; a signed objective is drawn as |value|, its negative parts dashed in another colour
    (the legend says so).

    Parameters
    ----------
    angles_deg : (k,) float array, degrees, k >= 3
        Handle angles (any order; any range, taken modulo 360).
    values : (k,) float array, in ``unit``
        Field at the target for each angle (e.g. |E| in V/m at the stated dI/dt).
    path : str or Path
        Output ``.png`` (directory must exist); written atomically at 300 dpi, with an ``.svg`` beside it.
    best_deg : float, degrees, optional
        The chosen angle: a radial line labelled with the angle, a dot on the curve, its value in the legend.
    unit : str
        Unit of ``values``, used to label the radius.
    title : str
        Wrapped to the figure width.
    reference_label : str
        What 0° means, written under the plot.
    figsize : (width, height) inches

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
    fig = _draw_polar(theta, r, closed=closed, best_deg=best_deg, unit=str(unit), title=str(title),
                      reference_label=str(reference_label), figsize=figsize)
    return _save(fig, path)


def _check_bands(arr, name: str, k: int, *, optional: bool) -> np.ndarray:
    """(k, 3) rows (nominal, low, high) > 0, finite; with ``optional`` a row may be all NaN (missing)."""
    a = np.asarray(arr, dtype=np.float64)
    if a.shape != (k, 3):
        raise ValueError(f"{name} must have shape ({k}, 3): (nominal, low, high) per label; got {a.shape}")
    missing = np.isnan(a).all(axis=1) if optional else np.zeros(k, bool)
    good = a[~missing]
    if not (np.isfinite(good).all() and (good > 0).all()):
        raise ValueError(f"{name} must hold finite positive % MSO values"
                         + (" (or a row of NaN for a missing one)" if optional else ""))
    return a


def _log_ticks(ax) -> None:
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _draw_translation_rows(labels, eq_e, eq_t, *, to, reference, title):
    """One row per protocol: nominal (marker) and plausible range (bar), equal E and equal threshold."""
    k = len(labels)
    fig = _figure((7.5, min(40.0, 0.24 * max(k, 4) + 2.2)))
    ax = fig.add_subplot()
    y = np.arange(k, dtype=np.float64)
    ax.hlines(y, eq_e[:, 1], eq_e[:, 2], color="tab:blue", lw=3, alpha=0.45, label="equal E: plausible range")
    ax.plot(eq_e[:, 0], y, "o", color="tab:blue", ms=5, label="equal E: nominal")
    has_t = ~np.isnan(eq_t).all(axis=1)
    if has_t.any():
        yt = y[has_t] + 0.25
        ax.hlines(yt, eq_t[has_t, 1], eq_t[has_t, 2], color="tab:orange", lw=3, alpha=0.45,
                  label="equal fraction of motor threshold: plausible range")
        ax.plot(eq_t[has_t, 0], yt, "s", color="tab:orange", ms=5, label="equal fraction of motor threshold: nominal")
    ax.axvline(reference, color="grey", ls="--", lw=1, label=f"{reference:g} % MSO (stimulator maximum)")
    if k == 0:
        ax.set_xlim(10.0, 1000.0)
        ax.text(0.5, 0.5, "no protocol could be translated (see the table)", transform=ax.transAxes,
                ha="center", va="center", fontsize=10, color="0.3")
    ax.set_yticks(y, [_wrap(s, 60) for s in labels], fontsize=7)
    ax.set_ylim(k - 0.4, -0.6)
    ax.set_xscale("log")
    _log_ticks(ax)
    ax.set_xlabel(f"{to}-equivalent intensity (% MSO)")
    ax.set_ylabel("source protocol (row, study, species, intensity)", fontsize=8)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    _set_title(fig, ax, title)
    _legend_below(fig, 8, 2)
    return fig


def _draw_translation_histogram(eq_e, eq_t, *, to, reference, title):
    """A large table: histograms of the nominal destination % MSO; under 1000 px tall at 300 dpi."""
    fig = _figure((7.5, 3.25))
    ax = fig.add_subplot()
    nom_t = eq_t[~np.isnan(eq_t[:, 0]), 0]
    vals = np.concatenate([eq_e[:, 0], nom_t])
    lo, hi = float(vals.min()), float(vals.max())
    bins = np.geomspace(lo / 1.05, hi * 1.05, 41) if hi > lo else np.geomspace(lo / 1.5, lo * 1.5, 11)
    ax.hist(eq_e[:, 0], bins=bins, color="tab:blue", alpha=0.6, label="equal E")
    if nom_t.size:
        ax.hist(nom_t, bins=bins, color="tab:orange", histtype="step", lw=2, label="equal fraction of motor threshold")
    ax.axvline(reference, color="grey", ls="--", lw=1, label=f"{reference:g} % MSO (stimulator maximum)")
    ax.set_xscale("log")
    _log_ticks(ax)
    _nice_ticks(ax, "y")
    ax.set_xlabel(f"{to}-equivalent intensity, nominal (% MSO)")
    ax.set_ylabel("protocols (rows)")
    _set_title(fig, ax, title)
    _legend_below(fig, 8, 3)
    return fig


def plot_translation(labels, equal_e, path, *, equal_threshold=None, to: str = "human", total_rows=None,
                     max_rows: int = 60, reference_mso: float = 100.0, title: str = "") -> Path:
    """Published protocols translated to a destination species: one row per protocol, or a histogram.

    Parameters
    ----------
    labels : sequence of k str (k may be 0: the picture then says nothing was translated)
        One per translated protocol, naming the source (e.g. ``"3. Smith 2020 (rat, 30 %MSO)"``).
    equal_e : (k, 3) float array, % MSO of the destination set-up
        (nominal, low, high) of the equal-E translation; low–high is the plausible band.
    equal_threshold : (k, 3) float array, % MSO, optional
        The same for the equal-fraction-of-motor-threshold translation; a row of NaN where there is none.
    path : str or Path
        Output ``.png`` (directory must exist); written atomically at 300 dpi, with an ``.svg`` beside it.
    to : str
        Destination species, for the axis label and the default title.
    total_rows : int, optional
        Rows of the whole table (translated or not), said in the title.
    max_rows : int
        Up to this many protocols are drawn one row each (nominal markers and range bars); above it the
        picture is a histogram of the nominal values, so it stays small for any table size.
    reference_mso : float, % MSO
        Dashed reference line (the stimulator maximum).
    title : str
        Default: "Published protocols translated to <to>" (and how many rows), wrapped to the width.

    The legend sits outside the axes, so it never hides a marker.  Returns the Path of the PNG.
    """
    path = _check_png(path)
    labels = [str(s) for s in labels]
    k = len(labels)
    eq_e = _check_bands(equal_e, "equal_e", k, optional=False)
    eq_t = (np.full((k, 3), np.nan) if equal_threshold is None
            else _check_bands(equal_threshold, "equal_threshold", k, optional=True))
    if not (isinstance(max_rows, (int, np.integer)) and max_rows >= 1):
        raise ValueError(f"max_rows must be a positive integer; got {max_rows!r}")
    if not (math.isfinite(float(reference_mso)) and float(reference_mso) > 0):
        raise ValueError(f"reference_mso must be a finite positive % MSO; got {reference_mso!r}")
    if not title:
        title = f"Published protocols translated to {to}"
        if total_rows is not None:
            title += f": {k} of {int(total_rows)} output rows translated"
    if k > max_rows:
        fig = _draw_translation_histogram(eq_e, eq_t, to=to, reference=float(reference_mso), title=str(title))
    else:
        fig = _draw_translation_rows(labels, eq_e, eq_t, to=to, reference=float(reference_mso), title=str(title))
    return _save(fig, path)
