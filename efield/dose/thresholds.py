"""The motor-threshold chain, checked against thresholds published on other stimulator + coil pairs.

The toolkit turns one human resting motor threshold (RMT, in % MSO on one named pair, declared in
``translation_defaults.toml [threshold.human]``) into a cortical E (V/m) with its validated coil
model, and every other %RMT follows from that E.  If the chain is right, the RMT it predicts on
another pair by *equal cortical E*,

    RMT_pred(pair) = E_threshold / (E per A/s of the pair's coil × dI/dt at 100 % MSO / 100),

matches what labs measure on that pair.  :func:`threshold_table` sets the prediction beside every
published row of ``efield/dose/data/thresholds.csv`` and beside each measured pair of the toolkit's own
presets (predicted only, where no published value was found), with a status that says which rows
are checks, which is the calibration itself, and why a row could not be predicted.

Equal peak E is equal effect only for the same waveform: a monophasic and a biphasic pulse of the
same peak dI/dt do not reach threshold alike, and the toolkit has no cited correction between them,
so a row measured with another waveform than the calibration is not predicted (the status says so).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .._common.io import csv_table
from .dosimetry import DoseError, Setup, defaults, setup_rmt_mso
from .stimulators import StimulatorError, load_stimulator_table, stimulator_pair

__all__ = ["ThresholdRow", "threshold_table", "threshold_lines", "load_published_thresholds", "ThresholdFileError"]

_DATA = Path(__file__).parent / "data" / "thresholds.csv"
_COLUMNS = ("stimulator", "coil", "waveform", "threshold", "mso", "mso_low", "mso_high", "muscle", "flag", "source")


class ThresholdFileError(ValueError):
    """A published-threshold file that cannot be read (the message names the file, row and column)."""


@dataclass(frozen=True)
class ThresholdRow:
    """One stimulator + coil pair: the published RMT (if any) beside the RMT predicted by equal E.

    Units: every ``*_mso`` is percent of maximum stimulator output; bands are (low, high).
    ``ratio`` = published / predicted nominal (None unless both exist).
    """

    stimulator: str
    coil: str
    waveform: str
    published_mso: float | None
    published_band: tuple[float, float] | None
    predicted_mso: float | None
    predicted_band: tuple[float, float] | None
    ratio: float | None
    status: str
    flag: str
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


def _number(value, what: str, path, row: int) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ThresholdFileError(f"threshold file '{path}', row {row}: {what} must be a number in % MSO; "
                                 f"got {value!r}") from None
    if not (math.isfinite(v) and 0 < v <= 100):
        raise ThresholdFileError(f"threshold file '{path}', row {row}: {what} must be in (0, 100] % MSO; got {value!r}")
    return v


@functools.lru_cache(maxsize=4)
def load_published_thresholds(path: str | None = None) -> tuple[dict, ...]:
    """Rows of the published-threshold CSV (bundled file, or ``path``), checked; mso values in % MSO."""
    p = Path(path) if path else _DATA
    try:  # comments, encoding, CSV errors and surplus cells as for every table (row numbers = file lines)
        header, table = csv_table(p, "threshold file", set())
    except ValueError as exc:
        raise ThresholdFileError(str(exc)) from None
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise ThresholdFileError(f"threshold file '{p}' lacks columns {missing}; needs {list(_COLUMNS)}")
    rows = []
    for i, r in table:
        if r["threshold"].strip() != "rmt":
            raise ThresholdFileError(f"threshold file '{p}', row {i}: threshold must be 'rmt'; got {r['threshold']!r}")
        if r["waveform"].strip() not in ("monophasic", "biphasic"):
            raise ThresholdFileError(f"threshold file '{p}', row {i}: waveform must be monophasic or biphasic; "
                                     f"got {r['waveform']!r}")
        mso, lo, hi = (_number(r[c], c, p, i) for c in ("mso", "mso_low", "mso_high"))
        if not lo <= mso <= hi:
            raise ThresholdFileError(f"threshold file '{p}', row {i}: need mso_low <= mso <= mso_high; "
                                     f"got {lo:g}, {mso:g}, {hi:g}")
        rows.append({**{c: r[c].strip() for c in _COLUMNS}, "mso": mso, "mso_low": lo, "mso_high": hi})
    return tuple(rows)


def _predict(coil: str, stimulator: str) -> tuple[float, tuple[float, float]]:
    rmt, lo, hi, _ = setup_rmt_mso(Setup(head="human", coil=coil, stimulator=stimulator))
    return rmt, (lo, hi)


def threshold_table(path: str | None = None) -> list[ThresholdRow]:
    """The calibration pair, every published row and each measured preset pair, with predicted RMT.

    Parameters
    ----------
    path : str, optional — a published-threshold CSV of the bundled file's columns (default: bundled).
    """
    cal = defaults()["threshold"]["human"]
    cal_key = (cal["stimulator"].lower(), cal["coil"].lower())
    cal_waveform = stimulator_pair(cal["coil"], cal["stimulator"]).waveform or "unknown"
    out = []
    pred, band = _predict(cal["coil"], cal["stimulator"])
    out.append(ThresholdRow(cal["stimulator"], cal["coil"], cal_waveform, cal["rmt_mso"],
                            (cal["rmt_mso_low"], cal["rmt_mso_high"]), pred, band, cal["rmt_mso"] / pred,
                            "calibration: the threshold E is taken from this row, so it agrees by construction "
                            "(not a check)", cal["flag"], cal["source"]))
    seen = {cal_key}
    for r in load_published_thresholds(path):
        key = (r["stimulator"].lower(), r["coil"].lower())
        seen.add(key)
        pub, pub_band = r["mso"], (r["mso_low"], r["mso_high"])
        if r["waveform"] != cal_waveform:
            status = (f"not predicted: measured with a {r['waveform']} pulse, the calibration with a "
                      f"{cal_waveform} one; equal peak E is not equal effect across waveforms and no cited "
                      "waveform correction is built in")
            try:
                stimulator_pair(r["coil"], r["stimulator"])
            except (StimulatorError, KeyError, ValueError):
                status += f"; nor is a dI/dt known for {r['coil']} on {r['stimulator']}"
            out.append(ThresholdRow(r["stimulator"], r["coil"], r["waveform"], pub, pub_band, None, None, None,
                                    status, r["flag"], r["source"]))
            continue
        try:
            pred, band = _predict(r["coil"], r["stimulator"])
        except (DoseError, StimulatorError, KeyError, ValueError) as exc:
            out.append(ThresholdRow(r["stimulator"], r["coil"], r["waveform"], pub, pub_band, None, None, None,
                                    f"not predicted: {exc}", r["flag"], r["source"]))
            continue
        overlap = band[0] <= pub_band[1] and pub_band[0] <= band[1]
        status = ("check: predicted and published bands overlap" if overlap else
                  f"check FAILS: predicted {band[0]:.1f}-{band[1]:.1f} % MSO, published {pub_band[0]:g}-{pub_band[1]:g}")
        out.append(ThresholdRow(r["stimulator"], r["coil"], r["waveform"], pub, pub_band, pred, band, pub / pred,
                                status, r["flag"], r["source"]))
    from coils import list_coils

    for p in load_stimulator_table():
        key = (p.stimulator.lower(), p.coil.lower())
        if key in seen or p.coil not in list_coils():
            continue
        seen.add(key)
        pred, band = _predict(p.coil, p.stimulator)
        out.append(ThresholdRow(p.stimulator, p.coil, p.waveform or "unknown", None, None, pred, band, None,
                                "prediction only: no published RMT for this pair was found in the sources read",
                                p.flag, f"dI/dt: {p.source}"))
    return out


def threshold_lines(rows) -> list[str]:
    """The threshold-chain table as text lines (``efield stimulators --thresholds`` and the demo)."""
    def band(b):
        return "—" if b is None else f"{b[0]:.1f}-{b[1]:.1f}"

    lines = [f"{'stimulator':24s} {'coil':20s} {'waveform':10s} {'published RMT % MSO':>22s} "
             f"{'predicted (equal E)':>22s} {'ratio':>6s}  status"]
    for r in rows:
        pub = "none found" if r.published_mso is None else f"{r.published_mso:g} ({band(r.published_band)})"
        pred = "—" if r.predicted_mso is None else f"{r.predicted_mso:.1f} ({band(r.predicted_band)})"
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"{r.stimulator:24s} {r.coil:20s} {r.waveform:10s} {pub:>22s} {pred:>22s} {ratio:>6s}  {r.status}")
        lines.append(f"{'':24s} source [{r.flag}]: {r.source}")
    return lines
