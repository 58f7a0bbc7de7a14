"""Plots render off-screen to PNG files that are not blank (after pyvista/pyvista tests/plotting)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import matplotlib.image as mpimg  # noqa: E402

from efield.views.plots import bar_chart, plot_profile  # noqa: E402




def _pixels(path):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    rgb = np.round(img[..., :3] * 255).astype(np.int64)
    return rgb


def _assert_not_blank(rgb, min_colours=50):
    flat = rgb.reshape(-1, 3)
    codes = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]  # one integer per colour: fast np.unique
    colours, counts = np.unique(codes, return_counts=True)
    assert len(colours) >= min_colours, f"only {len(colours)} distinct colours: blank picture?"
    assert counts.max() < 0.95 * len(flat), "one colour fills more than 95 % of the picture"


def test_plot_profile_is_not_blank(tmp_path):
    depth = np.linspace(0.0, 40.0, 81)
    curves = np.stack([120 * np.exp(-depth / 15), 90 * np.exp(-depth / 9)])
    out = plot_profile(depth, curves, tmp_path / "profile.png", labels=["fig-8", "circular"],
                       markers={"cortex": 15.0}, title="|E| under the coil")
    rgb = _pixels(out)
    assert rgb.shape[:2] == (1320, 1920)  # 6.4 x 4.4 in at 300 dpi
    _assert_not_blank(rgb, min_colours=20)
    # both default line colours (C0 blue, C1 orange) are drawn
    assert np.any(np.all(np.abs(rgb - [31, 119, 180]) <= 30, axis=-1))
    assert np.any(np.all(np.abs(rgb - [255, 127, 14]) <= 30, axis=-1))
    plot_profile(depth, curves[0], tmp_path / "one.png")
    with pytest.raises(ValueError, match=r"values must have shape \(81,\) or \(k, 81\)"):
        plot_profile(depth, curves[:, :-1], tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"labels must hold one entry per curve \(2\)"):
        plot_profile(depth, curves, tmp_path / "bad.png", labels=["a"])


def test_bar_chart_is_not_blank(tmp_path):
    out = bar_chart(["magstim 70\nhuman", "rodent 25\nrat", "unknown\nmouse"], [95.0, 31.5, None],
                    tmp_path / "bars.png", ylabel="peak |E| (V/m per A/µs)", title="comparison")
    rgb = _pixels(out)
    _assert_not_blank(rgb, min_colours=20)
    assert np.any(np.all(np.abs(rgb - [31, 119, 180]) <= 30, axis=-1)), "first bar (C0) is drawn"
    with pytest.raises(ValueError, match="labels and values must have the same length; got 2 and 1"):
        bar_chart(["a", "b"], [1.0], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="at least one bar"):
        bar_chart([], [], tmp_path / "bad.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.png", "bars.svg"]


# ----------------------------------------------------------------------------- figure-ready 2-D pictures
import math  # noqa: E402
import time  # noqa: E402

from PIL import Image  # noqa: E402

from efield.dose import batch  # noqa: E402
from efield.views import plots  # noqa: E402


def _print_ready(png):
    """PNG at 300 dpi with an SVG of the same stem beside it, and no temporary file left."""
    assert png.is_file() and png.with_suffix(".svg").is_file()
    assert png.with_suffix(".svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    with Image.open(png) as img:
        assert img.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")], "temporary file left behind"


def _inside_figure(fig):
    """Every title and legend of ``fig`` lies inside the figure; returns the renderer."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = plots._titles(fig) + list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert texts
    for t in texts:
        ext = t.get_window_extent(renderer)
        assert box.x0 - 0.5 <= ext.x0 and ext.x1 <= box.x1 + 0.5, f"{t} sticks out sideways: {ext} vs {box}"
        assert box.y0 - 0.5 <= ext.y0 and ext.y1 <= box.y1 + 0.5, f"{t} sticks out up or down: {ext} vs {box}"
    return renderer


LONG_TITLE = ("|E| at the target for the Magstim 70 mm figure-of-eight coil at 100 % MSO (dI/dt = 155 A/µs), "
              "human sphere head, cortex at 15 mm below the scalp")


def test_every_2d_plot_writes_png_at_300_dpi_and_svg(tmp_path):
    depth = np.linspace(0.0, 30.0, 61)
    outs = [
        plots.plot_profile(depth, 100 * np.exp(-depth / 10), tmp_path / "profile.png", title=LONG_TITLE),
        plots.plot_depth_profiles([("sphere", depth, 100 * np.exp(-depth / 10))], tmp_path / "depth.png",
                                  title=LONG_TITLE),
        plots.bar_chart(["a", "b"], [1.0, 2.0], tmp_path / "bars.png", ylabel="peak |E| (V/m)", title=LONG_TITLE),
        plots.plot_orientation_polar([0, 120, 240], [1.0, 2.0, 3.0], tmp_path / "polar.png", title=LONG_TITLE),
        plots.plot_translation(["1. A 2020 (rat, 30 %MSO)"], [[40.0, 30.0, 55.0]], tmp_path / "tr.png",
                               title=LONG_TITLE),
    ]
    for out in outs:
        _print_ready(out)
    assert len(list(tmp_path.iterdir())) == 2 * len(outs)
    plots.plot_profile(depth, depth, tmp_path / "profile.png")  # overwrites both files
    _print_ready(tmp_path / "profile.png")


def test_long_titles_wrap_inside_the_figure():
    depth = np.linspace(0.0, 30.0, 61)
    curves = [("sphere", depth, 100 * np.exp(-depth / 10)), ("mesh", depth, 90 * np.exp(-depth / 8))]
    long = LONG_TITLE + " " + LONG_TITLE
    figs = [plots._draw_depth_profiles(curves, title=long, xlabel="depth (mm)", ylabel="|E| (V/m)",
                                       figsize=(4.0, 3.5)),
            plots._draw_bar_chart(["a"], np.array([1.0]), ylabel="x (V/m)", title=long, figsize=(3.0, 3.0)),
            plots._draw_polar(np.array([0.0, 90, 180, 270]), np.array([1.0, 2, 3, 2]), closed=True, best_deg=180.0,
                              unit="V/m", title=long, reference_label="0° = handle to anterior", figsize=(4, 4.6))]
    for fig in figs:
        plots._fit_titles(fig)
        _inside_figure(fig)
        assert "\n" in plots._titles(fig)[0].get_text(), "a long title is wrapped"


def test_polar_radius_starts_at_zero_and_signed_values_are_drawn_as_magnitudes():
    theta = np.arange(0.0, 360.0, 15.0)
    values = 10.0 + 40.0 * np.cos(np.radians(theta))  # from -30 to 50: a signed objective
    fig = plots._draw_polar(theta, values, closed=True, best_deg=0.0, unit="V/m", title="E·n vs angle",
                            reference_label="0° = handle reference", figsize=(5.6, 6.2))
    ax = fig.axes[0]
    assert ax.get_rmin() == 0.0 and ax.get_ylim()[0] == 0.0
    assert ax.get_rmax() >= 50.0 and ax.get_rmax() <= 60.0
    assert all(np.nanmin(line.get_ydata()) >= 0 for line in ax.lines), "radius is |value|"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("E < 0" in s and "|E|" in s for s in labels), labels
    assert any("chosen angle 0°" in s and "50 V/m" in s for s in labels), labels
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert {line.get_color() for line in dashed} >= {"C1", "C3"}, "negative part and chosen angle are dashed"
    assert any("chosen 0°" in t.get_text() for t in ax.texts), "the chosen angle is labelled on the plot"
    assert "0° = handle reference" in ax.get_xlabel()
    _inside_figure(fig)
    positive = plots._draw_polar(theta, 1.0 + 0 * theta, closed=True, best_deg=None, unit="V/m", title="",
                                 reference_label="0°", figsize=(4, 4))
    assert positive.axes[0].get_rmin() == 0.0 and len(positive.legends[0].get_texts()) == 1


def _marker_points(ax):
    pts = []
    for line in ax.lines:
        if line.get_marker() not in (None, "None", "", " "):
            xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
            pts.append(ax.transData.transform(xy))
    return np.concatenate(pts)


@pytest.mark.parametrize("k", [1, 12, 60])
def test_translation_legend_never_covers_a_marker(k):
    nominal = np.geomspace(20.0, 150.0, k)
    eq_e = np.column_stack([nominal, 0.7 * nominal, 1.4 * nominal])
    eq_t = eq_e * 1.1
    eq_t[::3] = np.nan
    labels = [f"{i}. Study {i} 2020 (rat, {20 + i} %MSO)" for i in range(1, k + 1)]
    fig = plots._draw_translation_rows(labels, eq_e, eq_t, to="human", reference=100.0,
                                       title="Published protocols translated to human")
    renderer = _inside_figure(fig)
    ax = fig.axes[0]
    pts = _marker_points(ax)
    assert len(pts) == k + int((~np.isnan(eq_t[:, 0])).sum())
    legend = fig.legends[0].get_window_extent(renderer)
    inside = ((pts[:, 0] >= legend.x0) & (pts[:, 0] <= legend.x1) & (pts[:, 1] >= legend.y0) & (pts[:, 1] <= legend.y1))
    assert not inside.any(), "a marker sits under the legend"
    assert not legend.overlaps(ax.get_window_extent(renderer)), "the legend sits outside the axes"
    assert "(% MSO)" in ax.get_xlabel()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert all(round(t / 10 ** math.floor(math.log10(t)), 6) in (1, 2, 5) for t in ticks), ticks


def _protocol_rows(n):
    rows = []
    for i in range(n):
        nom = 20.0 + (i % 97)
        r = {"status": "translated" if i % 5 else "not_translatable", "study": f"S{i}", "year": "2020",
             "species": "rat", "intensity_point": "30 %MSO", "dest_mso": nom, "dest_mso_low": 0.8 * nom,
             "dest_mso_high": 1.3 * nom, "dest_mso_eqthreshold": "", "dest_mso_eqthreshold_low": "",
             "dest_mso_eqthreshold_high": ""}
        if i % 2:
            r.update(dest_mso_eqthreshold=1.1 * nom, dest_mso_eqthreshold_low=nom, dest_mso_eqthreshold_high=1.2 * nom)
        rows.append(r)
    return rows


def test_translation_chart_of_10000_rows_is_fast_and_small(tmp_path):
    out = tmp_path / "translated.png"
    t0 = time.perf_counter()
    batch._figure(_protocol_rows(10_000), out, "human")
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"{elapsed:.2f} s"
    _print_ready(out)
    assert out.stat().st_size < 2_000_000 and out.with_suffix(".svg").stat().st_size < 2_000_000
    with Image.open(out) as img:
        assert img.height < 1000
    batch._figure(_protocol_rows(20), tmp_path / "few.png", "human")  # one row per protocol
    _print_ready(tmp_path / "few.png")
    batch._figure([{"status": "not_translatable", "dest_mso": ""}], tmp_path / "none.png", "human")
    _print_ready(tmp_path / "none.png")


def test_depth_profiles_mark_the_half_value_depth():
    lam = {"sphere": 12.0, "mesh": 7.5}
    depth = np.linspace(0.0, 40.0, 401)
    curves = [(name, depth, 150.0 * np.exp(-depth / la)) for name, la in lam.items()]
    fig = plots._draw_depth_profiles(curves, title="|E| under the coil", xlabel="depth below the cortex (mm)",
                                     ylabel="|E| (V/m)", figsize=(7.0, 4.2))
    lines = [line for line in fig.axes[0].lines if line.get_gid() == "half-value"]
    assert len(lines) == 2
    for line, la in zip(lines, lam.values()):
        assert line.get_linestyle() == "--"
        assert line.get_xdata()[0] == pytest.approx(la * math.log(2), abs=1e-3)
    assert plots.half_value_depth(depth, 150.0 * np.exp(-depth / 5.0)) == pytest.approx(5 * math.log(2), abs=1e-3)
    assert math.isnan(plots.half_value_depth([0, 1, 2], [1.0, 0.9, 0.8]))
    renderer = _inside_figure(fig)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(fig.axes[0].get_window_extent(renderer)), "legend outside the data area"
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("half-value depth 8.32 mm" in s for s in texts), texts


def test_bar_chart_labels_never_overlap():
    labels = [f"a rather long coil name number {i} with words" for i in range(8)]
    for figsize in (None, (4.0, 3.0)):
        size = figsize or (0.9 * 8 + 2.0, 4.8)
        fig = plots._draw_bar_chart(labels, np.arange(1.0, 9.0), ylabel="peak |E| (V/m)", title="t", figsize=size)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 <= b.x0 + 0.5, f"tick labels overlap: {a} and {b}"
        _inside_figure(fig)


def test_2d_plots_refuse_bad_input_naming_the_parameter(tmp_path):
    depth = np.linspace(0.0, 10.0, 11)
    ok = [("a", depth, depth[::-1] + 1)]
    with pytest.raises(ValueError, match="curves must hold at least one"):
        plots.plot_depth_profiles([], tmp_path / "d.png", title="t")
    with pytest.raises(ValueError, match=r"curves\[0\] must be \(label, depth_mm"):
        plots.plot_depth_profiles([("a", depth)], tmp_path / "d.png", title="t")
    with pytest.raises(ValueError, match=r"curves\[0\] values must have the shape of its depth_mm \(11,\)"):
        plots.plot_depth_profiles([("a", depth, depth[:-1])], tmp_path / "d.png", title="t")
    with pytest.raises(ValueError, match=r"curves\[0\] depth_mm and values must be finite"):
        plots.plot_depth_profiles([("a", depth, depth * np.nan)], tmp_path / "d.png", title="t")
    with pytest.raises(ValueError, match=r"curves\[0\] depth_mm must increase strictly"):
        plots.plot_depth_profiles([("a", depth[::-1], depth)], tmp_path / "d.png", title="t")
    with pytest.raises(ValueError, match="xlabel must state the unit"):
        plots.plot_depth_profiles(ok, tmp_path / "d.png", title="t", xlabel="depth")
    with pytest.raises(ValueError, match="ylabel must state the unit"):
        plots.bar_chart(["a"], [1.0], tmp_path / "b.png", ylabel="peak E")
    with pytest.raises(ValueError, match="path must end in .png"):
        plots.plot_depth_profiles(ok, tmp_path / "d.svg", title="t")
    with pytest.raises(ValueError, match="figsize must be"):
        plots.plot_depth_profiles(ok, tmp_path / "d.png", title="t", figsize=(0, 1))
    with pytest.raises(ValueError, match=r"equal_e must have shape \(1, 3\)"):
        plots.plot_translation(["a"], [[1.0, 2.0]], tmp_path / "t.png")
    with pytest.raises(ValueError, match="equal_e must hold finite positive % MSO"):
        plots.plot_translation(["a"], [[-1.0, 2.0, 3.0]], tmp_path / "t.png")
    with pytest.raises(ValueError, match="equal_threshold must hold finite positive"):
        plots.plot_translation(["a"], [[1.0, 1.0, 1.0]], tmp_path / "t.png", equal_threshold=[[1.0, np.nan, 1.0]])
    with pytest.raises(ValueError, match="max_rows must be a positive integer"):
        plots.plot_translation(["a"], [[1.0, 1.0, 1.0]], tmp_path / "t.png", max_rows=0)
    assert list(tmp_path.iterdir()) == []
