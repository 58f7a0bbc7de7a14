"""Coil poses: the matrix convention, its validation, and fields of placed coils."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from coils import Coil, check_pose, coil_pose, spiral_coil
from tests._coil_field_ref import flux_density, vector_potential

finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
vec3 = st.tuples(finite, finite, finite).map(np.array)


@settings(max_examples=200, deadline=None)
@given(center=vec3, normal=vec3, handle=vec3, distance=st.floats(0.0, 0.05))
def test_pose_maps_origin_normal_and_handle(center, normal, handle, distance):
    n_len = np.linalg.norm(normal)
    assume(n_len > 1e-3)
    n = normal / n_len
    h_t = handle - np.dot(handle, n) * n
    assume(np.linalg.norm(h_t) > 1e-3 * max(np.linalg.norm(handle), 1e-3))
    pose = coil_pose(center, normal, handle, distance)
    rot, t = pose[:3, :3], pose[:3, 3]
    assert_allclose(pose @ [0, 0, 0, 1], np.r_[center + distance * n, 1.0], atol=1e-15)
    assert_allclose(rot @ [0, 0, 1], n, atol=1e-12)
    assert_allclose(rot @ [0, 1, 0], h_t / np.linalg.norm(h_t), atol=1e-12)
    assert_allclose(rot[:, 0], np.cross(rot[:, 1], rot[:, 2]), atol=1e-12)
    assert_allclose(t, center + distance * n, atol=1e-15)
    check_pose(pose)  # orthonormal, det +1, last row [0, 0, 0, 1]


def test_pose_is_independent_of_normal_length_and_handle_tilt():
    a = coil_pose([0.01, 0.02, 0.09], [0, 0, 1], [0, 1, 0], 0.004)
    b = coil_pose([0.01, 0.02, 0.09], [0, 0, 7.5], [0, 3, -2], 0.004)
    assert_allclose(a, b, atol=1e-15)
    # coil on top of a head, handle anterior: coil x is the head's +x (right-handed: x = y × z)
    assert_allclose(a[:3, :3], np.eye(3), atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(center=vec3, normal=vec3, handle=vec3)
def test_placed_coil_fields_rotate_with_the_pose(center, normal, handle):
    assume(np.linalg.norm(normal) > 1e-2)
    n = normal / np.linalg.norm(normal)
    assume(np.linalg.norm(handle - np.dot(handle, n) * n) > 1e-2)
    pose = coil_pose(center, normal, handle, 0.003)
    coil = spiral_coil("c", 0.02, 0.05, 3, conductor_height=4e-3, segments_per_turn=32)
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.04, 0.04, (20, 3)) - [0, 0, 0.05]  # below the coil, coil frame
    placed = coil.placed(pose)
    rot, t = pose[:3, :3], pose[:3, 3]
    head_pts = pts @ rot.T + t
    assert_allclose(flux_density(placed, head_pts), flux_density(coil, pts) @ rot.T, rtol=1e-9, atol=1e-20)
    assert_allclose(vector_potential(placed, head_pts), vector_potential(coil, pts) @ rot.T, rtol=1e-9, atol=1e-20)
    assert_allclose(np.asarray(placed.metadata["pose"]), pose, atol=1e-15)


def test_placed_dipoles_rotate_moment_and_position():
    coil = Coil("d", dipole_position=[[0.0, 0.0, 0.01]], dipole_moment=[[0.0, 0.0, 1e-3]])
    pose = coil_pose([0.0, 0.0, 0.08], [1, 0, 0], [0, 0, 1], 0.002)  # normal along +x
    placed = coil.placed(pose)
    assert_allclose(placed.dipole_position, [[0.012, 0.0, 0.08]], atol=1e-15)  # gap 2 mm + 10 mm
    assert_allclose(placed.dipole_moment, [[1e-3, 0.0, 0.0]], atol=1e-18)
    twice = placed.placed(pose)
    assert_allclose(np.asarray(twice.metadata["pose"]), pose @ pose, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(normal=[0, 0, 0]), "normal must be a non-zero"),
        (dict(handle=[0, 0, 0]), "handle must be a non-zero"),
        (dict(handle=[0, 0, -2]), "parallel to normal"),
        (dict(center=[0, np.nan, 0]), "center must be finite"),
        (dict(center=[0, 0]), r"center must have shape \(3,\)"),
        (dict(normal=[[0, 0, 1]]), r"normal must have shape \(3,\)"),
        (dict(distance=-0.001), "distance must be a finite coil-scalp gap >= 0"),
        (dict(distance=np.inf), "distance must be a finite"),
        (dict(distance="4 mm"), "distance must be a number of metres"),
    ],
)
def test_coil_pose_refuses_bad_input(kwargs, match):
    args = dict(center=[0, 0, 0.09], normal=[0, 0, 1], handle=[0, 1, 0], distance=0.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        coil_pose(**args)


def _bad(fn):
    pose = np.eye(4)
    fn(pose)
    return pose


@pytest.mark.parametrize(
    "pose, match",
    [
        (np.eye(3), r"4x4 homogeneous matrix; got shape \(3, 3\)"),
        (_bad(lambda p: p.__setitem__((0, 3), np.nan)), "must be finite"),
        (_bad(lambda p: p.__setitem__((3, 0), 0.5)), r"last row \[0, 0, 0, 1\]"),
        (_bad(lambda p: p.__setitem__((0, 0), 2.0)), "orthonormal"),
        (np.diag([1.0, 1.0, -1.0, 1.0]), r"det \+1"),
        ("identity", "4x4 array of numbers"),
    ],
)
def test_check_pose_refuses(pose, match):
    with pytest.raises(ValueError, match=match):
        check_pose(pose, "pose")


def test_check_pose_returns_float_copy():
    pose = np.eye(4, dtype=int)
    out = check_pose(pose)
    assert out.dtype == np.float64 and out is not pose
    with pytest.raises(ValueError, match="my_pose"):
        check_pose(np.zeros((4, 4)), "my_pose")
