"""The pictures of a computed field (efield.views.field_scene) as every command writes them."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
pv = pytest.importorskip("pyvista")
Image = pytest.importorskip("PIL.Image")

import coils  # noqa: E402
import meshes  # noqa: E402
from efield.physics.fields import cortex_field, standard_pose  # noqa: E402
from efield.views.field_scene import field_pictures  # noqa: E402

MAGENTA = np.array([255, 0, 255])


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.mark.parametrize("head_name", ["rat-sphere", "rat-mesh"])
def test_field_pictures_show_the_field_the_target_and_the_whole_scene(tmp_path, head_name):
    head = meshes.sphere_head("rat") if head_name == "rat-sphere" else meshes.builtin_head("rat")
    coil = coils.load_coil("rodent_8mm_round")
    placed = coil.placed(standard_pose(head, coil=coil))
    res = cortex_field(placed, head, 5e7, n_subdiv=4)
    hot = res.points[int(np.argmax(res.magnitude))]
    names = field_pictures(tmp_path, head, placed, res, target=hot, title=f"8 mm coil on {head_name}",
                           html=False, window_size=(640, 480))
    assert names == ["field.png", "scene.vtm"]
    rgb = _rgb(tmp_path / "field.png")
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 300  # not blank
    # the target, right under the coil's windings, is drawn above them
    assert np.all(rgb == MAGENTA, axis=-1).sum() > 30
    scene = pv.read(tmp_path / "scene.vtm")
    blocks = set(scene.keys())
    assert {"cortex", "scalp", "coil"} <= blocks
    cortex = scene["cortex"]
    assert np.allclose(np.asarray(cortex["magnE_Vm"]), res.magnitude)
    assert np.allclose(np.asarray(cortex.points), res.points * 1e3)  # mm, as ParaView users expect
    if head_name == "rat-mesh":  # the volume field of the same solve, per tetrahedron
        vol = scene["volume"]
        assert vol.n_cells == head.n_tets and np.nanmax(np.asarray(vol["magnE_Vm"])) > 0
    else:
        assert "volume" not in blocks


def test_normal_objective_is_drawn_signed(tmp_path):
    head, coil = meshes.builtin_head("rat"), coils.load_coil("magstim_25mm_fig8")  # E·n = 0 on a sphere
    placed = coil.placed(standard_pose(head, coil=coil))
    res = cortex_field(placed, head, 5e7, n_subdiv=4)
    field_pictures(tmp_path, head, placed, res, kind="normal", html=False, vtm=False, window_size=(640, 480))
    rgb = _rgb(tmp_path / "field.png")
    assert np.any((rgb[..., 0] > 150) & (rgb[..., 2] < 100)) and np.any((rgb[..., 2] > 150) & (rgb[..., 0] < 100))


def test_dipole_coil_models_are_drawn_as_an_outline(tmp_path):
    from coils import Coil

    from efield.views.field_scene import _dipole_outline

    rng = np.random.default_rng(2)
    pos = np.column_stack([rng.uniform(-0.04, 0.04, 60), rng.uniform(-0.02, 0.02, 60), np.full(60, 0.01)])
    ring = _dipole_outline(pos)
    assert np.allclose(ring[0], ring[-1]) and np.allclose(ring[:, 2], 0.01)
    assert ring[:, 0].max() == pytest.approx(pos[:, 0].max()) and ring[:, 1].min() == pytest.approx(pos[:, 1].min())
    assert _dipole_outline(pos[:2]) is None
    head = meshes.sphere_head("rat")
    coil = Coil("dipoles", dipole_position=pos * 0.2, dipole_moment=np.tile([0.0, 0.0, 1e-3], (60, 1)),
                metadata={"didt_max_a_per_s": 1e8})
    placed = coil.placed(standard_pose(head, coil=coil))
    res = cortex_field(placed, head, 1e8, n_subdiv=3)
    assert field_pictures(tmp_path, head, placed, res, html=False, vtm=False, window_size=(400, 300)) == ["field.png"]
