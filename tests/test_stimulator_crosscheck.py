"""Second-route cross-check of ESTIMATED stimulator dI/dt (peak B -> dI/dt)."""

import math

import pytest
from click.testing import CliRunner

from coils import load_coil
from efield.cli import main
from efield.dose.stimulators import (NO_SECOND_SOURCE, b_per_ampere, cross_check, estimated_pairs_in_use,
                                load_peak_fields, stimulator_pair)


def test_estimated_pairs_listed_and_checked():
    pairs = estimated_pairs_in_use()
    assert ("Magstim Rapid", "magstim_25mm_fig8") in pairs
    assert ("Magstim Rapid", "magstim_70mm_circular") in pairs
    data = {(r["stimulator"].lower(), r["coil"].lower()) for r in load_peak_fields()}
    for s, c in pairs:
        p = stimulator_pair(c, s)
        assert p.estimated
        if (s.lower(), c.lower()) in data:
            assert p.crosscheck_didt is not None and math.isfinite(p.crosscheck_ratio)
        else:
            assert p.crosscheck_didt is None and p.crosscheck_note == NO_SECOND_SOURCE


def test_crosscheck_computed_from_user_peak_field(tmp_path):
    f = tmp_path / "pf.csv"
    f.write_text("stimulator,coil,b_peak_t,point_z_mm,flag,source\n"
                 "Magstim Rapid,magstim_25mm_fig8,2.0,0,A,test value\n", encoding="utf-8")
    p = cross_check(stimulator_pair("magstim_25mm_fig8", "Magstim Rapid"), str(f))
    expect = 2 * math.pi * 2.0 / (p.period * b_per_ampere(load_coil("magstim_25mm_fig8")))
    assert math.isclose(p.crosscheck_didt, expect, rel_tol=1e-9)
    assert math.isfinite(p.crosscheck_ratio) and math.isclose(p.crosscheck_ratio, p.didt_max / expect)


def test_cli_shows_estimate_and_second_route():
    out = CliRunner().invoke(main, ["stimulators"])
    assert out.exit_code == 0, out.output
    for s, c in estimated_pairs_in_use():
        p = stimulator_pair(c, s)
        line = next(ln for ln in out.output.splitlines() if c in ln and "estimate" in ln)
        assert f"{p.didt_max_aus:.2f}" in line
        if p.crosscheck_didt is None:
            assert NO_SECOND_SOURCE in line
        else:
            assert f"{p.crosscheck_didt / 1e6:.2f}" in line


def test_bad_peak_field_file_names_file_and_line(tmp_path):
    from efield.dose.stimulators import load_peak_fields

    f = tmp_path / "peaks.csv"
    f.write_text("# a comment\nstimulator,coil,b_peak_t,point_z_mm,flag,source\n"
                 "Magstim Rapid,magstim_25mm_fig8,1.2,ten,V,x\n")
    with pytest.raises(ValueError, match=r"peak-field file '.*peaks.csv': row 3 point_z_mm 'ten' is not a number"):
        load_peak_fields(str(f))
    f.write_bytes(b"stimulator,coil,b_peak_t\n\xff\xfe,x,1\n")
    with pytest.raises(ValueError, match=r"peak-field file '.*peaks.csv' is not UTF-8 text"):
        load_peak_fields(str(f))
