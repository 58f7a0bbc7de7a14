"""Plots render off-screen to PNG files that are not blank (after pyvista/pyvista tests/plotting)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import matplotlib.image as mpimg  # noqa: E402

from efield.views.plots import bar_chart, plot_profile, render_shell_field  # noqa: E402
from meshes import sphere_head  # noqa: E402

from .conftest import figure8_wires  # noqa: E402

COIL_RGB = np.array([255, 45, 85])  # efield.plots._COIL_COLOR


def _pixels(path):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    rgb = np.round(img[..., :3] * 255).astype(np.int64)
    return rgb


def _assert_not_blank(rgb, min_colours=50):
    flat = rgb.reshape(-1, 3)
    colours = np.unique(flat, axis=0)
    assert len(colours) >= min_colours, f"only {len(colours)} distinct colours: blank picture?"
    counts = np.unique(flat, axis=0, return_counts=True)[1]
    assert counts.max() < 0.95 * len(flat), "one colour fills more than 95 % of the picture"


@pytest.fixture(scope="module")
def shell():
    """Human cortex shell with a smooth bump of 'field' under a figure-8 over the top."""
    head = sphere_head("human")
    surf = head.cortex_surface(4)
    top = head.center + [0.0, 0.0, head.cortex_radius]
    values = 150.0 * np.exp(-np.sum((surf.vertices - top) ** 2, axis=1) / (2 * 0.02**2))
    coil = figure8_wires(radius=0.035, n=64, height=head.scalp_radius + 0.006, gap=0.004)
    return surf, values, coil


@pytest.mark.parametrize("camera", ["top", "oblique"])
def test_render_shell_field_is_not_blank(tmp_path, shell, camera):
    surf, values, coil = shell
    out = tmp_path / f"shell_{camera}.png"
    got = render_shell_field(surf.vertices, surf.faces, values, out, segments=(coil.start, coil.end),
                             title="test |E| on the human sphere", camera=camera, window_size=(640, 480))
    assert got == out and out.is_file()
    rgb = _pixels(out)
    assert rgb.shape[:2] == (480, 640)
    _assert_not_blank(rgb)
    coil_pixels = np.all(np.abs(rgb - COIL_RGB) <= 40, axis=-1).sum()
    assert coil_pixels > 200, f"the coil wires should be visible; {coil_pixels} coil-coloured pixels"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], "no temporary files left behind"


def test_render_signed_values_and_dipoles(tmp_path, shell):
    surf, values, coil = shell
    signed = values * np.sign(surf.vertices[:, 0] + 1e-9)
    out = tmp_path / "signed.png"
    render_shell_field(surf.vertices, surf.faces, signed, out, dipoles=coil.start[::8],
                       scalar_label="E·n (V/m)", window_size=(400, 300))
    rgb = _pixels(out)
    _assert_not_blank(rgb)
    # the diverging colour map shows both reds and blues
    assert np.any((rgb[..., 0] > 150) & (rgb[..., 2] < 100))
    assert np.any((rgb[..., 2] > 150) & (rgb[..., 0] < 100))


def test_render_overwrites_atomically(tmp_path, shell):
    surf, values, _ = shell
    out = tmp_path / "again.png"
    out.write_bytes(b"old")
    render_shell_field(surf.vertices, surf.faces, values, out, window_size=(300, 200), clim=(0, 100))
    _assert_not_blank(_pixels(out))
    assert [p.name for p in tmp_path.iterdir()] == ["again.png"]


def test_render_refuses_bad_input(tmp_path, shell):
    surf, values, coil = shell
    ok = dict(surface_vertices=surf.vertices, faces=surf.faces, values=values, path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"camera must be one of \('top', 'oblique'\); got 'side'"):
        render_shell_field(**ok, camera="side")
    with pytest.raises(ValueError, match=r"values must have shape \(2562,\)"):
        render_shell_field(**{**ok, "values": values[:-1]})
    with pytest.raises(ValueError, match="faces must index vertices"):
        render_shell_field(**{**ok, "faces": surf.faces + 5000})
    with pytest.raises(ValueError, match="path must end in .png"):
        render_shell_field(**{**ok, "path": tmp_path / "x.jpg"})
    with pytest.raises(ValueError, match="clim must be finite with high > low"):
        render_shell_field(**ok, clim=(5, 1))
    with pytest.raises(ValueError, match="segments start and end must have the same shape"):
        render_shell_field(**ok, segments=(coil.start, coil.end[:-1]))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render_shell_field(**{**ok, "path": tmp_path / "missing" / "x.png"})
    assert list(tmp_path.iterdir()) == []


def test_plot_profile_is_not_blank(tmp_path):
    depth = np.linspace(0.0, 40.0, 81)
    curves = np.stack([120 * np.exp(-depth / 15), 90 * np.exp(-depth / 9)])
    out = plot_profile(depth, curves, tmp_path / "profile.png", labels=["fig-8", "circular"],
                       markers={"cortex": 15.0}, title="|E| under the coil")
    rgb = _pixels(out)
    assert rgb.shape[:2] == (440, 640)
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.png"]
