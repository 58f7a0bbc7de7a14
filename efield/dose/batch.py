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

from .._common.io import csv_delimiter, csv_records
from .dosimetry import DoseError
from .intensity import IntensityError, parse_intensity
from .translation import Band, destination_setup, plausible_setups, translate

__all__ = ["read_protocols", "translate_rows", "write_translation", "ADDED_COLUMNS", "BUNDLED_PROTOCOLS",
           "match_coil", "match_stimulator", "CoilMatch", "COIL_ALIASES"]

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
    """Read a protocol CSV; needs at least the columns ``species`` and ``intensity``.

    The unit is written in the ``intensity`` cell ("30 %MSO", "120% RMT", "1.2 T", "155 A/us") or in an
    optional ``intensity_unit`` column (a row giving both must give the same unit).  The delimiter is a
    comma, or a semicolon, tab or ``|`` found from the header (see :func:`efield._common.io.csv_records`);
    in a semicolon-separated file (European spreadsheets) a decimal comma in the ``intensity``, ``rmt_mso``
    and ``amt_mso`` cells ("1,2 T", "30,5") is read as a decimal point, and the row's assumptions say so.

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
    delim = csv_delimiter(path, "protocol table")
    records = list(csv_records(path, "protocol table", max_cell=MAX_CELL_CHARS, delimiter=delim))  # blank lines skipped
    need = {"species", "intensity"}
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
                if any(ln.count(delim) >= n - 1 for ln in tail if n > 1):
                    raise ValueError(
                        f"protocol table '{path}': line {first}: a quoted cell runs over lines {first}-{last} and "
                        "holds what look like whole rows (an unterminated quote?); a cell may span lines "
                        "only when it is closed by a quote before the next row")
        if len(cells) > n:
            surplus.append(f"line {first} has {len(cells)} cells")
            continue
        row = dict(zip(fieldnames, [*cells, *[""] * (n - len(cells))]))
        if delim == ";":
            _read_decimal_commas(row)
        rows.append(row)
    if surplus:
        more = f" (and {len(surplus) - 5} more rows)" if len(surplus) > 5 else ""
        sep = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}[delim]
        raise ValueError(f"protocol table '{path}': rows may have at most the header's {n} cells; "
                         f"{'; '.join(surplus[:5])}{more} (an unquoted {sep} in a cell?)")
    return fieldnames, rows


#: cells of a semicolon-separated table in which a decimal comma is read as a decimal point
_DECIMAL_COMMA_COLUMNS = ("intensity", "rmt_mso", "amt_mso")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")

#: key of a row read by :func:`read_protocols` holding what reading changed (not an output column)
_READ_NOTES = "_read_notes"


def _read_decimal_commas(row: dict) -> None:
    notes = []
    for col in _DECIMAL_COMMA_COLUMNS:
        v = row.get(col)
        if isinstance(v, str) and _DECIMAL_COMMA.search(v):
            fixed = _DECIMAL_COMMA.sub(".", v)
            notes.append(f"decimal comma read as a point (semicolon-separated table): {col} {v!r} -> {fixed!r}")
            row[col] = fixed
    if notes:
        row[_READ_NOTES] = " | ".join(notes)


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
_KEY_COLUMNS = ("species", "intensity", "intensity_unit", "rmt_mso", "amt_mso", "coil", "stimulator", "_read_notes")

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
    read_notes = [n for n in str(row.get(_READ_NOTES) or "").split(" | ") if n]
    stim_text = row.get("stimulator")
    stim_name, stim_how = match_stimulator(stim_text, stimulator_table)
    stim_notes = []
    if stim_name is not None:
        if stim_name != str(stim_text).strip():
            stim_notes.append(f"stimulator matched: {str(stim_text).strip()!r} -> {stim_name} ({stim_how})")
        stim_text = stim_name
    elif stim_how != "unknown":
        if inten.kind == "mso" or thresholds["rmt_mso"] is not None or thresholds["amt_mso"] is not None:
            return [_refused(stim_how)]  # the stimulator's dI/dt is needed and no table row is certainly meant
        stim_notes.append(f"{stim_how} (not needed for an intensity in {inten.unit})")
    match = match_coil(row.get("coil"), species)
    if match.status == "none":
        return [_refused(match.message)]
    kwargs = dict(rmt_mso=thresholds["rmt_mso"], amt_mso=thresholds["amt_mso"], stimulator_table=stimulator_table,
                  head_model=head_model)
    if match.status == "matched":
        setups, notes = plausible_setups(species, match.coil, stim_text, **kwargs)
        if match.coil != match.text:
            notes.insert(0, f"coil matched: {match.text!r} -> {match.coil} ({match.how})")
    elif match.status == "ambiguous":
        setups, notes = [], [match.message]
        for c in match.candidates:
            s_, n_ = plausible_setups(species, c, stim_text, **kwargs)
            setups += s_
            notes += n_
    else:  # unknown or unrecognised: the declared set of coils, as for an unreported coil
        setups, notes = plausible_setups(species, row.get("coil"), stim_text, **kwargs)
        if match.status == "unrecognised":
            notes.insert(0, match.message)
    notes = list(dict.fromkeys([*read_notes, *stim_notes, *notes]))
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


# --------------------------------------------------------------------------------------------------
# Free-text coil and stimulator names
# --------------------------------------------------------------------------------------------------

#: other names of the coil presets (alias, coil, source); only certain mappings
COIL_ALIASES = Path(__file__).parent / "data" / "coil_aliases.csv"

#: manufacturers of TMS coils and stimulators recognised in free text (first word of the name)
_MANUFACTURERS = ("magstim", "magventure", "deymed", "nexstim", "brainsway", "neurosoft", "neuronetics",
                  "mag&more", "magmore", "medtronic", "dantec", "cadwell", "remed", "yiruide")

#: words that say nothing about which coil or stimulator is meant
_FILLER = {"coil", "coils", "tms", "rtms", "the", "a", "an", "of", "with", "and", "by", "from", "type", "model",
           "standard", "shaped", "shape", "wing", "wings", "stimulator", "stimulators", "system", "device",
           "magnetic", "transcranial", "inc", "ltd", "co", "uk", "company", "series", "unit", "used"}

_FIG8 = re.compile(r"\b(?:fig(?:ure)?\.?[\s\-]*(?:of[\s\-]*)?(?:8|eight)|figure8|butterfly|"
                   r"(?:8|eight)[\s\-]*shaped|double(?![\s\-]*cone))\b")
_CONE = re.compile(r"\b(?:double[\s\-]*cone|dcc)\b")
_ROUND = re.compile(r"\b(?:circular|round|circle|ring)\b")
_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)\s*-?\s*mm\b")
_GLUE = re.compile(r"\b([a-z]{1,4})-([a-z]?\d{2,3})\b|\b([a-z]{1,2})\s([a-z]\d{2,3})\b")
_CODE = re.compile(r"[a-z]+\d+[a-z]*|\d+[a-z]+")


def _norm_text(text: str) -> str:
    t = str(text).lower().replace("μ", "µ").replace("²", "2").replace("_", " ")
    t = re.sub(r"\bmag\s*venture\b", "magventure", t)
    t = re.sub(r"\bmag\s*&\s*more\b", "magmore", t)
    t = _CONE.sub(" cone ", t)
    t = _FIG8.sub(" figure8 ", t)
    t = _ROUND.sub(" circular ", t)
    t = _SIZE.sub(lambda m: f" {m.group(1).rstrip('0').rstrip('.') if '.' in m.group(1) else m.group(1)}mm ", t)
    return _GLUE.sub(lambda m: (m.group(1) or m.group(3)) + (m.group(2) or m.group(4)), t)


def _compact(text: str) -> str:
    """Text compared for an exact name / alias match: lower case without spaces and punctuation."""
    return re.sub(r"[^a-z0-9µ]", "", str(text).lower().replace("μ", "µ"))


def _describe_tokens(text: str) -> dict:
    """The manufacturer, size, kind and model-code tokens of a coil text, and its other words."""
    words = re.findall(r"[a-z0-9µ]+", _norm_text(text))
    out = {"manufacturer": set(), "size": set(), "kind": set(), "code": set(), "words": set()}
    for w in words:
        if w in _MANUFACTURERS:
            out["manufacturer"].add("magmore" if w == "mag&more" else w)
        elif re.fullmatch(r"\d+mm", w):
            out["size"].add(w)
        elif w in ("figure8", "circular", "cone"):
            out["kind"].add(w)
        elif _CODE.fullmatch(w):
            out["code"].add(w)
        elif w not in _FILLER:
            out["words"].add(w)
    return out


_CATEGORIES = ("manufacturer", "size", "kind", "code")


def _load_aliases(path=None) -> list[tuple[str, str, str]]:
    from coils import list_coils

    from .._common.io import csv_table

    path = Path(path) if path else COIL_ALIASES
    out = []
    for line, r in csv_table(path, "coil alias table", {"alias", "coil"})[1]:
        coil = r["coil"].strip()
        if coil not in list_coils():
            raise ValueError(f"coil alias table '{path}': row {line} names coil {coil!r}, which is not a preset; "
                             f"presets: {', '.join(list_coils())}")
        out.append((r["alias"].strip(), coil, (r.get("source") or "").strip()))
    return out


def _coil_profiles() -> dict:
    """Per preset: its id, name, aliases and the tokens of its id, name, manufacturer, kind and aliases."""
    from coils import coil_info, list_coils

    aliases = _load_aliases()
    prof = {}
    for c in list_coils():
        info = coil_info(c)
        texts = [c, info.get("name", ""), info.get("manufacturer", ""), info.get("kind", "")]
        own = [a for a, coil, _ in aliases if coil == c]
        tok = {k: set() for k in (*_CATEGORIES, "words")}
        for t in texts + own:
            for k, v in _describe_tokens(t).items():
                tok[k] |= v
        prof[c] = {"name": info.get("name", ""), "aliases": own, "tokens": tok}
    return prof


class CoilMatch:
    """What a coil cell names: ``status`` is one of

    * ``"unknown"`` — empty / "not reported": the declared set of coils is spanned (as before);
    * ``"matched"`` — one preset, ``coil``; ``how`` says why (exact id, name, alias or tokens);
    * ``"ambiguous"`` — several presets (``candidates``) fit, or one fits without certainty: they are spanned;
    * ``"unrecognised"`` — no manufacturer, size, kind or model code was recognised: the declared set is
      spanned as for an unreported coil, and ``message`` says so with the closest preset names;
    * ``"none"`` — the text names a coil that is none of the presets (another manufacturer, size, kind or
      model code): the row is refused with ``message``.
    """

    def __init__(self, text, status, coil=None, candidates=(), how="", message=""):
        self.text, self.status, self.coil, self.candidates = text, status, coil, list(candidates)
        self.how, self.message = how, message

    def __repr__(self):
        return f"CoilMatch({self.text!r}, {self.status!r}, coil={self.coil!r}, candidates={self.candidates})"


def _known_coils_text(prof) -> str:
    return ", ".join(f"{c} ({p['name']})" for c, p in prof.items())


def _coil_suggestions(text, prof) -> str:
    from .._common.validation import did_you_mean

    return did_you_mean(text, [*prof, *(p["name"] for p in prof.values())])


def match_coil(text, species: str | None = None) -> CoilMatch:
    """Match a coil cell of a protocol table to a preset (deterministic; see :class:`CoilMatch`).

    Rules, in order: empty or "not reported" → unknown; the exact preset id → that preset; the preset's name or
    an alias of :data:`COIL_ALIASES` (ignoring case, spaces and punctuation) → that preset.  Otherwise the text
    is read into manufacturer (Magstim, MagVenture, ...), size ("70 mm"), kind ("figure-8", "figure of eight",
    "fig 8", "butterfly", "double" → figure-8; "round", "circular"; "double cone") and model code ("MC-B70",
    "MCB70", "D70") tokens, and a preset fits when every such token given is one of its own.  One fitting
    preset, with at least two pieces of evidence (a model code counts as two) and no unrecognised words,
    is a match; several fitting presets, or one without that certainty, are ambiguous (spanned, never
    guessed); none fitting is "none" (the row is refused) unless nothing at all was recognised
    ("unrecognised": the declared set is spanned, as for an unreported coil).
    """
    from .translation import _is_unknown

    if _is_unknown(text):
        return CoilMatch(text, "unknown")
    raw = str(text).strip()
    prof = _coil_profiles()
    if raw in prof:
        return CoilMatch(raw, "matched", raw, [raw], "exact id")
    key = _compact(raw)
    for c, p in prof.items():
        if key == _compact(c):
            return CoilMatch(raw, "matched", c, [c], "id match")
    for c, p in prof.items():
        if key == _compact(p["name"]):
            return CoilMatch(raw, "matched", c, [c], "name match")
    for c, p in prof.items():
        if any(key == _compact(a) for a in p["aliases"]):
            return CoilMatch(raw, "matched", c, [c], f"alias in {COIL_ALIASES.name}")
    tok = _describe_tokens(raw)
    given = [k for k in _CATEGORIES if tok[k]]
    shown = ", ".join(f"{k} {'/'.join(sorted(tok[k]))}" for k in given)
    fix = "write a preset id in the coil column (or 'not reported' to span the declared coils)"
    if not given:
        return CoilMatch(raw, "unrecognised", message=(
            f"coil {raw!r} is not a preset and names no manufacturer, size, kind or model code that could be "
            f"matched; spanned the declared coils as for an unreported coil.{_coil_suggestions(raw, prof)} "
            f"To use one coil, {fix}"))
    fits = [c for c, p in prof.items() if all(tok[k] <= p["tokens"][k] for k in given)]
    if not fits:
        return CoilMatch(raw, "none", message=(
            f"coil {raw!r} ({shown}) matches no coil preset.{_coil_suggestions(raw, prof)} "
            f"Presets: {_known_coils_text(prof)}. {fix[0].upper() + fix[1:]}, or give the intensity "
            "for a preset coil"))
    order = _candidate_order(raw, fits, species)
    evidence = sum(2 if k == "code" else 1 for k in given)
    if len(fits) == 1:
        p = prof[fits[0]]["tokens"]
        unexplained = sorted(tok["words"] - p["words"])
        if evidence >= 2 and not unexplained:
            return CoilMatch(raw, "matched", fits[0], fits, f"matched {', '.join(given)}")
        why = (f"the words {', '.join(map(repr, unexplained))} are not recognised" if unexplained
               else f"only the {given[0]} was recognised")
        return CoilMatch(raw, "ambiguous", candidates=order, message=(
            f"coil {raw!r} ({shown}) fits only the preset {fits[0]} but not with certainty ({why}); "
            f"spanned {fits[0]} and said so; to confirm it, {fix}"))
    return CoilMatch(raw, "ambiguous", candidates=order, message=(
        f"coil {raw!r} ({shown}) is ambiguous: it fits {len(order)} presets, "
        f"{', '.join(c + ' (' + prof[c]['name'] + ')' for c in order)}; spanned them (nominal {order[0]}), "
        f"not guessed; to use one, {fix}"))


def _candidate_order(raw: str, fits: list[str], species: str | None) -> list[str]:
    """Fitting presets in a stable order: as the matching free-text keyword of the declared defaults lists
    them, then as the species' declared set of coils lists them, then in preset order."""
    from .translation import defaults

    first = []
    low = raw.lower()
    for key, ids in defaults().get("coil_keywords", {}).items():
        if key in low:
            first = list(ids)
            break
    cfg = defaults()["unknown_setup"].get(species or "", {}) if species else {}
    ranked = list(dict.fromkeys([*first, *cfg.get("coils", []), *fits]))
    return sorted(fits, key=ranked.index)


def _stim_tokens(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9µ]+", _norm_text(text))
    return {w for w in words if w not in _FILLER}


def match_stimulator(text, stimulator_table: str | None = None):
    """Match a stimulator cell to a name of the stimulator table: ``(name, how)``, ``(None, "unknown")`` for
    empty / "not reported", or ``(None, reason)`` when no single table stimulator is certainly meant.

    Exact names (ignoring case, spaces and punctuation) match; otherwise every word of the text must be a word
    of exactly one table name and at least one of them must be more than the manufacturer ("MagPro X100" →
    "MagVenture MagPro X100"; "Magstim" alone, "Magstim Rapid2" or "Magstim 200" do not match "Magstim Rapid")."""
    from .._common.validation import did_you_mean
    from .stimulators import list_stimulators
    from .translation import _is_unknown

    if _is_unknown(text):
        return None, "unknown"
    raw = str(text).strip()
    names = list_stimulators(stimulator_table)
    for n in names:
        if raw == n:
            return n, "exact name"
    for n in names:
        if _compact(raw) == _compact(n):
            return n, "name match"
    tok = _stim_tokens(raw)
    fits = [n for n in names if tok and tok <= _stim_tokens(n) and tok - set(_MANUFACTURERS)]
    if len(fits) == 1:
        return fits[0], "matched model words"
    fix = "Write a stimulator name of the table in the stimulator column, or add a row with --stimulators FILE"
    if fits:
        return None, (f"stimulator {raw!r} is ambiguous: it fits {', '.join(map(repr, fits))}; not guessed. {fix}")
    near = [n for n in names if tok & _stim_tokens(n)]
    close = did_you_mean(raw, names) or (f" Closest by name: {', '.join(map(repr, near))}." if near else "")
    return None, (f"stimulator {raw!r} is not in the stimulator table (known: {', '.join(names)}).{close} {fix}")


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


def _positive_band(r: dict, prefix: str) -> tuple[float, float, float] | None:
    """(nominal, low, high) of a band in the row if all are finite and positive, else None."""
    try:
        band = tuple(float(r[k]) for k in (prefix, f"{prefix}_low", f"{prefix}_high"))
    except (KeyError, TypeError, ValueError):
        return None
    return band if all(math.isfinite(v) and v > 0 for v in band) else None


def _figure(out_rows: list[dict], path: Path, to: str) -> None:
    """``translated.png`` (300 dpi) and ``translated.svg``: one row per translated row up to
    :data:`MAX_FIGURE_BARS` rows, a histogram above (drawn by :func:`efield.views.plots.plot_translation`)."""
    import numpy as np

    from ..views.plots import plot_translation

    labels, eq_e, eq_t = [], [], []
    nan3 = (math.nan, math.nan, math.nan)
    for i, r in enumerate(out_rows, 1):
        band = _positive_band(r, "dest_mso") if r["status"] == "translated" else None
        if band is None:
            continue
        labels.append(f"{i}. {r.get('study', '')} {r.get('year', '')} ({r.get('species', '')}, "
                      f"{r.get('intensity_point', '')})")
        eq_e.append(band)
        eq_t.append(_positive_band(r, "dest_mso_eqthreshold") or nan3)
    plot_translation(labels, eq_e or np.empty((0, 3)), path, equal_threshold=eq_t or None, to=to, total_rows=len(out_rows),
                     max_rows=MAX_FIGURE_BARS)


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
    listed = assumptions_section(out_rows)
    (out_dir / "translated.md").write_text(markdown_table(out_rows, to) + ("\n" + listed if listed else ""))
    notes = ["# Rows", ""]
    for i, r in enumerate(out_rows, 1):
        notes.append(f"{i}. {r.get('study', '')} {r.get('year', '')} ({r.get('species', '')}, "
                     f"{r.get('intensity_point') or r.get('intensity', '')}): {r['status']}"
                     + (f" — {r['reason']}" if r.get("reason") else ""))
    if listed:
        notes += ["", listed.rstrip("\n")]
    (out_dir / "assumptions.md").write_text("\n".join(notes) + "\n")
    _figure(out_rows, out_dir / "translated.png", to)
    from ..views.report import write_report

    write_report(out_dir, title=f"Protocols translated to {to}")


def _row_ranges(rows: list[int]) -> str:
    """``[2, 5, 6, 7, 8, 9]`` → ``"rows 2, 5–9"`` (``"row 3"`` for one row)."""
    parts, start, prev = [], None, None
    for n in sorted(set(rows)):
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = prev = n
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}–{prev}")
    return ("rows " if len(rows) > 1 else "row ") + ", ".join(parts)


def assumptions_section(out_rows: list[dict]) -> str:
    """Markdown list of each distinct assumption of the output rows once, in first-seen order, with the
    output rows (the ``#`` of ``translated.md``) it applies to, e.g. ``- (rows 2, 5–9) coil not reported: ...``;
    ``""`` when no row has an assumption."""
    seen: dict[str, list[int]] = {}
    for i, r in enumerate(out_rows, 1):
        for a in (r.get("assumptions") or "").split(" | "):
            a = a.strip()
            if a:
                seen.setdefault(a, []).append(i)
    if not seen:
        return ""
    lines = ["## Assumptions", "", f"Each assumption once, with the rows (# of translated.md, of "
             f"{len(out_rows)}) it applies to.", ""]
    for a, rows in seen.items():
        lines.append(f"- ({_row_ranges(rows)}) {' '.join(safe_cell(a).split()).replace('|', '/')}")
    return "\n".join(lines) + "\n"
