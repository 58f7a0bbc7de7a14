"""Batch translation of a protocol table (CSV) to a destination species.

One output row per input row and listed intensity, in input order; every input row is accounted
for (``status`` = ``translated`` or ``not_translatable`` with a ``reason``); a bad row never stops
the others.  Output: CSV (input columns kept), Markdown table, a figure and the assumptions.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from .._common.io import csv_records
from .dosimetry import DoseError
from .intensity import IntensityError, parse_intensity
from .translation import Band, destination_setup, plausible_setups, translate

__all__ = ["read_protocols", "translate_rows", "write_translation", "ADDED_COLUMNS", "BUNDLED_PROTOCOLS"]

#: the example table shipped with the project (published protocols from review papers)
BUNDLED_PROTOCOLS = Path(__file__).parent / "data" / "protocols_from_reviews.csv"

ADDED_COLUMNS = [
    "status", "reason", "intensity_point",
    "source_e_vm", "source_e_vm_low", "source_e_vm_high",
    "dest_didt_aus", "dest_didt_aus_low", "dest_didt_aus_high",
    "dest_mso", "dest_mso_low", "dest_mso_high",
    "dest_rmt", "dest_rmt_low", "dest_rmt_high",
    "dest_rmt_eqthreshold", "dest_rmt_eqthreshold_low", "dest_rmt_eqthreshold_high",
    "dest_mso_eqthreshold", "dest_mso_eqthreshold_low", "dest_mso_eqthreshold_high",
    "dest_setup", "assumptions",
]

_IN_VITRO = ("in vitro", "culture")


#: longest cell accepted in a protocol table (characters); a protocol needs far less, and a longer cell is
#: almost always a broken quote or a file that is not a protocol table
MAX_CELL_CHARS = 10_000

#: the figure draws one bar per translated row up to this many rows, and a histogram above
MAX_FIGURE_BARS = 60

#: first characters that make a spreadsheet treat a text cell as a formula (CSV / formula injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def read_protocols(path) -> tuple[list[str], list[dict]]:
    """Read a protocol CSV; needs at least the columns ``species``, ``intensity``, ``intensity_unit``.

    Optional columns: ``coil`` and ``stimulator`` (preset id / name, free text or "not reported"),
    ``rmt_mso`` and ``amt_mso`` (the source's resting and active motor thresholds in % MSO).

    The file is refused (``ValueError`` naming the file and, where it applies, the line) when:

    * it is not UTF-8 text, or not valid CSV;
    * a header column is empty or repeated (one of two ``intensity`` columns would be lost);
    * a header column has the name of a column :func:`translate_rows` adds (:data:`ADDED_COLUMNS`, e.g.
      ``status``, ``dest_mso``) — it would be overwritten; rename it in the input (e.g. ``input_status``);
    * a row has more cells than the header (the surplus cells would be lost); rows with fewer cells get
      empty cells;
    * a cell is longer than :data:`MAX_CELL_CHARS` characters;
    * a quoted cell spans several lines and holds what look like whole rows (an unterminated quote that
      merged the rows after it).
    """
    path = Path(path)
    records = list(csv_records(path, "protocol table", max_cell=MAX_CELL_CHARS))  # blank lines are skipped
    need = {"species", "intensity", "intensity_unit"}
    if not records:
        raise ValueError(f"protocol table '{path}' must have the columns {sorted(need)}; got an empty file")
    _, _, header = records[0]
    fieldnames = [h.strip() for h in header]
    if not need <= set(fieldnames):
        raise ValueError(f"protocol table '{path}' must have the columns {sorted(need)}; got {fieldnames}")
    if "" in fieldnames:
        raise ValueError(f"protocol table '{path}': header column {fieldnames.index('') + 1} has no name; "
                         f"every column needs a distinct name; got {fieldnames}")
    dups = sorted({f for f in fieldnames if fieldnames.count(f) > 1})
    if dups:
        raise ValueError(f"protocol table '{path}': header column(s) {dups} appear more than once; column names "
                         f"must be distinct; got {fieldnames}")
    clash = [f for f in fieldnames if f in ADDED_COLUMNS]
    if clash:
        raise ValueError(f"protocol table '{path}': input column(s) {clash} have the names of columns the "
                         "translation adds and would be overwritten; rename them (e.g. 'input_" + clash[0]
                         + f"'); names not allowed as input columns: {ADDED_COLUMNS}")
    n = len(fieldnames)
    rows, surplus = [], []
    for first, last, cells in records[1:]:
        for cell in cells:
            # an unterminated quote swallows the following lines: a multi-line cell holding whole rows
            if "\n" in cell or "\r" in cell:
                tail = cell.splitlines()[1:]
                if any(ln.count(",") >= n - 1 for ln in tail if n > 1):
                    raise ValueError(
                        f"protocol table '{path}': line {first}: a quoted cell runs over lines {first}-{last} and "
                        "holds what look like whole rows (an unterminated quote?); a cell may span lines "
                        "only when it is closed by a quote before the next row")
        if len(cells) > n:
            surplus.append(f"line {first} has {len(cells)} cells")
            continue
        rows.append(dict(zip(fieldnames, [*cells, *[""] * (n - len(cells))])))
    if surplus:
        more = f" (and {len(surplus) - 5} more rows)" if len(surplus) > 5 else ""
        raise ValueError(f"protocol table '{path}': rows may have at most the header's {n} cells; "
                         f"{'; '.join(surplus[:5])}{more} (an unquoted comma in a cell?)")
    return fieldnames, rows


def _band_cols(prefix: str, band: Band | None, scale: float = 1.0) -> dict:
    if band is None:
        return {prefix: "", f"{prefix}_low": "", f"{prefix}_high": ""}
    b = band.scaled(scale)
    return {prefix: b.nominal, f"{prefix}_low": b.low, f"{prefix}_high": b.high}


def _refused(reason: str, point: str = "") -> dict:
    out = {k: "" for k in ADDED_COLUMNS}
    out.update(status="not_translatable", reason=reason, intensity_point=point)
    return out


def _is_in_vitro(row: dict) -> bool:
    """Cells in a dish: species "cells", or "in vitro"/"culture" in the model or site (an ex vivo
    slice study of animals stimulated in vivo is not in vitro)."""
    if str(row.get("species", "")).strip().lower() in ("cells", "cell", "cell culture"):
        return True
    text = " ".join(str(row.get(k, "")) for k in ("model", "site")).lower()
    return any(w in text for w in _IN_VITRO)


#: the input columns a row's translation depends on (rows equal in these translate identically)
_KEY_COLUMNS = ("species", "intensity", "intensity_unit", "rmt_mso", "amt_mso", "coil", "stimulator")

#: errors of one row that become that row's ``reason`` instead of stopping the batch
_ROW_ERRORS = (DoseError, IntensityError, ValueError, ArithmeticError)


def translate_rows(rows: list[dict], to: str = "human", *, coil: str | None = None, stimulator: str | None = None,
                   rmt: float | None = None, stimulator_table: str | None = None, head_model: str = "sphere",
                   progress=None) -> list[dict]:
    """Translate every row; returns the output rows (input columns + :data:`ADDED_COLUMNS`).

    Every input row gives at least one output row (``translated``, or ``not_translatable`` with a
    ``reason``); an error in one row (bad value, division by zero, a non-finite result) becomes that row's
    reason and never stops the others.  Rows that agree in species, in-vitro-ness, intensity, unit, motor
    thresholds, coil and stimulator are translated once and the result reused, so a large table of repeated
    protocols costs about as much as its distinct protocols.  A configuration error of the destination
    (``to``, ``coil``, ``stimulator``, ``rmt``) stops the batch with a ``ValueError``."""
    dest = destination_setup(to, coil, stimulator, rmt_mso=rmt, stimulator_table=stimulator_table)
    dest_text = dest.describe()
    cache: dict[tuple, list[dict]] = {}
    out = []
    for i, row in enumerate(rows):
        key = (_is_in_vitro(row), *(row.get(k) for k in _KEY_COLUMNS))
        try:
            added = cache.get(key)
        except TypeError:  # an unhashable cell value: translate without the cache
            key, added = None, None
        if added is None:
            try:
                added = _translate_row(row, dest, stimulator_table, head_model, dest_text)
            except _ROW_ERRORS as exc:  # a bad row never stops the others
                added = [_refused(f"error: {type(exc).__name__}: {exc}" if isinstance(exc, ArithmeticError)
                                  else f"error: {exc}")]
            if key is not None:
                cache[key] = added
        for a in added:
            r = dict(row)
            r.update(a)
            out.append(r)
        if progress:
            progress(i + 1, len(rows))
    return out


def _finite_bands(cols: dict) -> bool:
    return all(math.isfinite(v) for v in cols.values() if isinstance(v, float))


def _translate_row(row: dict, dest, stimulator_table, head_model="sphere", dest_text=None) -> list[dict]:
    """The added columns (:data:`ADDED_COLUMNS`) of each output row of ``row``."""
    species = str(row.get("species") or "").strip().lower()
    text, unit = str(row.get("intensity") or "").strip(), str(row.get("intensity_unit") or "").strip()
    if _is_in_vitro(row):
        species = "cells"
    if not text:
        return [_refused("intensity not reported")]
    if species not in ("human", "rat", "mouse", "cells"):
        return [_refused(f"species {species!r} has no head model (human, rat, mouse)")]
    try:
        inten = parse_intensity(text, unit=unit or None)
    except IntensityError as exc:
        return [_refused(f"unit not convertible: {exc}")]
    thresholds = {}
    for col in ("rmt_mso", "amt_mso"):
        value_text = str(row.get(col) or "").strip()
        try:
            thresholds[col] = float(value_text) if value_text else None
        except ValueError:
            return [_refused(f"{col} {value_text!r} is not a number (% MSO)")]
        v = thresholds[col]
        if v is not None and not (math.isfinite(v) and 0 < v <= 100):
            return [_refused(f"{col} {value_text!r} is not a motor threshold in % MSO (0-100]")]
    setups, notes = plausible_setups(species, row.get("coil"), row.get("stimulator"), rmt_mso=thresholds["rmt_mso"],
                                     amt_mso=thresholds["amt_mso"], stimulator_table=stimulator_table,
                                     head_model=head_model)
    if species == "cells":
        notes.append("in vitro: cells at the bottom of a culture dish (FEM), coil under the dish")
    results = []
    for point in inten.points:
        try:
            t = translate(point, setups, dest)[0]
            r = {"status": "translated", "reason": "", "intensity_point": str(point)}
            r.update(_band_cols("source_e_vm", t.source_e))
            r.update(_band_cols("dest_didt_aus", t.dest_didt, 1e-6))
            r.update(_band_cols("dest_mso", t.dest_mso))
            r.update(_band_cols("dest_rmt", t.dest_rmt))
            r.update(_band_cols("dest_rmt_eqthreshold", t.dest_rmt_threshold))
            r.update(_band_cols("dest_mso_eqthreshold", t.dest_mso_threshold))
        except (DoseError, ValueError, ArithmeticError) as exc:
            results.append(_refused(f"not convertible: {exc}", str(point)))
            continue
        if not _finite_bands(r):
            bad = sorted(k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v))
            results.append(_refused(f"not convertible: non-finite result in {', '.join(bad)}", str(point)))
            continue
        r["dest_setup"] = dest_text if dest_text is not None else dest.describe()
        r["assumptions"] = " | ".join(dict.fromkeys([*notes, *t.assumptions]))
        results.append(r)
    return results


def _fmt(v) -> str:
    if v == "" or v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def safe_cell(v):
    """A cell value as written to ``translated.csv`` / ``translated.md``.

    Spreadsheets run a text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return)
    as a formula (CSV injection); such text cells are written with a leading single quote ``'``, which
    spreadsheets show as text.  Numbers are left alone: float values the toolkit computes, and text that is
    a plain number such as ``"-5"`` or ``"+3.5e2"``.  Non-finite floats (NaN, inf) are written empty."""
    if isinstance(v, float):
        return v if math.isfinite(v) else ""
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(v):
        return "'" + v
    return v


def _cell_band(r: dict, prefix: str) -> str:
    if r.get(prefix, "") == "":
        return "—"
    nom, lo, hi = r[prefix], r[f"{prefix}_low"], r[f"{prefix}_high"]
    if abs(hi - lo) <= 1e-9 * max(abs(hi), 1e-300):
        return f"{nom:.3g}"
    return f"{nom:.3g} ({lo:.3g}–{hi:.3g})"


def markdown_table(out_rows: list[dict], to: str) -> str:
    head = ["#", "study", "year", "species", "intensity", "status", "source E at target (V/m)",
            f"{to} %MSO, equal E", f"{to} %RMT, equal E", f"{to} %RMT, equal threshold fraction", "reason"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(out_rows, 1):
        cells = [str(i), r.get("study", ""), r.get("year", ""), r.get("species", ""),
                 r.get("intensity_point") or f"{r.get('intensity', '')} {r.get('intensity_unit', '')}".strip(),
                 r["status"], _cell_band(r, "source_e_vm"), _cell_band(r, "dest_mso"), _cell_band(r, "dest_rmt"),
                 _cell_band(r, "dest_rmt_eqthreshold"), r.get("reason", "")]
        lines.append("| " + " | ".join(" ".join(str(safe_cell(c)).split()).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _figure(out_rows: list[dict], path: Path, to: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(i, r) for i, r in enumerate(out_rows, 1) if r["status"] == "translated" and r["dest_mso"] != ""]
    if len(done) > MAX_FIGURE_BARS:
        _histogram(done, len(out_rows), path, to, plt)
        return
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(done), 4) + 1.5))
    for y, (i, r) in enumerate(done):
        lo, hi, nom = r["dest_mso_low"], r["dest_mso_high"], r["dest_mso"]
        ax.plot([lo, hi], [y, y], color="tab:blue", lw=3, alpha=0.5)
        ax.plot(nom, y, "o", color="tab:blue", label="equal E" if y == 0 else None)
        if r["dest_mso_eqthreshold"] != "":
            ax.plot([r["dest_mso_eqthreshold_low"], r["dest_mso_eqthreshold_high"]], [y + 0.2, y + 0.2],
                    color="tab:orange", lw=3, alpha=0.5)
            ax.plot(r["dest_mso_eqthreshold"], y + 0.2, "s", color="tab:orange",
                    label="equal fraction of motor threshold" if y == 0 else None)
    ax.set_yticks(range(len(done)))
    ax.set_yticklabels([f"{i}. {r.get('study', '')} {r.get('year', '')} ({r.get('species', '')}, {r['intensity_point']})"
                        for i, r in done], fontsize=7)
    ax.axvline(100, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"{to}-equivalent % MSO (bars: plausible range)")
    ax.set_title(f"Published protocols translated to {to}")
    if done:
        ax.legend(loc="lower left", fontsize=8)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _histogram(done: list, n_rows: int, path: Path, to: str, plt) -> None:
    """A large table: histograms of the nominal destination % MSO (equal E; equal threshold fraction)."""
    import numpy as np

    eq_e = np.array([r["dest_mso"] for _, r in done], dtype=float)
    eq_t = np.array([r["dest_mso_eqthreshold"] for _, r in done if r["dest_mso_eqthreshold"] != ""], dtype=float)
    vals = np.concatenate([eq_e, eq_t])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if vals.size:
        lo, hi = vals.min(), vals.max()
        bins = np.geomspace(lo / 1.05, hi * 1.05, 41) if hi > lo else np.geomspace(lo / 1.5, lo * 1.5, 11)
        ax.hist(eq_e[np.isfinite(eq_e) & (eq_e > 0)], bins=bins, color="tab:blue", alpha=0.6, label="equal E")
        if eq_t.size:
            ax.hist(eq_t[np.isfinite(eq_t) & (eq_t > 0)], bins=bins, color="tab:orange", alpha=0.6,
                    label="equal fraction of motor threshold")
        ax.set_xscale("log")
        ax.legend(loc="upper right", fontsize=8)
    ax.axvline(100, color="grey", ls="--", lw=1)
    ax.set_xlabel(f"{to}-equivalent % MSO (nominal)")
    ax.set_ylabel("output rows")
    ax.set_title(f"Published protocols translated to {to}: {len(done)} of {n_rows} output rows translated")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_translation(out_dir: Path, fieldnames: list[str], out_rows: list[dict], to: str) -> None:
    """Write ``translated.csv``, ``translated.md``, ``translated.png``, ``assumptions.md`` into ``out_dir``.

    Text cells that a spreadsheet would run as a formula are written with a leading ``'`` (see
    :func:`safe_cell`); NaN / inf are written as empty cells.  The figure shows one bar per translated row
    up to :data:`MAX_FIGURE_BARS` rows and a histogram for larger tables, so its size does not grow with
    the row count."""
    cols = list(fieldnames) + [c for c in ADDED_COLUMNS if c not in fieldnames]
    with open(out_dir / "translated.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in out_rows:
            w.writerow({k: ("" if r.get(k) is None else safe_cell(r.get(k))) for k in cols})
    (out_dir / "translated.md").write_text(markdown_table(out_rows, to))
    notes = []
    for i, r in enumerate(out_rows, 1):
        notes.append(f"{i}. {r.get('study', '')} {r.get('year', '')} ({r.get('species', '')}, "
                     f"{r.get('intensity_point') or r.get('intensity', '')}): {r['status']}"
                     + (f" — {r['reason']}" if r.get("reason") else ""))
        for a in (r.get("assumptions") or "").split(" | "):
            if a:
                notes.append(f"   - {a}")
    (out_dir / "assumptions.md").write_text("\n".join(notes) + "\n")
    _figure(out_rows, out_dir / "translated.png", to)
