"""Coil poses: where a coil sits on a head, as a 4×4 rigid transform (coil frame → head frame).

Convention (one for the whole project): the coil frame is described in :mod:`coils._model`.
A pose places it on the scalp so that

* the coil's +z axis is the outward scalp normal (the coil's bottom face looks at the head),
* the coil's +y axis is the handle direction, projected onto the plane normal to the normal,
* the coil's +x axis completes a right-handed frame: ``x = y × z``,
* the coil origin (centre of the bottom casing surface) sits at ``center + distance · n̂``.

Columns of the matrix are therefore ``[x, y, z, translation]`` in head coordinates (metres).
"""

from __future__ import annotations

import numpy as np

__all__ = ["coil_pose", "check_pose"]

_ORTHO_TOL = 1e-9


def _vector3(value, name: str, unit: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers ({unit}); got {value!r}") from None
    if arr.shape != (3,):
        raise ValueError(f"{name} must have shape (3,) ({unit}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    return arr


def coil_pose(center, normal, handle, distance: float = 0.0) -> np.ndarray:
    """Pose matrix that puts a coil on the scalp.

    Parameters
    ----------
    center : (3,) float array, metres
        Point on the scalp under the coil centre (head frame).
    normal : (3,) float array, any length
        Outward scalp normal at ``center``; only its direction is used.
    handle : (3,) float array, any length
        Direction the handle points to; its component along ``normal`` is removed.
    distance : float, metres, >= 0
        Gap between the scalp and the coil's bottom casing surface along the normal
        (hair, cap, air).

    Returns
    -------
    (4, 4) float array
        ``[[x, y, z, t], [0, 0, 0, 1]]`` with unit axis columns and ``t = center + distance · n̂``.
    """
    center = _vector3(center, "center", "metres")
    normal = _vector3(normal, "normal", "a direction")
    handle = _vector3(handle, "handle", "a direction")
    try:
        distance = float(distance)
    except (TypeError, ValueError):
        raise ValueError(f"distance must be a number of metres; got {distance!r}") from None
    if not np.isfinite(distance) or distance < 0:
        raise ValueError(f"distance must be a finite coil-scalp gap >= 0 in metres; got {distance!r}")
    n_len = float(np.linalg.norm(normal))
    if n_len == 0.0:
        raise ValueError("normal must be a non-zero vector; got (0, 0, 0)")
    z = normal / n_len
    h_len = float(np.linalg.norm(handle))
    if h_len == 0.0:
        raise ValueError("handle must be a non-zero direction; got (0, 0, 0)")
    y = handle - np.dot(handle, z) * z
    y_len = float(np.linalg.norm(y))
    if y_len <= 1e-9 * h_len:
        raise ValueError(
            f"handle {handle.tolist()} is parallel to normal {normal.tolist()}; the handle must have "
            "a component along the scalp surface"
        )
    y = y / y_len
    x = np.cross(y, z)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, y, z
    pose[:3, 3] = center + distance * z
    return pose


#: the largest plausible distance (m) of a coil pose from its head frame's origin
MAX_POSE_SHIFT_M = 2.0


def check_pose(pose, name: str = "pose") -> np.ndarray:
    """Validate a rigid 4×4 transform and return it as a float64 array.

    Parameters
    ----------
    pose : (4, 4) float array
        ``[[R, t], [0, 0, 0, 1]]``, R orthonormal with determinant +1 (within 1e-9), t in metres.
    name : str
        Parameter name used in error messages.
    """
    try:
        arr = np.array(pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 4x4 array of numbers; got {type(pose).__name__}") from None
    if arr.shape != (4, 4):
        raise ValueError(f"{name} must be a 4x4 homogeneous matrix; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int((~np.isfinite(arr)).sum())} non-finite entries")
    if np.abs(arr[3] - [0.0, 0.0, 0.0, 1.0]).max() > _ORTHO_TOL:
        raise ValueError(f"{name} must have last row [0, 0, 0, 1]; got {arr[3].tolist()}")
    rot = arr[:3, :3]
    err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    if err > _ORTHO_TOL:
        raise ValueError(
            f"{name}[:3, :3] must be a rotation (orthonormal columns); R^T R deviates from I by {err:.3g}"
        )
    det = float(np.linalg.det(rot))
    if abs(det - 1.0) > _ORTHO_TOL:
        raise ValueError(f"{name}[:3, :3] must be a proper rotation (det +1); got det {det:.6g} (a reflection?)")
    shift = float(np.linalg.norm(arr[:3, 3]))
    if shift > MAX_POSE_SHIFT_M:
        raise ValueError(f"{name} translation is {shift:.4g} m from the origin, implausible for a coil on a head "
                         f"(allowed: up to {MAX_POSE_SHIFT_M:g} m); poses are in metres — is it in millimetres? "
                         f"(then divide the translation by 1000: {shift / 1000:.4g} m)")
    return arr
