"""The built-in human voxel head (MNI frame) and the voxel → tetrahedra machinery behind it."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from meshes import builtin_head, list_builtin_heads
from meshes._mesh import MeshHead, check_closed, surface_from_faces
from meshes._surface import icosphere
from meshes._voxel_head import (
    KUHN_TETS,
    _fix_corner_contacts,
    _fix_edge_contacts,
    clean_labels,
    resample_labels,
    separate_brain_from_skull,
    voxel_tet_mesh,
    voxelize_surface,
)

BRAIN = (1, 2)


def _volumes(nodes, tets):
    x = nodes[tets]
    return np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0]) / 6


def _face_counts(tets):
    f = np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]])
    f = np.sort(f, axis=1)
    _, counts = np.unique(f, axis=0, return_counts=True)
    return counts


@pytest.fixture(scope="module")
def head() -> MeshHead:
    return builtin_head("human")


def _tags_at(head, points_mm):
    """Tag at each point (mm, MNI), 0 outside the mesh."""
    t = head.find_tets(np.asarray(points_mm, dtype=float) * 1e-3)
    return np.where(t >= 0, head.tags[np.maximum(t, 0)], 0)


# --------------------------------------------------------------------------- Kuhn split, voxelisation
def test_kuhn_split_of_a_2x2x2_block_is_exact_and_conforming():
    labels = np.array([[[1, 2], [3, 4]], [[5, 1], [2, 3]]], dtype=np.uint8)
    h = 0.5e-3
    nodes, tets, tags = voxel_tet_mesh(labels, (1e-3, -2e-3, 3e-3), h)
    assert len(nodes) == 27 and tets.shape == (48, 4)
    vol = _volumes(nodes, tets)
    assert_allclose(vol, h**3 / 6, rtol=1e-12)  # every tet positive, a sixth of its voxel
    assert_allclose(vol.sum(), 8 * h**3, rtol=1e-12)
    counts = _face_counts(tets)
    # conforming: interior triangles shared by two tets, the 6 sides × 4 squares × 2 outer ones once
    assert set(counts) == {1, 2} and (counts == 1).sum() == 48
    for t in range(1, 6):  # tags follow their voxel: 6 tets per voxel
        assert (tags == t).sum() == 6 * (labels == t).sum()
    # nodes lie on the voxel corners: origin is the centre of voxel [0, 0, 0]
    assert_allclose(nodes.min(axis=0), np.array([1e-3, -2e-3, 3e-3]) - h / 2, atol=1e-15)
    # the split is the same in every voxel: the 6 tets of one voxel fill the unit cube
    n1, t1, _ = voxel_tet_mesh(np.ones((1, 1, 1), dtype=np.int8), (0.5, 0.5, 0.5), 1.0)
    assert_allclose(_volumes(n1, t1), 1 / 6)
    assert len(KUHN_TETS) == 6 and len(n1) == 8


def test_voxelized_sphere_has_the_sphere_volume():
    sphere = icosphere(40.0, 5)  # mm
    inside = voxelize_surface(sphere.vertices, sphere.faces, (-50.0, -50.0, -50.0), 1.0, (101, 101, 101))
    assert abs(inside.sum() / (4 / 3 * np.pi * 40.0**3) - 1) < 2e-3
    assert inside[50, 50, 50] and not inside[50, 50, 91] and inside[50, 50, 89]


def test_clean_labels_removes_islands_and_edge_and_corner_contacts():
    lab = np.zeros((8, 8, 8), dtype=np.uint8)
    lab[2:4, 2:4, 2:4] = 2
    lab[4, 4, 2] = 5  # meets the block only along an edge …
    for v in ((4, 4, 1), (3, 4, 1), (3, 3, 1)):  # … and through a path of faces
        lab[v] = 5
    lab[4, 4, 4] = 4  # meets the block only at a corner …
    for v in ((5, 4, 4), (5, 3, 4), (5, 2, 4), (5, 2, 3), (5, 2, 2), (4, 2, 2)):  # … and through faces
        lab[v] = 4
    lab[7, 0, 7] = 1  # island
    assert _fix_edge_contacts(lab.copy()) > 0 and _fix_corner_contacts(lab.copy()) > 0
    out = clean_labels(lab)
    assert out[7, 0, 7] == 0
    kept = lab > 0
    kept[7, 0, 7] = False
    assert (out[kept] == lab[kept]).all()  # only empty voxels were filled
    assert _fix_edge_contacts(out.copy()) == 0 and _fix_corner_contacts(out.copy()) == 0
    nodes, tets, tags = voxel_tet_mesh(out, (0, 0, 0), 1e-3)
    m = MeshHead("t", nodes, tets, tags)
    surface = surface_from_faces(m.nodes, m.boundary_faces())
    check_closed(surface)
    assert surface.euler_characteristic == 2
    sep, n = separate_brain_from_skull(out)
    assert n > 0
    assert (np.isin(sep, BRAIN) == np.isin(out, BRAIN)).all() and ((sep > 0) == (out > 0)).all()
    skull = np.pad(np.isin(sep, (4, 5)), 1)
    for i, j, k in np.argwhere(np.isin(sep, BRAIN)) + 1:  # no face shared with bone or scalp
        assert not (skull[i - 1, j, k] or skull[i + 1, j, k] or skull[i, j - 1, k] or skull[i, j + 1, k]
                    or skull[i, j, k - 1] or skull[i, j, k + 1])


def test_resample_keeps_the_box_and_picks_nearest_labels():
    lab = np.arange(6 * 6 * 6, dtype=np.int32).reshape(6, 6, 6)
    new, origin = resample_labels(lab, (0.0, 0.0, 0.0), 1.0, 2.0)
    assert new.shape == (3, 3, 3)
    assert_allclose(origin, 0.5)  # lower corners coincide at −0.5
    assert new[1, 1, 1] == lab[3, 3, 3]


# --------------------------------------------------------------------------- the human head
def test_human_head_loads_in_mni_frame_with_sane_counts(head):
    assert "human" in list_builtin_heads()
    assert head.frame == "MNI"
    assert set(np.unique(head.tags)) <= {1, 2, 3, 4, 5}
    assert 0.8e6 <= head.n_tets <= 1.3e6
    assert head.tet_volumes.min() > 0
    info = head.validate()
    assert info["unused_nodes"] == 0 and info["duplicate_nodes"] == 0
    check_closed(head.scalp, "human scalp")
    assert head.scalp.euler_characteristic == 2  # one closed surface of genus 0
    assert head.provenance["license"].endswith("HUMAN_TEMPLATE_LICENSE.txt")
    assert head.provenance["n_tets"] == head.n_tets


def test_human_head_tissue_volumes_are_plausible(head):
    vol = head.tet_volumes
    brain_l = vol[np.isin(head.tags, BRAIN)].sum() * 1e3
    head_l = vol.sum() * 1e3
    assert 1.1 <= brain_l <= 1.9
    assert 3.0 <= head_l <= 6.0
    for tag in (3, 4, 5):
        assert 0.1 <= vol[head.tags == tag].sum() * 1e3 <= 1.5


def test_landmarks_fall_in_the_right_tissues(head):
    tags = _tags_at(head, [
        (-38, -22, 58),  # left M1 hand knob
        (38, -22, 58),  # right M1 hand knob
        (0, -20, 20),  # deep, midline
        (0, -20, 115),  # above the vertex
        (0, 120, 0),  # in front of the face
        (-100, -20, 20),  # left of the head
    ])
    assert tags[0] in (1, 2, 3) and tags[1] in (1, 2, 3) and tags[2] in (1, 2, 3)
    assert (tags[3:] == 0).all()


def test_skin_near_the_vertex_is_5_to_25_mm_above_the_brain(head):
    # 15 mm left of the midline (the midline itself is the CSF-filled interhemispheric fissure)
    z = np.arange(0.0, 130.0, 0.25)
    tags = _tags_at(head, np.column_stack([np.full_like(z, -15.0), np.full_like(z, -20.0), z]))
    brain_top = z[np.isin(tags, BRAIN)].max()
    skin_top = z[tags > 0].max()
    assert tags[z > skin_top].max(initial=0) == 0 and tags[z == skin_top][0] == 5
    assert 5.0 <= skin_top - brain_top <= 25.0


def test_skull_lies_between_brain_and_scalp_in_all_upper_directions(head):
    vol = head.tet_volumes
    brain = np.isin(head.tags, BRAIN)
    centre_mm = (head.tet_centroids[brain] * vol[brain, None]).sum(axis=0) / vol[brain].sum() * 1e3
    # 50 near-uniform directions with z > 0 (Fibonacci spiral on the upper hemisphere)
    k = np.arange(50)
    zc = 1.0 - (k + 0.5) / 50
    phi = k * np.pi * (3 - np.sqrt(5))
    dirs = np.column_stack([np.sqrt(1 - zc**2) * np.cos(phi), np.sqrt(1 - zc**2) * np.sin(phi), zc])
    r = np.arange(0.0, 150.0, 0.5)
    pts = centre_mm + dirs[:, None, :] * r[None, :, None]
    tags = _tags_at(head, pts.reshape(-1, 3)).reshape(len(dirs), len(r))
    for d, row in zip(dirs, tags):
        last_brain = np.flatnonzero(np.isin(row, BRAIN)).max()
        scalp_after = np.flatnonzero(row[last_brain:] == 5)
        assert len(scalp_after), f"no scalp outside the brain towards {d}"
        between = row[last_brain:last_brain + scalp_after[0]]
        assert 4 in between, f"no bone between brain and scalp towards {d}"
        assert row[-1] == 0


def test_brain_shares_no_face_with_bone_or_scalp(head):
    faces, keys, owner, _ = head._face_table()
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    pair = np.flatnonzero(k[1:] == k[:-1])  # interior faces: two tets each
    t0, t1 = head.tags[owner[order[pair]]], head.tags[owner[order[pair + 1]]]
    brain0, brain1 = np.isin(t0, BRAIN), np.isin(t1, BRAIN)
    skull0, skull1 = np.isin(t0, (4, 5)), np.isin(t1, (4, 5))
    assert not ((brain0 & skull1) | (brain1 & skull0)).any()
    assert ((brain0 & (t1 == 3)) | (brain1 & (t0 == 3))).sum() > 10_000  # the brain is wrapped in CSF


def test_mid_cortical_surface(head):
    c = head.cortex
    assert c.n_vertices == 20484 and c.n_faces == 40960
    assert_allclose(np.linalg.norm(c.normals, axis=1), 1.0, atol=1e-12)
    half = c.n_vertices // 2
    for sel in (slice(0, half), slice(half, None)):
        v, n = c.vertices[sel], c.normals[sel]
        assert ((n * (v - v.mean(axis=0))).sum(axis=1) > 0).mean() > 0.7  # mostly outward
    # each hemisphere is closed and oriented outward: positive enclosed volume
    tri = c.vertices[c.faces]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6
    left = c.faces[:, 0] < half
    for part in (left, ~left):
        assert 0.3e-3 < signed[part].sum() < 1.0e-3  # m³ per hemisphere
    # MNI extent of a brain: x ±75 mm, y −110…75 mm, z −50…85 mm
    lo, hi = c.vertices.min(axis=0) * 1e3, c.vertices.max(axis=0) * 1e3
    assert (lo > [-80, -115, -55]).all() and (hi < [80, 80, 90]).all()
    assert lo[0] < -60 and hi[0] > 60
    # it lies inside the head
    assert head.contains(c.vertices).mean() > 0.99
