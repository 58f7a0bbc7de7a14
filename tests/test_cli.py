"""The command line: coils, field, demo (outputs, refusals, overwrite protection)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from efield.cli import main


def _not_blank(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100
    colours = np.unique((img[..., :3] * 255).astype(int).reshape(-1, 3), axis=0)
    assert len(colours) > 20, f"{path} looks blank"


def test_coils_lists_presets():
    from coils import list_coils

    res = CliRunner().invoke(main, ["coils"])
    assert res.exit_code == 0, res.output
    for cid in list_coils():
        assert cid in res.output
    assert "A/µs" in res.output


def test_field_writes_outputs_and_protects_them(tmp_path):
    out = tmp_path / "run"
    args = ["field", "--coil", "magstim_70mm_fig8", "--head", "human", "--didt", "100A/us",
            "--out", str(out), "--subdiv", "3"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "peak |E| on the cortex" in res.output
    for name in ("field.vtu", "field.png", "summary.json"):
        assert (out / name).exists()
    _not_blank(out / "field.png")
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "pass --force" in again.output
    forced = CliRunner().invoke(main, args + ["--force"])
    assert forced.exit_code == 0, forced.output


def test_field_npz_at_mso(tmp_path):
    out = tmp_path / "npz"
    res = CliRunner().invoke(main, ["field", "--coil", "magventure_mcb70", "--mso", "50", "--format", "npz",
                                    "--out", str(out), "--subdiv", "2"])
    assert res.exit_code == 0, res.output
    with np.load(out / "field.npz") as data:
        assert data["efield_vm"].shape == data["points_m"].shape
        assert np.isclose(float(data["didt_a_per_s"]), 0.5 * 155.33e6)


def test_force_never_deletes_a_foreign_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    res = CliRunner().invoke(main, ["field", "--coil", "magstim_70mm_fig8", "--didt", "1A/us", "--out", str(mine),
                                    "--subdiv", "2", "--force"])
    assert res.exit_code != 0 and "not written by efield" in res.output
    assert (mine / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize(
    "args, match",
    [
        (["--coil", "nope"], "known"),
        (["--coil", "magstim_70mm_fig8", "--didt", "100 bananas"], "--didt"),
        (["--coil", "magstim_70mm_fig8", "--head", "dog"], "human"),
        (["--coil", "magstim_70mm_fig8", "--didt", "1A/us", "--mso", "50"], "either --didt or --mso"),
        (["--coil", "magstim_70mm_fig8", "--mso", "150"], "between 0 and 100"),
    ],
)
def test_field_bad_input(tmp_path, args, match):
    res = CliRunner().invoke(main, ["field", *args, "--out", str(tmp_path / "x"), "--subdiv", "2"])
    assert res.exit_code != 0
    assert match in res.output


def test_demo_writes_table_and_pictures(tmp_path):
    from coils import list_coils, load_coil

    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--subdiv", "3"])
    assert res.exit_code == 0, res.output
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = sum(1 if load_coil(c).metadata["species"] == "human" else 2 for c in list_coils())
    assert len(rows) == expected
    for r in rows:
        assert float(r["peak_vm_per_aus"]) > 0
        png = out / f"{r['coil']}_{r['head']}.png"
        _not_blank(png)
    assert (out / "summary.md").read_text().count("\n|") >= expected
    # the subject workflow: a SimNIBS-style folder, M1 with its convention, every pose file read back
    subject = json.loads((out / "subject" / "subject.json").read_text())
    assert {r["system"] for r in subject} == {"efield", "simnibs", "brainsight", "localite"}
    assert all(abs(r["difference_pct"]) < 1e-3 for r in subject)
    text = (out / "subject" / "subject.md").read_text()
    assert "angle between the best handle and the conventional handle" in text
    pose = out / "subject" / "M1_hand_left" / "pose_localite.xml"
    res = CliRunner().invoke(main, ["field", "--pose", str(pose), "--out", str(tmp_path / "f"), "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    again = json.loads(res.stdout[res.stdout.index("{"):])
    assert again["peak_vm"] == pytest.approx(subject[0]["peak_vm"], rel=1e-6)
    assert "SimNIBS subject folder" in again["head"]
    # the report: one page per part, linked from the demo's index.html, readable in a browser
    index = (out / "index.html").read_text()
    with open(out / "cohort" / "results.csv", newline="") as fh:
        cohort = list(csv.DictReader(fh))  # the demo's study plan: every row accounted for, one cannot run
    assert [r["status"] for r in cohort].count("done") == len(cohort) - 1
    assert next(r for r in cohort if r["status"] == "failed")["reason"].startswith("intensity")
    assert (out / "labels" / "rat_from_labels.msh").is_file() and (out / "labels" / "rat_from_labels.msh.json").is_file()
    # the realtime part: one rat-mesh dose from the full solve and from the cached model, agreeing
    fem, fast = json.loads((out / "realtime" / "realtime.json").read_text())["dose"]
    assert fem["model"] == "full FEM solve" and fast["model"] == "cortical field model"
    assert fast["e_target_vm"] == pytest.approx(fem["e_target_vm"], rel=0.02)
    assert fast["half_max_depth_mm"] == pytest.approx(fem["half_max_depth_mm"], abs=0.2)
    assert "A dose from the model" in (out / "realtime" / "realtime.md").read_text()
    for part in ("translation", "targeting", "subject", "cohort", "labels"):
        assert (out / part / "index.html").is_file() and f'href="{part}/index.html"' in index, part
    assert (out / "subject" / "M1_hand_left" / "field.html").is_file()
    import shutil

    browser = shutil.which("chromium")
    if browser:
        from .test_browser import _pixels, _screenshot

        for page in (out / "index.html", out / "subject" / "M1_hand_left" / "index.html"):
            png = tmp_path / f"{page.parent.name}.png"
            _screenshot(browser, page, png, tmp_path)
            assert len(np.unique(_pixels(png).reshape(-1, 3), axis=0)) > 200, page


def test_field_on_a_mesh_head(tmp_path):
    out = tmp_path / "mesh"
    res = CliRunner().invoke(main, ["field", "--coil", "magstim_25mm_fig8", "--head", "rat-mesh", "--didt", "50A/us",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rat-mesh (built-in mesh, FEM)" in res.output
    _not_blank(out / "field.png")


def test_dose_out_writes_the_field_and_a_report(tmp_path):
    out = tmp_path / "dose"
    res = CliRunner().invoke(main, ["dose", "--head", "rat", "--coil", "rodent_8mm_round", "--intensity", "50A/us",
                                    "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert {"dose.json", "dose.md", "field.png", "field.html", "scene.vtm", "index.html"} <= {
        p.name for p in out.iterdir()}
    index = (out / "index.html").read_text()
    assert 'src="field.html"' in index and "dose.md" in index
    rows = json.loads((out / "dose.json").read_text())["rows"]
    assert rows[0]["didt_aus"] == pytest.approx(50.0)
    again = CliRunner().invoke(main, ["dose", "--head", "rat", "--coil", "rodent_8mm_round", "--intensity", "50A/us",
                                      "--out", str(out), "--quiet"])
    assert again.exit_code != 0 and "--force" in again.output  # refused before any computation
