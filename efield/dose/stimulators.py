"""Stimulators: dI/dt at 100 % MSO for a stimulator + coil pair, measured or estimated.

A measured pair comes from ``efield/dose/data/stimulators.csv`` (cited per row) or a user file of the
same columns.  For a pair nobody measured, the value is *estimated* and every output says so:

    dI/dt_max(S, X) ≈ dI/dt_max(S, R) · (L_R + L_s) / (L_X + L_s)

where R is a coil measured on the same stimulator S, L the self-inductances of the wire models
(:mod:`efield.physics.inductance`) and L_s a series inductance of cable and stimulator (default 0:
unknown, an assumption).  At the start of a pulse the capacitor voltage drives the coil, so
dI/dt = V / L; the estimate keeps V and scales by inductance.  It is checked on the measured
MagPro X100 pairs (MC-B70 and C-B60, both ≈ 155 A/µs, model inductances within 0.1 %).

A peak field in tesla converts to dI/dt through the coil's B per ampere at the reference point
and the waveform: for a damped-cosine dI/dt of period T, the current peaks a quarter period in,
``I_peak ≈ dI/dt_max · T / (2π)``, so ``dI/dt_max = 2π B_peak / (T · B₁)`` with B₁ = |B| per
ampere.  T is 4 × the first zero crossing of dI/dt where the table gives it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._common.io import csv_table

__all__ = [
    "StimulatorPair",
    "load_stimulator_table",
    "list_stimulators",
    "stimulator_pair",
    "coil_inductance",
    "b_per_ampere",
    "didt_from_peak_b",
    "DEFAULT_PERIOD_S",
    "StimulatorError",
    "cross_check",
    "load_peak_fields",
    "estimated_pairs_in_use",
]

_DATA = Path(__file__).parent / "data" / "stimulators.csv"

#: waveform period used when a pair's waveform is unknown: 4 × 74 µs, the MagPro X100 + MC-B70
#: measurement (Drakaki et al. 2022); an assumption, reported as such.
DEFAULT_PERIOD_S = 4 * 74e-6


class StimulatorError(ValueError):
    """No dI/dt can be given for the requested stimulator and coil."""


@dataclass(frozen=True)
class StimulatorPair:
    """dI/dt at 100 % MSO (A/s) for a stimulator + coil, with the waveform period (s) and provenance.

    ``estimated`` is True when no measurement exists and the value was derived (``note`` says how).
    """

    stimulator: str
    coil: str
    didt_max: float
    period: float | None
    flag: str
    source: str
    estimated: bool = False
    note: str = ""
    #: second-route check of an estimate: dI/dt (A/s) from a cited peak B, ratio estimate/second, source;
    #: ``crosscheck_didt`` is None with ``crosscheck_note`` giving the reason when no source exists.
    crosscheck_didt: float | None = None
    crosscheck_ratio: float | None = None
    crosscheck_source: str = ""
    crosscheck_note: str = ""
    #: pulse waveform as tabled ("biphasic", "monophasic"; "" when not given)
    waveform: str = ""

    @property
    def didt_max_aus(self) -> float:
        return self.didt_max / 1e6

    def describe(self) -> str:
        what = f"{self.stimulator} + {self.coil}: {self.didt_max_aus:.2f} A/µs at 100 % MSO"
        if self.estimated:
            return f"{what} (ESTIMATED: {self.note})"
        return f"{what} ({self.flag}: {self.source})"


def _rows(path: Path) -> list[dict]:
    """The data rows of a stimulator CSV, checked (see :func:`efield._common.io.csv_table`); also refuses a
    row whose ``didt_max_aus`` is missing or not a positive number or whose ``first_zero_us`` is not positive."""
    rows = []
    for line, r in csv_table(path, "stimulator file", {"stimulator", "coil", "didt_max_aus"})[1]:
        if _float(r.get("didt_max_aus"), f"row {line} didt_max_aus", path) is None:
            raise ValueError(f"stimulator file '{path}': row {line} has no didt_max_aus")
        _float(r.get("first_zero_us"), f"row {line} first_zero_us", path)
        rows.append(r)
    return rows


def _float(value, what: str, path) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        v = float(value)
    except ValueError:
        raise ValueError(f"stimulator file '{path}': {what} {value!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"stimulator file '{path}': {what} must be positive; got {value!r}")
    return v


@functools.lru_cache(maxsize=8)
def load_stimulator_table(path: str | None = None) -> tuple[StimulatorPair, ...]:
    """The bundled stimulator table, followed by the rows of ``path`` (a user CSV) if given."""
    pairs = []
    for p in [_DATA] + ([Path(path)] if path else []):
        for i, r in enumerate(_rows(p), start=2):
            didt = _float(r.get("didt_max_aus"), f"row {i} didt_max_aus", p)
            if didt is None:
                raise ValueError(f"stimulator file '{p}': row {i} has no didt_max_aus")
            first_zero = _float(r.get("first_zero_us"), f"row {i} first_zero_us", p)
            pairs.append(StimulatorPair(
                stimulator=r["stimulator"].strip(), coil=r["coil"].strip(), didt_max=didt * 1e6,
                period=4 * first_zero * 1e-6 if first_zero else None,
                flag=(r.get("flag") or "user").strip(), source=(r.get("source") or str(p)).strip(),
                waveform=(r.get("waveform") or "").strip().lower(),
            ))
    # a user's row for the same pair overrides the bundled one (later rows win)
    merged = {}
    for pr in pairs:
        merged[(pr.stimulator.lower(), pr.coil.lower())] = pr
    return tuple(merged.values())


def list_stimulators(path: str | None = None) -> list[str]:
    return sorted({p.stimulator for p in load_stimulator_table(path)})


def _stimulator_period(stimulator: str, table) -> float | None:
    periods = [p.period for p in table if p.stimulator.lower() == stimulator.lower() and p.period]
    return float(np.mean(periods)) if periods else None


@functools.lru_cache(maxsize=64)
def coil_inductance(coil_id: str) -> float:
    """Self-inductance (H) of a preset coil's wire model, from its conductor cross-section."""
    from coils import load_coil

    from ..physics.inductance import rectangle_gmd, self_inductance

    coil = load_coil(coil_id)
    geo = coil.metadata.get("geometry") or {}
    width = float(geo.get("conductor_width_m") or 0.0)
    height = float(geo.get("conductor_height_m") or 0.0)
    filaments = int(geo.get("filaments") or 1)
    if width <= 0:
        raise StimulatorError(f"coil {coil_id!r} has no conductor size in its preset; its inductance is unknown")
    sub_height = height / filaments if height > 0 else width
    return self_inductance(coil, rectangle_gmd(width, sub_height))


def stimulator_pair(coil_id: str, stimulator: str | None = None, *, table_path: str | None = None,
                    series_inductance: float = 0.0) -> StimulatorPair:
    """dI/dt at 100 % MSO for ``coil_id`` on ``stimulator`` (default: the coil's own stimulator).

    Order: a measured row for the pair; else an estimate scaled by inductance from a measured coil
    on the same stimulator; else :class:`StimulatorError` telling the user to give dI/dt.

    Parameters
    ----------
    coil_id : str — preset id.
    stimulator : str, optional — stimulator name as in the table (case-insensitive).
    table_path : str, optional — a user CSV with extra or overriding rows.
    series_inductance : float, henry — cable + stimulator inductance for the estimate (default 0).
    """
    from coils import coil_info

    table = load_stimulator_table(table_path)
    if stimulator is None:
        stimulator = coil_info(coil_id).get("stimulator", {}).get("name") if isinstance(
            coil_info(coil_id).get("stimulator"), dict) else None
    if not stimulator:
        raise StimulatorError(
            f"coil {coil_id!r} has no default stimulator; name one (known: {', '.join(list_stimulators(table_path))}) "
            "or give the intensity as dI/dt, e.g. 100A/us"
        )
    known = {p.stimulator.lower() for p in table}
    if stimulator.lower() not in known:
        raise StimulatorError(
            f"stimulator {stimulator!r} is unknown; known stimulators: {', '.join(list_stimulators(table_path))} "
            "(add a row with --stimulators FILE)"
        )
    for p in table:
        if p.stimulator.lower() == stimulator.lower() and p.coil.lower() == coil_id.lower():
            if p.period is None:
                per = _stimulator_period(p.stimulator, table)
                return StimulatorPair(p.stimulator, p.coil, p.didt_max, per, p.flag, p.source, False,
                                      "waveform period from other coils on this stimulator" if per else "",
                                      waveform=p.waveform)
            return p
    # estimate from measured presets on the same stimulator
    from coils import list_coils

    refs = [p for p in table if p.stimulator.lower() == stimulator.lower() and p.coil in list_coils()]
    if not refs:
        raise StimulatorError(
            f"no coil of this toolkit has a measured dI/dt on {stimulator!r}, so none can be estimated for "
            f"{coil_id!r}; give the intensity as dI/dt, e.g. 100A/us"
        )
    l_x = coil_inductance(coil_id)
    estimates = [r.didt_max * (coil_inductance(r.coil) + series_inductance) / (l_x + series_inductance) for r in refs]
    didt = float(np.mean(estimates))
    ref_names = ", ".join(r.coil for r in refs)
    note = (f"scaled by wire-model inductance from {ref_names} on {refs[0].stimulator} "
            f"(L = {l_x * 1e6:.2f} µH vs {', '.join(f'{coil_inductance(r.coil) * 1e6:.2f}' for r in refs)} µH; "
            f"series inductance {series_inductance * 1e6:g} µH assumed)")
    est = StimulatorPair(refs[0].stimulator, coil_id, didt, _stimulator_period(stimulator, table), "C",
                         "estimate", True, note, waveform=refs[0].waveform)
    return cross_check(est)


_PEAK_FIELDS = Path(__file__).parent / "data" / "peak_fields.csv"
NO_SECOND_SOURCE = "no second source found"


def load_peak_fields(path: str | None = None) -> list[dict]:
    """Cited peak-B rows (``efield/dose/data/peak_fields.csv``, then ``path`` if given)."""
    rows = []
    for p in [_PEAK_FIELDS] + ([Path(path)] if path else []):
        for line, r in csv_table(p, "peak-field file", {"stimulator", "coil", "b_peak_t"})[1]:
            b = _float(r.get("b_peak_t"), f"row {line} b_peak_t", p)
            if b is None:
                continue
            z = (r.get("point_z_mm") or "").strip()
            try:
                z_mm = float(z) if z else 0.0
            except ValueError:
                raise ValueError(f"peak-field file '{p}': row {line} point_z_mm {z!r} is not a number (mm)") from None
            if not math.isfinite(z_mm):
                raise ValueError(f"peak-field file '{p}': row {line} point_z_mm must be finite (mm); got {z!r}")
            rows.append({"stimulator": r["stimulator"].strip(), "coil": r["coil"].strip(), "b_peak_t": b,
                         "point_z_mm": z_mm,
                         "flag": (r.get("flag") or "").strip(), "source": (r.get("source") or str(p)).strip()})
    return rows


def cross_check(pair: StimulatorPair, peak_fields_path: str | None = None) -> StimulatorPair:
    """``pair`` with its second-route dI/dt from a cited peak B (or None and the reason)."""
    from dataclasses import replace

    rows = [r for r in load_peak_fields(peak_fields_path)
            if r["stimulator"].lower() == pair.stimulator.lower() and r["coil"].lower() == pair.coil.lower()]
    if not rows:
        return replace(pair, crosscheck_didt=None, crosscheck_ratio=None, crosscheck_note=NO_SECOND_SOURCE)
    from coils import load_coil

    r = rows[-1]
    period = pair.period or DEFAULT_PERIOD_S
    didt2 = didt_from_peak_b(load_coil(pair.coil), r["b_peak_t"], period, point=[0.0, 0.0, -r["point_z_mm"] * 1e-3])
    note = (f"{r['b_peak_t']:g} T at {r['point_z_mm']:g} mm below the coil surface centre, period "
            f"{period * 1e6:.0f} µs" + ("" if pair.period else " (assumed)"))
    return replace(pair, crosscheck_didt=didt2, crosscheck_ratio=pair.didt_max / didt2,
                   crosscheck_source=f"{r['flag']}: {r['source']}", crosscheck_note=note)


def estimated_pairs_in_use() -> list[tuple[str, str]]:
    """(stimulator, coil) pairs the translation defaults use whose dI/dt must be estimated."""
    import tomllib

    from coils import coil_info

    cfg = tomllib.loads((Path(__file__).parent / "data" / "translation_defaults.toml").read_text(encoding="utf-8"))
    cands = []
    for sect in ("unknown_setup", "destination"):
        for v in (cfg.get(sect) or {}).values():
            coils_ = v.get("coils") or ([v["coil"]] if v.get("coil") else [])
            for c in coils_:
                own = coil_info(c).get("stimulator") or {}
                s = own.get("name") if isinstance(own, dict) and own.get("name") else (v.get("stimulator") or None)
                if s:
                    cands.append((s, c))
    stim = (cfg.get("unknown_setup", {}).get("rat") or {}).get("stimulator")
    for cs in (cfg.get("coil_keywords") or {}).values():
        for c in cs:
            own = coil_info(c).get("stimulator") or {}
            if not (isinstance(own, dict) and own.get("name")) and stim:
                cands.append((stim, c))
    measured = {(p.stimulator.lower(), p.coil.lower()) for p in load_stimulator_table()}
    out = []
    for s, c in cands:
        if (s.lower(), c.lower()) not in measured and (s, c) not in out:
            out.append((s, c))
    return out


def b_per_ampere(coil, point=None) -> float:
    """|B| per ampere (T/A) at ``point`` (3,) m in the coil frame; default: the centre of the coil's
    bottom surface (the coil-frame origin), where papers usually quote a coil's peak field."""
    from ..physics.biot_savart import magnetic_field

    p = np.zeros((1, 3)) if point is None else np.asarray(point, dtype=float).reshape(1, 3)
    return float(np.linalg.norm(magnetic_field(coil, p, 1.0)[0]))


def didt_from_peak_b(coil, b_peak: float, period: float, point=None) -> float:
    """dI/dt at the pulse start (A/s) that gives peak |B| ``b_peak`` (T) at ``point`` for a
    damped-cosine pulse of period ``period`` (s): ``2π b_peak / (period · B₁)``."""
    if not (period > 0):
        raise ValueError(f"period must be positive (s); got {period}")
    return 2.0 * math.pi * b_peak / (period * b_per_ampere(coil, point))
