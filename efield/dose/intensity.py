"""Stimulation intensities as reported in papers: ``"23-25 %MSO"``, ``"120%RMT"``, ``"155 A/µs"``, ``"1.14 T"``.

:func:`parse_intensity` reads the text of a protocol table (value and unit in one string, or the
unit in its own column) into an :class:`Intensity`: a kind, SI values and whether the values are a
band ``low–high`` or a list of separate intensities ``a;b;c``.

Kinds and the units they are stored in (SI inside, display units at the edges):

========  =============================================  ==========  ==============
kind      meaning                                        stored in   displayed in
========  =============================================  ==========  ==============
mso       percent of the stimulator's maximum output     percent     %MSO
rmt       percent of the resting motor threshold         percent     %RMT
amt       percent of the active motor threshold          percent     %AMT
didt      rate of change of coil current, dI/dt          A/s         A/µs
b_peak    peak magnetic flux density at a stated point   T           T
e_field   cortical electric-field target                 V/m         V/m
========  =============================================  ==========  ==============

Accepted units (case-insensitive, spaces inside ignored): %MSO; %RMT (also %MT, "50% MT" in
papers means the resting motor threshold); %AMT (active motor threshold, in which theta-burst
protocols are dosed); A/s, A/ms, A/µs (also A/us, A/μs); T, mT, µT (also uT); V/m.  ``MT`` in capitals without ``%`` is refused as ambiguous (motor threshold or millitesla).
Loose spellings are normalised where unambiguous: ``%mso``, ``% M.S.O.``, ``MSO%``, ``percent MSO``,
``% MS0`` (zero for O), ``%rMT``, ``RMT%``; an unknown unit is refused with the closest allowed one
("Did you mean '%MSO'?").

Numbers use a decimal point; a comma is refused because it could be a decimal comma or a list
separator.  Ranges: ``23-25``, ``23–25`` (en dash), ``23 — 25`` (em dash), ``23 to 25``.
Lists: ``25;50;75;100``.  Conversions to SI are exact to the float: ``"10 mT"`` is
``float("10e-3") == 0.01`` and ``"155 A/us"`` is ``155e6``.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from decimal import Decimal

from .units import A_PER_US

__all__ = [
    "Intensity",
    "IntensityError",
    "parse_intensity",
    "parse_didt",
    "format_intensity_value",
    "INTENSITY_KINDS",
    "INTENSITY_UNITS",
]

#: kinds of intensity, in display order
INTENSITY_KINDS = ("mso", "rmt", "amt", "didt", "b_peak", "e_field")

#: the units :func:`parse_intensity` accepts, as shown in error messages
INTENSITY_UNITS = ("%MSO", "%RMT", "%AMT", "A/s", "A/ms", "A/µs", "T", "mT", "µT", "V/m")

_ALLOWED = ", ".join(INTENSITY_UNITS)

#: canonical display unit and its power of ten relative to the stored SI value, per kind
_DISPLAY = {
    "mso": ("%MSO", 0),
    "rmt": ("%RMT", 0),
    "amt": ("%AMT", 0),
    "didt": ("A/µs", round(math.log10(A_PER_US))),
    "b_peak": ("T", 0),
    "e_field": ("V/m", 0),
}

#: normalised unit text (lower case, no spaces, µ as U+00B5) → (kind, power of ten to SI)
_UNITS = {
    "%mso": ("mso", 0),
    "mso": ("mso", 0),
    "%rmt": ("rmt", 0),
    "rmt": ("rmt", 0),
    "%mt": ("rmt", 0),
    "%amt": ("amt", 0),
    "amt": ("amt", 0),
    "a/s": ("didt", 0),
    "a/ms": ("didt", 3),
    "a/µs": ("didt", 6),
    "a/us": ("didt", 6),
    "t": ("b_peak", 0),
    "mt": ("b_peak", -3),
    "µt": ("b_peak", -6),
    "ut": ("b_peak", -6),
    "v/m": ("e_field", 0),
}

_NUM = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_RANGE_SEP = r"\s*(?:[-‒–—]|(?i:to))\s*"
_VALUES_RE = re.compile(
    rf"(?P<first>{_NUM})(?:{_RANGE_SEP}(?P<second>{_NUM})|(?P<rest>(?:\s*;\s*{_NUM})+))?"
)
_NUM_RE = re.compile(_NUM)
_NUM_PARTS_RE = re.compile(r"([+-]?[0-9.]+)(?:[eE]([+-]?)([0-9]+))?")
_MALFORMED_START = set("0123456789.+-‒–—;")


class IntensityError(ValueError):
    """An intensity text or value that cannot be read or is out of range."""


@dataclass(frozen=True)
class Intensity:
    """A stimulation intensity: one value, a band ``low–high`` or a list of values, in SI.

    Parameters
    ----------
    kind : str
        One of ``"mso"``, ``"rmt"``, ``"amt"``, ``"didt"``, ``"b_peak"``, ``"e_field"`` (see the module docstring).
    values : tuple of float, shape (n,)
        Percent for mso, rmt and amt; A/s for didt; tesla for b_peak; V/m for e_field.  Finite and >= 0;
        mso at most 100.  A single number is accepted and stored as a 1-tuple.
    is_range : bool
        True: ``values == (low, high)`` is one band with low <= high.  False: one value or a list of
        separate intensities (kept in order, duplicates kept).
    text : str
        The text the intensity was read from; not compared.  Defaults to the canonical text.

    ``str(x)`` is canonical text (``"23–25 %MSO"``, ``"25;50;75;100 %MSO"``, ``"155 A/µs"``) that
    :func:`parse_intensity` reads back to an equal object.
    """

    kind: str
    values: tuple[float, ...]
    is_range: bool = False
    text: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in INTENSITY_KINDS:
            raise IntensityError(
                f"Intensity kind must be one of {', '.join(INTENSITY_KINDS)}; got {self.kind!r}"
            )
        if not isinstance(self.is_range, bool):
            raise TypeError(f"Intensity is_range must be True or False; got {self.is_range!r}")
        raw = self.values
        if isinstance(raw, (numbers.Real, str)) and not isinstance(raw, bool):
            raw = (raw,)
        try:
            items = tuple(raw)
        except TypeError:
            raise TypeError(f"Intensity values must be a tuple of numbers; got {self.values!r}") from None
        values = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"Intensity values must be numbers ({_si_unit(self.kind)}); got {v!r}")
            try:
                values.append(float(v) + 0.0)  # + 0.0 turns -0.0 into 0.0
            except OverflowError:
                values.append(math.inf)
        values = tuple(values)
        what = f"Intensity values ({_si_unit(self.kind)}) for kind {self.kind!r}"
        if not values:
            raise IntensityError(f"{what} must hold at least one value; got ()")
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise IntensityError(f"{what} must be finite and >= 0; got {values}")
        if self.kind == "mso" and max(values) > 100:
            raise IntensityError(f"{what} must be <= 100 (percent of maximum output); got {values}")
        if self.is_range:
            if len(values) != 2:
                raise IntensityError(f"{what}: a range holds exactly (low, high); got {len(values)} values {values}")
            if values[0] > values[1]:
                raise IntensityError(f"{what}: a range needs low <= high; got {values}")
        object.__setattr__(self, "values", values)
        if not isinstance(self.text, str):
            raise TypeError(f"Intensity text must be a string; got {self.text!r}")
        if not self.text:
            object.__setattr__(self, "text", str(self))

    @property
    def unit(self) -> str:
        """Canonical display unit: ``"%MSO"``, ``"%RMT"``, ``"A/µs"``, ``"T"`` or ``"V/m"``."""
        return _DISPLAY[self.kind][0]

    @property
    def low(self) -> float:
        """Smallest value, SI (percent, A/s, T or V/m)."""
        return min(self.values)

    @property
    def high(self) -> float:
        """Largest value, SI (percent, A/s, T or V/m)."""
        return max(self.values)

    @property
    def nominal(self) -> float:
        """Midpoint of a band, or the value of a single intensity, SI.  A list raises (use :attr:`points`)."""
        if self.is_range:
            low, high = self.values
            return low + (high - low) / 2
        if len(self.values) == 1:
            return self.values[0]
        raise IntensityError(
            f"intensity '{self}' is a list of {len(self.values)} separate values and has no nominal value; "
            "use .points for one Intensity per value"
        )

    @property
    def points(self) -> list[Intensity]:
        """One single-valued :class:`Intensity` per list element; a band stays one (band) object."""
        if self.is_range or len(self.values) == 1:
            return [Intensity(self.kind, self.values, self.is_range)]
        return [Intensity(self.kind, (v,)) for v in self.values]

    def scaled(self, factor: float) -> Intensity:
        """Return a copy with every value multiplied by ``factor`` (dimensionless, finite, >= 0)."""
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"factor must be a number (dimensionless, >= 0); got {factor!r}")
        f = float(factor)
        if not (math.isfinite(f) and f >= 0):
            raise IntensityError(f"factor must be finite and >= 0 (dimensionless); got {factor!r}")
        return Intensity(self.kind, tuple(v * f for v in self.values), self.is_range)

    def __str__(self) -> str:
        shown = [format_intensity_value(self.kind, v) for v in self.values]
        sep = "–" if self.is_range else ";"
        return f"{sep.join(shown)} {self.unit}"


def _si_unit(kind) -> str:
    return {"mso": "percent", "rmt": "percent", "amt": "percent", "didt": "A/s", "b_peak": "T", "e_field": "V/m"}.get(kind, "SI")


def _decimal_to_float(number: str, exp10: int) -> float:
    """``float(number × 10**exp10)`` correctly rounded, for ``number`` matching the number pattern."""
    if exp10 == 0:
        return float(number)
    m = _NUM_PARTS_RE.fullmatch(number)
    mantissa, sign, digits = m.group(1), m.group(2), m.group(3)
    if digits is not None and len(digits.lstrip("0")) > 18:
        # |exponent| >= 1e18: the value is 0 or infinite whatever the unit
        return float(number)
    exponent = int(f"{sign}{digits}") if digits is not None else 0
    return float(f"{mantissa}e{exponent + exp10}")


def _plain(s: str) -> str:
    return s[:-2] if s.endswith(".0") else s


def format_intensity_value(kind: str, value: float) -> str:
    """Text of one SI ``value`` of ``kind`` in the kind's display unit, without the unit.

    Parameters
    ----------
    kind : str
        One of :data:`INTENSITY_KINDS`.
    value : float
        SI value (percent, A/s, T or V/m), finite.

    The text is the shortest found that reads back to exactly ``value``: ``("didt", 155e6) → "155"``
    (A/µs), ``("b_peak", 0.01) → "0.01"`` (T).
    """
    if kind not in _DISPLAY:
        raise IntensityError(f"kind must be one of {', '.join(INTENSITY_KINDS)}; got {kind!r}")
    v = float(value) + 0.0
    if not math.isfinite(v):
        raise IntensityError(f"value must be finite ({_si_unit(kind)}); got {value!r}")
    exp10 = _DISPLAY[kind][1]
    if exp10 == 0:
        return _plain(repr(v))
    sign, digits_tuple, exponent = Decimal(v).as_tuple()
    exact = Decimal((sign, digits_tuple, exponent - exp10))  # exact: only the exponent changes
    for digits in range(0, 800):  # shortest text that reads back exactly
        rounded = Decimal(format(exact, f".{digits}e"))
        text = _pretty(rounded)
        if _decimal_to_float(text, exp10) == v:
            return text
    return format(exact, "f")  # pragma: no cover - the exact decimal always reads back


def _pretty(d: Decimal) -> str:
    """Decimal → text in the style of ``repr(float)``: fixed point for 1e-4 <= |d| < 1e16."""
    d = d.normalize()
    if d == 0:
        return "0"
    if -4 <= d.adjusted() < 16:
        return format(d, "f")
    return format(d, "e")


def _normalise_unit(compact: str) -> str:
    """The lookup key of a unit written without spaces: lower case, µ as U+00B5 (Greek mu and 'u' stay
    accepted), dots dropped (``%M.S.O.``), ``percent``/``pct`` (``of``) as ``%``, a trailing ``%`` moved to the
    front (``MSO%``, ``RMT%``) and the digit zero typed for the letter O in ``MS0``."""
    key = compact.lower().replace("μ", "µ").replace(".", "")
    key = re.sub(r"^(?:percent|pct)", "%", key)
    key = re.sub(r"^%of", "%", key)
    if key.endswith("%") and not key.startswith("%") and len(key) > 1:
        key = "%" + key[:-1]
    if key.startswith("%"):
        key = re.sub(r"^%ms0$", "%mso", key)
    return re.sub(r"^ms0$", "mso", key)


#: a zero typed for the letter O in "MSO" ("30 % MS0"), not after a letter or "/" (so "A/ms0" stays refused)
_MS_ZERO = re.compile(r"(?i)(?<![a-z/])(m\s*\.?\s*s\s*\.?\s*)0(?![0-9])")


def _lookup_unit(unit_text: str, shown: str):
    """(kind, power of ten) for a unit as written, or raise naming the intensity text ``shown``.

    Loose spellings are normalised where they are unambiguous (see :func:`_normalise_unit`); an unknown
    unit is refused with the allowed units and the closest of them."""
    compact = re.sub(r"\s+", "", unit_text)
    if compact == "MT":
        raise IntensityError(
            f"intensity {shown}: unit 'MT' is ambiguous; write '%RMT' for percent of the resting motor "
            "threshold or 'mT' for millitesla"
        )
    if compact in ("%", "percent", "pct"):
        raise IntensityError(
            f"intensity {shown}: unit '%' is ambiguous; write '%MSO' (maximum stimulator output) "
            "or '%RMT' (resting motor threshold)"
        )
    key = _normalise_unit(compact)
    try:
        return _UNITS[key]
    except KeyError:
        from .._common.validation import did_you_mean

        hint = did_you_mean(key, INTENSITY_UNITS) or did_you_mean(compact, INTENSITY_UNITS)
        raise IntensityError(f"intensity {shown}: unit {compact!r} is not one of {_ALLOWED} "
                             f"(unknown unit {compact!r}).{hint}") from None


def parse_intensity(text, unit: str | None = None) -> Intensity:
    """Read a reported stimulation intensity into an :class:`Intensity` (SI values).

    Parameters
    ----------
    text : str
        A value, a range (``"23-25"``, ``"23–25"``, ``"23 — 25"``, ``"23 to 25"``) or a list
        (``"25;50;75;100"``), followed by its unit unless ``unit`` is given: ``"60 %MSO"``,
        ``"120%RMT"``, ``"50% MT"`` (= %RMT), ``"155A/us"``, ``"1.5e8 A/s"``, ``"1.2T"``, ``"10mT"``,
        ``"80 V/m"``.  A real number is accepted as its ``repr`` when ``unit`` is given.
    unit : str, optional
        The unit when it sits in a column of its own (``"%MSO"``).  If the text carries a unit too,
        both must be the same unit.  Empty or whitespace counts as not given.

    Returns
    -------
    Intensity
        With ``text`` set to the text read (stripped).

    Raises
    ------
    IntensityError
        (a ``ValueError``) for any text that is missing, malformed, in an unknown or conflicting unit,
        negative, not finite, %MSO above 100, or a range with low > high.  Never another exception for
        string input.
    TypeError
        If ``text`` is not a string, a real number or None, or ``unit`` is not a string or None.
    """
    if unit is not None and not isinstance(unit, str):
        raise TypeError(f"unit must be text such as '%MSO' or None; got {unit!r}")
    if text is None:
        raise IntensityError("intensity is missing; got None")
    if isinstance(text, numbers.Real) and not isinstance(text, bool):
        try:
            number = float(text)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise IntensityError(f"intensity {text!r} is not finite")
        text = repr(number)
    if not isinstance(text, str):
        raise TypeError(f"intensity must be text such as '60 %MSO'; got {type(text).__name__} {text!r}")
    stripped = text.strip()
    if not stripped:
        raise IntensityError(f"intensity is missing; got {text!r}")
    unit_given = bool(unit and unit.strip())
    shown = repr(stripped) + (f" (unit {unit.strip()!r})" if unit_given else "")
    if "," in stripped:
        raise IntensityError(
            f"intensity {shown}: a comma is ambiguous (decimal comma or list separator); "
            "write decimals with '.' and separate list values with ';', e.g. '25;50;75'"
        )

    m = _VALUES_RE.match(stripped)
    tail = stripped[m.end():].strip() if m else stripped
    if m is not None:
        tail = _MS_ZERO.sub(r"\1O", tail)  # "30 % MS0": a zero typed for the O of MSO
    if m is None or tail[:1] in _MALFORMED_START or any(c in "0123456789" for c in tail):
        raise IntensityError(
            f"intensity {shown} is not a number, a range such as '23-25' or a list such as "
            f"'25;50;75' followed by a unit ({_ALLOWED})"
        )

    found = _lookup_unit(tail, shown) if tail else None
    given = _lookup_unit(unit, shown) if unit_given else None
    if found and given and found != given:
        written = re.sub(r"\s+", "", tail)
        raise IntensityError(
            f"intensity {shown}: the unit in the text, {written!r}, disagrees with unit={unit.strip()!r}"
        )
    if not (found or given):
        raise IntensityError(f"intensity {shown} has no unit; allowed units: {_ALLOWED}")
    kind, exp10 = found or given

    if m.group("second") is not None:
        numbers_text, is_range = [m.group("first"), m.group("second")], True
    elif m.group("rest") is not None:
        numbers_text, is_range = [m.group("first")] + _NUM_RE.findall(m.group("rest")), False
    else:
        numbers_text, is_range = [m.group("first")], False

    values = []
    for number in numbers_text:
        v = _decimal_to_float(number, exp10)
        if not math.isfinite(v):
            raise IntensityError(f"intensity {shown}: value {number!r} is too large (not finite)")
        if v < 0:
            raise IntensityError(f"intensity {shown}: value {number!r} is negative; intensities are >= 0")
        values.append(v)
    if kind == "mso" and max(values) > 100:
        raise IntensityError(
            f"intensity {shown}: %MSO must be <= 100 (percent of the stimulator's maximum output); "
            f"got {format_intensity_value(kind, max(values))}"
        )
    if is_range and values[0] > values[1]:
        raise IntensityError(
            f"intensity {shown}: a range must be written low to high; got {numbers_text[0]} > {numbers_text[1]}"
        )
    return Intensity(kind, tuple(values), is_range, stripped)


def parse_didt(text: str, name: str = "didt") -> float:
    """Parse one rate of change of current such as ``"100A/us"`` or ``"1.5e8 A/s"`` into A/s.

    Units as in :func:`efield.dose.intensity.parse_intensity` (A/s, A/ms, A/µs); a bare number, another
    kind of intensity, a range or a list is refused with a message naming ``name``.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be text such as '100A/us'; got {text!r}")
    try:
        value = parse_intensity(text)
    except IntensityError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if value.kind != "didt" or len(value.values) != 1:
        raise ValueError(f"{name} {text!r} must be one rate of change of current such as '100A/us'; "
                         f"got {value.unit} {'range' if value.is_range else 'value'}(s)")
    return value.values[0]
