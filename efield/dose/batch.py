"""Batch translation of a protocol table (CSV) to a destination species.

One output row per input row and listed intensity, in input order; every input row is accounted
for (``status`` = ``translated`` or ``not_translatable`` with a ``reason``); a bad row never stops
the others.  Output: CSV (input columns kept), Markdown table, a figure and the assumptions.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

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


def read_protocols(path) -> tuple[list[str], list[dict]]:
    """Read a protocol CSV; needs at least the columns ``species``, ``intensity``, ``intensity_unit``.

    Optional columns: ``coil`` and ``stimulator`` (preset id / name, free text or "not reported"),
    ``rmt_mso`` and ``amt_mso`` (the source's resting and active motor thresholds in % MSO)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"protocol table '{path}' cannot be read: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    need = {"species", "intensity", "intensity_unit"}
    if not reader.fieldnames or not need <= set(reader.fieldnames):
        raise ValueError(f"protocol table '{path}' must have the columns {sorted(need)}; got {reader.fieldnames}")
    return list(reader.fieldnames), list(reader)


def _band_cols(prefix: str, band: Band | None, scale: float = 1.0) -> dict:
    if band is None:
        return {prefix: "", f"{prefix}_low": "", f"{prefix}_high": ""}
    b = band.scaled(scale)
    return {prefix: b.nominal, f"{prefix}_low": b.low, f"{prefix}_high": b.high}


def _untranslatable(row: dict, reason: str, point: str = "") -> dict:
    out = dict(row)
    out.update({k: "" for k in ADDED_COLUMNS})
    out.update(status="not_translatable", reason=reason, intensity_point=point)
    return out


def _is_in_vitro(row: dict) -> bool:
    """Cells in a dish: species "cells", or "in vitro"/"culture" in the model or site (an ex vivo
    slice study of animals stimulated in vivo is not in vitro)."""
    if str(row.get("species", "")).strip().lower() in ("cells", "cell", "cell culture"):
        return True
    text = " ".join(str(row.get(k, "")) for k in ("model", "site")).lower()
    return any(w in text for w in _IN_VITRO)


def translate_rows(rows: list[dict], to: str = "human", *, coil: str | None = None, stimulator: str | None = None,
                   rmt: float | None = None, stimulator_table: str | None = None, head_model: str = "sphere",
                   progress=None) -> list[dict]:
    """Translate every row; returns the output rows (input columns + :data:`ADDED_COLUMNS`)."""
    dest = destination_setup(to, coil, stimulator, rmt_mso=rmt, stimulator_table=stimulator_table)
    out = []
    for i, row in enumerate(rows):
        try:
            out.extend(_translate_row(row, dest, stimulator_table, head_model))
        except (DoseError, IntensityError, ValueError) as exc:  # a bad row never stops the others
            out.append(_untranslatable(row, f"error: {exc}"))
        if progress:
            progress(i + 1, len(rows))
    return out


def _translate_row(row: dict, dest, stimulator_table, head_model="sphere") -> list[dict]:
    species = str(row.get("species", "")).strip().lower()
    text, unit = str(row.get("intensity") or "").strip(), str(row.get("intensity_unit") or "").strip()
    if _is_in_vitro(row):
        species = "cells"
    if not text:
        return [_untranslatable(row, "intensity not reported")]
    if species not in ("human", "rat", "mouse", "cells"):
        return [_untranslatable(row, f"species {species!r} has no head model (human, rat, mouse)")]
    try:
        inten = parse_intensity(text, unit=unit or None)
    except IntensityError as exc:
        return [_untranslatable(row, f"unit not convertible: {exc}")]
    thresholds = {}
    for col in ("rmt_mso", "amt_mso"):
        value_text = str(row.get(col) or "").strip()
        try:
            thresholds[col] = float(value_text) if value_text else None
        except ValueError:
            return [_untranslatable(row, f"{col} {value_text!r} is not a number (% MSO)")]
        v = thresholds[col]
        if v is not None and not (math.isfinite(v) and 0 < v <= 100):
            return [_untranslatable(row, f"{col} {value_text!r} is not a motor threshold in % MSO (0-100]")]
    setups, notes = plausible_setups(species, row.get("coil"), row.get("stimulator"), rmt_mso=thresholds["rmt_mso"],
                                     amt_mso=thresholds["amt_mso"], stimulator_table=stimulator_table,
                                     head_model=head_model)
    if species == "cells":
        notes.append("in vitro: cells at the bottom of a culture dish (FEM), coil under the dish")
    results = []
    for point in inten.points:
        try:
            t = translate(point, setups, dest)[0]
        except (DoseError, ValueError) as exc:
            results.append(_untranslatable(row, f"not convertible: {exc}", str(point)))
            continue
        r = dict(row)
        r.update(status="translated", reason="", intensity_point=str(point))
        r.update(_band_cols("source_e_vm", t.source_e))
        r.update(_band_cols("dest_didt_aus", t.dest_didt, 1e-6))
        r.update(_band_cols("dest_mso", t.dest_mso))
        r.update(_band_cols("dest_rmt", t.dest_rmt))
        r.update(_band_cols("dest_rmt_eqthreshold", t.dest_rmt_threshold))
        r.update(_band_cols("dest_mso_eqthreshold", t.dest_mso_threshold))
        r["dest_setup"] = dest.describe()
        r["assumptions"] = " | ".join(dict.fromkeys([*notes, *t.assumptions]))
        results.append(r)
    return results


def _fmt(v) -> str:
    if v == "" or v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


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
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _figure(out_rows: list[dict], path: Path, to: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(i, r) for i, r in enumerate(out_rows, 1) if r["status"] == "translated" and r["dest_mso"] != ""]
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


def write_translation(out_dir: Path, fieldnames: list[str], out_rows: list[dict], to: str) -> None:
    """Write ``translated.csv``, ``translated.md``, ``translated.png``, ``assumptions.md`` into ``out_dir``."""
    cols = list(fieldnames) + [c for c in ADDED_COLUMNS if c not in fieldnames]
    with open(out_dir / "translated.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in out_rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
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
