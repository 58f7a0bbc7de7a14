"""Batch translation of protocol tables and the dose/translate commands."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from efield.dose.batch import ADDED_COLUMNS, BUNDLED_PROTOCOLS, read_protocols, translate_rows
from efield.cli import main


@pytest.fixture(scope="module")
def bundled():
    fieldnames, rows = read_protocols(BUNDLED_PROTOCOLS)
    return fieldnames, rows, translate_rows(rows, "human")


def test_every_row_is_accounted_for_in_order(bundled):
    _, rows, out = bundled
    # each input row appears, in order, once per listed intensity (or once if not translatable)
    keys = [(r["study"], r["year"], r["intensity"], r["intensity_unit"]) for r in rows]
    seen = []
    for r in out:
        k = (r["study"], r["year"], r["intensity"], r["intensity_unit"])
        if not seen or seen[-1] != k:
            seen.append(k)
    assert seen == keys
    assert all(r["status"] in ("translated", "not_translatable") for r in out)
    assert all(r["reason"] for r in out if r["status"] == "not_translatable")


def test_translatable_rows_have_bands_and_assumptions(bundled):
    _, _, out = bundled
    done = [r for r in out if r["status"] == "translated"]
    assert len(done) >= 15
    for r in done:
        assert r["dest_mso_low"] <= r["dest_mso"] <= r["dest_mso_high"]
        assert r["source_e_vm_low"] <= r["source_e_vm"] <= r["source_e_vm_high"]
        assert r["dest_rmt"] > 0 and r["dest_didt_aus"] > 0
        assert r["assumptions"]


def test_reasons(bundled):
    _, _, out = bundled
    reasons = {r["study"]: r["reason"] for r in out if r["status"] == "not_translatable"}
    assert "intensity not reported" in reasons["Gao et al."]
    # an ex vivo slice study of rats stimulated in vivo is translatable
    assert any(r["study"] == "Wang et al." and r["species"] == "rat" and r["status"] == "translated" for r in out)


def test_in_vitro_rows_use_the_dish_and_scale_exactly(bundled):
    _, _, out = bundled
    ismail = [r for r in out if r["study"] == "Ismail et al."]
    assert [r["intensity_point"] for r in ismail] == ["25 %MSO", "50 %MSO", "75 %MSO", "100 %MSO"]
    assert all(r["status"] == "translated" and "dish" in r["assumptions"] for r in ismail)
    for col in ("source_e_vm", "source_e_vm_low", "source_e_vm_high", "dest_mso", "dest_rmt"):
        vals = np.array([r[col] for r in ismail])
        np.testing.assert_allclose(vals / vals[0], [1, 2, 3, 4], rtol=1e-12, err_msg=col)
    assert all(r["dest_rmt_eqthreshold"] == "" for r in ismail)  # no motor threshold in a dish


def test_list_rows_scale_exactly():
    rows = [{"species": "rat", "intensity": "25;50;75;100", "intensity_unit": "%MSO", "coil": "not reported",
             "stimulator": "not reported"}]
    out = translate_rows(rows, "human")
    assert [r["intensity_point"] for r in out] == ["25 %MSO", "50 %MSO", "75 %MSO", "100 %MSO"]
    for col in ("source_e_vm", "dest_mso", "dest_mso_low", "dest_mso_high", "dest_rmt", "dest_didt_aus"):
        vals = np.array([r[col] for r in out])
        np.testing.assert_allclose(vals / vals[0], [1, 2, 3, 4], rtol=1e-12, err_msg=col)


def test_bad_rows_do_not_stop_the_others():
    rows = [{"species": "rat", "intensity": "30", "intensity_unit": "%XYZ"},
            {"species": "dog", "intensity": "30", "intensity_unit": "%MSO"},
            {"species": "rat", "intensity": "30", "intensity_unit": "%MSO", "rmt_mso": "abc"},
            {"species": "rat", "intensity": "30", "intensity_unit": "%MSO"}]
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["not_translatable"] * 3 + ["translated"]
    assert "unit not convertible" in out[0]["reason"] and "no head model" in out[1]["reason"]


def test_translate_command_writes_outputs(tmp_path):
    out = tmp_path / "tr"
    res = CliRunner().invoke(main, ["translate", str(BUNDLED_PROTOCOLS), "--to", "human", "--rmt", "45",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out / "translated.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fieldnames, inputs = read_protocols(BUNDLED_PROTOCOLS)
    assert set(fieldnames) | set(ADDED_COLUMNS) <= set(rows[0])
    assert len(rows) >= len(inputs)
    for name in ("translated.md", "translated.png", "assumptions.md"):
        assert (out / name).stat().st_size > 0
    again = CliRunner().invoke(main, ["translate", str(BUNDLED_PROTOCOLS), "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output


def test_translate_one_protocol_and_dose(tmp_path):
    res = CliRunner().invoke(main, ["translate", "--from", "rat", "--intensity", "30%MSO", "--from-coil",
                                    "magstim_25mm_fig8", "--out", str(tmp_path / "one")])
    assert res.exit_code == 0, res.output
    assert "translated" in res.output
    res = CliRunner().invoke(main, ["dose", "--species", "rat", "--coil", "magstim_25mm_fig8", "--intensity",
                                    "23-25%MSO"])
    assert res.exit_code == 0, res.output
    assert "E at target" in res.output and "ESTIMATED" in res.output
    res = CliRunner().invoke(main, ["dose", "--intensity", "60 %XYZ"])
    assert res.exit_code != 0 and "%XYZ" in res.output


def test_rodent_mesh_heads_as_source(tmp_path):
    res = CliRunner().invoke(main, ["translate", "--from", "rat", "--intensity", "30%MSO", "--from-coil",
                                    "magstim_25mm_fig8", "--rodent-head", "mesh", "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "m" / "translated.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["status"] == "translated" and "rat-mesh" in row["assumptions"]
