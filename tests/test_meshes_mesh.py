"""MeshHead: construction checks, measures, validate(), boundary and point location."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from meshes import (
    DEFAULT_CONDUCTIVITY,
    SIMNIBS_TISSUES,
    WAGNER_2004,
    MeshHead,
    Surface,
    icosphere,
    surface_from_faces,
)


def cube_grid(n=1, size=0.01):
    """A cube of side ``size`` (m) cut into n³ small cubes of 6 positively oriented tets each."""
    g = np.linspace(0.0, size, n + 1)
    nodes = np.array([[x, y, z] for z in g for y in g for x in g])

    def idx(i, j, k):
        return i + (n + 1) * (j + (n + 1) * k)

    tets = []
    for i, j, k in itertools.product(range(n), repeat=3):
        for perm in itertools.permutations(range(3)):  # Kuhn split along the main diagonal
            p = [i, j, k]
            path = [idx(*p)]
            for ax in perm:
                p[ax] += 1
                path.append(idx(*p))
            tets.append(path)
    tets = np.array(tets)
    p = nodes[tets]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    tets[vol < 0] = tets[vol < 0][:, [0, 2, 1, 3]]
    return nodes, tets


@pytest.fixture
def cube():
    nodes, tets = cube_grid()
    return MeshHead("cube", nodes, tets, np.array([2, 2, 2, 5, 5, 5]))


def test_constants_follow_wagner_2004_and_simnibs():
    assert SIMNIBS_TISSUES[2] == "grey_matter" and SIMNIBS_TISSUES[5] == "scalp"
    assert WAGNER_2004 == {1: 0.126, 2: 0.275, 3: 1.654, 4: 0.010, 5: 0.465, 6: 0.5, 7: 0.008,
                           8: 0.025, 9: 0.6, 10: 0.16}
    assert DEFAULT_CONDUCTIVITY[11] == WAGNER_2004[2]  # rodent brain takes the GM value
    assert 1.5 <= DEFAULT_CONDUCTIVITY[12] <= 1.8  # culture medium


def test_measures(cube):
    assert_allclose(cube.tet_volumes, np.full(6, 1e-6 / 6), rtol=1e-12, err_msg="Kuhn tets are equal")
    assert_allclose(cube.sigma_per_tet, [0.275] * 3 + [0.465] * 3)
    assert cube.tissues == {2: "grey_matter", 5: "scalp"}
    assert_allclose(cube.tet_centroids.mean(axis=0), [0.005] * 3, atol=1e-15)
    report = cube.validate()
    assert report["n_tets"] == 6 and report["unused_nodes"] == 0 and report["duplicate_nodes"] == 0
    assert report["boundary_faces"] == 12
    assert_allclose(report["volume"], 1e-6, rtol=1e-12)


def test_boundary_faces_are_outward(cube):
    bf = cube.boundary_faces()
    assert bf.shape == (12, 3)
    tri = cube.nodes[bf]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = np.einsum("ij,ij->i", normal, tri.mean(axis=1) - 0.005)
    assert (outward > 0).all()
    surf = cube.boundary_surface()
    assert surf.euler_characteristic == 2
    assert_allclose(surf.area, 6e-4, rtol=1e-12)


def test_arrays_are_frozen_copies():
    nodes, tets = cube_grid()
    head = MeshHead("cube", nodes, tets, np.full(6, 2))
    nodes[0, 0] = 1.0  # the caller's arrays stay writable and the head is unaffected
    assert head.nodes[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        head.nodes[0, 0] = 1.0


def test_unknown_tag_names_it_and_the_known_ones():
    nodes, tets = cube_grid()
    with pytest.raises(ValueError, match=r"tag\(s\) \[42\] have no conductivity; known tags: \[1, 2"):
        MeshHead("cube", nodes, tets, np.array([2, 2, 2, 5, 5, 42]))
    head = MeshHead("cube", nodes, tets, np.array([2, 2, 2, 5, 5, 42]), conductivity={2: 0.3, 5: 0.4, 42: 1.0})
    assert head.tissues[42] == "tag_42"


@pytest.mark.parametrize(
    "change, match",
    [
        ({"nodes": np.zeros((8, 2))}, r"nodes must be an \(n, 3\)"),
        ({"tets": np.zeros((6, 3), int)}, r"tets must be an \(m, 4\)"),
        ({"tets": np.full((6, 4), 8)}, "tets must index nodes 0..7"),
        ({"tags": np.full(5, 2)}, r"tags must have shape \(6,\)"),
        ({"frame": "MRI"}, "frame must be one of"),
        ({"conductivity": {2: -1.0}}, r"conductivity\[2\] must be finite and > 0"),
        ({"anisotropy": np.zeros((6, 3))}, r"anisotropy must have shape \(6, 3, 3\)"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_cheap_checks(change, match):
    nodes, tets = cube_grid()
    kwargs = {"name": "cube", "nodes": nodes, "tets": tets, "tags": np.full(6, 2), **change}
    with pytest.raises(ValueError, match=match):
        MeshHead(**kwargs)


def test_nan_nodes_rejected():
    nodes, tets = cube_grid()
    nodes[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"rows \[3\]"):
        MeshHead("cube", nodes, tets, np.full(6, 2))


def test_inverted_tet_is_reported_with_index_and_centroid_in_mm():
    nodes, tets = cube_grid()
    tets[3] = tets[3][[1, 0, 2, 3]]
    head = MeshHead("cube", nodes, tets, np.full(6, 2))
    with pytest.raises(ValueError, match=r"1 inverted or degenerate.*1 inverted.*tet 3 at \(\d.*\) mm"):
        head.validate()


def test_flat_tet_is_degenerate():
    nodes, tets = cube_grid()
    nodes = np.vstack([nodes, [0.002, 0.002, 0.0]])  # a point on the bottom face
    tets = np.vstack([tets, [0, 1, 2, 8]])
    with pytest.raises(ValueError, match=r"tet 6 at"):
        MeshHead("cube", nodes, tets, np.full(7, 2)).validate()


def test_face_shared_by_three_tets_is_an_error():
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.3, 0.3, 1], [0.3, 0.3, -1], [1, 1, 1.0]]) * 0.01
    tets = np.array([[0, 1, 2, 3], [0, 2, 1, 4], [0, 1, 2, 5]])
    with pytest.raises(ValueError, match="shared by more than two tetrahedra"):
        MeshHead("fan", nodes, tets, np.full(3, 2)).validate()


def test_open_scalp_is_reported_with_location(cube):
    closed = cube.boundary_surface()
    open_ = surface_from_faces(closed.vertices, closed.faces[:-1])
    head = MeshHead("cube", cube.nodes, cube.tets, cube.tags, scalp=open_)
    with pytest.raises(ValueError, match=r"scalp of mesh 'cube' must be closed.*3 boundary edge\(s\).*mm"):
        head.validate()
    MeshHead("cube", cube.nodes, cube.tets, cube.tags, scalp=closed).validate()


def test_unused_and_duplicate_nodes_are_counted():
    nodes, tets = cube_grid()
    nodes = np.vstack([nodes, nodes[:2], [[1.0, 1.0, 1.0]]])
    report = MeshHead("cube", nodes, tets, np.full(6, 2)).validate()
    assert report["unused_nodes"] == 3
    assert report["duplicate_nodes"] == 2


def test_anisotropy_overrides_where_given(cube):
    aniso = np.full((6, 3, 3), np.nan)
    aniso[1] = np.diag([0.1, 0.2, 0.3])
    head = MeshHead("cube", cube.nodes, cube.tets, cube.tags, anisotropy=aniso)
    s = head.sigma_tensors()
    assert_allclose(s[1], np.diag([0.1, 0.2, 0.3]))
    assert_allclose(s[0], 0.275 * np.eye(3))
    bad = aniso.copy()
    bad[2] = [[1, 2, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="symmetric"):
        MeshHead("cube", cube.nodes, cube.tets, cube.tags, anisotropy=bad)


def test_contains_matches_the_box():
    nodes, tets = cube_grid(n=4, size=0.02)
    head = MeshHead("cube", nodes, tets, np.full(len(tets), 11))
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.005, 0.025, (2000, 3))
    inside_box = ((pts >= 0) & (pts <= 0.02)).all(axis=1)
    assert_array_equal(head.contains(pts), inside_box)
    found = head.find_tets(pts)
    # the tet found really holds the point: barycentric coordinates in [0, 1]
    for p, t in zip(pts[inside_box][:200], found[inside_box][:200]):
        a, b, c, d = head.nodes[head.tets[t]]
        lam = np.linalg.solve(np.column_stack([b - a, c - a, d - a]), p - a)
        assert lam.min() >= -1e-9 and lam.sum() <= 1 + 1e-9
    assert_array_equal(head.find_tets(pts, k=1), found)


def test_surface_from_faces_keeps_used_vertices_and_normals():
    s = icosphere(0.07, 2)
    rebuilt = surface_from_faces(np.vstack([s.vertices, [[1.0, 1.0, 1.0]]]), s.faces)
    assert isinstance(rebuilt, Surface) and rebuilt.n_vertices == s.n_vertices
    assert (np.einsum("ij,ij->i", rebuilt.normals, s.normals) > 0.99).all()
