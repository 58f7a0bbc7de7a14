"""Saving and reading a targeting result's coil pose: a JSON record and a neuronavigation matrix.

Two files describe where the coil goes:

* ``*.json`` (schema ``efield.pose/1``): everything about the result — the 4×4 pose in metres and
  in millimetres, the target, dI/dt, the field at the target, the stimulator output for a goal
  field, focality, the E-versus-handle-angle curve, assumptions and timing.  NaN is written as
  ``null``; all numbers are plain JSON numbers.
* ``*.txt`` matrix: four lines of four numbers, the pose with its translation in millimetres
  (rotation unitless), after ``#`` comment lines giving frame, units, convention, coil and target —
  the form neuronavigation systems import.

Convention (the project's, see :mod:`coils._pose`): the matrix maps the coil frame to the head
frame, ``p_head = M @ p_coil``; its columns are the coil x axis, the y axis (handle direction), the
z axis (coil normal, pointing away from the head) and the coil origin (centre of the casing bottom).

Both writers are atomic (a temporary file next to the target, renamed onto it) and refuse to
replace an existing file unless ``force`` is given (:class:`efield._common.io.OutputExistsError`).
Both readers check the file and that the rotation is orthonormal with determinant +1.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._common.io import atomic_target
from .._common.validation import as_vector3

__all__ = ["SCHEMA", "pose_record", "write_pose_json", "write_pose_matrix", "read_pose_json", "read_pose_matrix",
           "matrix_text_rows"]

#: schema name and version written into, and required of, pose JSON files
SCHEMA = "efield.pose/1"

CONVENTION = (
    "4x4 homogeneous transform from the coil frame to the head frame (p_head = M @ p_coil); "
    "columns: x axis, y axis = handle direction, z axis = coil normal pointing away from the head, "
    "translation = coil origin (centre of the coil casing bottom)"
)

UNITS = {
    "pose": "m (rotation unitless, translation metres)",
    "pose_mm": "mm (rotation unitless, translation millimetres)",
    "center": "m",
    "center_mm": "mm",
    "handle": "unit vector",
    "normal": "unit vector",
    "target.point": "m",
    "target.point_mm": "mm",
    "target.direction": "unit vector",
    "didt": "A/s",
    "didt_a_per_us": "A/us",
    "target_e": "V/m at didt",
    "target_e_per_aus": "V/m per A/us",
    "goal_e": "V/m",
    "mso_for_goal": "% of maximum stimulator output",
    "orientation.angle_reference": "unit vector (handle direction at 0 degrees)",
    "orientation.angles_deg": "degrees about the coil normal",
    "orientation.e_vs_angle": "V/m at didt",
    "timing": "s",
}

#: how far a rotation read from a file may be from orthonormal (the matrix text has 6 decimals)
_READ_TOL = 1e-5
_MM = 1e3


# ----------------------------------------------------------------------------- helpers
def _get(result, name: str, default=None):
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def _plain(value):
    """``value`` as JSON-ready Python: numpy scalars/arrays → float/int/list, NaN and ±inf → None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.ndim else _plain(value.item())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a pose record: {value!r}")


def _vector(value, name: str, unit: str, *, optional: bool = True):
    """(3,) finite float array or None; raise ValueError naming ``name``."""
    if value is None:
        if optional:
            return None
        raise ValueError(f"{name} is required: 3 numbers ({unit}); got None")
    return as_vector3(value, name, unit)


def _float(value, name: str):
    """Float (NaN allowed, written as null) or None; raise ValueError naming ``name``."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None


def _rotation_problem(pose: np.ndarray, tol: float) -> str | None:
    """What is wrong with ``pose`` as a rigid transform, or None."""
    if pose.shape != (4, 4):
        return f"the pose must be a 4x4 matrix; got shape {pose.shape}"
    if not np.all(np.isfinite(pose)):
        return f"the pose has {int((~np.isfinite(pose)).sum())} non-finite entries"
    if np.abs(pose[3] - [0.0, 0.0, 0.0, 1.0]).max() > tol:
        return f"the pose's last row must be [0, 0, 0, 1]; got {pose[3].tolist()}"
    rot = pose[:3, :3]
    err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    if err > tol:
        return f"the pose's rotation is not orthonormal (R^T R deviates from I by {err:.3g})"
    det = float(np.linalg.det(rot))
    if abs(det - 1.0) > tol:
        return f"the pose's rotation has determinant {det:.6g}, not +1 (a reflection?)"
    return None


def _checked_pose(pose, where: str, tol: float) -> np.ndarray:
    """Validate a 4×4 rigid transform and return it with its rotation snapped to the nearest rotation.

    Snapping (polar decomposition) removes the rounding of a text file, so the result passes the
    project's strict :func:`coils.check_pose` (1e-9); a valid input moves by ~1e-16 at most.
    """
    try:
        arr = np.array(pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the pose must be a 4x4 array of numbers; got {pose!r}") from None
    problem = _rotation_problem(arr, tol)
    if problem:
        raise ValueError(f"{where}: {problem}")
    u, _, vt = np.linalg.svd(arr[:3, :3])
    arr[:3, :3] = u @ vt
    arr[3] = [0.0, 0.0, 0.0, 1.0]
    return arr


def _comment(text) -> str:
    """One comment line's worth of ``text`` (newlines flattened)."""
    return " ".join(str(text).split())


# a "[" or "]" next to a real newline is JSON structure: strings hold newlines only as "\n" escapes
_FLAT_LIST = re.compile(r"\[\n\s*([-+0-9.eE,\snul]*?)\n\s*\]")


def _compact(text: str) -> str:
    """Put each innermost list of numbers (a vector, a matrix row) of indented JSON on one line;
    text inside strings is left alone."""
    return _FLAT_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)


def _write_text(tmp: Path, text: str) -> None:
    """Write ``text`` to ``tmp`` and flush it to disk (a separate function so tests can make it fail)."""
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------------------- record
def pose_record(result) -> dict:
    """A JSON-ready dict describing a targeting result (schema ``efield.pose/1``).

    Parameters
    ----------
    result : object (or mapping) with the attributes of a targeting result, read with ``getattr``
        ``pose`` (4, 4) float array, metres — coil frame → head frame (required);
        ``center`` (3,) m; ``handle``, ``normal`` (3,) unit vectors; ``coil_name``, ``head_name``,
        ``frame`` str; ``target_point`` (3,) m; ``target_label`` str; ``target_direction`` (3,)
        unit vector or None; ``quantity`` str; ``didt`` float A/s; ``target_e`` float V/m at
        ``didt``; ``target_e_per_aus`` float V/m per A/µs; ``goal_e`` float V/m or None;
        ``mso_for_goal`` float % or None; ``stimulator`` str or None; ``angle_reference`` (3,)
        unit vector; ``angles_deg`` (k,) float degrees; ``e_vs_angle`` (k,) float V/m at ``didt``;
        ``focality`` dict str → float; ``assumptions`` dict str → str; ``timing`` dict str → float
        seconds; ``n_poses`` int.  Missing attributes are stored as null.

    Returns
    -------
    dict of plain Python values (str, int, float, bool, None, lists, dicts); NaN and ±inf are None.
    Keys: ``schema``, ``convention``, ``units`` (unit of each numeric key), ``coil``, ``head``, ``head_spec``
    (how the head was given: a built-in name or an absolute path),
    ``frame``, ``pose`` (4×4, metres), ``pose_mm`` (4×4, translation in mm), ``center``,
    ``center_mm``, ``handle``, ``normal``, ``target`` {``point``, ``point_mm``, ``label``,
    ``direction``, ``quantity``}, ``didt`` (A/s), ``didt_a_per_us``, ``target_e`` (V/m),
    ``target_e_per_aus`` (V/m per A/µs), ``goal_e`` (V/m), ``mso_for_goal`` (%), ``stimulator``,
    ``focality``, ``orientation`` {``angle_reference``, ``angles_deg``, ``e_vs_angle`` (V/m)},
    ``assumptions``, ``timing`` (s), ``n_poses``.

    Raises
    ------
    ValueError
        If ``pose`` is missing or not a rigid transform, a vector is not (3,), or ``angles_deg`` and
        ``e_vs_angle`` differ in length.
    """
    raw_pose = _get(result, "pose")
    if raw_pose is None:
        raise ValueError("result.pose is required: a (4, 4) coil-to-head transform in metres; got None")
    try:
        pose = np.array(raw_pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"result.pose must be a (4, 4) array of numbers in metres; got {raw_pose!r}") from None
    problem = _rotation_problem(pose, 1e-6)
    if problem:
        raise ValueError(f"result.pose: {problem}")
    pose_mm = pose.copy()
    pose_mm[:3, 3] *= _MM

    center = _vector(_get(result, "center"), "result.center", "metres")
    point = _vector(_get(result, "target_point"), "result.target_point", "metres")
    handle = _vector(_get(result, "handle"), "result.handle", "a unit vector")
    normal = _vector(_get(result, "normal"), "result.normal", "a unit vector")
    direction = _vector(_get(result, "target_direction"), "result.target_direction", "a unit vector")
    reference = _vector(_get(result, "angle_reference"), "result.angle_reference", "a unit vector")

    angles = _get(result, "angles_deg")
    curve = _get(result, "e_vs_angle")
    angles = None if angles is None else np.asarray(angles, dtype=np.float64).ravel()
    curve = None if curve is None else np.asarray(curve, dtype=np.float64).ravel()
    if angles is not None and curve is not None and angles.shape != curve.shape:
        raise ValueError(
            f"result.angles_deg and result.e_vs_angle must have the same length; got {len(angles)} and {len(curve)}"
        )
    didt = _float(_get(result, "didt"), "result.didt")
    n_poses = _get(result, "n_poses")

    record = {
        "schema": SCHEMA,
        "convention": CONVENTION,
        "units": dict(UNITS),
        "coil": _get(result, "coil_name"),
        "head": _get(result, "head_name"),
        "head_spec": _get(result, "head_spec") or None,
        "frame": _get(result, "frame"),
        "pose": pose,
        "pose_mm": pose_mm,
        "center": center,
        "center_mm": None if center is None else center * _MM,
        "handle": handle,
        "normal": normal,
        "target": {
            "point": point,
            "point_mm": None if point is None else point * _MM,
            "label": _get(result, "target_label"),
            "direction": direction,
            "quantity": _get(result, "quantity"),
        },
        "didt": didt,
        "didt_a_per_us": None if didt is None else didt * 1e-6,
        "target_e": _float(_get(result, "target_e"), "result.target_e"),
        "target_e_per_aus": _float(_get(result, "target_e_per_aus"), "result.target_e_per_aus"),
        "goal_e": _float(_get(result, "goal_e"), "result.goal_e"),
        "mso_for_goal": _float(_get(result, "mso_for_goal"), "result.mso_for_goal"),
        "stimulator": _get(result, "stimulator"),
        "focality": dict(_get(result, "focality") or {}),
        "orientation": {"angle_reference": reference, "angles_deg": angles, "e_vs_angle": curve},
        "assumptions": {str(k): str(v) for k, v in dict(_get(result, "assumptions") or {}).items()},
        "timing": dict(_get(result, "timing") or {}),
        "n_poses": None if n_poses is None else int(n_poses),
    }
    return _plain(record)


# ----------------------------------------------------------------------------- writers
def write_pose_json(result, path, force: bool = False) -> Path:
    """Write :func:`pose_record` of ``result`` as indented JSON, atomically.

    Parameters
    ----------
    result : targeting result (see :func:`pose_record`); ``pose`` (4, 4) in metres is required.
    path : str or Path
        Output file (``.json`` suggested); its directory must exist.
    force : bool
        Replace an existing file; without it an existing ``path`` raises
        :class:`efield._common.io.OutputExistsError` (a ``FileExistsError``).

    Returns
    -------
    Path of the written file.  On any error no file (and no temporary file) is left behind.
    """
    text = _compact(json.dumps(pose_record(result), indent=2, allow_nan=False, ensure_ascii=False)) + "\n"
    path = Path(path)
    with atomic_target(path, force=force, default_suffix=".json") as tmp:
        _write_text(tmp, text)
    return path


def write_pose_matrix(result, path, force: bool = False) -> Path:
    """Write the pose as a neuronavigation-friendly 4×4 text matrix in millimetres, atomically.

    The file holds ``#`` comment lines (schema, frame, units, convention, coil, head, target) and
    then 4 lines of 4 space-separated ``%.6f`` numbers: the coil → head transform with unitless
    rotation and translation in millimetres.

    Parameters
    ----------
    result : targeting result (see :func:`pose_record`); ``pose`` (4, 4) in metres is required.
    path : str or Path
        Output file (``.txt`` suggested); its directory must exist.
    force : bool
        Replace an existing file; without it an existing ``path`` raises
        :class:`efield._common.io.OutputExistsError` (a ``FileExistsError``).

    Returns
    -------
    Path of the written file.  On any error no file (and no temporary file) is left behind.
    """
    rec = pose_record(result)
    matrix = np.asarray(rec["pose_mm"], dtype=np.float64)
    target = rec["target"]
    if target["point_mm"] is not None:
        where = "(" + ", ".join(f"{v:.2f}" for v in target["point_mm"]) + ") mm"
    else:
        where = "(position unknown)"
    label = _comment(target["label"]) if target["label"] else "target"
    lines = [
        f"# efield coil pose ({SCHEMA}, 4x4 matrix)",
        f"# frame: {_comment(rec['frame'] or 'unknown')}",
        "# units: rotation unitless; translation in millimetres (mm)",
        f"# convention: {CONVENTION}",
        f"# coil: {_comment(rec['coil'] or 'unknown')}",
        f"# head: {_comment(rec['head'] or 'unknown')}",
        f"# target: {label} at {where}",
    ]
    if rec["target_e"] is not None and rec["didt"] is not None:
        lines.append(f"# E at target: {rec['target_e']:.4g} V/m at dI/dt = {rec['didt_a_per_us']:.4g} A/us")
    lines += [" ".join(f"{v:.6f}" for v in row) for row in matrix]
    text = "\n".join(lines) + "\n"
    path = Path(path)
    with atomic_target(path, force=force, default_suffix=".txt") as tmp:
        _write_text(tmp, text)
    return path


# ----------------------------------------------------------------------------- readers
def read_pose_json(path) -> dict:
    """Read a pose JSON file written by :func:`write_pose_json`.

    Parameters
    ----------
    path : str or Path
        The ``efield.pose/1`` JSON file.

    Returns
    -------
    dict: the stored record (plain JSON values; metres unless a key ends in ``_mm``) with
    ``"pose"`` replaced by a (4, 4) float64 ndarray in metres (coil frame → head frame), its
    rotation snapped to the nearest exact rotation.

    Raises
    ------
    ValueError
        Naming the file: not JSON, wrong or missing schema, missing or malformed pose, rotation not
        orthonormal or not det +1 (tolerance 1e-5), or ``pose`` and ``pose_mm`` disagreeing.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a valid JSON file ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text file ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object with schema {SCHEMA!r}; got a {type(record).__name__}")
    schema = record.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("efield.pose/"):
            raise ValueError(f"{path}: unsupported pose schema version {schema!r}; this reader knows {SCHEMA!r}")
        raise ValueError(f"{path}: not an efield pose file (schema {schema!r}, expected {SCHEMA!r})")
    if record.get("pose") is None:
        raise ValueError(f"{path}: the pose (4x4 matrix in metres, key 'pose') is missing")
    pose = _checked_pose(record["pose"], str(path), _READ_TOL)
    if record.get("pose_mm") is not None:
        pose_mm = _checked_pose(record["pose_mm"], f"{path} (pose_mm)", _READ_TOL)
        diff = float(np.abs(pose_mm[:3, 3] / _MM - pose[:3, 3]).max()) * _MM
        rdiff = float(np.abs(pose_mm[:3, :3] - pose[:3, :3]).max())
        if diff > 1e-3 or rdiff > _READ_TOL:
            raise ValueError(
                f"{path}: 'pose' (metres) and 'pose_mm' (millimetres) disagree "
                f"(translation by {diff:.3g} mm, rotation by {rdiff:.3g}); was one of them edited?"
            )
    record["pose"] = pose
    return record


def read_pose_matrix(path) -> np.ndarray:
    """Read a 4×4 pose text matrix written by :func:`write_pose_matrix`.

    Parameters
    ----------
    path : str or Path
        Text file: ``#`` comment lines and blank lines are skipped; the rest must be 4 lines of 4
        numbers, translation in millimetres.

    Returns
    -------
    (4, 4) float64 ndarray, coil frame → head frame, translation in metres, rotation snapped to the
    nearest exact rotation (the text keeps 6 decimals, so entries are accurate to ~1e-6).

    Raises
    ------
    ValueError
        Naming the file: not 4 rows of 4 numbers, last row not [0, 0, 0, 1], or rotation not
        orthonormal / not det +1 (tolerance 1e-5).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text file ({exc})") from None
    pose = matrix_text_rows(path, text)
    pose[:3, 3] /= _MM
    return _checked_pose(pose, str(path), _READ_TOL)


def matrix_text_rows(path, text: str) -> np.ndarray:
    """The 4×4 numbers of a matrix text file (as written, e.g. translation in mm): ``#`` comments (whole lines
    or line ends) and blank lines skipped, numbers separated by blanks or commas; ValueError naming ``path``
    and the line otherwise."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        try:
            row = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: expected 4 numbers; got {line!r}") from None
        if len(row) != 4:
            raise ValueError(f"{path}, line {lineno}: expected 4 numbers; got {len(row)}")
        rows.append(row)
    if len(rows) != 4:
        raise ValueError(f"{path}: expected 4 rows of 4 numbers (a 4x4 matrix in mm); got {len(rows)} rows")
    return np.array(rows, dtype=np.float64)
