"""Dosimetry of one protocol: set-up + intensity → cortical E metrics (V/m), with assumptions.

Everything is linear in dI/dt: the field of a set-up is computed once per ampere-per-second
(cached) and scaled.  Intensities convert to dI/dt as follows (see :mod:`efield.dose.stimulators`):

* ``%MSO``  → % × dI/dt_max of the stimulator + coil pair (measured, or estimated and flagged);
* ``%RMT``  → % × the motor threshold in %MSO (given per subject, else derived from the species'
  motor-threshold cortical E, an assumption named in the output);
* ``%AMT``  → % × the active motor threshold in %MSO (given per subject, else the RMT times the
  declared AMT/RMT ratio, flagged in the output);
* ``A/µs``  → as given;
* ``T``     → peak |B| at the centre of the coil's bottom surface ÷ |B| per ampere there, times
  2π / waveform period;
* ``V/m``   → the cortical E at the target itself.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..physics.heads import BUILTIN_MESH_HEADS as MESH_HEADS  # noqa: F401  (re-exported name)
from ..physics.heads import SPHERE_HEADS
from .intensity import Intensity, parse_intensity
from .stimulators import DEFAULT_PERIOD_S, StimulatorPair, b_per_ampere, didt_from_peak_b, stimulator_pair

__all__ = ["Setup", "Dose", "dose", "unit_field", "threshold_e", "setup_rmt_mso", "setup_amt_mso", "amt_ratio",
           "defaults", "DoseError"]

_DEFAULTS = Path(__file__).parent / "data" / "translation_defaults.toml"


class DoseError(ValueError):
    """An intensity cannot be converted for this set-up (the message says why)."""


@functools.lru_cache(maxsize=1)
def defaults() -> dict:
    """The declared defaults (``efield/dose/data/translation_defaults.toml``)."""
    with open(_DEFAULTS, "rb") as fh:
        return tomllib.load(fh)


@dataclass(frozen=True)
class Setup:
    """Where and how a coil is used.

    Attributes
    ----------
    head : str — sphere head name: "human", "rat", "mouse".
    coil : str — preset id.
    stimulator : str or None — stimulator name (None: the coil's own default).
    gap : float, metres — extra distance between the coil's bottom surface and the scalp.
    target_depth : float or None, metres — target depth below the scalp (None: the cortical
        surface), on the radius through the cortical hot spot: the coil is assumed to be held so
        that its hot spot lies over the target (under the centre of a figure-8, under the winding of
        a round coil; the centre of a round coil induces no field).
    rmt_mso : float or None, percent — the subject's resting motor threshold on this stimulator and
        coil (None: derived from the species' threshold E, an assumption).
    amt_mso : float or None, percent — the subject's active motor threshold on this stimulator and
        coil (None: the RMT times the declared AMT/RMT ratio, an assumption).
    stimulator_table : str or None — path of a user stimulator CSV.
    field_model : {"fem", "auto", "precomputed"} — mesh heads: "fem" (default) solves the head,
        "precomputed" uses its cortical field model (built and cached if missing), "auto" uses the model
        when one is cached and solves otherwise; every dose names the one that ran.  The default keeps a
        set-up's numbers independent of what happens to be cached (cohorts and tables compare runs);
        ``efield dose --model`` defaults to "auto".  Sphere heads are analytic.
    """

    head: str = "human"
    coil: str = "magstim_70mm_fig8"
    stimulator: str | None = None
    gap: float = 0.0
    target_depth: float | None = None
    rmt_mso: float | None = None
    stimulator_table: str | None = None
    amt_mso: float | None = None
    field_model: str = "fem"

    def __post_init__(self):
        from .._common.validation import MODEL_CHOICES

        if self.field_model not in MODEL_CHOICES:
            raise DoseError(f"field_model must be one of {', '.join(MODEL_CHOICES)}; got {self.field_model!r}")
        for name in ("rmt_mso", "amt_mso"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0 < v <= 100):
                raise DoseError(f"{name} must be a motor threshold in % MSO, in (0, 100]; got {v!r}")

    def describe(self) -> str:
        stim = self.stimulator or "its default stimulator"
        depth = "cortical surface" if self.target_depth is None else f"{self.target_depth * 1e3:.1f} mm deep"
        gap = f", {self.gap * 1e3:g} mm coil-scalp gap" if self.gap else ""
        from ..physics.heads import head_label

        return f"{head_label(self.head)}, {self.coil} on {stim}{gap}, target {depth} under the coil's hot spot"


@dataclass(frozen=True)
class UnitField:
    """Cortical metrics of a set-up per unit dI/dt (V/m per A/s) and its geometry."""

    e_target: float
    e_target_normal: float
    peak: float
    p99: float
    p999: float
    half_max_area_m2: float
    half_max_depth_m: float
    target_point: tuple
    b_ref_per_ampere: float
    model: str = ""


@functools.lru_cache(maxsize=256)
def _unit_field_cached(head_name: str, coil_id: str, gap: float, target_depth, n_subdiv: int,
                       field_model: str = "fem") -> UnitField:
    from coils import load_coil

    from ..physics.fields import cortex_field, standard_pose, total_efield
    from ..physics.metrics import hot_spot_depth, surface_metrics

    head = head_by_name(head_name)
    coil = load_coil(coil_id)
    placed = coil.placed(standard_pose(head, distance=gap, coil=coil))
    res = cortex_field(placed, head, 1.0, n_subdiv=n_subdiv, model=field_model)
    m = surface_metrics(res)
    if not hasattr(head, "scalp_radius"):
        return _mesh_unit_field(head, placed, coil, res, m, target_depth)
    depth = head.scalp_radius - head.cortex_radius if target_depth is None else float(target_depth)
    if not 0 <= depth < head.scalp_radius:
        raise DoseError(f"target_depth must lie inside the {head_name} head (0 to {head.scalp_radius * 1e3:.1f} mm); "
                        f"got {depth * 1e3:.2f} mm")
    # the coil is held so that its cortical hot spot lies over the target: the target is on the
    # radius through the peak |E| point of the cortex (under the centre of a figure-8, under the
    # winding of a round coil)
    normal = np.asarray(m["peak_point_m"]) - head.center
    normal = normal / np.linalg.norm(normal)
    target = np.asarray(head.center) + (head.scalp_radius - depth) * normal
    e = total_efield(placed, head, target[None], 1.0)[0]
    return UnitField(
        e_target=float(np.linalg.norm(e)), e_target_normal=float(e @ normal),
        peak=m["peak_vm"], p99=m["p99_vm"], p999=m["p999_vm"], half_max_area_m2=m["half_max_area_m2"],
        half_max_depth_m=hot_spot_depth(placed, head, res),
        target_point=tuple(target.tolist()), b_ref_per_ampere=b_per_ampere(coil),
    )


def _mesh_unit_field(head, placed, coil, res, m, target_depth) -> UnitField:
    """Mesh heads: the target is the cortical hot spot (the reporting surface's peak |E|)."""
    from ..physics.metrics import hot_spot_depth

    if target_depth is not None:
        raise DoseError(f"target_depth is not supported on mesh head {head.name!r} yet: the target is the "
                        "hot spot on its reporting surface")
    k = int(res.magnitude.argmax())
    target, normal = res.points[k], res.normals[k]
    depth = hot_spot_depth(placed, head, res)
    if res.info.get("precomputed"):
        model = (f"{res.info['model']}, fit residual {res.info['model_fit_residual']:.2%} of the coil's field at "
                 f"its fit points; {res.info.get('depth_note') or 'half-value depth from the model'}"
                 + (f"; WARNING: {res.info['model_warning']}" if res.info.get("model_warning") else ""))
    else:
        model = "second-order FEM on the mesh, tissue conductivities as listed in the head's provenance"
        if res.info.get("model_note"):
            model += f" ({res.info['model_note']})"
    return UnitField(
        e_target=float(res.magnitude[k]), e_target_normal=float(res.efield[k] @ normal),
        peak=m["peak_vm"], p99=m["p99_vm"], p999=m["p999_vm"], half_max_area_m2=m["half_max_area_m2"],
        half_max_depth_m=depth, target_point=tuple(target.tolist()), b_ref_per_ampere=b_per_ampere(coil),
        model=model,
    )


#: head names: sphere heads, then the built-in meshes (rodents "<species>-mesh", culture "dish")
def head_by_name(name):
    """Any head: a built-in name (spheres human/rat/mouse; meshes human-mesh/rat-mesh/mouse-mesh/dish),
    a ``.msh``/``.vtu`` file or a SimNIBS ``m2m_<id>`` folder (see :mod:`efield.physics.heads`)."""
    from ..physics.heads import load_any_head

    return load_any_head(name)


def species_of(head_name) -> str:
    """The species whose thresholds apply to a head ("cells" for the dish); see
    :func:`efield.physics.heads.head_species` for file heads."""
    from ..physics.heads import head_species

    return head_species(head_name)[0]


def unit_field(setup: Setup, n_subdiv: int = 4) -> UnitField:
    """Metrics of ``setup`` per unit dI/dt (cached)."""
    return _unit_field_cached(setup.head, setup.coil, float(setup.gap), setup.target_depth, n_subdiv,
                              setup.field_model)


def _pair(setup: Setup) -> StimulatorPair:
    return stimulator_pair(setup.coil, setup.stimulator, table_path=setup.stimulator_table)


@functools.lru_cache(maxsize=16)
def threshold_e(species: str) -> tuple[float, float, float, str]:
    """Motor-threshold cortical E (nominal, low, high) in V/m for ``species``, and how it was obtained."""
    spec = defaults()["threshold"].get(species)
    if spec is None:
        raise DoseError(f"no motor threshold is declared for species {species!r}; give --rmt")
    if "same_e_as" in spec:
        e, lo, hi, how = threshold_e(spec["same_e_as"])
        return e, lo, hi, f"motor-threshold E of {species} = that of {spec['same_e_as']} ({spec['flag']}: {spec['source']}); {how}"
    ref = Setup(head=species, coil=spec["coil"], stimulator=spec["stimulator"])
    per = unit_field(ref).e_target * _pair(ref).didt_max / 100.0  # V/m per % MSO
    how = (f"{species} motor-threshold E = E at the cortex under {spec['coil']} on {spec['stimulator']} at RMT "
           f"{spec['rmt_mso']:g} % MSO (band {spec['rmt_mso_low']:g}-{spec['rmt_mso_high']:g}; {spec['flag']}: {spec['source']})")
    return per * spec["rmt_mso"], per * spec["rmt_mso_low"], per * spec["rmt_mso_high"], how


def setup_rmt_mso(setup: Setup) -> tuple[float, float, float, str]:
    """Resting motor threshold (nominal, low, high) in % MSO for ``setup`` and its provenance."""
    if setup.rmt_mso is not None:
        return setup.rmt_mso, setup.rmt_mso, setup.rmt_mso, f"RMT {setup.rmt_mso:g} % MSO (given)"
    e, lo, hi, how = threshold_e(species_of(setup.head))
    per = unit_field(setup).e_target * _pair(setup).didt_max / 100.0
    return e / per, lo / per, hi / per, f"RMT derived from the threshold E: {how}"


def amt_ratio() -> tuple[float, float, float, str]:
    """Declared AMT/RMT ratio (nominal, low, high; dimensionless) and its provenance."""
    spec = defaults()["threshold"]["amt_over_rmt"]
    return (spec["ratio"], spec["ratio_low"], spec["ratio_high"],
            f"AMT = {spec['ratio']:g} x RMT (band {spec['ratio_low']:g}-{spec['ratio_high']:g}; "
            f"{spec['flag']}: {spec['source']})")


def setup_amt_mso(setup: Setup) -> tuple[float, float, float, str]:
    """Active motor threshold (nominal, low, high) in % MSO for ``setup`` and its provenance."""
    if setup.amt_mso is not None:
        return setup.amt_mso, setup.amt_mso, setup.amt_mso, f"AMT {setup.amt_mso:g} % MSO (given)"
    r, r_lo, r_hi, how_r = amt_ratio()
    rmt, lo, hi, how = setup_rmt_mso(setup)
    return rmt * r, lo * r_lo, hi * r_hi, f"AMT derived from the RMT: {how_r}; {how}"


@dataclass(frozen=True)
class Dose:
    """Cortical E of one protocol point (values at the nominal intensity; ``*_band`` = (low, high)).

    Units: didt A/s; E values V/m; mso and rmt percent; areas m²; depths m.
    """

    setup: Setup
    intensity: Intensity
    didt: float
    didt_band: tuple[float, float]
    e_target: float
    e_target_band: tuple[float, float]
    e_target_normal: float
    peak: float
    p99: float
    p999: float
    half_max_area_m2: float
    half_max_depth_m: float
    mso: float | None
    rmt_pct: float | None
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    amt_pct: float | None = None


def _didt_of(setup: Setup, kind: str, value: float, notes: list[str]) -> float:
    """dI/dt (A/s) of one intensity value for ``setup``; appends the assumptions it used."""
    if kind == "didt":
        return value
    if kind == "e_field":
        return value / unit_field(setup).e_target
    if kind == "b_peak":
        from coils import load_coil

        try:
            pair = _pair(setup)
            period = pair.period
        except ValueError:
            period = None
        if period is None:
            period = DEFAULT_PERIOD_S
            notes.append(f"waveform period {period * 1e6:.0f} µs assumed (MagPro X100 + MC-B70 measurement)")
        notes.append(f"peak B taken at the centre of the coil's bottom surface "
                     f"({unit_field(setup).b_ref_per_ampere * 1e3:.4g} mT per A for {setup.coil}); damped-cosine pulse")
        return didt_from_peak_b(load_coil(setup.coil), value, period)
    pair = _pair(setup)
    notes.append(pair.describe())
    if kind == "mso":
        return pair.didt_max * value / 100.0
    if kind == "rmt":
        rmt, _, _, how = setup_rmt_mso(setup)
        notes.append(how)
        return pair.didt_max * rmt / 100.0 * value / 100.0
    if kind == "amt":
        amt, _, _, how = setup_amt_mso(setup)
        notes.append(how)
        return pair.didt_max * amt / 100.0 * value / 100.0
    raise DoseError(f"intensity kind {kind!r} cannot be converted")


#: the largest plausible value (SI) of each intensity kind, and the unit mistake a larger one suggests
PLAUSIBLE_MAX = {
    "didt": (1e10, "10,000 A/µs; TMS stimulators deliver at most a few hundred A/µs — A/s or A/ms given as A/µs?"),
    "b_peak": (20.0, "20 T; TMS coils reach a few tesla at most — mT given as T?"),
    "e_field": (1e4, "10,000 V/m; TMS induces at most a few hundred V/m in the cortex — mV/m given as V/m?"),
    "rmt": (1000.0, "1000 % RMT"),
    "amt": (1000.0, "1000 % AMT"),
}


def _check_plausible(inten: Intensity) -> None:
    """Refuse an intensity beyond what any TMS set-up delivers, naming the likely unit mistake."""
    limit = PLAUSIBLE_MAX.get(inten.kind)
    if limit is not None and max(inten.values) > limit[0]:
        raise DoseError(f"intensity {inten} is implausible: above {limit[1]}")


def dose(setup: Setup, intensity, *, limit_mso: bool = True) -> list[Dose]:
    """Cortical dose of ``intensity`` (text or :class:`Intensity`) for ``setup``: one :class:`Dose`
    per listed value; a range gives one Dose whose bands span it.

    ``limit_mso``: refuse (:class:`DoseError`) an intensity that needs more than 100 % of the
    stimulator's output (translation spans hypothetical set-ups and turns it off)."""
    inten = intensity if isinstance(intensity, Intensity) else parse_intensity(intensity)
    _check_plausible(inten)
    out = []
    for point in inten.points:
        notes: list[str] = []
        lo = _didt_of(setup, point.kind, point.low, notes)
        hi = _didt_of(setup, point.kind, point.high, [])
        mid = _didt_of(setup, point.kind, point.nominal, [])
        uf = unit_field(setup)
        try:
            pair = _pair(setup)
            mso = 100.0 * mid / pair.didt_max
        except ValueError:
            pair, mso = None, None
        if limit_mso and pair is not None and 100.0 * max(lo, hi, mid) / pair.didt_max > 100.0 + 1e-9:
            raise DoseError(f"intensity {point} needs {100.0 * max(lo, hi, mid) / pair.didt_max:.4g} % MSO on "
                            f"{pair.stimulator} + {pair.coil}, beyond its maximum output (100 % MSO = "
                            f"{pair.didt_max_aus:.4g} A/µs)")
        rmt_pct = None
        if pair is not None:
            try:
                rmt, _, _, how = setup_rmt_mso(setup)
                rmt_pct = 100.0 * mso / rmt
                if point.kind != "rmt" and not (point.kind == "amt" and setup.amt_mso is None):
                    notes.append(how)
            except ValueError:
                pass
        amt_pct = None
        if pair is not None and (point.kind == "amt" or setup.amt_mso is not None):
            amt, _, _, how = setup_amt_mso(setup)
            amt_pct = 100.0 * mso / amt
            if point.kind != "amt":
                notes.append(how)
        model = "sphere model (conductivity-independent)" if str(setup.head) in SPHERE_HEADS else uf.model
        notes.append(f"head: {setup.describe()}; {model}")
        out.append(Dose(
            setup=setup, intensity=point, didt=mid, didt_band=(lo, hi),
            e_target=uf.e_target * mid, e_target_band=(uf.e_target * lo, uf.e_target * hi),
            e_target_normal=uf.e_target_normal * mid, peak=uf.peak * mid, p99=uf.p99 * mid, p999=uf.p999 * mid,
            half_max_area_m2=uf.half_max_area_m2, half_max_depth_m=uf.half_max_depth_m,
            mso=mso, rmt_pct=rmt_pct, assumptions=tuple(dict.fromkeys(notes)), amt_pct=amt_pct,
        ))
    return out


def with_gap(setup: Setup, gap: float) -> Setup:
    return replace(setup, gap=gap)
