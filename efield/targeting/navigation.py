"""Coil poses for neuronavigation: SimNIBS, Brainsight and Localite files, written and read back.

Every system describes a coil pose by a 4×4 matrix in the head's frame (the subject's MRI world
coordinates, RAS, millimetres), but each puts its coil axes differently.  With ``R_ours`` the rotation
of efield's pose (:mod:`coils._pose`: x; y = handle direction; z = coil normal pointing away from the
head; origin = centre of the casing bottom) and ``C`` the system's axis matrix below, a system's
rotation is ``R_system = R_ours @ C`` and its translation is the same point (the coil origin, mm):

=============  ===================================================  ================================
system         its coil axes, in efield's                           ``C``
=============  ===================================================  ================================
SimNIBS        x, y = away from the handle, z = into the head        diag(1, -1, -1)
               (``matsimnibs``)
Brainsight     x = -x, y = away from the handle, z = away from the   diag(-1, -1, 1)
               head
Localite       x = into the head, y = handle, z = x                  [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]
=============  ===================================================  ================================

All three are rotations (det +1) and each is its own inverse up to transposition, so
``R_ours = R_system @ C.T``.  The SimNIBS row follows from SimNIBS's coil files (their casings extend
to -y, the handle side, and the field is computed below z = 0); Brainsight and Localite follow from
SimNIBS's published conversions (``simnibs.utils.nnav``: Brainsight = matsimnibs @ diag(-1, 1, -1),
Localite = matsimnibs @ [[0, 0, 1], [0, -1, 0], [1, 0, 0]]) and are checked in the tests against real
exported files (their coil normals point the way each system says).

Files (each named for its system, :data:`NAV_FILES`):

* ``pose_simnibs.txt`` — the ``matsimnibs`` 4×4 (mm), 4 rows of numbers after ``#`` comments:
  ``numpy.loadtxt`` reads it, and ``TMSLIST.add_position(POSITION(matsimnibs=...))`` uses it.
* ``pose_brainsight.txt`` — a Brainsight target list (version 12, ``NIfTI:Aligned``, tab separated;
  ``m{i}n{j}`` is row ``j`` of axis column ``i``), imported as targets.
* ``pose_localite.xml`` — a Localite ``InstrumentMarkerList`` (``coordinateSpace="RAS"``, ``Matrix4D``
  ``data{row}{column}``).

Readers accept files the systems export: Brainsight target and sample lists in any ``NIfTI:*``
coordinate system (``Brainsight`` and ``World`` are refused: they are not the MRI's world frame),
``(null)`` cells, rotations rounded to 3 decimals (re-orthonormalised); Localite instrument and
trigger markers, ``RAS`` or ``LPS``.  efield's own ``pose.json`` and ``pose_matrix.txt`` are read
too (:func:`read_pose_file` tells them apart by content).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._common.io import atomic_target, read_text

__all__ = ["NAV_SYSTEMS", "NAV_FILES", "PoseFile", "PoseFileError", "to_system", "from_system",
           "write_simnibs", "write_brainsight", "write_localite", "write_navigation_files",
           "read_pose_file", "read_pose_files", "check_pose_on_head"]

#: each system's coil axes in efield's coil frame: R_system = R_efield @ C
NAV_SYSTEMS = {
    "simnibs": np.diag([1.0, -1.0, -1.0]),
    "brainsight": np.diag([-1.0, -1.0, 1.0]),
    "localite": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]),
}

#: the file each system's pose is written to by :func:`write_navigation_files`
NAV_FILES = {"simnibs": "pose_simnibs.txt", "brainsight": "pose_brainsight.txt", "localite": "pose_localite.xml"}

#: each system's axes in words (for headers and documentation)
NAV_AXES = {
    "simnibs": "x = efield x; y = pointing away from the handle; z = coil normal pointing INTO the head",
    "brainsight": "x = -(efield x); y = pointing away from the handle; z = coil normal pointing away from the head",
    "localite": "x = coil normal pointing INTO the head; y = handle direction; z = efield x",
}

#: how far a rotation read from a file may be from a rotation (Brainsight exports 3 decimals)
_ORTHO_TOL = 3e-3
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
_BRAINSIGHT_COLUMNS = ["Loc. X", "Loc. Y", "Loc. Z"] + [f"m{i}n{j}" for i in range(3) for j in range(3)]
_META = re.compile(r"efield:\s*(.*)$")


class PoseFileError(ValueError):
    """A pose file that cannot be read as a coil pose: the message names the file and what is wrong."""


@dataclass(frozen=True)
class PoseFile:
    """One coil pose read from a file.

    pose : (4, 4) float array, metres — efield's coil → head transform (see :mod:`coils._pose`)
    system : "efield" (pose.json), "efield-matrix" (pose_matrix.txt), "simnibs", "brainsight" or "localite"
    name : str — the entry's name in the file ("" if it has none)
    path : Path — the file
    n_entries : int — how many poses the file holds (one was taken)
    notes : tuple of str — what the reader assumed or corrected (coordinate system, re-orthonormalisation)
    coil, head, target : str or None — as recorded by efield in the file (None if not recorded)
    didt : float or None, A/s — the dI/dt recorded in the file (efield's files, Localite trigger markers)
    """

    pose: np.ndarray
    system: str
    name: str
    path: Path
    n_entries: int = 1
    notes: tuple = ()
    coil: str | None = None
    head: str | None = None
    target: str | None = None
    didt: float | None = None
    info: Mapping = field(default_factory=dict)


# ----------------------------------------------------------------------------- conventions
def _system(system: str) -> str:
    key = str(system).strip().lower()
    if key not in NAV_SYSTEMS:
        raise ValueError(f"navigation system must be one of {', '.join(NAV_SYSTEMS)}; got {system!r}")
    return key


def to_system(pose, system: str) -> np.ndarray:
    """``pose`` (4, 4, metres, efield's axes) as ``system``'s 4×4 matrix (translation mm, its axes)."""
    pose = np.asarray(pose, dtype=float)
    out = np.eye(4)
    out[:3, :3] = pose[:3, :3] @ NAV_SYSTEMS[_system(system)]
    out[:3, 3] = pose[:3, 3] * 1e3
    return out


def from_system(matrix_mm, system: str) -> np.ndarray:
    """``system``'s 4×4 matrix (translation mm, its axes) as efield's pose (4, 4, metres)."""
    m = np.asarray(matrix_mm, dtype=float)
    out = np.eye(4)
    out[:3, :3] = m[:3, :3] @ NAV_SYSTEMS[_system(system)].T
    out[:3, 3] = m[:3, 3] * 1e-3
    return out


def _rigid(matrix, where: str, tol: float = _ORTHO_TOL) -> tuple[np.ndarray, float]:
    """``matrix`` (4, 4) with its rotation replaced by the nearest rotation, and how far it was (max |RᵀR − I|)."""
    m = np.array(matrix, dtype=float)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise PoseFileError(f"{where}: expected a finite 4x4 matrix; got shape {m.shape}")
    rot = m[:3, :3]
    err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    det = float(np.linalg.det(rot))
    if err > tol or det < 0:
        what = "a reflection (determinant < 0)" if det < 0 else f"not a rotation (RᵀR deviates from I by {err:.3g})"
        raise PoseFileError(f"{where}: the coil orientation is {what}; allowed: a rotation matrix, "
                            f"rounding up to {tol:g}")
    u, _, vt = np.linalg.svd(rot)
    m[:3, :3] = u @ vt
    m[3] = [0.0, 0.0, 0.0, 1.0]
    return m, err


# ----------------------------------------------------------------------------- metadata
def _clean(value) -> str:
    return re.sub(r"[;\t\r\n<>&\"=]+", " ", str(value)).strip()


def _meta_text(info: Mapping) -> str:
    """``efield: coil=…; didt_a_per_us=…; head=…; target=…`` (only known entries)."""
    parts = [f"{k}={_clean(v)}" for k, v in info.items() if v is not None and _clean(v)]
    return "efield: " + "; ".join(parts)


def _parse_meta(text: str) -> dict:
    """The ``efield:`` entries found in ``text`` (the last such line wins)."""
    out = {}
    for line in text.splitlines():
        m = _META.search(line)
        if m:
            out = dict(p.split("=", 1) for p in m.group(1).rstrip("->").split(";") if "=" in p)
    return {k.strip(): v.strip() for k, v in out.items()}


def _info(coil=None, didt=None, head=None, target=None) -> dict:
    return {"coil": coil, "didt_a_per_us": None if didt is None else f"{float(didt) * 1e-6:.10g}",
            "head": head, "target": target}


# ----------------------------------------------------------------------------- writers
def _write(path, text: str, force: bool, suffix: str) -> Path:
    path = Path(path)
    with atomic_target(path, force=force, default_suffix=suffix) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return path


def write_simnibs(pose, path, *, info: Mapping | None = None, force: bool = False) -> Path:
    """Write ``pose`` (4, 4, metres, efield's axes) as a SimNIBS ``matsimnibs`` text file (mm), atomically.

    ``info``: coil, didt_a_per_us, head, target recorded in a comment; ``force`` replaces an existing file."""
    m = to_system(pose, "simnibs")
    lines = ["# SimNIBS coil pose (matsimnibs): 4x4, rotation unitless, translation in mm, head (MRI world, RAS) frame",
             f"# axes: {NAV_AXES['simnibs']}; origin: centre of the coil casing bottom",
             "# use: numpy.loadtxt(file) -> simnibs POSITION(matsimnibs=...)",
             f"# {_meta_text(info or {})}"]
    lines += [" ".join(f"{v:.9f}" for v in row) for row in m]
    return _write(path, "\n".join(lines) + "\n", force, ".txt")


def write_brainsight(pose, path, *, name: str = "efield", info: Mapping | None = None, force: bool = False) -> Path:
    """Write ``pose`` (4, 4, metres) as a Brainsight target list (version 12, NIfTI:Aligned, mm), atomically."""
    m = to_system(pose, "brainsight")
    values = [m[0, 3], m[1, 3], m[2, 3]] + [m[j, i] for i in range(3) for j in range(3)]
    lines = ["# Version: 12", "# Coordinate system: NIfTI:Aligned", "# Created by: efield",
             "# Units: millimetres, degrees, milliseconds, and microvolts", "# Encoding: UTF-8",
             "# Notes: Each column is delimited by a tab. Each value within a column is delimited by a semicolon. "
             + _meta_text(info or {}),
             "# Target Name\t" + "\t".join(_BRAINSIGHT_COLUMNS),
             _clean(name).replace(" ", "_") + "\t" + "\t".join(f"{v:.6f}" for v in values)]
    return _write(path, "\n".join(lines) + "\n", force, ".txt")


def write_localite(pose, path, *, name: str = "efield", info: Mapping | None = None, force: bool = False) -> Path:
    """Write ``pose`` (4, 4, metres) as a Localite InstrumentMarkerList (RAS, mm), atomically."""
    m = to_system(pose, "localite")
    cells = " ".join(f'data{i}{j}="{m[i, j]:+.17f}"' for i in range(4) for j in range(4))
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<InstrumentMarkerList coordinateSpace="RAS">\n'
            f"    <!--{_meta_text(info or {})}-->\n"
            '    <InstrumentMarker alwaysVisible="false" index="0" selected="false">\n'
            f'        <Marker additionalInformation="" color="#ff0000" description="{_clean(name)}" set="true">\n'
            f"            <Matrix4D {cells}/>\n        </Marker>\n    </InstrumentMarker>\n</InstrumentMarkerList>\n")
    return _write(path, text, force, ".xml")


_WRITERS = {"simnibs": write_simnibs, "brainsight": write_brainsight, "localite": write_localite}


def write_navigation_files(pose, folder, *, name: str = "efield", coil=None, didt=None, head=None, target=None,
                           force: bool = False) -> list[str]:
    """Write ``pose`` (4, 4, metres, efield's axes) for every system of :data:`NAV_FILES` into ``folder``.

    name : str — the entry's name in Brainsight and Localite; coil, head, target : str (recorded);
    didt : float, A/s (recorded).  Returns the file names written."""
    info = _info(coil, didt, head, target)
    for system, filename in NAV_FILES.items():
        kwargs = {} if system == "simnibs" else {"name": name}
        _WRITERS[system](pose, Path(folder) / filename, info=info, force=force, **kwargs)
    return list(NAV_FILES.values())


# ----------------------------------------------------------------------------- readers
@dataclass
class _Entry:
    name: str
    matrix: np.ndarray  # (4, 4) in the system's axes, mm
    where: str
    didt: float | None = None
    notes: list = field(default_factory=list)
    skip: str = ""  #: why this entry holds no usable pose ("" if it does)


def _float_cell(text: str, where: str, column: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise PoseFileError(f"{where}: column {column!r} must be a number; got {text.strip()!r}") from None
    if not math.isfinite(value):
        raise PoseFileError(f"{where}: column {column!r} must be finite; got {text.strip()!r}")
    return value


def _brainsight_header(path: Path, lines: list[str]) -> tuple[str, list[str]]:
    """The coordinate system (checked) and the reader's notes on it."""
    system = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("# coordinate system:")), "")
    if not system:
        raise PoseFileError(f"{path}: a Brainsight file must name its '# Coordinate system:'; none found")
    low = system.lower()
    if not low.startswith("nifti"):
        raise PoseFileError(
            f"{path}: Brainsight coordinate system {system!r} is not the MRI's world frame "
            f"({'Brainsight: its internal voxel-corner LPS frame' if low == 'brainsight' else 'not a NIfTI frame'}); "
            "export the targets or samples again with Coordinate system 'NIfTI:Aligned' (or NIfTI:Q:/NIfTI:S:…)")
    notes = [f"Brainsight coordinates in {system} (the MRI's world frame, RAS mm; the head mesh must come "
             "from the same T1)"]
    if low.startswith("nifti:s:"):
        notes.append("sform coordinates: SimNIBS heads use the T1's qform; they agree when the sform equals the qform")
    return system, notes


def _brainsight_entries(path: Path, text: str) -> list[_Entry]:
    """Every row of every section (Targets, Samples) of a Brainsight export, by column name."""
    lines = text.splitlines()
    _, notes = _brainsight_header(path, lines)
    entries, columns, section = [], None, ""
    for lineno, line in enumerate(lines, 1):
        if line.startswith("# Target Name") or line.startswith("# Sample Name"):
            columns = line[2:].split("\t")
            section = "target" if line.startswith("# Target") else "sample"
            missing = [c for c in _BRAINSIGHT_COLUMNS if c not in columns]
            if missing:
                raise PoseFileError(f"{path}, line {lineno}: the {section} columns lack {', '.join(missing)}")
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if columns is None:
            raise PoseFileError(f"{path}, line {lineno}: a data row before any '# Target Name' or "
                                "'# Sample Name' column line")
        cells = line.split("\t")
        where = f"{path}, line {lineno} ({section} {cells[0]!r})"
        if len(cells) < len(columns):
            cells += [""] * (len(columns) - len(cells))
        row = dict(zip(columns, cells))
        if any(row[c].strip() in ("", "(null)") for c in _BRAINSIGHT_COLUMNS):
            entries.append(_Entry(cells[0].strip(), np.eye(4), where, skip="no position or orientation ((null) cells)"))
            continue
        v = {c: _float_cell(row[c], where, c) for c in _BRAINSIGHT_COLUMNS}
        m = np.eye(4)
        for i in range(3):
            m[:3, i] = [v[f"m{i}n{j}"] for j in range(3)]
        m[:3, 3] = [v["Loc. X"], v["Loc. Y"], v["Loc. Z"]]
        entries.append(_Entry(cells[0].strip(), m, where, notes=list(notes)))
    return entries


def _safe_xml(path: Path, text: str):
    if re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise PoseFileError(f"{path}: XML with a DOCTYPE or ENTITY declaration is refused (Localite files have none)")
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise PoseFileError(f"{path}: not well-formed XML ({exc})") from None
    except (LookupError, ValueError) as exc:  # e.g. an unknown encoding in the XML declaration
        raise PoseFileError(f"{path}: unreadable XML declaration ({exc}); Localite files are UTF-8") from None


def _matrix4d(node, where: str) -> np.ndarray:
    m = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            cell = node.get(f"data{i}{j}")
            if cell is None:
                raise PoseFileError(f"{where}: Matrix4D lacks data{i}{j}")
            m[i, j] = _float_cell(cell, where, f"data{i}{j}")
    return m


def _localite_entries(path: Path, text: str) -> list[_Entry]:
    """Every instrument or trigger marker of a Localite XML file, in RAS (LPS files are converted)."""
    root = _safe_xml(path, text)
    space = (root.get("coordinateSpace") or "RAS").strip().upper()
    if space not in ("RAS", "LPS"):
        raise PoseFileError(f"{path}: Localite coordinateSpace must be RAS or LPS; got {space!r}")
    notes = [f"Localite coordinates in {space}" + (" (converted to RAS)" if space == "LPS" else "")]
    entries = []
    for k, marker in enumerate(root.iter()):
        if marker.tag not in ("InstrumentMarker", "TriggerMarker"):
            continue
        node = marker.find("Marker") if marker.tag == "InstrumentMarker" else marker
        matrix = None if node is None else node.find("Matrix4D")
        if matrix is None:
            continue
        name = (node.get("description") or "").strip() or f"{marker.tag} {marker.get('index', k)}"
        where = f"{path} ({marker.tag} {name!r})"
        m = _matrix4d(matrix, where)
        if space == "LPS":
            m[:3] = _LPS_TO_RAS @ m[:3]
        skip = ""
        if not m[:3, :3].any():
            skip = "an all-zero matrix (a marker never set)"
        elif not m[:3, 3].any() and np.allclose(m[:3, :3], np.eye(3)):
            skip = "the identity at the origin (the coil was not tracked)"
        entries.append(_Entry(name, m, where, didt=_trigger_didt(marker), notes=list(notes), skip=skip))
    return entries


def _trigger_didt(marker) -> float | None:
    """dI/dt (A/s) a Localite trigger marker recorded (its response value 'valueA', A/µs), or None."""
    for value in marker.iter("Value"):
        if value.get("key") == "valueA":
            try:
                didt = float(value.get("response", "nan")) * 1e6
            except ValueError:
                return None
            return didt if math.isfinite(didt) and didt > 0 else None
    return None


def _matrix_rows(path: Path, text: str) -> np.ndarray:
    from .pose_io import matrix_text_rows

    try:
        m = matrix_text_rows(path, text)
    except ValueError as exc:
        raise PoseFileError(str(exc)) from None
    if np.abs(m[3] - [0, 0, 0, 1]).max() > 1e-6:
        raise PoseFileError(f"{path}: the last row of a 4x4 pose must be 0 0 0 1; got {m[3].tolist()}")
    return m


def _detect(path: Path, text: str) -> str:
    head = text.lstrip()[:4000]
    if path.suffix.lower() == ".json" or head.startswith("{"):
        return "efield"
    if head.startswith("<"):
        return "localite"
    if re.search(r"^# (Target|Sample) Name\t", text, re.MULTILINE) or head.startswith("# Version:"):
        return "brainsight"
    if head.startswith("# efield coil pose"):
        return "efield-matrix"
    return "simnibs"


def _pick(path: Path, entries: list[_Entry], name, index) -> _Entry:
    """The entry chosen by ``name`` or ``index`` among the usable ones (the only one if neither is given)."""
    unusable = [e for e in entries if e.skip]
    if name is not None:
        bad = [e for e in unusable if e.name == str(name)]
        if bad and not any(e.name == str(name) for e in entries if not e.skip):
            raise PoseFileError(f"{bad[0].where}: holds {bad[0].skip}, not a coil pose")
    entries = [e for e in entries if not e.skip]
    if not entries:
        why = f" ({len(unusable)} entries without a pose: {unusable[0].skip})" if unusable else ""
        raise PoseFileError(f"{path}: holds no coil pose (no target, sample or marker with a position){why}")
    if unusable:
        for e in entries:
            e.notes.append(f"{len(unusable)} {'entry' if len(unusable) == 1 else 'entries'} without a pose "
                           f"skipped ({unusable[0].skip}{', …' if len(unusable) > 1 else ''})")
    names = [e.name for e in entries]
    if name is not None:
        hits = [e for e in entries if e.name == str(name)]
        if not hits and str(name).strip().isdigit():
            index = int(str(name).strip())
        elif len(hits) > 1 and all(np.allclose(h.matrix, hits[0].matrix) for h in hits):
            return hits[0]  # Brainsight lists a sample under Targets and Samples alike
        elif len(hits) != 1:
            how = "several entries are" if hits else "no entry is"
            raise PoseFileError(f"{path}: {how} named {name!r}; entries: {', '.join(map(repr, names[:20]))}"
                                + (" …" if len(names) > 20 else "") + " (or give an index from 0)")
        else:
            return hits[0]
    if index is not None:
        if not 0 <= int(index) < len(entries):
            raise PoseFileError(f"{path}: entry index {index} is out of range 0..{len(entries) - 1}")
        return entries[int(index)]
    if len(entries) > 1:
        raise PoseFileError(f"{path}: holds {len(entries)} coil poses ({', '.join(map(repr, names[:10]))}"
                            + (" …" if len(names) > 10 else "") + "); choose one by name or index "
                            "(--pose-name on the command line)")
    return entries[0]


def _read_efield_json(path: Path) -> PoseFile:
    from .pose_io import read_pose_json

    try:
        rec = read_pose_json(path)
    except ValueError as exc:
        raise PoseFileError(str(exc)) from None
    target = (rec.get("target") or {}).get("label")
    return PoseFile(rec["pose"], "efield", str(target or ""), path, coil=rec.get("coil"),
                    head=rec.get("head_spec") or rec.get("head"),
                    target=target, didt=rec.get("didt"), info={"frame": rec.get("frame")})


def _entries(path: Path, text: str, system: str) -> list[_Entry]:
    if system == "brainsight":
        return _brainsight_entries(path, text)
    if system == "localite":
        return _localite_entries(path, text)
    m = _matrix_rows(path, text)
    if system == "efield-matrix":
        return [_Entry("", m, str(path), notes=["efield's own 4x4 (z away from the head)"])]
    notes = ["read as a SimNIBS matsimnibs (y away from the handle, z into the head, mm)"]
    if "SimNIBS coil pose (matsimnibs)" not in text:
        notes[0] += "; the file does not say which convention it uses"
    return [_Entry("", m, str(path), notes=notes)]


def read_pose_file(path, name: str | None = None, index: int | None = None) -> PoseFile:
    """Read one coil pose from a file of any supported system (told apart by content).

    Parameters
    ----------
    path : str or Path — ``pose.json`` (efield), ``pose_matrix.txt`` (efield's 4×4), a SimNIBS
        ``matsimnibs`` text file (4×4, mm), a Brainsight export (``.txt``) or a Localite XML file
    name : str or None — the entry to take from a file holding several (its name, or an index as text)
    index : int or None — the entry to take by position (0-based), if ``name`` is not given

    Returns
    -------
    :class:`PoseFile` with ``pose`` (4, 4, metres, efield's axes: y = handle, z away from the head).

    Raises
    ------
    PoseFileError (a ValueError) naming the file: unreadable, unknown layout, a coordinate system that
    is not the MRI's world frame, an orientation that is not a rotation, several entries and none chosen.
    """
    path, text, system = _open(path)
    if system == "efield":
        return _read_efield_json(path)
    entries = _entries(path, text, system)
    entry = _pick(path, entries, name, index)
    return _pose_file(path, text, system, entry, sum(not e.skip for e in entries))


def read_pose_files(path) -> list[PoseFile]:
    """Every coil pose in a file of any supported system (see :func:`read_pose_file`), in file order;
    entries without a pose (Brainsight landmarks with ``(null)`` cells, untracked Localite markers) are
    left out.  Raises :class:`PoseFileError` when the file holds none."""
    path, text, system = _open(path)
    if system == "efield":
        return [_read_efield_json(path)]
    entries = _entries(path, text, system)
    _pick(path, entries, None, 0)  # the checks and notes of a single read
    usable = [e for e in entries if not e.skip]
    return [_pose_file(path, text, system, e, len(usable)) for e in usable]


def _open(path) -> tuple[Path, str, str]:
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"pose file '{path}' does not exist or is not a file")
    try:
        text = read_text(path, "pose file")
    except ValueError as exc:
        raise PoseFileError(str(exc)) from None
    return path, text, _detect(path, text)


def _pose_file(path: Path, text: str, system: str, entry: _Entry, n_entries: int) -> PoseFile:
    matrix, err = _rigid(entry.matrix, entry.where)
    notes = list(entry.notes)
    if err > 1e-6:
        notes.append(f"orientation rounded in the file (|RᵀR − I| = {err:.1g}): snapped to the nearest rotation")
    pose = matrix.copy() if system == "efield-matrix" else from_system(matrix, system)
    if system == "efield-matrix":
        pose[:3, 3] *= 1e-3
    meta = _parse_meta(text)
    didt = entry.didt
    if didt is None and meta.get("didt_a_per_us"):
        try:
            didt = float(meta["didt_a_per_us"]) * 1e6
        except ValueError:
            didt = None
    return PoseFile(pose, system, entry.name, path, n_entries, tuple(notes), coil=meta.get("coil"),
                    head=meta.get("head"), target=meta.get("target"), didt=didt, info=meta)


def check_pose_on_head(pose, head, coil, where: str = "pose") -> float:
    """The gap (m) between the coil casing bottom and the scalp for ``pose`` (4, 4, m) on ``head``;
    raise :class:`PoseFileError` naming ``where`` when the pose cannot be meant for this head: the coil
    more than 10 mm inside the scalp (a coil normal pointing into the head: another system's axes?) or
    more than 60 mm away from it (another head or another coordinate frame?)."""
    from ..physics.placement import scalp_gap

    gap = scalp_gap(pose, head, coil)
    name = getattr(head, "name", "the head")
    c = np.asarray(pose)[:3, 3] * 1e3
    at = f"coil at ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm"
    if np.linalg.norm(c) < 1.0:
        at += "; is the file's translation in metres? Pose files hold millimetres"
    if gap < -0.010:
        raise PoseFileError(
            f"{where}: the coil would sit {-gap * 1e3:.0f} mm inside the scalp of head {name} ({at}): is the "
            "coil normal pointing into the head (a matrix in another system's axes?) or is the pose for another "
            "head? efield's own axes have z pointing away from the head; SimNIBS matsimnibs has z into the head")
    if not np.isfinite(gap) or gap > 0.060:
        far = "not above the head at all" if not np.isfinite(gap) else f"{gap * 1e3:.0f} mm above the scalp"
        raise PoseFileError(
            f"{where}: the coil is {far} of head {name} ({at}): is the pose for another head, or in another "
            "coordinate frame (Brainsight's own or World coordinates, MNI space)? Poses must be in the head "
            "mesh's frame (the MRI's world coordinates, RAS mm)")
    return float(gap)
