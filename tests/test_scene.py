"""Figure-ready 3-D scenes (efield.views.scene): pixels of the PNG, round ticks, HTML and .vtm export."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
pv = pytest.importorskip("pyvista")
Image = pytest.importorskip("PIL.Image")

import coils  # noqa: E402
import meshes  # noqa: E402
from efield.views import scene  # noqa: E402
from efield.views.scene import nice_ticks, remote_references, render_scene, write_scene_vtm  # noqa: E402

SIZE = (640, 480)
MAGENTA = np.array([255, 0, 255])
CORTEX_R, SCALP_R = 0.006, 0.0085  # rat-sized shells, metres
TARGET = np.array([0.0, 0.0, CORTEX_R])


def _gauss(v, centre, width=0.002):
    return np.exp(-np.sum((v - centre) ** 2, axis=1) / (2 * width ** 2))


@pytest.fixture(scope="module")
def shells():
    cortex = meshes.icosphere(CORTEX_R, 3)
    scalp = meshes.icosphere(SCALP_R, 2)
    return cortex, scalp


@pytest.fixture(scope="module")
def wires():
    """rodent_8mm_round on the scalp, shifted 3 mm along x so its windings (radius 2.2-3.8 mm)
    pass right over the target."""
    coil = coils.load_coil("rodent_8mm_round")
    pose = coils.coil_pose(center=np.array([0.003, 0.0, SCALP_R]), normal=[0, 0, 1], handle=[0, 1, 0])
    start, end, _ = coil.placed(pose).segments
    mid = 0.5 * (start + end)
    assert (np.hypot(mid[:, 0] - TARGET[0], mid[:, 1] - TARGET[1]) < 2e-4).sum() >= 5  # wires over the target
    return start, end


def _rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _base(shells, **kw):
    cortex, scalp = shells
    args = dict(cortex_vertices=cortex.vertices, cortex_faces=cortex.faces,
                values=60.0 * _gauss(cortex.vertices, TARGET), scalp=(scalp.vertices, scalp.faces),
                window_size=SIZE, frame="bregma")
    args.update(kw)
    return args


@pytest.fixture(scope="module")
def magnitude_scene(shells, wires, tmp_path_factory):
    out = tmp_path_factory.mktemp("scene")
    circle = np.linspace(0, 2 * np.pi, 65)
    casing = np.column_stack([0.003 + 0.0042 * np.cos(circle), 0.0042 * np.sin(circle),
                              np.full_like(circle, SCALP_R + 0.0045)])
    with_coil = render_scene(out / "with_coil.png", **_base(shells, segments=wires, casing=casing,
                                                            target=TARGET, hot_spot=TARGET + [0.0005, 0, 0]))
    no_coil = render_scene(out / "no_coil.png", **_base(shells, target=TARGET))
    return with_coil, no_coil


# ----------------------------------------------------------------------------- ticks
def _step_is_round(step: float) -> bool:
    mantissa = step / 10.0 ** np.floor(np.log10(step))
    return any(np.isclose(mantissa, m, rtol=1e-9) for m in (1.0, 2.0, 2.5, 5.0, 10.0))


def test_nice_ticks_examples():
    ticks, clim = nice_ticks(0.0, 41.7)
    assert ticks.tolist() == [0, 10, 20, 30, 40, 50] and clim == (0.0, 50.0)
    assert nice_ticks(0.0, 20.9)[0].tolist() == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(0.0, 60.0)[0].tolist() == [0, 20, 40, 60]
    ticks, clim = nice_ticks(-3.3, 3.3)
    assert clim == (-4.0, 4.0) and 0.0 in ticks
    assert nice_ticks(0.0, 0.0)[1][0] == 0.0  # a flat field still gets a range


def test_nice_ticks_properties_over_many_ranges():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        hi = 10.0 ** rng.uniform(-4, 6)
        mode = rng.integers(3)
        lo = 0.0 if mode == 0 else (-hi if mode == 1 else hi * rng.uniform(-2, 0.99))
        n = int(rng.integers(3, 9))
        ticks, clim = nice_ticks(lo, hi, n)
        step = ticks[1] - ticks[0]
        assert _step_is_round(step), (lo, hi, ticks)
        assert np.allclose(np.diff(ticks), step, rtol=1e-9, atol=1e-12 * hi)
        assert np.allclose(ticks / step, np.round(ticks / step), atol=1e-6)  # multiples of the step
        assert clim == (ticks[0], ticks[-1])
        assert clim[0] <= lo + 1e-9 * hi and clim[1] >= hi - 1e-9 * hi  # covers the data
        assert clim[1] - hi < step * (1 + 1e-9) and lo - clim[0] < step * (1 + 1e-9)  # no wasted interval
        assert 3 <= len(ticks) <= n + 1
        if lo == 0.0:
            assert ticks[0] == 0.0
        if lo == -hi:
            assert np.allclose(ticks, -ticks[::-1]) and np.isclose(ticks, 0).any()
        fmt = scene._tick_format(ticks)
        assert np.allclose([float(fmt % t) for t in ticks], ticks, rtol=1e-6, atol=1e-6 * step)


def test_nice_ticks_rejects_bad_input():
    with pytest.raises(ValueError, match="hi >= lo"):
        nice_ticks(2.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0.0, float("nan"))
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        nice_ticks(0.0, 1.0, n=1)


# ----------------------------------------------------------------------------- pictures
def test_png_is_a_real_picture(magnitude_scene):
    result, _ = magnitude_scene
    assert result["png"].is_file() and result["html"] is None
    img = _rgb(result["png"])
    assert img.shape == (SIZE[1], SIZE[0], 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500
    non_white = (img < 245).any(axis=2).mean()
    assert 0.3 < non_white < 0.99
    assert result["ticks"].tolist() == [0, 20, 40, 60] and result["clim"] == (0.0, 60.0)
    assert result["scale_bar_mm"] == 2.0  # rat-sized view: ~14 mm wide


def test_colour_bar_on_the_right(magnitude_scene):
    import matplotlib

    img = _rgb(magnitude_scene[0]["png"])
    lut = (matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).round()
    h, w, _ = img.shape
    best = 0
    for x in range(int(0.8 * w), w):
        column = img[:, x]
        dist = np.linalg.norm(column[:, None, :] - lut[None, :, :], axis=2)
        near = dist.min(axis=1) < 6
        index = dist.argmin(axis=1)[near]
        if index.size and index.min() < 10 and index.max() > 245:  # both ends of the map
            best = max(best, len(np.unique(index)))
    assert best > 100


def test_target_visible_over_the_coil(magnitude_scene):
    with_coil, no_coil = magnitude_scene
    counts = [int((_rgb(r["png"]) == MAGENTA).all(axis=2).sum()) for r in (with_coil, no_coil)]
    assert counts[1] > 80  # a disc of ~6 px radius at 480 px height
    assert counts[0] >= 0.97 * counts[1]  # the wires over it do not cover it


def test_scale_bar_length_matches_the_view(magnitude_scene):
    result = magnitude_scene[0]
    img = _rgb(result["png"])
    h, w, _ = img.shape
    black = (img < 40).all(axis=2)[int(0.85 * h):, : w // 2]
    longest = 0
    for row in black:
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]]))))[::2]
        longest = max(longest, int(runs.max()) if runs.size else 0)
    expected = result["scale_bar_mm"] / result["view_mm"][0] * w
    assert abs(longest - expected) <= 3


def test_normal_component_is_symmetric_red_and_blue(shells, tmp_path):
    cortex, _ = shells
    v = cortex.vertices
    signed = 40.0 * _gauss(v, TARGET + [0.0015, 0, 0]) - 25.0 * _gauss(v, TARGET - [0.0015, 0, 0])
    result = render_scene(tmp_path / "normal.png", **_base(shells, values=signed, kind="normal", scalp=None))
    lo, hi = result["clim"]
    assert lo == -hi and hi == 40.0
    img = _rgb(result["png"])
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    assert ((r > b + 60) & (r > g + 60)).sum() > 200
    assert ((b > r + 60) & (b > g + 20)).sum() > 200


def test_long_title_wraps_inside_the_picture(shells, tmp_path):
    title = "rodent 8 mm round coil over a rat-sized sphere, dI/dt = 50 A/us, " * 4
    result = render_scene(tmp_path / "title.png", **_base(shells, title=title, camera="top"))
    img = _rgb(result["png"])
    h, w, _ = img.shape
    band = (img[: int(0.08 * h)] < 100).all(axis=2)  # title text (the head is below)
    cols = np.flatnonzero(band.any(axis=0))
    assert cols.size and cols.max() < 0.97 * w and cols.min() > 0


def test_clip_and_cameras_run(shells, wires, tmp_path):
    plain = render_scene(tmp_path / "plain.png", **_base(shells, target=TARGET, segments=wires, camera="oblique"))
    cut = render_scene(tmp_path / "cut.png", **_base(shells, target=TARGET, segments=wires, camera="oblique",
                                                      clip=True))
    assert not np.array_equal(_rgb(plain["png"]), _rgb(cut["png"]))
    assert ((_rgb(cut["png"]) == MAGENTA).all(axis=2)).sum() > 50


def test_orientation_labels():
    lo, hi = np.array([-10.0, -12.0, -8.0]), np.array([10.0, 12.0, 8.0])
    view = {"focus": np.zeros(3), "toward": np.array([0.0, 0.0, 1.0]), "up": np.array([0.0, 1.0, 0.0]),
            "right": np.array([1.0, 0.0, 0.0]), "height": 40.0, "width": 53.0, "lo": lo, "hi": hi, "extent": 24.0}
    points, labels = scene._orientation_points(view, "head")
    assert labels == ["R", "L", "A", "P"]  # S and I point at the camera
    assert points[0, 0] > 9 and points[1, 0] < -9 and points[2, 1] > 9 and points[3, 1] < -9
    view["toward"], view["up"], view["right"] = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0]), \
        np.array([1.0, 0.0, 0.0])
    assert scene._orientation_points(view, "bregma")[1] == ["R", "L", "D", "V"]


# ----------------------------------------------------------------------------- exports
def test_html_export_is_self_contained(shells, wires, tmp_path):
    pytest.importorskip("trame_pyvista")
    result = render_scene(tmp_path / "s.png", **_base(shells, segments=wires, target=TARGET),
                          html=tmp_path / "s.html")
    assert result["html"] == tmp_path / "s.html"
    text = result["html"].read_text(encoding="utf-8")
    assert len(text) > 10_000
    assert remote_references(text) == []
    assert remote_references('<script src="https://cdn.x/y.js"></script><link href="//a.b/c.css">') == [
        "https://cdn.x/y.js", "//a.b/c.css"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_vtm_reads_back(shells, wires, tmp_path):
    cortex, scalp = shells
    n = len(cortex.vertices)
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], float) * 1e-3
    tets = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    kw = dict(cortex_vertices=cortex.vertices, cortex_faces=cortex.faces,
              point_data={"magnE": np.ones(n), "E": np.ones((n, 3))}, scalp=(scalp.vertices, scalp.faces),
              segments=wires, volume=(nodes, tets, {"sigma": np.array([0.3, 0.01])}))
    path = write_scene_vtm(tmp_path / "scene.vtm", **kw)
    write_scene_vtm(tmp_path / "scene.vtm", **kw)  # replacing an earlier export works
    back = pv.read(path)
    assert list(back.keys()) == ["cortex", "scalp", "coil", "volume"]
    assert {"magnE", "E"} <= set(back["cortex"].point_data.keys())
    assert back["volume"].n_cells == 2 and "sigma" in back["volume"].cell_data.keys()
    assert back["coil"].n_cells == len(wires[0])
    assert np.isclose(np.abs(back["cortex"].points).max(), CORTEX_R * 1e3, rtol=1e-3)  # millimetres
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene", "scene.vtm"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="piece folder"):
        write_scene_vtm(tmp_path / "other.vtm", **kw)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("change, name", [
    ({"path": "x.jpg"}, "path"),
    ({"cortex_vertices": np.zeros((5, 2))}, "cortex_vertices"),
    ({"cortex_faces": np.array([[0, 1, 99999]])}, "cortex_faces"),
    ({"cortex_faces": np.zeros((3, 3))}, "cortex_faces"),
    ({"values": np.ones(7)}, "values"),
    ({"values": "neg"}, "values"),
    ({"kind": "phase"}, "kind"),
    ({"frame": "talairach"}, "frame"),
    ({"camera": "side"}, "camera"),
    ({"clim": (5, 1)}, "clim"),
    ({"window_size": (10, 10)}, "window_size"),
    ({"scale_bar_mm": -1}, "scale_bar_mm"),
    ({"scalp": np.zeros((4, 3))}, "scalp"),
    ({"segments": (np.zeros((3, 3)), np.zeros((2, 3)))}, "segments"),
    ({"casing": np.zeros((1, 3))}, "casing"),
    ({"target": [0.0, 0.0]}, "target"),
    ({"hot_spot": [0.0, np.nan, 0.0]}, "hot_spot"),
    ({"clip": True}, "clip"),
    ({"html": "x.htm"}, "html"),
])
def test_bad_input_names_the_parameter(shells, tmp_path, change, name):
    args = _base(shells)
    args["path"] = tmp_path / "x.png"
    if isinstance(change.get("values"), str):
        change = {"values": -args["values"]}
    args.update(change)
    path = args.pop("path")
    with pytest.raises(ValueError, match=name):
        render_scene(path, **args)
    assert not list(tmp_path.iterdir())


def test_vtm_bad_input(shells, tmp_path):
    cortex, _ = shells
    base = dict(cortex_vertices=cortex.vertices, cortex_faces=cortex.faces)
    with pytest.raises(ValueError, match="path"):
        write_scene_vtm(tmp_path / "x.vtk", **base)
    with pytest.raises(ValueError, match="point_data"):
        write_scene_vtm(tmp_path / "x.vtm", **base, point_data={"E": np.ones(3)})
    with pytest.raises(ValueError, match="volume"):
        write_scene_vtm(tmp_path / "x.vtm", **base, volume=(np.zeros((4, 3)), np.array([[0, 1, 2, 9]]), {}))


def test_html_without_trame_says_what_to_install(shells, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "trame_pyvista", None)  # "import trame_pyvista" now fails
    with pytest.raises(RuntimeError, match="trame, trame-vtk, trame-pyvista"):
        render_scene(tmp_path / "s.png", **_base(shells), html=tmp_path / "s.html")
    assert not list(tmp_path.iterdir())  # checked before drawing: no PNG either
