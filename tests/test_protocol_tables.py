"""Loose protocol tables: free-text coil / stimulator names, `;`/tab delimiters with decimal commas, units in the
intensity cell, unit typos, and assumptions listed once."""

from __future__ import annotations

import pytest

from efield._common.io import csv_delimiter, csv_records
from efield.dose.batch import (match_coil, match_stimulator, read_protocols, translate_rows, write_translation,
                               assumptions_section)
from efield.dose.intensity import IntensityError, parse_intensity


def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---- coils -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "coil"), [
    ("magstim_70mm_fig8", "magstim_70mm_fig8"),
    ("Magstim 70mm figure-8", "magstim_70mm_fig8"),
    ("Magstim 70 mm figure of eight", "magstim_70mm_fig8"),
    ("70mm Fig-8 (Magstim)", "magstim_70mm_fig8"),
    ("Magstim 70mm butterfly coil", "magstim_70mm_fig8"),
    ("Magstim D70", "magstim_70mm_fig8"),
    ("MagVenture MC-B70", "magventure_mcb70"),
    ("MCB70", "magventure_mcb70"),
    ("mc b70", "magventure_mcb70"),
    ("Mag Venture C-B60", "magventure_cb60"),
    ("Magstim 25 mm fig 8", "magstim_25mm_fig8"),
    ("Magstim 70mm circular", "magstim_70mm_circular"),
])
def test_free_text_coils_match_one_preset(text, coil):
    m = match_coil(text, "rat")
    assert (m.status, m.coil) == ("matched", coil), m


def test_an_ambiguous_coil_lists_its_candidates_and_is_not_guessed():
    m = match_coil("Magstim figure-8", "rat")
    assert m.status == "ambiguous" and m.coil is None
    assert m.candidates == ["magstim_70mm_fig8", "magstim_25mm_fig8"]  # the declared order: nominal 70 mm
    assert "magstim_70mm_fig8" in m.message and "magstim_25mm_fig8" in m.message and "preset id" in m.message


@pytest.mark.parametrize("text", ["Cool-B65", "MagVenture Cool-B65", "Deymed 70mm butterfly", "Magstim double cone"])
def test_a_coil_that_is_no_preset_is_refused_with_suggestions(text):
    m = match_coil(text, "rat")
    assert m.status == "none"
    assert "matches no coil preset" in m.message and "magstim_70mm_fig8" in m.message
    out = translate_rows([{"species": "rat", "intensity": "30 %MSO", "coil": text}], "human")
    assert out[0]["status"] == "not_translatable" and f"coil {text!r}" in out[0]["reason"]


def test_cool_b65_suggests_magventure_presets():
    assert "Did you mean" in match_coil("MagVenture Cool-B65").message


def test_unrecognised_coil_text_spans_the_declared_set_and_says_so():
    m = match_coil("boom", "rat")
    assert m.status == "unrecognised"
    out = translate_rows([{"species": "rat", "intensity": "30 %MSO", "coil": "boom"}], "human")
    assert out[0]["status"] == "translated"
    assert "coil 'boom' is not a preset and names no manufacturer" in out[0]["assumptions"]


def test_matched_and_ambiguous_coils_in_translated_rows():
    rows = [{"species": "rat", "intensity": "30 %MSO", "coil": "Magstim 70mm figure-8"},
            {"species": "rat", "intensity": "30 %MSO", "coil": "magstim_70mm_fig8"},
            {"species": "rat", "intensity": "30 %MSO", "coil": "Magstim figure-8"},
            {"species": "rat", "intensity": "30 %MSO", "coil": "not reported"}]
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["translated"] * 4
    assert "coil matched: 'Magstim 70mm figure-8' -> magstim_70mm_fig8" in out[0]["assumptions"]
    assert out[0]["dest_mso"] == pytest.approx(out[1]["dest_mso"])  # same preset, same result
    assert "coil matched" not in out[1]["assumptions"]  # an exact id needs no statement
    assert "ambiguous" in out[2]["assumptions"] and "magstim_25mm_fig8" in out[2]["assumptions"]
    # the ambiguous band spans the two candidates: wider than the matched coil, narrower than "not reported"
    width = [r["dest_mso_high"] - r["dest_mso_low"] for r in out]
    assert width[0] < width[2] <= width[3] + 1e-9


# ---- stimulators -------------------------------------------------------------------------------------------

def test_free_text_stimulators():
    assert match_stimulator("MagPro X100")[0] == "MagVenture MagPro X100"
    assert match_stimulator("magstim rapid")[0] == "Magstim Rapid"
    for text in ("Magstim Rapid2", "Magstim 200", "Magstim"):
        name, why = match_stimulator(text)
        assert name is None and "not in the stimulator table" in why and "Did you mean 'Magstim Rapid'?" in why
    assert match_stimulator("not reported") == (None, "unknown")


def test_unknown_stimulator_refuses_a_mso_row_and_matched_one_is_stated():
    rows = [{"species": "rat", "intensity": "30 %MSO", "coil": "magstim_70mm_fig8", "stimulator": "Magstim 200"},
            {"species": "rat", "intensity": "30 %MSO", "coil": "magventure_mcb70", "stimulator": "MagPro X100"}]
    out = translate_rows(rows, "human")
    assert out[0]["status"] == "not_translatable" and "Magstim 200" in out[0]["reason"]
    assert "Did you mean 'Magstim Rapid'?" in out[0]["reason"]
    assert out[1]["status"] == "translated"
    assert "stimulator matched: 'MagPro X100' -> MagVenture MagPro X100" in out[1]["assumptions"]


# ---- delimiters --------------------------------------------------------------------------------------------

def test_semicolon_table_with_decimal_commas(tmp_path):
    p = _write(tmp_path, "study;species;intensity;rmt_mso;notes\nA;rat;1,2 T;;x, y\nB;rat;30,5 %MSO;40,5;\n")
    assert csv_delimiter(p, "protocol table") == ";"
    names, rows = read_protocols(p)
    assert names == ["study", "species", "intensity", "rmt_mso", "notes"]
    assert rows[0]["intensity"] == "1.2 T" and rows[0]["notes"] == "x, y"  # only numeric cells change
    assert rows[1]["intensity"] == "30.5 %MSO" and rows[1]["rmt_mso"] == "40.5"
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["translated", "translated"]
    assert "decimal comma read as a point" in out[0]["assumptions"]


def test_tab_and_pipe_tables(tmp_path):
    for sep in ("\t", "|"):
        p = _write(tmp_path, f"study{sep}species{sep}intensity\nA{sep}rat{sep}30 %MSO\n", f"t{ord(sep)}.csv")
        names, rows = read_protocols(p)
        assert names == ["study", "species", "intensity"] and rows[0]["intensity"] == "30 %MSO"


def test_comma_table_keeps_semicolons_and_commas_as_they_were(tmp_path):
    p = _write(tmp_path, 'study,species,intensity,intensity_unit\nA,rat,25;50,%MSO\nB,rat,"1,2",T\n')
    _, rows = read_protocols(p)
    assert rows[0]["intensity"] == "25;50" and rows[1]["intensity"] == "1,2"  # no decimal commas in a comma file
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["translated", "translated", "not_translatable"]
    assert "comma is ambiguous" in out[2]["reason"]


def test_semicolon_sniffing_keeps_line_numbers_and_surplus_checks(tmp_path):
    p = _write(tmp_path, "# c\nstudy;species;intensity\nA;rat;30 %MSO;extra\n")
    assert [r[:2] for r in csv_records(p, "t", comments=True)] == [(2, 2), (3, 3)]
    with pytest.raises(ValueError, match=r"line 2 has 4 cells.*unquoted semicolon"):
        read_protocols(_write(tmp_path, "study;species;intensity\nA;rat;30 %MSO;extra\n", "u.csv"))
    with pytest.raises(ValueError, match="appear more than once"):
        read_protocols(_write(tmp_path, "species;intensity;intensity\nrat;30 %MSO;1\n", "v.csv"))


# ---- units in the intensity cell ---------------------------------------------------------------------------

def test_units_in_the_cell_need_no_unit_column(tmp_path):
    p = _write(tmp_path, "species,intensity\nrat,30 %MSO\nhuman,120% RMT\nrat,1.2 T\nrat,155 A/us\nrat,80V/m\n"
                         "rat,30\n")
    _, rows = read_protocols(p)
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["translated"] * 5 + ["not_translatable"]
    assert "has no unit" in out[5]["reason"]


def test_a_unit_in_the_cell_and_a_different_unit_column_is_refused():
    out = translate_rows([{"species": "rat", "intensity": "30 %MSO", "intensity_unit": "%RMT"},
                          {"species": "rat", "intensity": "30 %MSO", "intensity_unit": "% mso"}], "human")
    assert out[0]["status"] == "not_translatable"
    assert "'%MSO'" in out[0]["reason"] and "'%RMT'" in out[0]["reason"] and "disagrees" in out[0]["reason"]
    assert out[1]["status"] == "translated"


# ---- unit typos --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "unit"), [
    ("30 % MS0", "%MSO"), ("30%mso", "%MSO"), ("30 % M.S.O.", "%MSO"), ("30 MSO%", "%MSO"),
    ("30 percent MSO", "%MSO"), ("155 A/µs", "A/µs"), ("155 A/us", "A/µs"), ("155 A/μs", "A/µs"),
    ("120 %rMT", "%RMT"), ("120 RMT%", "%RMT"),
])
def test_unit_typos_are_normalised(text, unit):
    assert parse_intensity(text).unit == unit


def test_unit_typo_in_the_unit_column():
    assert parse_intensity("30", unit="% MS0").unit == "%MSO"


def test_unknown_unit_suggests_the_closest():
    with pytest.raises(IntensityError, match=r"unit '%MSX' is not one of %MSO.*V/m.*Did you mean '%MSO'\?"):
        parse_intensity("30%MSX")
    with pytest.raises(IntensityError, match="'MT' is ambiguous"):
        parse_intensity("50 MT")
    with pytest.raises(IntensityError, match="not a number"):
        parse_intensity("155 A/ms0")  # the MS0 typo is only read for MSO


# ---- assumptions listed once -------------------------------------------------------------------------------

def test_assumptions_are_listed_once_with_their_rows(tmp_path):
    rows = [{"species": "rat", "intensity": "30 %MSO"}] * 3 + [{"species": "rat", "intensity": "1.2 T"},
                                                                   {"species": "rat", "intensity": "40 %MSO"}]
    out = translate_rows(rows, "human")
    write_translation(tmp_path, ["species", "intensity"], out, "human")
    text = (tmp_path / "assumptions.md").read_text()
    note = next(a for a in out[0]["assumptions"].split(" | ") if a.startswith("coil not reported"))
    assert text.count(note) == 1 and "(rows 1–5) " + note in text
    assert (tmp_path / "translated.md").read_text().count(note) == 1
    assert assumptions_section([{"assumptions": "a | b"}, {"assumptions": "a"}, {"assumptions": ""},
                                {"assumptions": "a"}]).count("- (rows 1–2, 4) a") == 1


# ---- end to end --------------------------------------------------------------------------------------------

def test_end_to_end_semicolon_table_with_free_text(tmp_path):
    p = _write(tmp_path, "\ufeffstudy;species;intensity;coil;stimulator\n"
               "A;rat;30 %MSO;Magstim 70mm figure-8;Magstim Rapid\n"
               "B;rat;30 % MS0;MagVenture MC-B70;MagPro X100\n"
               "C;rat;1,2 T;Magstim figure-8;not reported\n"
               "D;rat;30 %MSX;MCB70;\n"
               "E;rat;120 RMT%;Cool-B65;\n"
               "F;rat;30 %MSO;magstim_70mm_fig8;Magstim 200\n"
               "G;rat;80V/m;not reported;not reported\n")
    _, rows = read_protocols(p)
    out = translate_rows(rows, "human")
    assert [r["study"] for r in out] == list("ABCDEFG")
    by = {r["study"]: r for r in out}
    assert [by[k]["status"] for k in "ABCDEFG"] == ["translated", "translated", "translated", "not_translatable",
                                                     "not_translatable", "not_translatable", "translated"]
    assert "coil matched: 'Magstim 70mm figure-8' -> magstim_70mm_fig8" in by["A"]["assumptions"]
    assert "coil matched: 'MagVenture MC-B70' -> magventure_mcb70" in by["B"]["assumptions"]
    assert "stimulator matched: 'MagPro X100' -> MagVenture MagPro X100" in by["B"]["assumptions"]
    assert by["B"]["intensity_point"] == "30 %MSO"
    assert "ambiguous" in by["C"]["assumptions"] and "decimal comma" in by["C"]["assumptions"]
    assert by["C"]["intensity_point"] == "1.2 T"
    assert "Did you mean '%MSO'?" in by["D"]["reason"]
    assert "Cool-B65" in by["E"]["reason"] and "matches no coil preset" in by["E"]["reason"]
    assert "Magstim 200" in by["F"]["reason"]
    write_translation(tmp_path, list(rows[0]), out, "human")
    md = (tmp_path / "assumptions.md").read_text()
    assert md.count("coil matched: 'Magstim 70mm figure-8'") == 1
