"""SimNIBS ``.tcd`` coil definitions (JSON): dipole and line-segment elements.

Layout (read in SimNIBS's JSON schema ``simnibs/resources/coil_models/coil_model.schema.json`` and
its coil-element classes ``simnibs/simulation/tms_coil/tms_coil_element.py`` and
``tms_coil_deformation.py``; no code copied):

* top level: ``name``, ``brand``, ``version``, ``stimulatorList`` (each with ``name``, ``brand``,
  ``maxdIdt`` in A/s), ``coilElementList``, optional ``deformList`` / ``deformRangeList``,
  ``coilModels`` (casing surfaces), ``limits``, ``resolution``, ...;
* each coil element: ``type`` (1 = magnetic dipoles, 2 = line segments, 3 = sampled A-field grid),
  ``stimulator`` (index into ``stimulatorList``), optional ``name`` and ``deformations`` (indices
  into ``deformList``), and ``points`` / ``values``, each either a list of [x, y, z] or a base64
  string of zlib-compressed float64 bytes;
* dipoles: ``points`` = positions in mm, ``values`` = moments in A·m² (per ampere of coil current:
  SimNIBS multiplies the field by the stimulator's dI/dt);
* line segments: ``points`` = segment midpoints in mm, ``values`` = the segment vector (direction ×
  length, mm).  SimNIBS evaluates them as point current elements at the midpoint; this project reads
  them as exact straight segments from ``p − v/2`` to ``p + v/2``;
* deformations: ``x``/``y``/``z`` translate by the range's ``initial`` value (mm); ``rot2p`` rotates
  by ``initial`` degrees about the axis from ``point1`` to ``point2`` (right-handed).  The reader
  applies the initial values, in list order.

Weights.  SimNIBS's line elements have no separate current weight: the current element's
strength is the vector length.  The writer therefore writes one line element per distinct weight
``w`` with ``values = w · (end − start)`` (so SimNIBS sees the right current moment) and tags the
element name with ``(weight=w)``; the reader divides by that tag to restore the geometry and the
weight.  Untagged elements have weight 1.  Segments of weight 0 carry no current and are not
written.

Frames: as for ``.ccd`` files (:mod:`coils._formats.ccd`): SimNIBS's coil z points into the head,
converted with ``(x, y, z) → (x, −y, −z)`` (see :mod:`coils._formats.ccd`).  Sampled grids (type 3) and casing models are not read.
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from pathlib import Path

import numpy as np

from .._model import Coil
from .ccd import check_extent, from_simnibs, read_text, to_simnibs

__all__ = ["read_tcd", "write_tcd"]

_WEIGHT_TAG = re.compile(r"\(weight=([^()]+)\)\s*$")
#: smallest plausible stimulator dI/dt in A/s (real ones give 1e7–3e8 A/s; 1e3 catches A/us values)
MIN_DIDT_A_PER_S = 1e3
_IGNORED = ("coilModels", "coilCasing", "selfIntersectionTest", "limits", "resolution")


def _decode(value, where: str, path: Path) -> np.ndarray:
    if isinstance(value, str):
        try:
            raw = zlib.decompress(base64.b64decode(value, validate=True))
        except (ValueError, TypeError, zlib.error) as exc:
            raise ValueError(f"{path}: {where} is a string but not base64 zlib data ({exc})") from None
        if len(raw) % 24:
            raise ValueError(f"{path}: {where} holds {len(raw)} bytes, not a whole number of float64 triples")
        arr = np.frombuffer(raw, dtype="<f8").reshape(-1, 3)
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise ValueError(f"{path}: {where} must be a list of [x, y, z] numbers") from None
        if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
            raise ValueError(f"{path}: {where} must be a non-empty list of [x, y, z]; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}: {where} holds non-finite values")
    return np.array(arr, dtype=np.float64)


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    a = math.radians(degrees)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(a) * kx + (1 - math.cos(a)) * (kx @ kx)


def _deformation(doc: dict, index, path: Path) -> np.ndarray:
    """4×4 affine (mm, SimNIBS frame) of deformation ``index`` at its initial value."""
    try:
        d = doc["deformList"][index]
        initial = float(doc["deformRangeList"][d["deformRange"]]["initial"])
        kind = d["type"]
    except (KeyError, IndexError, TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{path}: deformation {index!r} is missing or incomplete (needs deformList[{index}] with "
            "'type' and 'deformRange', and deformRangeList[...] with 'initial')"
        ) from None
    if not math.isfinite(initial):
        raise ValueError(f"{path}: deformation {index!r} has a non-finite initial value {initial!r}")
    aff = np.eye(4)
    if kind in ("x", "y", "z"):
        aff["xyz".index(kind), 3] = initial
    elif kind == "rot2p":
        try:
            p1 = np.asarray(d["point1"], dtype=float).reshape(3)
            p2 = np.asarray(d["point2"], dtype=float).reshape(3)
            if not (np.isfinite(p1).all() and np.isfinite(p2).all()):
                raise ValueError("non-finite")
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ValueError(f"{path}: rot2p deformation {index} needs point1 and point2 as [x, y, z] (mm)") from None
        if np.linalg.norm(p2 - p1) == 0:
            raise ValueError(f"{path}: rot2p deformation {index} has point1 == point2")
        rot = _rotation(p2 - p1, initial)
        aff[:3, :3] = rot
        aff[:3, 3] = p1 - rot @ p1
    else:
        raise ValueError(f"{path}: deformation {index} has unknown type {kind!r} (x, y, z or rot2p)")
    return aff


def read_tcd(path) -> Coil:
    """Read a SimNIBS ``.tcd`` coil (dipole and line-segment elements) into this coil frame.

    Parameters
    ----------
    path : str or Path
        The ``.tcd`` (JSON) file.

    Returns
    -------
    Coil
        Segments (weights restored from ``(weight=w)`` name tags, else 1) and dipoles, metres.
        ``metadata``: ``stimulator``, ``didt_max_a_per_s`` (the first element's stimulator's
        ``maxdIdt``), ``manufacturer``, ``source``, ``tcd_ignored`` (keys not read).
    """
    path = Path(path)
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"{path}: the JSON is nested too deeply to be a coil definition (a .tcd holds "
                         "objects and [x, y, z] lists a few levels deep)") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: the top level must be a JSON object with a 'coilElementList'")
    elements = doc.get("coilElementList")
    if not isinstance(elements, list) or not elements:
        raise ValueError(f"{path}: 'coilElementList' must be a non-empty list of coil elements")
    stimulators = doc.get("stimulatorList") or []
    if not isinstance(stimulators, list):
        raise ValueError(f"{path}: 'stimulatorList' must be a list of stimulator objects; "
                         f"got {type(stimulators).__name__}")
    starts, ends, weights, dpos, dmom = [], [], [], [], []
    stim_index = None
    for i, el in enumerate(elements):
        where = f"coilElementList[{i}]"
        if not isinstance(el, dict) or "type" not in el:
            raise ValueError(f"{path}: {where} must be an object with a 'type'")
        kind = el["type"]
        if kind == 3:
            raise ValueError(
                f"{path}: {where} is a sampled A-field grid (type 3), which is not supported; "
                "only dipole (type 1) and line-segment (type 2) elements are"
            )
        if kind not in (1, 2):
            raise ValueError(f"{path}: {where} has type {kind!r}; expected 1 (dipoles) or 2 (line segments)")
        if "points" not in el or "values" not in el:
            raise ValueError(f"{path}: {where} needs both 'points' and 'values'")
        pts = _decode(el["points"], f"{where}.points", path)
        val = _decode(el["values"], f"{where}.values", path)
        if pts.shape != val.shape:
            raise ValueError(f"{path}: {where} has {len(pts)} points but {len(val)} values")
        aff = np.eye(4)
        deformations = el.get("deformations") or []
        if not isinstance(deformations, list):
            raise ValueError(f"{path}: {where}.deformations must be a list of indices into deformList")
        for d in deformations:
            aff = _deformation(doc, d, path) @ aff
        pts = pts @ aff[:3, :3].T + aff[:3, 3]
        val = val @ aff[:3, :3].T
        if not (np.isfinite(pts).all() and np.isfinite(val).all()):
            raise ValueError(f"{path}: {where} is not finite after its deformations")
        if stim_index is None and isinstance(el.get("stimulator"), int):
            stim_index = el["stimulator"]
        if kind == 1:
            dpos.append(from_simnibs(pts * 1e-3))
            dmom.append(from_simnibs(val))
            continue
        w = 1.0
        tag = _WEIGHT_TAG.search(str(el.get("name", "")))
        if tag:
            try:
                w = float(tag.group(1))
            except ValueError:
                raise ValueError(
                    f"{path}: {where} name has a weight tag that is not a number: {tag.group(0)!r}"
                ) from None
            if not math.isfinite(w) or w == 0:
                raise ValueError(f"{path}: {where} weight tag must be finite and non-zero; got {w}")
        mid, vec = from_simnibs(pts * 1e-3), from_simnibs(val * 1e-3) / w
        starts.append(mid - vec / 2)
        ends.append(mid + vec / 2)
        weights.append(np.full(len(mid), w))
    meta: dict = {"source": str(path), "format": "tcd"}
    if doc.get("brand"):
        meta["manufacturer"] = str(doc["brand"])
    if doc.get("version"):
        meta["tcd_version"] = str(doc["version"])
    if stim_index is not None:
        if not (0 <= stim_index < len(stimulators)) or not isinstance(stimulators[stim_index], dict):
            raise ValueError(f"{path}: an element refers to stimulatorList[{stim_index}], which does not exist")
        stim = stimulators[stim_index]
        if stim.get("name"):
            meta["stimulator"] = str(stim["name"])
        if stim.get("maxdIdt") is not None:
            try:
                didt = float(stim["maxdIdt"])
            except (TypeError, ValueError):
                didt = math.nan
            if not (math.isfinite(didt) and didt > 0):
                raise ValueError(
                    f"{path}: stimulatorList[{stim_index}].maxdIdt must be a number > 0 (A/s); "
                    f"got {stim['maxdIdt']!r}"
                )
            if didt < MIN_DIDT_A_PER_S:
                raise ValueError(
                    f"{path}: stimulatorList[{stim_index}].maxdIdt is {didt:g}, but .tcd files give dI/dt in A/s "
                    f"and a TMS stimulator reaches at least {MIN_DIDT_A_PER_S:g} A/s; this looks like A/us "
                    f"(as in .ccd headers): {didt:g} A/us = {didt * 1e6:g} A/s"
                )
            meta["didt_max_a_per_s"] = didt
    ignored = [k for k in _IGNORED if k in doc]
    if ignored:
        meta["tcd_ignored"] = ignored
    cat = lambda parts, shape: np.concatenate(parts) if parts else np.zeros(shape)  # noqa: E731
    check_extent(path, np.concatenate([cat(starts, (0, 3)), cat(ends, (0, 3)), cat(dpos, (0, 3))]), "millimetres")
    try:
        return Coil(
            name=str(doc.get("name") or path.stem),
            start=cat(starts, (0, 3)), end=cat(ends, (0, 3)), weight=cat(weights, (0,)),
            dipole_position=cat(dpos, (0, 3)), dipole_moment=cat(dmom, (0, 3)),
            metadata=meta,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _encode(arr: np.ndarray, compress: bool):
    if compress:
        raw = np.ascontiguousarray(arr, dtype="<f8").tobytes()
        return base64.b64encode(zlib.compress(raw)).decode("ascii")
    return arr.tolist()


def write_tcd(coil: Coil, path, *, compress: bool = False) -> None:
    """Write a coil as a SimNIBS ``.tcd`` file (SimNIBS coil frame, mm).

    Parameters
    ----------
    coil : Coil
        Segments become line elements (one per distinct non-zero weight, tagged ``(weight=w)``),
        dipoles one dipole element.  ``metadata`` keys ``stimulator``, ``didt_max_a_per_s`` and
        ``manufacturer`` are written too.
    path : str or Path
        Output file.
    compress : bool
        Store points/values as base64 zlib float64 (SimNIBS's default) instead of JSON lists.
    """
    path = Path(path)
    meta = coil.metadata
    elements = []
    if coil.n_dipoles:
        elements.append({
            "name": f"{coil.name} dipoles", "stimulator": 0, "type": 1,
            "points": _encode(to_simnibs(coil.dipole_position) * 1e3, compress),
            "values": _encode(to_simnibs(coil.dipole_moment), compress),
        })
    start, end, weight = coil.segments
    for w in dict.fromkeys(weight.tolist()):
        if w == 0:
            continue
        sel = weight == w
        mid = to_simnibs((start[sel] + end[sel]) / 2) * 1e3
        vec = to_simnibs(w * (end[sel] - start[sel])) * 1e3
        elements.append({
            "name": f"{coil.name} wires (weight={w!r})", "stimulator": 0, "type": 2,
            "points": _encode(mid, compress), "values": _encode(vec, compress),
        })
    if not elements:
        raise ValueError(f"coil {coil.name!r} carries no current (all weights 0, no dipoles); nothing to write")
    stim: dict = {"name": str(meta.get("stimulator") or "unspecified")}
    if meta.get("didt_max_a_per_s"):
        stim["maxdIdt"] = float(meta["didt_max_a_per_s"])
    doc: dict = {"name": coil.name}
    if meta.get("manufacturer"):
        doc["brand"] = str(meta["manufacturer"])
    doc["stimulatorList"] = [stim]
    doc["coilElementList"] = elements
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
