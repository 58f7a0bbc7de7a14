"""Built-in mesh heads (rodents, culture dish) and the NumPy dish mesher."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from meshes._builtin import builtin_head, culture_dish, list_builtin_heads
from meshes._dish import culture_dish_mesh, extrude_to_tets


def _volumes(nodes, tets):
    x = nodes[tets]
    return np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0]) / 6


def _face_counts(tets):
    f = np.sort(np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]]), axis=1)
    return np.unique(np.unique(f, axis=0, return_counts=True)[1])


def test_dish_mesh_is_conforming_and_has_the_right_volume():
    nodes, tets, tags = culture_dish_mesh(0.035, 0.002)
    vol = _volumes(nodes, tets)
    assert vol.min() > 0
    assert set(_face_counts(tets)) == {1, 2}  # boundary faces once, interior faces twice: conforming
    # the disc is a polygon inscribed in the circle: area converges as edge² → check within 1 %
    assert_allclose(vol.sum(), np.pi * 0.0175**2 * 0.002, rtol=1e-2)
    assert set(tags) == {12}


def test_extrusion_splits_prisms_consistently():
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1.0]])
    tri = np.array([[0, 1, 2], [1, 3, 2]])
    nodes, tets = extrude_to_tets(pts, tri, [0.0, 0.5, 1.0])
    assert_allclose(_volumes(nodes, tets).sum(), 1.0, rtol=1e-14)
    assert set(_face_counts(tets)) == {1, 2}


@pytest.mark.parametrize("name, brain_cm3", [("rat", 1.90), ("mouse", 0.425)])
def test_rodent_heads_load_with_tissues(name, brain_cm3):
    head = builtin_head(name)
    info = head.validate()
    assert info["unused_nodes"] == 0
    assert set(np.unique(head.tags)) == {3, 4, 5, 11}
    assert head.frame == "bregma"
    vol = _volumes(head.nodes, head.tets)
    brain = vol[head.tags == 11].sum() * 1e6
    assert_allclose(brain, brain_cm3, rtol=0.03)
    # bregma frame: the skull surface at the top is z = 0; the scalp is above it
    skull_top = head.nodes[np.unique(head.tets[head.tags == 4])][:, 2].max()
    assert abs(skull_top) < 0.3e-3
    assert head.scalp.vertices[:, 2].max() > skull_top
    # the reporting surface lies inside the brain
    assert head.contains(head.cortex.vertices).all()


def test_dish_parameters_and_errors():
    dish = culture_dish(0.0156, 0.001)
    assert_allclose(dish.nodes[:, 2].max(), 0.001)
    assert_allclose(np.abs(dish.nodes[:, :2]).max(), 0.0078, rtol=1e-9)
    assert "dish" in list_builtin_heads() and "rat" in list_builtin_heads()
    with pytest.raises(ValueError, match="diameter must be a positive length"):
        culture_dish(-1.0)
    with pytest.raises(ValueError, match="built-in head 'horse' is unknown; known"):
        builtin_head("horse")
