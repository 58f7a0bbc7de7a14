"""Reported stimulation intensities: parsing, canonical text, SI conversion, errors, fuzzing."""

from __future__ import annotations

import csv
import dataclasses
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from efield.dose.intensity import (
    INTENSITY_KINDS,
    Intensity,
    IntensityError,
    format_intensity_value,
    parse_intensity,
)

FUZZ = settings(max_examples=300, deadline=None)


def _shared_dir() -> Path:
    env = os.environ.get("EFIELD_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


PROTOCOLS_CSV = _shared_dir() / "data" / "protocols_from_reviews.csv"

# Every (intensity, intensity_unit) pair of shared/data/protocols_from_reviews.csv, written out so the
# test runs without the file: pair → (kind, SI values, is_range), or None for "not reported".
CSV_PAIRS = {
    ("100", "%MSO"): ("mso", (100.0,), False),
    ("50", "%MSO"): ("mso", (50.0,), False),
    ("15", "%MSO"): ("mso", (15.0,), False),
    ("26", "%MSO"): ("mso", (26.0,), False),
    ("30", "%MSO"): ("mso", (30.0,), False),
    ("33", "%MSO"): ("mso", (33.0,), False),
    ("25;50;75;100", "%MSO"): ("mso", (25.0, 50.0, 75.0, 100.0), False),
    ("23-25", "%MSO"): ("mso", (23.0, 25.0), True),
    ("120", "%RMT"): ("rmt", (120.0,), False),
    ("50", "%RMT"): ("rmt", (50.0,), False),
    ("80", "%RMT"): ("rmt", (80.0,), False),
    ("90", "%RMT"): ("rmt", (90.0,), False),
    ("100", "%RMT"): ("rmt", (100.0,), False),
    ("1.14", "T"): ("b_peak", (1.14,), False),
    ("1.55", "T"): ("b_peak", (1.55,), False),
    ("10", "mT"): ("b_peak", (0.01,), False),
    ("", ""): None,
}


def _check_pair(text, unit, expected):
    if expected is None:
        with pytest.raises(IntensityError, match="intensity is missing"):
            parse_intensity(text, unit=unit)
        return
    x = parse_intensity(text, unit=unit)
    kind, values, is_range = expected
    assert (x.kind, x.values, x.is_range) == (kind, values, is_range), (text, unit)
    assert x == Intensity(kind, values, is_range)
    assert x.text == text
    assert parse_intensity(str(x)) == x
    # the same pair written in one string reads the same
    assert parse_intensity(f"{text} {unit}") == x
    assert parse_intensity(f"{text}{unit}") == x


@pytest.mark.parametrize(("text", "unit"), sorted(CSV_PAIRS))
def test_csv_pairs_inline(text, unit):
    _check_pair(text, unit, CSV_PAIRS[(text, unit)])


def test_csv_pairs_from_file():
    if not PROTOCOLS_CSV.exists():
        pytest.skip(f"{PROTOCOLS_CSV} not found (set EFIELD_SHARED_DIR to the shared folder)")
    with PROTOCOLS_CSV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{PROTOCOLS_CSV} has no rows"
    for row in rows:
        text, unit = row["intensity"], row["intensity_unit"]
        if not text.strip():
            _check_pair(text, unit, None)
            continue
        x = parse_intensity(text, unit=unit)
        assert parse_intensity(str(x)) == x, row
        if (text, unit) in CSV_PAIRS:
            _check_pair(text, unit, CSV_PAIRS[(text, unit)])


# --- the accepted forms ---------------------------------------------------------------------------

FORMS = [
    # text, unit, kind, SI values, is_range
    ("60%MSO", None, "mso", (60.0,), False),
    ("60 % MSO", None, "mso", (60.0,), False),
    ("  60 %mso\t", None, "mso", (60.0,), False),
    ("120%RMT", None, "rmt", (120.0,), False),
    ("120 % rmt", None, "rmt", (120.0,), False),
    ("50 %MT", None, "rmt", (50.0,), False),
    ("50% MT", None, "rmt", (50.0,), False),
    ("155A/us", None, "didt", (155e6,), False),
    ("155 A/µs", None, "didt", (155e6,), False),  # U+00B5 micro sign
    ("155 A/μs", None, "didt", (155e6,), False),  # U+03BC Greek mu
    ("155 a/US", None, "didt", (155e6,), False),
    ("155000 A/ms", None, "didt", (155e6,), False),
    ("1.5e8 A/s", None, "didt", (1.5e8,), False),
    ("1.5E8A/s", None, "didt", (1.5e8,), False),
    ("1.2T", None, "b_peak", (1.2,), False),
    ("1.2 t", None, "b_peak", (1.2,), False),
    ("10mT", None, "b_peak", (0.01,), False),
    ("10 mt", None, "b_peak", (0.01,), False),
    ("300 µT", None, "b_peak", (0.0003,), False),
    ("300 uT", None, "b_peak", (0.0003,), False),
    ("80V/m", None, "e_field", (80.0,), False),
    ("80 V/m", None, "e_field", (80.0,), False),
    ("80 v / m", None, "e_field", (80.0,), False),
    (".5 V/m", None, "e_field", (0.5,), False),
    ("5. V/m", None, "e_field", (5.0,), False),
    ("+5 V/m", None, "e_field", (5.0,), False),
    ("0 %MSO", None, "mso", (0.0,), False),
    ("100 %MSO", None, "mso", (100.0,), False),
    # ranges
    ("23-25", "%MSO", "mso", (23.0, 25.0), True),
    ("23–25", "%MSO", "mso", (23.0, 25.0), True),
    ("23 — 25", "%MSO", "mso", (23.0, 25.0), True),
    ("23 to 25", "%MSO", "mso", (23.0, 25.0), True),
    ("23 TO 25", "%MSO", "mso", (23.0, 25.0), True),
    ("23 - 25 %MSO", None, "mso", (23.0, 25.0), True),
    ("23–25 %MSO", None, "mso", (23.0, 25.0), True),
    ("25-25 %MSO", None, "mso", (25.0, 25.0), True),
    ("1e-3-2e-3 T", None, "b_peak", (1e-3, 2e-3), True),
    ("100 to 150 A/us", None, "didt", (100e6, 150e6), True),
    # lists, duplicates kept in order
    ("25;50;75;100", "%MSO", "mso", (25.0, 50.0, 75.0, 100.0), False),
    ("25 ; 50; 75 ;100 %MSO", None, "mso", (25.0, 50.0, 75.0, 100.0), False),
    ("75;25;75", "%RMT", "rmt", (75.0, 25.0, 75.0), False),
    ("1;10 mT", None, "b_peak", (0.001, 0.01), False),
    # unit in both places, the same unit
    ("60 %MSO", "%MSO", "mso", (60.0,), False),
    ("50% MT", "%RMT", "rmt", (50.0,), False),
    ("155 A/us", "A/µs", "didt", (155e6,), False),
    # unit given but empty counts as not given
    ("60 %MSO", "", "mso", (60.0,), False),
    ("60 %MSO", "  ", "mso", (60.0,), False),
]


@pytest.mark.parametrize(("text", "unit", "kind", "values", "is_range"), FORMS)
def test_forms(text, unit, kind, values, is_range):
    x = parse_intensity(text, unit=unit)
    assert x.kind == kind
    assert x.values == values  # exact: conversions are correctly rounded decimals
    assert x.is_range is is_range
    assert x.text == text.strip()
    assert parse_intensity(str(x)) == x


def test_numbers_with_a_separate_unit():
    assert parse_intensity(60, unit="%MSO") == Intensity("mso", (60.0,))
    assert parse_intensity(1.14, unit="T") == Intensity("b_peak", (1.14,))
    assert parse_intensity(155, unit="A/us").values == (155e6,)


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (Intensity("mso", (23.0, 25.0), True), "23–25 %MSO"),
        (Intensity("mso", (25.0, 50.0, 75.0, 100.0)), "25;50;75;100 %MSO"),
        (Intensity("didt", (155e6,)), "155 A/µs"),
        (Intensity("didt", (1.5e8,)), "150 A/µs"),
        (Intensity("b_peak", (0.01,)), "0.01 T"),
        (Intensity("rmt", (120.0,)), "120 %RMT"),
        (Intensity("e_field", (80.5,)), "80.5 V/m"),
    ],
)
def test_canonical_text(x, text):
    assert str(x) == text
    assert x.text == text  # default text is the canonical one
    assert parse_intensity(text) == x


def test_properties():
    band = parse_intensity("23-25", unit="%MSO")
    assert (band.unit, band.low, band.high, band.nominal) == ("%MSO", 23.0, 25.0, 24.0)
    assert band.points == [band]
    assert band.points[0].is_range

    single = parse_intensity("155 A/us")
    assert (single.unit, single.low, single.high, single.nominal) == ("A/µs", 155e6, 155e6, 155e6)
    assert single.points == [single]

    many = parse_intensity("50;25;75;25 %RMT")
    assert (many.unit, many.low, many.high) == ("%RMT", 25.0, 75.0)
    assert many.points == [Intensity("rmt", (v,)) for v in (50.0, 25.0, 75.0, 25.0)]
    assert all(not p.is_range and len(p.values) == 1 for p in many.points)
    with pytest.raises(IntensityError, match=r"list of 4 separate values.*\.points"):
        many.nominal

    assert parse_intensity("1 T").unit == "T"
    assert parse_intensity("1 V/m").unit == "V/m"


def test_text_is_not_compared_and_objects_are_frozen():
    a, b = parse_intensity("60%MSO"), parse_intensity("60 % MSO")
    assert a == b and hash(a) == hash(b) and a.text != b.text
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "rmt"
    assert Intensity("mso", (-0.0,)).values == (0.0,)
    assert str(Intensity("mso", (-0.0,))) == "0 %MSO"


def test_scaled():
    band = parse_intensity("23-25 %MSO")
    assert band.scaled(2) == Intensity("mso", (46.0, 50.0), True)
    assert band.scaled(0) == Intensity("mso", (0.0, 0.0), True)
    assert parse_intensity("10 mT").scaled(0.5).values == (0.005,)
    assert parse_intensity("25;50 %RMT").scaled(2) == Intensity("rmt", (50.0, 100.0))
    with pytest.raises(IntensityError, match=r"factor must be finite and >= 0.*-1"):
        band.scaled(-1)
    with pytest.raises(IntensityError, match="factor must be finite"):
        band.scaled(float("nan"))
    with pytest.raises(TypeError, match="factor must be a number"):
        band.scaled("2")
    with pytest.raises(IntensityError, match=r"<= 100"):
        band.scaled(5)


def test_format_intensity_value():
    assert format_intensity_value("didt", 155e6) == "155"
    assert format_intensity_value("didt", 0.1) == "1e-7"
    assert format_intensity_value("b_peak", 0.01) == "0.01"
    assert format_intensity_value("mso", 100.0) == "100"
    with pytest.raises(IntensityError, match="kind must be one of"):
        format_intensity_value("volts", 1.0)
    with pytest.raises(IntensityError, match="value must be finite"):
        format_intensity_value("mso", float("inf"))


# --- errors -----------------------------------------------------------------------------------------

ERRORS = [
    (None, None, r"^intensity is missing"),
    ("", None, r"^intensity is missing"),
    ("   \t", "%MSO", r"^intensity is missing"),
    ("60 %XYZ", None, r"intensity '60 %XYZ': unit '%XYZ' is not one of %MSO, %RMT, %AMT, A/s, A/ms, A/µs, T, mT, µT, V/m"),
    ("60", "XYZ", r"intensity '60' \(unit 'XYZ'\): unit 'XYZ' is not one of %MSO"),
    ("60 furlongs", None, r"unit 'furlongs' is not one of"),
    ("60", None, r"intensity '60' has no unit; allowed units: %MSO"),
    ("60 %", None, r"unit '%' is ambiguous; write '%MSO'.*'%RMT'"),
    ("10 MT", None, r"unit 'MT' is ambiguous; write '%RMT'.*'mT'"),
    ("1,5 T", None, r"intensity '1,5 T': a comma is ambiguous.*';'"),
    ("25,50", "%MSO", r"comma is ambiguous"),
    ("1.2.3 T", None, r"intensity '1.2.3 T' is not a number, a range such as '23-25' or a list"),
    ("abc", None, r"intensity 'abc' is not a number"),
    ("T", None, r"intensity 'T' is not a number"),
    ("23-", "%MSO", r"is not a number, a range"),
    ("23 to", "%MSO", r"unit 'to' is not one of"),
    ("25;", "%MSO", r"is not a number, a range"),
    ("25;50-75", "%MSO", r"is not a number, a range"),
    ("23-25;30 %MSO", None, r"is not a number, a range"),
    ("1.5 e8 A/s", None, r"is not a number, a range"),
    ("%MSO 60", None, r"is not a number"),
    ("10 mT", "T", r"intensity '10 mT' \(unit 'T'\): the unit in the text, 'mT', disagrees with unit='T'"),
    ("60 %MSO", "%RMT", r"disagrees with unit='%RMT'"),
    ("120 %MSO", None, r"intensity '120 %MSO': %MSO must be <= 100 .*got 120"),
    ("90;101", "%MSO", r"%MSO must be <= 100 .*got 101"),
    ("25-23 %MSO", None, r"a range must be written low to high; got 25 > 23"),
    ("-5 T", None, r"value '-5' is negative; intensities are >= 0"),
    ("5--6 T", None, r"value '-6' is negative"),
    ("1e999 V/m", None, r"value '1e999' is too large \(not finite\)"),
    ("1e305 A/us", None, r"value '1e305' is too large"),
    ("1e99999999999999999999999999 mT", None, r"too large"),
    (float("nan"), "T", r"intensity nan is not finite"),
]


@pytest.mark.parametrize(("text", "unit", "match"), ERRORS)
def test_errors(text, unit, match):
    with pytest.raises(IntensityError, match=match):
        parse_intensity(text, unit=unit)


def test_intensity_error_is_a_value_error():
    assert issubclass(IntensityError, ValueError)


def test_type_errors():
    with pytest.raises(TypeError, match="intensity must be text"):
        parse_intensity(b"60 %MSO")
    with pytest.raises(TypeError, match="unit must be text"):
        parse_intensity("60", unit=1)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("volts", (1.0,)), IntensityError, r"kind must be one of mso, rmt, amt, didt, b_peak, e_field; got 'volts'"),
        (("mso", ()), IntensityError, "at least one value"),
        (("mso", (101.0,)), IntensityError, r"<= 100"),
        (("b_peak", (-1.0,)), IntensityError, r"finite and >= 0"),
        (("b_peak", (float("nan"),)), IntensityError, r"finite and >= 0"),
        (("rmt", (1.0, 2.0, 3.0), True), IntensityError, r"exactly \(low, high\)"),
        (("rmt", (2.0, 1.0), True), IntensityError, r"low <= high"),
        (("rmt", ("1",)), TypeError, r"values must be numbers"),
        (("rmt", (1.0,), 1), TypeError, r"is_range must be True or False"),
    ],
)
def test_intensity_checks(args, error, match):
    with pytest.raises(error, match=match):
        Intensity(*args)


def test_conversions_exact():
    assert parse_intensity("155A/us").values == (155e6,)
    assert parse_intensity("155A/us").values[0] == 155 * 1e6
    assert parse_intensity("10mT").values == (0.01,)
    assert parse_intensity("10mT").values[0] == float("10e-3")
    # the decimal is scaled before rounding: 0.9 * 1e-3 and 4.1 * 1e6 would be off by one ulp
    assert parse_intensity("0.9 mT").values == (0.0009,)
    assert parse_intensity("4.1 A/us").values == (4100000.0,)
    assert parse_intensity("1.1 A/ms").values == (1100.0,)


# --- fuzzing ----------------------------------------------------------------------------------------

ALPHABET = "0123456789.-–;%eE/ AµTmsVMSORT"
UNITS = [None, "", "%MSO", "%RMT", "%MT", "A/s", "A/ms", "A/µs", "A/us", "T", "mT", "µT", "V/m", "MT", "%", "x"]


def _never_raises_other(text, unit):
    try:
        x = parse_intensity(text, unit=unit)
    except IntensityError:
        return
    # whatever parses also prints back to itself
    assert parse_intensity(str(x)) == x


@FUZZ
@given(text=st.text(), unit=st.sampled_from(UNITS) | st.text())
def test_fuzz_any_text(text, unit):
    _never_raises_other(text, unit)


@FUZZ
@given(text=st.text(alphabet=ALPHABET), unit=st.sampled_from(UNITS) | st.text(alphabet=ALPHABET, max_size=5))
def test_fuzz_intensity_alphabet(text, unit):
    _never_raises_other(text, unit)


@FUZZ
@given(
    parts=st.lists(
        st.sampled_from(["1", "23", ".5", "1e3", "1e-3", "-", "–", "—", " to ", ";", " ", "%", "MSO", "RMT", "MT",
                         "mT", "T", "A/us", "A/µs", "A/s", "V/m", "e", "E", "+", ".", "9" * 400, "e99999", "e-99999"]),
        max_size=8,
    )
)
def test_fuzz_token_soup(parts):
    _never_raises_other("".join(parts), None)


_MAX = {"mso": 100.0}


@st.composite
def intensities(draw):
    kind = draw(st.sampled_from(INTENSITY_KINDS))
    value = st.floats(min_value=0.0, max_value=_MAX.get(kind), allow_nan=False, allow_infinity=False)
    shape = draw(st.sampled_from(["single", "range", "list"]))
    if shape == "range":
        values, is_range = tuple(sorted(draw(st.lists(value, min_size=2, max_size=2)))), True
    elif shape == "list":
        values, is_range = tuple(draw(st.lists(value, min_size=2, max_size=5))), False
    else:
        values, is_range = (draw(value),), False
    return Intensity(kind, values, is_range)


@FUZZ
@given(x=intensities())
def test_round_trip(x):
    text = str(x)
    y = parse_intensity(text)
    assert y == x, text
    assert y.text == text
    assert str(y) == text
    # the value part with the unit in its own column reads the same
    number_part, unit_part = text.rsplit(" ", 1)
    assert parse_intensity(number_part, unit=unit_part) == x


_SCALE = {"%MSO": 0, "V/m": 0, "T": 0, "mT": -3, "µT": -6, "A/s": 0, "A/ms": 3, "A/µs": 6, "A/us": 6}


@FUZZ
@given(
    mantissa=st.integers(min_value=0, max_value=10**20),
    point=st.integers(min_value=0, max_value=25),
    exponent=st.integers(min_value=-330, max_value=300) | st.none(),
    unit=st.sampled_from(sorted(_SCALE)),
)
def test_si_conversion_is_the_correctly_rounded_decimal(mantissa, point, exponent, unit):
    digits = str(mantissa).rjust(point + 1, "0")
    number = f"{digits[:len(digits) - point]}.{digits[len(digits) - point:]}" if point else digits
    if exponent is not None:
        number += f"e{exponent}"
    exact = Fraction(number) * Fraction(10) ** _SCALE[unit]
    if unit == "%MSO" and exact > 100:
        return
    try:
        expected = float(exact)  # int / int: correctly rounded
    except OverflowError:
        with pytest.raises(IntensityError, match="too large"):
            parse_intensity(f"{number} {unit}")
        return
    x = parse_intensity(f"{number} {unit}")
    assert x.values == (expected,), number
    assert parse_intensity(str(x)) == x
