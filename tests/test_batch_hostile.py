"""Hostile protocol and stimulator tables: broken CSV, clashing columns, formula cells, huge tables."""

from __future__ import annotations

import csv
import struct
import time

import pytest

from efield.dose import batch
from efield.dose.batch import read_protocols, translate_rows, write_translation
from efield.dose.stimulators import load_stimulator_table

HEAD = "study,species,intensity,intensity_unit,coil,stimulator\n"


def _write(tmp_path, text, name="protocols.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_duplicated_header_column_is_refused_naming_it(tmp_path):
    p = _write(tmp_path, "study,species,intensity,intensity_unit,intensity\nA,rat,30,%MSO,40\n")
    with pytest.raises(ValueError, match="more than once") as exc:
        read_protocols(p)
    msg = str(exc.value)
    assert str(p) in msg and "'intensity'" in msg and "distinct" in msg


def test_row_with_surplus_cells_is_refused_naming_the_line(tmp_path):
    p = _write(tmp_path, HEAD + "A,rat,30,%MSO,not reported,not reported\nB,rat,30,%MSO,x,y,surplus\n")
    with pytest.raises(ValueError) as exc:
        read_protocols(p)
    msg = str(exc.value)
    assert str(p) in msg and "line 3 has 7 cells" in msg and "at most the header's 6 cells" in msg


def test_short_rows_get_empty_cells(tmp_path):
    _, rows = read_protocols(_write(tmp_path, HEAD + "A,rat,30,%MSO\n"))
    assert rows == [{"study": "A", "species": "rat", "intensity": "30", "intensity_unit": "%MSO", "coil": "",
                     "stimulator": ""}]


def test_unterminated_quote_that_merges_rows_is_refused(tmp_path):
    p = _write(tmp_path, HEAD + 'A,rat,30,%MSO,"not reported,x\nB,rat,40,%MSO,not reported,y\n'
                              "C,rat,50,%MSO,not reported,z\n")
    with pytest.raises(ValueError, match="unterminated quote") as exc:
        read_protocols(p)
    assert str(p) in str(exc.value) and "line 2" in str(exc.value)


def test_a_closed_multiline_note_is_still_accepted(tmp_path):
    _, rows = read_protocols(_write(tmp_path, "study,species,intensity,intensity_unit,notes\n"
                                              'A,rat,30,%MSO,"first line\nsecond line"\n'))
    assert rows[0]["notes"] == "first line\nsecond line"


def test_huge_cell_is_a_clear_refusal(tmp_path):
    p = _write(tmp_path, HEAD + "A,rat,30,%MSO,not reported,not reported\nB,rat," + "9" * 200_000 + ",%MSO,,\n")
    with pytest.raises(ValueError) as exc:
        read_protocols(p)
    msg = str(exc.value)
    assert str(p) in msg and "line 3" in msg and f"{batch.MAX_CELL_CHARS} characters" in msg
    assert len(msg) < 500


def test_non_utf8_protocol_table_names_the_file(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes((HEAD + "Müller,rat,30,%MSO,,\n").encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8") as exc:
        read_protocols(p)
    assert str(p) in str(exc.value)


def test_input_columns_named_like_added_columns_are_refused(tmp_path):
    p = _write(tmp_path, "study,species,intensity,intensity_unit,status,dest_mso\nA,rat,30,%MSO,done,12\n")
    with pytest.raises(ValueError, match="would be overwritten") as exc:
        read_protocols(p)
    msg = str(exc.value)
    assert str(p) in msg and "['status', 'dest_mso']" in msg and "input_status" in msg and "reason" in msg


@pytest.mark.parametrize("rmt", ["0", "-5", "nan", "150", "inf"])
def test_bad_motor_thresholds_are_row_reasons(rmt):
    rows = [{"species": "rat", "intensity": "30", "intensity_unit": "%MSO", "rmt_mso": rmt},
            {"species": "dog", "intensity": "30", "intensity_unit": "%MSO"}]
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["not_translatable"] * 2
    assert "rmt_mso" in out[0]["reason"] and repr(rmt) in out[0]["reason"] and "(0-100]" in out[0]["reason"]


@pytest.mark.parametrize("error", [ZeroDivisionError("float division by zero"), FloatingPointError("overflow"),
                                   ValueError("bad geometry")])
def test_an_arithmetic_error_in_one_row_becomes_its_reason(monkeypatch, error):
    real = batch.plausible_setups

    def flaky(species, coil, *a, **k):
        if coil == "boom":
            raise error
        return real(species, coil, *a, **k)

    monkeypatch.setattr(batch, "plausible_setups", flaky)
    rows = [{"species": "rat", "intensity": "30", "intensity_unit": "%MSO", "coil": "boom"},
            {"species": "rat", "intensity": "30", "intensity_unit": "%MSO", "coil": "not reported"}]
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["not_translatable", "translated"]
    assert str(error) in out[0]["reason"] and out[0]["coil"] == "boom"


def test_non_finite_results_are_not_translated(monkeypatch):
    real = batch.translate

    def nan_translate(point, setups, dest):
        t = real(point, setups, dest)
        from dataclasses import replace
        return [replace(t[0], dest_mso=t[0].dest_mso.scaled(float("nan")))]

    monkeypatch.setattr(batch, "translate", nan_translate)
    out = translate_rows([{"species": "rat", "intensity": "30", "intensity_unit": "%MSO"}], "human")
    assert out[0]["status"] == "not_translatable" and "non-finite" in out[0]["reason"]


def test_formula_cells_are_neutralised_numbers_stay_numbers(tmp_path):
    fieldnames = ["study", "species", "intensity", "intensity_unit", "rmt_mso", "notes"]
    rows = [{"study": "=HYPERLINK(\"http://x\")", "species": "rat", "intensity": "30", "intensity_unit": "%MSO",
             "rmt_mso": "-5", "notes": "@SUM(A1)"},
            {"study": "+cmd", "species": "-2+3", "intensity": "30", "intensity_unit": "%MSO", "rmt_mso": "",
             "notes": "plain"},
            {"study": "ok", "species": "rat", "intensity": "30", "intensity_unit": "%MSO", "rmt_mso": "",
             "notes": "-1.5e3"}]
    out = translate_rows(rows, "human")
    write_translation(tmp_path, fieldnames, out, "human")
    with open(tmp_path / "translated.csv", newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert got[0]["study"] == "'=HYPERLINK(\"http://x\")" and got[0]["notes"] == "'@SUM(A1)"
    assert got[0]["rmt_mso"] == "-5"  # a plain number stays a number
    assert got[1]["study"] == "'+cmd" and got[1]["species"] == "'-2+3"
    assert got[2]["notes"] == "-1.5e3" and got[2]["status"] == "translated"
    float(got[2]["dest_mso"])  # the toolkit's numbers are written as numbers
    md = (tmp_path / "translated.md").read_text()
    assert "| '=HYPERLINK" in md and "| '-2+3 |" in md
    assert all(not cell.strip().startswith(("=", "+", "@")) for line in md.splitlines() for cell in line.split("|"))
    assert "nan" not in (tmp_path / "translated.csv").read_text().lower().replace("not_translatable", "")


def test_stimulator_errors_give_file_line_numbers(tmp_path):
    p = tmp_path / "stim.csv"
    p.write_text("# comment 1\n# comment 2\nstimulator,coil,didt_max_aus\n# comment in the middle\n"
                 "S1,magstim_70mm_fig8,100\nS2,magstim_70mm_fig8,abc\n", encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        load_stimulator_table(str(p))
    msg = str(exc.value)
    assert str(p) in msg and "row 6 didt_max_aus" in msg and "'abc'" in msg and "not a number" in msg


def test_stimulator_file_not_utf8_or_not_csv_names_the_file(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("stimulator,coil,didt_max_aus\nMüller,x,100\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8") as exc:
        load_stimulator_table(str(p))
    assert str(p) in str(exc.value)
    q = tmp_path / "huge.csv"
    q.write_text("# c\nstimulator,coil,didt_max_aus\nS,x," + "1" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid CSV") as exc:
        load_stimulator_table(str(q))
    assert str(q) in str(exc.value) and "line 3" in str(exc.value)
    r = tmp_path / "surplus.csv"
    r.write_text("stimulator,coil,didt_max_aus\n# c\nS,x,100,extra\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 3 has 4 cells") as exc:
        load_stimulator_table(str(r))
    assert str(r) in str(exc.value)


def _png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    return struct.unpack(">II", head[16:24])


def test_large_tables_are_cached_and_the_figure_stays_small(tmp_path, monkeypatch):
    calls = []
    real = batch.translate

    def counting(point, setups, dest):
        calls.append(point)
        return real(point, setups, dest)

    monkeypatch.setattr(batch, "translate", counting)
    base = [{"study": "A", "species": "rat", "intensity": "30", "intensity_unit": "%MSO", "coil": "not reported"},
            {"study": "B", "species": "rat", "intensity": "25;50", "intensity_unit": "%MSO", "coil": "not reported"},
            {"study": "C", "species": "dog", "intensity": "30", "intensity_unit": "%MSO"}]
    rows = [dict(base[i % 3], study=f"{base[i % 3]['study']}{i}") for i in range(10_000)]
    t0 = time.perf_counter()
    out = translate_rows(rows, "human")
    assert time.perf_counter() - t0 < 60
    assert len(calls) == 3  # one per distinct intensity point
    assert len(out) == 10_000 + sum(i % 3 == 1 for i in range(10_000))
    assert [r["study"] for r in out[:4]] == ["A0", "B1", "B1", "C2"]
    assert sum(r["status"] == "not_translatable" for r in out) == len([r for r in rows if r["species"] == "dog"])
    write_translation(tmp_path, list(base[0]), out[:400], "human")
    _, height = _png_size(tmp_path / "translated.png")
    assert height < 1000
