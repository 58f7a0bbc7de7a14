"""The motor-threshold chain (published thresholds vs the RMT predicted by equal E) and %AMT."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from efield.cli import main
from efield.dose.dosimetry import DoseError, Setup, amt_ratio, defaults, dose, setup_amt_mso, setup_rmt_mso, threshold_e
from efield.dose.intensity import parse_intensity
from efield.dose.stimulators import stimulator_pair
from efield.dose.thresholds import ThresholdFileError, load_published_thresholds, threshold_table
from efield.dose.translation import translate

HEADER = "stimulator,coil,waveform,threshold,mso,mso_low,mso_high,muscle,flag,source\n"
RAPID = Setup(head="human", coil="magstim_70mm_fig8", stimulator="Magstim Rapid")


def _file(tmp_path, body: str):
    p = tmp_path / "thr.csv"
    p.write_text(HEADER + body)
    load_published_thresholds.cache_clear()
    return str(p)


def test_calibration_row_is_marked_and_not_counted_as_a_check():
    rows = threshold_table()
    cal = rows[0]
    spec = defaults()["threshold"]["human"]
    assert (cal.stimulator, cal.coil) == (spec["stimulator"], spec["coil"])
    assert cal.ratio == pytest.approx(1.0, abs=1e-9)
    assert cal.status.startswith("calibration") and "not a check" in cal.status


def test_prediction_is_equal_cortical_e_on_each_pair():
    e, _, _, _ = threshold_e("human")
    for r in threshold_table():
        if r.predicted_mso is None:
            continue
        s = Setup(head="human", coil=r.coil, stimulator=r.stimulator)
        # at the predicted RMT the cortical E of the pair equals the threshold E
        assert dose(s, f"{r.predicted_mso}%MSO")[0].e_target == pytest.approx(e, rel=1e-9)
        assert r.predicted_band[0] < r.predicted_mso < r.predicted_band[1]


def test_rapid_70mm_threshold_follows_the_validated_coil_models():
    # the same chain computed with SimNIBS's validated models of both coils (not the presets)
    from coils import read_ccd
    from efield.physics.coil_compare import compare_coils, comparison_poses
    from meshes import sphere_head
    from tests._coil_field_ref import simnibs_coil_file

    d70 = read_ccd(simnibs_coil_file("MagStim_D70.ccd"))
    mc = read_ccd(simnibs_coil_file("MagVenture_MC-B70.ccd"))
    top = {"top": comparison_poses(sphere_head("human"))["top"]}
    eff_ratio = compare_coils(mc, d70, poses=top)[0].peak_ratio  # MC-B70 / D70, per A/µs
    spec = defaults()["threshold"]["human"]
    didt_x100 = stimulator_pair(spec["coil"], spec["stimulator"]).didt_max
    didt_rapid = stimulator_pair("magstim_70mm_fig8", "Magstim Rapid").didt_max
    from_models = spec["rmt_mso"] * eff_ratio * didt_x100 / didt_rapid
    row = next(r for r in threshold_table() if (r.stimulator, r.coil) == ("Magstim Rapid", "magstim_70mm_fig8"))
    assert row.predicted_mso == pytest.approx(from_models, rel=0.05)
    assert row.predicted_mso > 1.4 * spec["rmt_mso"]  # far higher than on the X100 + MC-B70


def test_other_waveform_is_not_predicted_and_says_why():
    row = next(r for r in threshold_table() if r.waveform == "monophasic")
    assert row.predicted_mso is None and row.ratio is None
    assert "monophasic" in row.status and "waveform" in row.status and row.published_mso is not None


def test_published_row_on_a_known_pair_is_checked(tmp_path):
    ok = _file(tmp_path, 'MagVenture MagPro X100,magventure_cb60,biphasic,rmt,60,55,65,hand,V,"made up"\n')
    row = [r for r in threshold_table(ok) if r.coil == "magventure_cb60"]
    assert len(row) == 1 and row[0].status.startswith("check: ") and row[0].ratio == pytest.approx(
        60 / row[0].predicted_mso)
    bad = _file(tmp_path, 'MagVenture MagPro X100,magventure_cb60,biphasic,rmt,20,18,22,hand,V,"made up"\n')
    row = [r for r in threshold_table(bad) if r.coil == "magventure_cb60"]
    assert row[0].status.startswith("check FAILS")
    load_published_thresholds.cache_clear()


@pytest.mark.parametrize("body, match", [
    ('Magstim Rapid,magstim_70mm_fig8,biphasic,rmt,0,0,10,hand,V,x\n', r"row 2: mso must be in \(0, 100\]"),
    ('Magstim Rapid,magstim_70mm_fig8,biphasic,rmt,150,140,160,hand,V,x\n', r"mso must be in \(0, 100\]"),
    ('Magstim Rapid,magstim_70mm_fig8,biphasic,rmt,50,55,60,hand,V,x\n', r"mso_low <= mso <= mso_high"),
    ('Magstim Rapid,magstim_70mm_fig8,biphasic,amt,50,45,55,hand,V,x\n', r"threshold must be 'rmt'"),
    ('Magstim Rapid,magstim_70mm_fig8,sine,rmt,50,45,55,hand,V,x\n', r"waveform must be monophasic or biphasic"),
    ('Magstim Rapid,magstim_70mm_fig8,biphasic,rmt,fifty,45,55,hand,V,x\n', r"mso must be a number"),
])
def test_bad_threshold_file_is_refused_naming_row_and_column(tmp_path, body, match):
    with pytest.raises(ThresholdFileError, match=match):
        threshold_table(_file(tmp_path, body))
    load_published_thresholds.cache_clear()


def test_threshold_file_without_columns(tmp_path):
    p = tmp_path / "thr.csv"
    p.write_text("stimulator,coil\nA,B\n")
    with pytest.raises(ThresholdFileError, match="lacks columns"):
        load_published_thresholds(str(p))


def test_amt_parses_and_doses_through_the_declared_ratio():
    assert parse_intensity("80 %AMT").kind == "amt"
    r, lo, hi, how = amt_ratio()
    assert lo < r < hi and "AMT" in how
    rmt = setup_rmt_mso(RAPID)[0]
    d = dose(RAPID, "80%AMT")[0]
    assert d.mso == pytest.approx(0.8 * r * rmt, rel=1e-9)
    assert d.amt_pct == pytest.approx(80.0) and d.rmt_pct == pytest.approx(80.0 * r)
    assert any("AMT" in a and "RMT" in a for a in d.assumptions)
    amt, amt_lo, amt_hi, _ = setup_amt_mso(RAPID)
    assert amt_lo < amt < amt_hi


def test_subject_amt_overrides_the_ratio():
    s = replace(RAPID, amt_mso=50.0)
    d = dose(s, "80%AMT")[0]
    assert d.mso == pytest.approx(40.0) and d.amt_pct == pytest.approx(80.0)
    assert "AMT 50 % MSO (given)" in d.assumptions


def test_amt_translation_matches_the_equivalent_rmt():
    r = amt_ratio()[0]
    human = Setup(head="human", coil="magventure_mcb70", stimulator="MagVenture MagPro X100")
    a = translate("80%AMT", RAPID, human)[0]
    b = translate(f"{80 * r}%RMT", RAPID, human)[0]
    assert a.dest_mso.nominal == pytest.approx(b.dest_mso.nominal, rel=1e-9)
    assert a.dest_rmt_threshold.nominal == pytest.approx(b.dest_rmt_threshold.nominal, rel=1e-9)
    # the ratio's band widens the AMT translation beyond the %RMT one
    assert a.dest_rmt_threshold.low < b.dest_rmt_threshold.low


@pytest.mark.parametrize("field, value", [("rmt_mso", 0.0), ("amt_mso", 150.0), ("rmt_mso", -5.0)])
def test_implausible_threshold_is_refused(field, value):
    with pytest.raises(DoseError, match=f"{field} must be a motor threshold in % MSO"):
        Setup(**{field: value})


def test_cli_thresholds_table_and_json():
    runner = CliRunner()
    res = runner.invoke(main, ["stimulators", "--thresholds"])
    assert res.exit_code == 0, res.output
    assert "calibration" in res.output and "Magstim Rapid" in res.output and "monophasic" in res.output
    res = runner.invoke(main, ["stimulators", "--thresholds", "--json"])
    data = json.loads(res.output)
    assert len(data["rows"]) >= 3 and data["threshold_e_vm"][1] < data["threshold_e_vm"][0] < data["threshold_e_vm"][2]
    res = runner.invoke(main, ["stimulators", "--json"])
    assert res.exit_code != 0 and "--thresholds" in res.output


def test_cli_dose_amt():
    runner = CliRunner()
    res = runner.invoke(main, ["dose", "--coil", "magstim_70mm_fig8", "--stimulator", "Magstim Rapid",
                               "--intensity", "80%AMT", "--amt", "50"])
    assert res.exit_code == 0, res.output
    assert "= 40 % MSO" in res.output and "= 80 % AMT" in res.output
    res = runner.invoke(main, ["dose", "--intensity", "80%AMT", "--amt", "500"])
    assert res.exit_code != 0 and "'--amt': must be above 0 and at most 100 (% MSO); got 500" in res.output


def test_batch_rows_take_a_subject_amt_and_refuse_a_bad_one():
    from efield.dose.batch import translate_rows

    base = {"species": "human", "intensity": "80", "intensity_unit": "%AMT", "coil": "magstim_70mm_fig8",
            "stimulator": "Magstim Rapid"}
    rows = [dict(base, amt_mso="50"), dict(base, amt_mso="abc"), dict(base, amt_mso="250")]
    out = translate_rows(rows, "human")
    assert [r["status"] for r in out] == ["translated", "not_translatable", "not_translatable"]
    assert "amt_mso 'abc' is not a number" in out[1]["reason"] and "(0-100]" in out[2]["reason"]
