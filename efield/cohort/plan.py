"""Study plans: one row per job, read from CSV or TOML and checked, every row, before anything runs.

A plan row names a **job** and what it needs:

===============  ==========================================================================================
column           meaning
===============  ==========================================================================================
``job``          ``dose`` (cortical E of a protocol at the standard pose), ``target`` (the best coil pose
                 for one or more targets) or ``model`` (build or reuse the head's cortical field model)
``head``         a built-in head (``human``, ``rat``, ``mouse`` spheres; ``human-mesh``, ``rat-mesh``,
                 ``mouse-mesh``), a ``.msh``/``.vtu`` file or a SimNIBS ``m2m_<id>`` folder; relative
                 paths are taken from the plan file's folder
``id``           optional label of the row (default ``row<N>``); unique in the plan
``subject``      optional free text (kept in the results)
``coil``         preset id, ``simnibs:NAME`` or a coil file (default: the species' default coil)
``stimulator``   stimulator name (default: the coil's own)
``intensity``    ``dose``: required, e.g. ``120%RMT``, ``50%MSO``, ``80A/us``, ``100;120%RMT`` (one result
                 row per listed value); ``target``: optional ``%MSO`` or ``A/us`` for the reported E
                 (default 1 A/µs)
``targets``      ``target``: one or more targets separated by ``;`` (names of ``efield target --list``,
                 ``mni:x,y,z``, ``bregma:x,y,z``, ``head:x,y,z`` in mm); one result row per target
``direction``    ``target``: wanted field direction (``magnitude``, ``normal``, ``anterior``, … or x,y,z)
``goal_e_vm``    ``target``: goal E at the target (V/m); the results give the %MSO that reaches it
``rmt_mso``,     ``dose``: the subject's resting / active motor threshold (% MSO) on this coil and
``amt_mso``      stimulator (default: derived from the species' threshold E, an assumption)
``gap_mm``       extra coil–scalp gap (mm, default 0)
``skip``         ``yes`` leaves the row out (it is reported as skipped)
===============  ==========================================================================================

Other columns are kept unchanged in the results table.  Column names are case-insensitive.

TOML plans hold the same keys in ``[[job]]`` tables; an optional ``[defaults]`` table fills keys a job
does not give.  Every problem of a row (unknown head, coil, target name syntax, intensity, a missing
required column) is found here, before any computation, and the row is reported as failed with it; the
other rows still run.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._common.io import csv_table
from .jobs import error_text

__all__ = ["Job", "PlanRow", "read_plan", "plan_from_records", "JOBS", "PLAN_COLUMNS", "PlanError"]

JOBS = ("dose", "target", "model")

#: the columns a plan may use (others are passed through)
PLAN_COLUMNS = ("job", "head", "id", "subject", "coil", "stimulator", "intensity", "targets", "direction",
                "goal_e_vm", "rmt_mso", "amt_mso", "gap_mm", "skip")

#: the keys each job reads (others given on its row are refused: a ``targets`` cell on a dose row would
#: silently do nothing)
_USES = {
    "dose": {"head", "coil", "stimulator", "intensity", "rmt_mso", "amt_mso", "gap_mm"},
    "target": {"head", "coil", "stimulator", "intensity", "targets", "direction", "goal_e_vm", "gap_mm"},
    "model": {"head"},
}

#: most rows a plan may have (a bigger study is split into several plans)
MAX_ROWS = 100_000


class PlanError(ValueError):
    """A plan file that cannot be read at all (not a row problem: those become failed rows)."""


@dataclass(frozen=True)
class Job:
    """One checked job of a plan row: everything the worker needs, in plain values (picklable).

    ``params``: the normalised inputs (SI units: ``gap`` m, ``goal_e`` V/m); ``head`` the head spec as
    given to :func:`efield.physics.heads.load_any_head` (files as absolute paths); ``key`` the content key
    (sha256 of the inputs, the content of every input file and the toolkit version)."""

    row: int
    id: str
    kind: str
    head: str
    params: dict
    key: str


@dataclass
class PlanRow:
    """A plan row as read: its number (1-based, data rows), its cells, and its job or why it cannot run."""

    row: int
    cells: dict
    job: Job | None = None
    status: str = ""          # "" (runs), "failed" or "skipped"
    reason: str = ""
    extra: dict = field(default_factory=dict)  # pass-through columns


def _read_csv(path: Path) -> list[dict]:
    if not path.read_bytes().strip():
        raise PlanError(f"study plan '{path}' is empty; it needs a header row with at least 'job' and 'head'")
    header, rows = csv_table(path, "study plan", set())
    names = [h.lower() for h in header]
    if any(not n for n in names):
        raise PlanError(f"study plan '{path}': the header has an empty column name: {header}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise PlanError(f"study plan '{path}': column(s) {', '.join(dup)} appear more than once in the header")
    return [{k.lower(): v.strip() for k, v in row.items()} for _, row in rows]


def _read_toml(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read study plan '{path}': {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"study plan '{path}' is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"job", "defaults"})
    if unknown:
        raise PlanError(f"study plan '{path}': unknown top-level key(s) {', '.join(unknown)}; a TOML plan has "
                        "[[job]] tables and an optional [defaults] table")
    jobs = data.get("job", [])
    defaults = data.get("defaults", {})
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs) or not isinstance(defaults, dict):
        raise PlanError(f"study plan '{path}': 'job' must be an array of tables ([[job]]) and 'defaults' a table")
    rows = []
    for j in jobs:
        merged = {str(k).lower(): v for k, v in defaults.items()}
        merged.update({str(k).lower(): v for k, v in j.items()})
        rows.append({k: ("; ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v)).strip())
                     for k, v in merged.items()})
    return rows


def read_plan(path) -> list[PlanRow]:
    """Read and check the study plan ``path`` (``.csv`` or ``.toml``); one :class:`PlanRow` per data row.

    Raises :class:`PlanError` naming the file for a plan that cannot be read at all (missing, not UTF-8,
    broken CSV/TOML, no ``job``/``head`` column, more than 100,000 rows); a bad *row* does not raise: it
    comes back with ``status="failed"`` and the reason."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"study plan '{path}' does not exist (write an example with `efield cohort --example PLAN`)")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        records = _read_toml(path)
    elif suffix in (".csv", ".tsv", ".txt"):
        try:
            records = _read_csv(path)
        except PlanError:
            raise
        except ValueError as exc:
            raise PlanError(str(exc)) from None
    else:
        raise PlanError(f"study plan '{path}' has the type {suffix or '(none)'!r}; plans are .csv or .toml")
    return plan_from_records(records, base=path.parent, source=str(path))


def plan_from_records(records: list[dict], *, base=".", source: str = "plan") -> list[PlanRow]:
    """Check plan rows given as dicts (column → text); relative paths are taken from ``base``."""
    if len(records) > MAX_ROWS:
        raise PlanError(f"study plan '{source}' has {len(records):,} rows; at most {MAX_ROWS:,} per plan "
                        "(split the study into several plans)")
    if not records:
        raise PlanError(f"study plan '{source}' has no job rows")
    cols = set().union(*(r.keys() for r in records))
    missing = [c for c in ("job", "head") if c not in cols]
    if missing:
        raise PlanError(f"study plan '{source}' has no column {' or '.join(repr(m) for m in missing)}; "
                        f"columns are {', '.join(PLAN_COLUMNS)} (see `efield cohort --help`)")
    from .results import RESULT_COLUMNS

    clash = sorted(c for c in cols if c in RESULT_COLUMNS and c not in PLAN_COLUMNS)
    if clash:
        raise PlanError(f"study plan '{source}': column(s) {', '.join(clash)} are names the results table adds; "
                        "rename them in the plan (e.g. 'input_status')")
    rows, seen_ids = [], {}
    for n, rec in enumerate(records, start=1):
        cells = {k: ("" if v is None else str(v)) for k, v in rec.items()}
        row = PlanRow(row=n, cells=cells, extra={k: v for k, v in cells.items() if k not in PLAN_COLUMNS})
        rid = cells.get("id", "").strip() or f"row{n}"
        if rid in seen_ids:
            row.status, row.reason = "failed", f"id {rid!r} is also the id of row {seen_ids[rid]}; ids must be unique"
            rows.append(row)
            continue
        seen_ids[rid] = n
        if cells.get("skip", "").strip().lower() in ("yes", "true", "1", "y", "skip"):
            row.status, row.reason = "skipped", "the plan's skip column says so"
            rows.append(row)
            continue
        try:
            row.job = _check_row(n, rid, cells, Path(base))
        except (ValueError, OSError, KeyError, TypeError) as exc:
            row.status, row.reason = "failed", error_text(exc)
        rows.append(row)
    by_key = {}
    for row in rows:
        if row.job is None:
            continue
        if row.job.key in by_key:
            row.status = "skipped"
            row.reason = f"the same job as row {by_key[row.job.key]} (same inputs); its results are that row's"
            row.job = None
        else:
            by_key[row.job.key] = row.row
    return rows


def _number(cells, name, unit, *, low=None, high=None, low_open=False):
    text = cells.get(name, "").strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number ({unit}); got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number ({unit}); got {text!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g} {unit}; got {text!r}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be at most {high:g} {unit}; got {text!r}")
    return v


def file_digest(path: Path) -> str:
    """sha256 (hex) of a file's content, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _head_spec(text: str, base: Path) -> tuple[str, str]:
    """(head spec for load_any_head, content fingerprint) — checks the name or path without loading."""
    from ..physics.heads import HEAD_FILE_TYPES, _m2m_mesh, _unknown, is_builtin_head

    if not text:
        raise ValueError("head is empty; give a built-in head (human, rat, mouse, human-mesh, rat-mesh, "
                         "mouse-mesh), a .msh file or an m2m_<id> folder")
    if is_builtin_head(text):
        return text.lower(), f"builtin:{text.lower()}"
    looks_like_path = any(s in text for s in ("/", "\\", ".")) or text.startswith("m2m_")
    if not looks_like_path:
        raise _unknown(text)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base / path)
    path = path.resolve()
    if path.is_dir():
        mesh, _ = _m2m_mesh(path)
        return str(path), f"file:{file_digest(Path(mesh))}"
    if not path.exists():
        raise ValueError(f"head file '{text}' does not exist (looked for '{path}')")
    if path.suffix.lower() not in HEAD_FILE_TYPES:
        raise ValueError(f"head file '{text}' has the type {path.suffix or '(none)'!r}; head meshes are "
                         f"{' or '.join(HEAD_FILE_TYPES)} (or give an m2m_<id>/ folder)")
    return str(path), f"file:{file_digest(path)}"


def _coil_spec(text: str, species: str, base: Path) -> tuple[str, str]:
    from coils import list_coils, load_coil

    from ..dose.dosimetry import defaults

    if not text:
        spec = defaults()["destination"].get(species, defaults()["destination"]["human"])["coil"]
        return spec, f"preset:{spec}"
    if text in list_coils():
        return text, f"preset:{text}"
    if text.lower().startswith("simnibs:"):
        coil = load_coil(text)  # refuses an unknown name with the list of places looked in
        h = hashlib.sha256()
        for arr in (coil.start, coil.end, coil.weight, coil.dipole_position, coil.dipole_moment):
            h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        return text, f"simnibs:{h.hexdigest()}"
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if path.is_file():
        load_coil(str(path))  # a broken file is this row's error, found now
        return str(path), f"file:{file_digest(path)}"
    load_coil(text)  # raises UnknownCoilError naming the known ids
    return text, f"coil:{text}"  # pragma: no cover - load_coil accepted something we did not expect


def _check_row(n: int, rid: str, cells: dict, base: Path) -> Job:
    from .. import __version__
    from ..dose.intensity import parse_intensity
    from ..physics.heads import head_species

    kind = cells.get("job", "").strip().lower()
    if kind not in JOBS:
        raise ValueError(f"job must be one of {', '.join(JOBS)}; got {cells.get('job', '')!r}")
    given = {k for k, v in cells.items() if k in PLAN_COLUMNS and v.strip()} - {"job", "id", "subject", "skip"}
    unused = sorted(given - _USES[kind])
    if unused:
        raise ValueError(f"a {kind} job does not use the column(s) {', '.join(unused)}; leave them empty on this "
                         f"row (a {kind} job reads {', '.join(sorted(_USES[kind]))})")
    head, head_print = _head_spec(cells.get("head", "").strip(), base)
    if kind == "model" and head in ("human", "rat", "mouse"):
        raise ValueError(f"{head!r} is a sphere head: its field is analytic and fast already; a cortical field "
                         "model is for mesh heads (human-mesh, rat-mesh, mouse-mesh, a .msh file)")
    species = head_species(head)[0] if head_print.startswith("builtin:") else None
    params: dict = {}
    prints: dict = {"head": head_print}
    if kind in ("dose", "target"):
        if species is None:
            from ..physics.heads import load_any_head

            species = head_species(head, load_any_head(head))[0]
        coil, coil_print = _coil_spec(cells.get("coil", "").strip(), species, base)
        params["coil"], prints["coil"] = coil, coil_print
        params["stimulator"] = cells.get("stimulator", "").strip() or None
        if params["stimulator"]:
            from ..dose.stimulators import list_stimulators

            known = list_stimulators()
            if params["stimulator"].lower() not in {k.lower() for k in known}:
                raise ValueError(f"stimulator {params['stimulator']!r} is unknown; known: {', '.join(known)}")
        gap = _number(cells, "gap_mm", "mm", low=0.0, high=50.0)
        params["gap"] = 0.0 if gap is None else gap * 1e-3
    if kind == "dose":
        text = cells.get("intensity", "").strip()
        if not text:
            raise ValueError("a dose job needs an intensity, e.g. 120%RMT, 50%MSO or 80A/us")
        parse_intensity(text)
        params["intensity"] = text
        params["rmt_mso"] = _number(cells, "rmt_mso", "% MSO", low=0.0, high=100.0, low_open=True)
        params["amt_mso"] = _number(cells, "amt_mso", "% MSO", low=0.0, high=100.0, low_open=True)
    elif kind == "target":
        targets = [t.strip() for t in cells.get("targets", "").split(";") if t.strip()]
        if not targets:
            raise ValueError("a target job needs targets: one or more names or coordinates separated by ';' "
                             "(see `efield target --list`)")
        from ..targeting.targets import check_target_text

        for t in targets:
            check_target_text(t, species)
        params["targets"] = targets
        text = cells.get("intensity", "").strip()
        if text:
            inten = parse_intensity(text)
            if inten.kind not in ("mso", "didt") or len(inten.points) != 1 or inten.is_range:
                raise ValueError(f"a target job's intensity is one %MSO or A/us value (the E it reports); got {text!r}")
        params["intensity"] = text or None
        params["direction"] = cells.get("direction", "").strip() or None
        params["goal_e"] = _number(cells, "goal_e_vm", "V/m", low=0.0, high=10_000.0, low_open=True)
    payload = {"kind": kind, "params": params, "inputs": prints, "version": __version__}
    key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return Job(row=n, id=rid, kind=kind, head=head, params=params, key=key)
