"""Dose translation between set-ups (rodent ↔ human), under two principles side by side.

1. **Equal absolute E**: the destination intensity gives the same cortical E at its target as the
   source did at its target.
2. **Equal fraction of the motor-threshold E**: the destination intensity is the same fraction of
   its motor threshold as the source was of its own (thresholds as cortical E, see
   :func:`efield.dose.threshold_e`).

A protocol that does not name its coil, stimulator or coil–scalp gap is the normal case: the source
E is then computed for every declared plausible set-up (``efield/dose/data/translation_defaults.toml``)
and reported as a band (min–max) around the nominal set-up, never as one number dressed as
certain.  All results are linear in the source intensity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dosimetry import (MESH_HEADS, Dose, DoseError, Setup, amt_ratio, defaults, dose, setup_rmt_mso, species_of,
                        threshold_e, unit_field)
from .intensity import Intensity, parse_intensity
from .stimulators import stimulator_pair

__all__ = ["Band", "Translation", "translate", "plausible_setups", "destination_setup"]

_UNKNOWN = {"", "not reported", "unknown", "nr", "n/a", "na", "none"}


@dataclass(frozen=True)
class Band:
    """A value with its plausible range: ``nominal`` and ``(low, high)``."""

    nominal: float
    low: float
    high: float

    @classmethod
    def of(cls, nominal: float, values) -> "Band":
        vals = list(values) + [nominal]
        return cls(float(nominal), float(min(vals)), float(max(vals)))

    def scaled(self, factor: float) -> "Band":
        lo, hi = sorted((self.low * factor, self.high * factor))
        return Band(self.nominal * factor, lo, hi)

    def __str__(self) -> str:
        if abs(self.high - self.low) <= 1e-12 * max(abs(self.high), 1e-300):
            return f"{self.nominal:.4g}"
        return f"{self.nominal:.4g} [{self.low:.4g}–{self.high:.4g}]"


@dataclass(frozen=True)
class Translation:
    """Result of translating one source intensity point to a destination set-up.

    Units: E in V/m; dI/dt in A/s; %MSO and %RMT in percent.
    """

    source_intensity: Intensity
    source_e: Band
    dest_setup: Setup
    dest_didt: Band
    dest_mso: Band | None
    dest_rmt: Band | None
    dest_rmt_threshold: Band | None
    dest_mso_threshold: Band | None
    source_setups: tuple[Setup, ...]
    assumptions: tuple[str, ...] = field(default_factory=tuple)


def _is_unknown(text) -> bool:
    return text is None or str(text).strip().lower() in _UNKNOWN


def plausible_setups(species: str, coil: str | None = None, stimulator: str | None = None,
                     gap: float | None = None, rmt_mso: float | None = None,
                     stimulator_table: str | None = None, head_model: str = "sphere",
                     amt_mso: float | None = None) -> tuple[list[Setup], list[str]]:
    """Source set-ups to span for a protocol (first = nominal) and the assumptions that made them.

    ``coil`` may be a preset id, free text (keywords such as "round" or "figure-8" narrow the
    declared set) or unknown; likewise ``stimulator``.  ``species`` "cells" uses the culture dish;
    ``head_model="mesh"`` puts rats and mice in their built-in mesh heads instead of spheres.
    """
    from coils import list_coils

    cfg = defaults()["unknown_setup"].get(species)
    head = cfg.get("head", species) if cfg else species
    if cfg is not None and head_model == "mesh" and species in ("rat", "mouse"):
        head = f"{species}-mesh"
    if cfg is None:
        raise DoseError(f"species {species!r} has no head model; known: {', '.join(defaults()['unknown_setup'])}")
    notes = []
    if not _is_unknown(coil) and coil in list_coils():
        coils_ = [coil]
    else:
        coils_ = list(cfg["coils"])
        if not _is_unknown(coil):
            text = str(coil).lower()
            for key, ids in defaults().get("coil_keywords", {}).items():
                if key in text:
                    coils_ = [c for c in ids]
                    break
            notes.append(f"coil {coil!r} is not a preset: spanned {', '.join(coils_)}")
        else:
            notes.append(f"coil not reported: spanned {', '.join(coils_)} ({cfg['why']})")
    stim = None if _is_unknown(stimulator) else str(stimulator)
    if stim is None and cfg.get("stimulator"):
        notes.append(f"stimulator not reported: assumed {cfg['stimulator']} where the coil has no own stimulator")
    gaps = [gap] if gap is not None else [g * 1e-3 for g in cfg["gaps_mm"]]
    if gap is None:
        notes.append(f"coil-scalp gap not reported: spanned {', '.join(f'{g:g}' for g in cfg['gaps_mm'])} mm")
    setups = []
    for c in coils_:
        s = stim
        if s is None:
            from coils import coil_info

            own = coil_info(c).get("stimulator") or {}
            s = own.get("name") if isinstance(own, dict) and own.get("name") else (cfg.get("stimulator") or None)
        for g in gaps:
            setups.append(Setup(head=head, coil=c, stimulator=s, gap=g, rmt_mso=rmt_mso,
                                stimulator_table=stimulator_table, amt_mso=amt_mso))
    return setups, notes


def destination_setup(species: str, coil: str | None = None, stimulator: str | None = None,
                      rmt_mso: float | None = None, gap: float = 0.0, stimulator_table: str | None = None,
                      amt_mso: float | None = None) -> Setup:
    """The destination set-up, filling unnamed parts from the declared defaults.

    ``species``: "human", "rat", "mouse" (sphere heads), "rat-mesh", "mouse-mesh" (built-in meshes)
    or "cells"/"dish" (the culture dish)."""
    d = defaults()["destination"].get(species_of(species))
    if d is None:
        known = sorted(defaults()["destination"]) + sorted(MESH_HEADS)
        raise DoseError(f"no head or destination default for {species!r}; known: {', '.join(known)}")
    head = d.get("head", species) if species == species_of(species) else species
    return Setup(head=head, coil=coil or d["coil"], stimulator=stimulator or d["stimulator"], gap=gap,
                 rmt_mso=rmt_mso, stimulator_table=stimulator_table, amt_mso=amt_mso)


def translate(intensity, source, dest: Setup) -> list[Translation]:
    """Translate ``intensity`` given for ``source`` (a Setup or a list of plausible Setups, the first
    nominal) to ``dest``: one :class:`Translation` per listed intensity value."""
    inten = intensity if isinstance(intensity, Intensity) else parse_intensity(intensity)
    setups = [source] if isinstance(source, Setup) else list(source)
    if not setups:
        raise DoseError("source must name at least one set-up")
    dest_uf = unit_field(dest)
    try:
        dest_pair = stimulator_pair(dest.coil, dest.stimulator, table_path=dest.stimulator_table)
    except ValueError:
        dest_pair = None
    results = []
    for point in inten.points:
        notes: list[str] = []
        e_vals, frac_vals = [], []
        nominal_e = nominal_frac = None
        for k, s in enumerate(setups):
            d: Dose = dose(s, point, limit_mso=False)[0]
            notes.extend(d.assumptions)
            e_vals += [d.e_target_band[0], d.e_target_band[1]]
            # fraction of the source's own motor-threshold E (none for cells in a dish)
            if species_of(s.head) == "cells":
                fr = None
            elif point.kind == "rmt":
                fr = (point.low / 100.0, point.high / 100.0, point.nominal / 100.0)
            elif point.kind == "amt" and s.amt_mso is None:
                r, r_lo, r_hi, how = amt_ratio()
                notes.append(how)
                fr = (point.low / 100.0 * r_lo, point.high / 100.0 * r_hi, point.nominal / 100.0 * r)
            else:
                e_thr, e_lo, e_hi, how = threshold_e(species_of(s.head)) if s.rmt_mso is None else (None, None, None, "")
                if s.rmt_mso is not None:
                    rmt, _, _, how = setup_rmt_mso(s)
                    e_thr = e_lo = e_hi = unit_field(s).e_target * stimulator_pair(
                        s.coil, s.stimulator, table_path=s.stimulator_table).didt_max * rmt / 100.0
                notes.append(how)
                fr = (d.e_target_band[0] / e_hi, d.e_target_band[1] / e_lo, d.e_target / e_thr)
            if fr is not None:
                frac_vals += list(fr[:2])
            if k == 0:
                nominal_e, nominal_frac = d.e_target, (fr[2] if fr is not None else None)
        source_e = Band.of(nominal_e, e_vals)
        didt = source_e.scaled(1.0 / dest_uf.e_target)
        dest_mso = dest_rmt = dest_rmt_thr = dest_mso_thr = None
        if dest_pair is not None:
            dest_mso = didt.scaled(100.0 / dest_pair.didt_max)
            notes.append(f"destination: {dest_pair.describe()}")
            rmt, rmt_lo, rmt_hi, how = setup_rmt_mso(dest)
            notes.append(f"destination {how}")
            dest_rmt = Band.of(100.0 * dest_mso.nominal / rmt,
                               [100.0 * dest_mso.low / rmt_hi, 100.0 * dest_mso.high / rmt_lo])
            if nominal_frac is not None:
                frac = Band.of(nominal_frac, frac_vals)
                dest_rmt_thr = frac.scaled(100.0)
                dest_mso_thr = Band.of(frac.nominal * rmt, [frac.low * rmt_lo, frac.high * rmt_hi])
            else:
                notes.append("no motor threshold in a dish: only the equal-E principle applies")
        else:
            notes.append(f"destination coil {dest.coil!r} has no stimulator dI/dt: only dI/dt is given")
        notes.append(f"destination head: {dest.describe()}")
        results.append(Translation(
            source_intensity=point, source_e=source_e, dest_setup=dest, dest_didt=didt, dest_mso=dest_mso,
            dest_rmt=dest_rmt, dest_rmt_threshold=dest_rmt_thr, dest_mso_threshold=dest_mso_thr,
            source_setups=tuple(setups), assumptions=tuple(dict.fromkeys(n for n in notes if n)),
        ))
    return results
