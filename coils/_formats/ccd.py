"""SimNIBS ``.ccd`` coil files: magnetic dipoles, plain text.

Layout (as read in SimNIBS's documentation and reader, simnibs/simnibs ``simulation/coil_numpy.py``
and ``docs/documentation/coils.rst``; no code copied):

* line 1: a ``#`` comment holding ``key=value`` fields separated by ``;`` (``dIdtmax`` in A/µs at
  100 % MSO, ``stimulator``, ``brand``, ``coilname``, the grid extent ``x``, ``y``, ``z`` in mm,
  ``resolution`` ...);
* line 2: the number of dipoles;
* further ``#`` comment lines are allowed;
* one dipole per line: ``x y z mx my mz``.  Positions are in metres; the moment is in A·m² per
  ampere of coil current: SimNIBS computes ``A = 1e-7 · dI/dt · m × r / |r|³`` (r in metres), which
  is the dipole vector potential ``μ0/(4π) m × r / r³`` times dI/dt.

Frames.  SimNIBS's coil frame has +z pointing INTO the head and +y pointing AWAY from the handle
(the handle prolongs the -y axis: the casings shipped with SimNIBS's validated models extend to
-79 mm (MagStim D70) and -121 mm (MagVenture C-B60) along y against +60 and +49 mm on the other
side, and SimNIBS's coil-axes figure draws y away from the handle); x = y × z.  Our frame
(:mod:`coils._pose`) has +y along the handle and +z away from the head.  Both frames share the
origin (coil centre on the bottom surface) and the x axis, so the change is the proper rotation by
180° about x: ``(x, y, z) → (x, −y, −z)``, applied to positions and moments alike.  It is its own
inverse.  A SimNIBS ``matsimnibs`` is therefore ``M_ours @ diag(1, −1, −1, 1)``
(:mod:`efield.targeting.navigation`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._model import Coil

__all__ = ["read_ccd", "write_ccd", "SIMNIBS_TO_COIL", "to_simnibs", "from_simnibs"]

#: rotation from SimNIBS's coil frame to ours (and back: it is an involution)
SIMNIBS_TO_COIL = np.diag([1.0, -1.0, -1.0])


def from_simnibs(vectors: np.ndarray) -> np.ndarray:
    """(n, 3) positions or moments in SimNIBS's coil frame → this project's coil frame."""
    return np.asarray(vectors, dtype=np.float64) @ SIMNIBS_TO_COIL.T


def to_simnibs(vectors: np.ndarray) -> np.ndarray:
    """(n, 3) positions or moments in this project's coil frame → SimNIBS's coil frame."""
    return np.asarray(vectors, dtype=np.float64) @ SIMNIBS_TO_COIL.T


#: plausible coil extent (largest side of the bounding box of all wires and dipoles), metres
EXTENT_RANGE_M = (1e-4, 1.0)


def read_text(path: Path) -> str:
    """The file as UTF-8 text, or an error naming the file (missing, or not UTF-8)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"coil file {str(path)!r} does not exist") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8 "
            "(coil files must be plain UTF-8/ASCII text)"
        ) from None


def check_extent(path: Path, points_m: np.ndarray, file_unit: str) -> None:
    """Refuse a coil whose size is implausible for coordinates in ``file_unit`` (read as such)."""
    pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    if len(pts) < 2:
        return
    extent = float(np.ptp(pts, axis=0).max())
    if extent == 0:
        return  # all elements at one point (e.g. a single dipole): nothing to judge
    lo, hi = EXTENT_RANGE_M
    if extent > hi:
        raise ValueError(
            f"{path}: the coil is {extent:.3g} m across when its coordinates are read as {file_unit}; "
            f"a TMS coil must be between {lo * 1e3:g} mm and {hi:g} m wide.  The file looks like it is in "
            f"{'millimetres' if file_unit == 'metres' else 'micrometres or a smaller unit'}"
        )
    if extent < lo:
        raise ValueError(
            f"{path}: the coil is {extent * 1e3:.3g} mm across when its coordinates are read as {file_unit}; "
            f"a TMS coil must be between {lo * 1e3:g} mm and {hi:g} m wide.  The file looks like it is in "
            f"{'metres' if file_unit == 'millimetres' else 'kilometres or a larger unit'}"
        )


def _parse_header(line: str) -> dict[str, str]:
    fields = {}
    for token in line.lstrip("#").split(";"):
        if "=" in token:
            key, _, value = token.partition("=")
            fields[key.strip()] = value.strip()
    return fields


def read_ccd(path) -> Coil:
    """Read a SimNIBS ``.ccd`` dipole coil into this project's coil frame.

    Parameters
    ----------
    path : str or Path
        The ``.ccd`` file.

    Returns
    -------
    Coil
        Dipoles only (metres, A·m² per A).  ``metadata`` holds ``ccd_header`` (the raw key=value
        fields), ``didt_max_a_per_s`` (``dIdtmax`` × 1e6) when present, ``stimulator``,
        ``manufacturer`` and ``source``.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    header: dict[str, str] = {}
    count = None
    rows = []
    for no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if no == 1:
                header = _parse_header(line)
            continue
        if count is None:
            try:
                count = int(line.split()[0])
            except (ValueError, OverflowError):
                raise ValueError(
                    f"{path}: line {no} should hold the number of dipoles (an integer); got {line[:60]!r}"
                ) from None
            if count < 1:
                raise ValueError(f"{path}: line {no}: the number of dipoles must be >= 1; got {count}")
            continue
        parts = line.split()
        if len(parts) != 6:
            raise ValueError(
                f"{path}: line {no} must hold 6 numbers (x y z in m, mx my mz in A*m^2/A); "
                f"got {len(parts)} fields"
            )
        try:
            rows.append([float(p) for p in parts])
        except (ValueError, OverflowError):
            raise ValueError(f"{path}: line {no} holds a value that is not a number: {line[:80]!r}") from None
    if count is None:
        raise ValueError(f"{path}: no dipole count found; is this a SimNIBS .ccd file?")
    if len(rows) != count:
        raise ValueError(f"{path}: the header announces {count} dipoles but {len(rows)} data lines follow")
    data = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path}: {int((~np.isfinite(data)).sum())} values are not finite")
    meta: dict = {"source": str(path), "format": "ccd", "ccd_header": header}
    if "dIdtmax" in header:
        try:
            didt = float(header["dIdtmax"])
        except (ValueError, OverflowError):
            raise ValueError(f"{path}: dIdtmax={header['dIdtmax']!r} in the header is not a number (A/us)") from None
        if not (math.isfinite(didt) and didt > 0):
            raise ValueError(f"{path}: dIdtmax must be a positive number of A/us; got {didt}")
        meta["didt_max_a_per_s"] = didt * 1e6
    if "stimulator" in header:
        meta["stimulator"] = header["stimulator"]
    if "brand" in header:
        meta["manufacturer"] = header["brand"]
    name = header.get("coilname") or path.stem
    check_extent(path, data[:, :3], "metres")
    try:
        return Coil(
            name=name,
            dipole_position=from_simnibs(data[:, :3]),
            dipole_moment=from_simnibs(data[:, 3:]),
            metadata=meta,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _clean(value) -> str:
    return str(value).replace(";", ",").replace("\n", " ").strip()


def write_ccd(coil: Coil, path) -> None:
    """Write a dipole coil as a SimNIBS ``.ccd`` file (SimNIBS coil frame, metres).

    Parameters
    ----------
    coil : Coil
        Must consist of dipoles only (a ``.ccd`` holds no wires; write a ``.tcd`` for wires).
        ``metadata`` keys ``didt_max_a_per_s``, ``stimulator`` and ``manufacturer`` go to the header.
    path : str or Path
        Output file.
    """
    path = Path(path)
    if coil.n_segments:
        raise ValueError(
            f"coil {coil.name!r} has {coil.n_segments} wire segments; a .ccd file holds magnetic "
            "dipoles only (write a .tcd file instead)"
        )
    meta = coil.metadata
    fields = [f"{_clean(coil.name)}.ccd version 1.0 number of elements"]
    didt = meta.get("didt_max_a_per_s")
    if didt:
        fields.append(f"dIdtmax={float(didt) / 1e6:.10g}")
    if meta.get("stimulator"):
        fields.append(f"stimulator={_clean(meta['stimulator'])}")
    if meta.get("manufacturer"):
        fields.append(f"brand={_clean(meta['manufacturer'])}")
    fields.append(f"coilname={_clean(coil.name)}")
    pos = to_simnibs(coil.dipole_position)
    mom = to_simnibs(coil.dipole_moment)
    out = ["# " + ";".join(fields) + ";", str(coil.n_dipoles),
           "# dipole position x y z (m) and moment mx my mz (A*m^2 per A), SimNIBS coil frame (z into the head)"]
    out += [" ".join(f"{v:.17g}" for v in row) for row in np.hstack([pos, mom])]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
