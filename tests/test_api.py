"""The public API on preset coils and sphere heads: total_efield, cortex_field, metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

import coils
import efield
import meshes
from efield.physics.fields import standard_pose


@pytest.fixture(scope="module")
def human_setup():
    head = meshes.sphere_head("human")
    coil = coils.load_coil("magstim_70mm_fig8").placed(standard_pose(head))
    return coil, head


def test_total_efield_is_tangential_and_linear(human_setup):
    coil, head = human_setup
    surf = head.cortex_surface(3)
    e1 = efield.total_efield(coil, head, surf.vertices, 1e8)
    e2 = efield.total_efield(coil, head, surf.vertices, 2e8)
    assert_allclose(e2, 2 * e1, rtol=1e-15)
    radial = np.einsum("ij,ij->i", e1, surf.normals)
    assert np.abs(radial).max() < 1e-12 * np.abs(e1).max()


def test_total_efield_does_not_depend_on_layers(human_setup):
    # Heller & van Hulsteyn: any spherically symmetric conductivity profile gives the same E.
    coil, head = human_setup
    other = dataclasses.replace(head, name="homogeneous", layers=(("brain", head.scalp_radius, 0.33),))
    pts = head.cortex_surface(2).vertices
    assert_allclose(efield.total_efield(coil, other, pts, 1e8), efield.total_efield(coil, head, pts, 1e8), rtol=1e-15)


def test_peak_is_under_the_figure8_centre_and_along_the_junction(human_setup):
    coil, head = human_setup
    res = efield.cortex_field(coil, head, 1e8, n_subdiv=5)
    k = int(res.magnitude.argmax())
    top = np.array([0, 0, head.cortex_radius])
    assert np.linalg.norm(res.points[k] - top) < 3e-3  # within the ~1.5 mm mesh spacing (+ asymmetry)
    e = res.efield[k] / res.magnitude[k]
    assert abs(e[1]) > 0.99  # E under a figure-8 runs along the junction wires (+-y)


def test_cortex_field_scales_and_reports_metrics(human_setup):
    coil, head = human_setup
    res = efield.cortex_field(coil, head, 1e6, n_subdiv=4)
    m = efield.metrics.surface_metrics(res)
    assert m["peak_vm"] >= m["p999_vm"] >= m["p99_vm"] > 0
    assert 0 < m["half_max_area_m2"] < 4 * np.pi * head.cortex_radius**2 / 4
    assert_allclose(res.scaled(1e8).magnitude, 100 * res.magnitude, rtol=1e-15)
    assert_allclose(res.vertex_areas().sum(), 4 * np.pi * head.cortex_radius**2, rtol=2e-3)


def test_half_max_depth_is_physical(human_setup):
    coil, head = human_setup
    res = efield.cortex_field(coil, head, 1e6, n_subdiv=4)
    d = efield.metrics.half_max_depth(coil, head, 1e6, res.points[int(res.magnitude.argmax())])
    assert 5e-3 < d < 40e-3  # a figure-8 on a human sphere: about a centimetre or two


def test_coil_inside_head_is_refused(human_setup):
    _, head = human_setup
    coil = coils.load_coil("magstim_70mm_fig8").placed(standard_pose(head, distance=0.0))
    sunk = np.eye(4)
    sunk[2, 3] = -0.01
    with pytest.raises(ValueError, match="intersects the head"):
        efield.total_efield(coil.placed(sunk), head, [[0, 0, 0]], 1e8)


def test_point_outside_head_is_refused(human_setup):
    coil, head = human_setup
    with pytest.raises(ValueError, match=r"points\[1\] is outside the 'human' head"):
        efield.total_efield(coil, head, [[0, 0, 0], [0, 0.2, 0]], 1e8)


def test_head_type_is_checked(human_setup):
    coil, _ = human_setup
    with pytest.raises(TypeError, match="head must be a sphere head"):
        efield.total_efield(coil, "human", [[0, 0, 0]], 1e8)
