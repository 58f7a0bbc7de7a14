"""Sphere heads and icospheres: sourced data, geometry you can write down, clear errors."""

from __future__ import annotations

import dataclasses
import math
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import meshes

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")
from meshes import Surface, icosphere, list_sphere_heads, sphere_head

WAGNER_2004 = {"scalp": 0.465, "skull": 0.010, "csf": 1.654, "grey_matter": 0.275, "white_matter": 0.126}
FLAGS = {"V", "R", "C", "A"}


@pytest.fixture(scope="module")
def table():
    with resources.files("meshes").joinpath("data", "sphere_heads.toml").open("rb") as fh:
        return tomllib.load(fh)


# ----------------------------------------------------------------------------- built-in heads
def test_built_in_heads_are_listed():
    assert list_sphere_heads() == ["human", "mouse", "rat"]
    for name in list_sphere_heads():
        head = sphere_head(name)
        assert head.name == name
        assert head.species == name
    assert sphere_head(" Human ") is sphere_head("human")


@pytest.mark.parametrize("name", ["human", "rat", "mouse"])
def test_radii_are_ordered(name):
    head = sphere_head(name)
    radii = head.radii
    assert np.all(np.diff(radii) < 0), f"{name}: radii must decrease from outside in: {radii}"
    assert head.scalp_radius == radii[0]
    assert head.scalp_radius > head.brain_radius >= head.cortex_radius > 0
    assert head.tissues[0] == "scalp" and "skull" in head.tissues and "csf" in head.tissues
    assert head.tissues.index("skull") < head.tissues.index("csf")
    assert_allclose(head.cortex_depth, head.scalp_radius - head.cortex_radius)


def test_human_is_deng_2013():
    head = sphere_head("human")
    assert_allclose(head.scalp_radius, 0.085, rtol=1e-15)
    assert_allclose(head.cortex_radius, 0.070, rtol=1e-15)
    assert_allclose(head.brain_radius, 0.070, rtol=1e-15)
    assert_array_equal(head.center, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("name, depth_range_mm", [("rat", (1.0, 2.5)), ("mouse", (0.4, 1.2))])
def test_rodent_cortex_depth_is_plausible(name, depth_range_mm):
    head = sphere_head(name)
    lo, hi = depth_range_mm
    assert lo <= head.cortex_depth * 1e3 <= hi
    # the volume-equivalent brain radius of the brain dimensions in REFERENCE.md §3
    assert {"rat": 7.0e-3, "mouse": 4.0e-3}[name] < head.brain_radius < {"rat": 8.5e-3, "mouse": 5.5e-3}[name]


@pytest.mark.parametrize("name", ["human", "rat", "mouse"])
def test_conductivities_are_wagner_2004(name):
    head = sphere_head(name)
    for layer in head.layers:
        expected = WAGNER_2004.get(layer.tissue, WAGNER_2004["grey_matter"])  # rodent "brain" = GM value
        assert layer.conductivity == expected, f"{name} {layer.tissue}"


def test_every_value_in_the_toml_names_a_known_source(table):
    sources = table["sources"]
    assert all(isinstance(v, str) and len(v) > 20 for v in sources.values())
    for tissue, entry in table["conductivity"].items():
        assert entry["source"] in sources, f"conductivity {tissue}"
        assert entry["flag"] in FLAGS
    for name, head in table["heads"].items():
        cortex = head["cortex_radius_mm"]
        assert cortex["source"] in sources, f"{name} cortex radius"
        assert cortex["flag"] in FLAGS
        for layer in head["layers"]:
            where = f"{name} {layer['tissue']}"
            assert layer["source"] in sources, where
            assert layer["flag"] in FLAGS, where
            assert layer["tissue"] in table["conductivity"], where
            if layer["flag"] in {"A", "C"}:
                assert layer.get("note"), f"{where}: assumptions and computed values need a note"
    assert "volume-equivalent" in table["meta"]["radius_meaning"].lower()


def test_loaded_head_carries_its_provenance(table):
    head = sphere_head("rat")
    prov = head.provenance
    assert prov["cortex_radius"]["source"] == table["heads"]["rat"]["cortex_radius_mm"]["source"]
    assert len(prov["layers"]) == len(head.layers)
    assert set(prov["sources"]) >= {layer["radius_source"] for layer in prov["layers"]}
    with pytest.raises(TypeError):
        prov["new"] = 1  # read-only mapping


def test_head_is_frozen_and_replaceable():
    head = sphere_head("human")
    with pytest.raises(dataclasses.FrozenInstanceError):
        head.cortex_radius = 0.06
    with pytest.raises(ValueError, match="read-only"):
        head.center[0] = 1.0
    one = dataclasses.replace(head, name="homogeneous", layers=(("brain", head.scalp_radius, 0.33),))
    assert one.scalp_radius == head.scalp_radius and one.brain_radius == head.scalp_radius
    assert one.cortex_radius == head.cortex_radius


# ----------------------------------------------------------------------------- points
def test_contains_and_layer_index():
    head = sphere_head("human")
    pts = np.array([[0, 0, 0], [0, 0, 0.0695], [0, 0.0800, 0], [0, 0, 0.085], [0.1, 0, 0], [0, 0, 0.0739]])
    assert_array_equal(head.contains(pts), [True, True, True, True, False, True])
    idx = head.layer_index(pts)
    assert [head.tissues[i] if i >= 0 else None for i in idx] == [
        "white_matter", "grey_matter", "scalp", "scalp", None, "csf",  # a boundary point belongs inside
    ]
    shifted = dataclasses.replace(head, center=np.array([0.01, -0.02, 0.03]))
    assert_array_equal(shifted.contains(pts + shifted.center), head.contains(pts))


def test_scalp_point_and_normal():
    head = dataclasses.replace(sphere_head("rat"), center=np.array([0.001, 0.002, -0.003]))
    p, n = head.scalp_point([0, 0, 5.0])
    assert_allclose(p, head.center + [0, 0, head.scalp_radius], rtol=0, atol=1e-15)
    assert_allclose(n, [0, 0, 1])
    ps, ns = head.scalp_point([[1, 1, 0], [0, -2, 0]])
    assert ps.shape == ns.shape == (2, 3)
    assert_allclose(np.linalg.norm(ps - head.center, axis=1), head.scalp_radius, rtol=1e-14)
    assert_allclose(np.linalg.norm(ns, axis=1), 1.0, rtol=1e-15)


# ----------------------------------------------------------------------------- icosphere
@pytest.mark.parametrize("n_subdiv", range(6))
def test_icosphere_counts_and_euler_characteristic(n_subdiv):
    surf = icosphere(1.0, n_subdiv)
    assert surf.n_vertices == 10 * 4**n_subdiv + 2
    assert surf.n_faces == 20 * 4**n_subdiv
    assert len(surf.edges()) == 30 * 4**n_subdiv
    assert surf.euler_characteristic == 2


@settings(max_examples=25, deadline=None)
@given(
    radius=st.floats(1e-4, 0.2),
    center=st.lists(st.floats(-0.1, 0.1), min_size=3, max_size=3),
    n_subdiv=st.integers(0, 4),
)
def test_icosphere_vertices_lie_on_the_sphere(radius, center, n_subdiv):
    surf = icosphere(radius, n_subdiv, center)
    dist = np.linalg.norm(surf.vertices - np.asarray(center), axis=1)
    assert np.abs(dist - radius).max() < 1e-12  # metres
    assert_allclose(surf.normals, (surf.vertices - np.asarray(center)) / radius, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["human", "rat", "mouse"])
def test_cortex_surface_normals_point_outward(name):
    head = sphere_head(name)
    surf = head.cortex_surface(4)
    radial = (surf.vertices - head.center) / head.cortex_radius
    assert_allclose(np.einsum("ij,ij->i", surf.normals, radial), 1.0, rtol=1e-12)
    centroid = surf.vertices[surf.faces].mean(axis=1) - head.center
    assert np.all(np.einsum("ij,ij->i", surf.face_normals(), centroid) > 0), "faces must be counter-clockwise from outside"
    surf.validate()
    top = np.flatnonzero(np.all(np.isclose(surf.vertices, head.center + [0, 0, head.cortex_radius], atol=1e-15), axis=1))
    assert len(top) == 1, "one vertex sits at the top of the head, under the demo coil"


def test_icosphere_area_converges_at_second_order():
    # The inscribed polyhedron's area error is O(h^2); each subdivision halves h, so the error
    # falls by 4 per level (ratio within 2.5 % of 4 from level 2 on).
    radius = 0.07
    exact = 4 * math.pi * radius**2
    errors = np.array([exact - icosphere(radius, n).area for n in range(7)])
    assert np.all(errors > 0), "an inscribed polyhedron has less area than its sphere"
    ratios = errors[2:-1] / errors[3:]
    assert_allclose(ratios, 4.0, rtol=0.025, err_msg=f"error ratios {ratios}")
    assert errors[-1] / exact < 1e-4
    surf = icosphere(radius, 5)
    assert_allclose(surf.vertex_areas().sum(), surf.area, rtol=1e-13)


def test_cortex_cap_keeps_the_top():
    head = sphere_head("human")
    whole = head.cortex_surface(4)
    caps = [head.cortex_cap(math.radians(a), 4) for a in (10, 30, 60)]
    sizes = [c.n_vertices for c in caps]
    assert sizes == sorted(sizes) and sizes[-1] < whole.n_vertices
    for cap, angle in zip(caps, (10, 30, 60)):
        assert np.all(cap.normals[:, 2] >= math.cos(math.radians(angle)) - 1e-12)
        cap.validate()
        # the cap's area approaches the spherical cap area 2 pi R^2 (1 - cos a) as the mesh refines
        exact = 2 * math.pi * head.cortex_radius**2 * (1 - math.cos(math.radians(angle)))
        assert cap.area < exact
    assert head.cortex_cap(math.pi, 3).n_vertices == head.cortex_surface(3).n_vertices
    side = head.cortex_cap(math.radians(20), 3, direction=(1, 0, 0))
    assert np.all(side.normals[:, 0] >= math.cos(math.radians(20)) - 1e-12)


def test_submesh_renumbers_faces():
    surf = icosphere(1.0, 2)
    mask = surf.vertices[:, 2] > 0
    sub = surf.submesh(mask)
    assert sub.n_vertices == int(mask.sum())
    assert_allclose(sub.vertices[sub.faces], surf.vertices[surf.faces[mask[surf.faces].all(axis=1)]])


# ----------------------------------------------------------------------------- errors
def test_unknown_head_lists_known_names():
    with pytest.raises(ValueError, match=r"sphere head 'dog' is unknown; known sphere heads: human, mouse, rat"):
        sphere_head("dog")
    with pytest.raises(TypeError, match="name must be a string"):
        sphere_head(3)


def test_bad_layers_are_refused():
    head = sphere_head("human")
    with pytest.raises(ValueError, match="strictly decreasing radii"):
        dataclasses.replace(head, layers=(("scalp", 0.08, 0.465), ("skull", 0.085, 0.01), ("brain", 0.07, 0.3)))
    with pytest.raises(ValueError, match="must include a brain tissue"):
        dataclasses.replace(head, layers=(("scalp", 0.085, 0.465), ("skull", 0.08, 0.01)))
    with pytest.raises(ValueError, match=r"layers\[1\] conductivity must be finite and > 0"):
        dataclasses.replace(head, layers=(("scalp", 0.085, 0.465), ("brain", 0.08, -1.0)))
    with pytest.raises(ValueError, match=r"layers\[0\] must be \(tissue, outer radius m, conductivity S/m\)"):
        dataclasses.replace(head, layers=(("scalp", 0.085),))
    with pytest.raises(ValueError, match="at least one"):
        dataclasses.replace(head, layers=())


def test_bad_radii_and_center_are_refused():
    head = sphere_head("human")
    with pytest.raises(ValueError, match=r"cortex_radius must be in \(0, 70 mm\].*got 80 mm"):
        dataclasses.replace(head, cortex_radius=0.08)
    with pytest.raises(ValueError, match=r"center must have shape \(3,\); got shape \(2,\)"):
        dataclasses.replace(head, center=[0.0, 0.0])
    with pytest.raises(ValueError, match="points must be an"):
        head.contains([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="direction must be non-zero"):
        head.scalp_point([0, 0, 0])


def test_bad_surface_arguments_are_refused():
    with pytest.raises(ValueError, match=r"n_subdiv must be in \[0, 8\]"):
        icosphere(1.0, 9)
    with pytest.raises(TypeError, match="n_subdiv must be an integer"):
        icosphere(1.0, 2.5)
    with pytest.raises(ValueError, match="radius must be a finite positive"):
        icosphere(-1.0, 1)
    head = sphere_head("rat")
    with pytest.raises(ValueError, match=r"half_angle must be in \(0, pi\] radians"):
        head.cortex_cap(0.0)
    with pytest.raises(ValueError, match=r"radius must be in \(0, 9.6 mm\]"):
        head.shell_surface(0.02)
    surf = icosphere(1.0, 0)
    with pytest.raises(ValueError, match=r"faces must index vertices 0..11"):
        Surface(surf.vertices, surf.faces + 1, surf.normals)
    with pytest.raises(ValueError, match="normals must be unit vectors"):
        Surface(surf.vertices, surf.faces, 2 * surf.normals)
    with pytest.raises(ValueError, match=r"mask must be a boolean array of shape \(12,\)"):
        surf.submesh(np.ones(11, dtype=bool))
    flipped = Surface(surf.vertices, surf.faces[:, ::-1], surf.normals)
    with pytest.raises(ValueError, match="20 triangle\\(s\\) are oriented against"):
        flipped.validate()


def test_package_exports():
    assert set(meshes.__all__) >= {"SphereHead", "Surface", "sphere_head", "list_sphere_heads", "icosphere"}
    for name in meshes.__all__:
        assert hasattr(meshes, name)
