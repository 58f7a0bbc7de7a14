"""Any head, everywhere: built-in names, head-mesh files and SimNIBS subject folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from efield.cli import main
from efield.physics.heads import HeadError, head_label, head_species, load_any_head


@pytest.mark.parametrize("typo, suggestion", [("humna", "'human'"), ("rat_mesh", "'rat-mesh'"), ("mous", "'mouse'")])
def test_unknown_head_lists_every_form_and_suggests(typo, suggestion):
    with pytest.raises(HeadError) as e:
        load_any_head(typo)
    msg = str(e.value)
    assert repr(typo) in msg and suggestion in msg
    for form in ("human-mesh", "dish", ".msh", ".vtu", "m2m_<id>"):
        assert form in msg


def test_missing_file_wrong_type_and_bad_folders(tmp_path):
    with pytest.raises(HeadError, match="does not exist"):
        load_any_head(str(tmp_path / "ernie.msh"))
    (tmp_path / "head.stl").write_text("solid x\nendsolid x\n")
    with pytest.raises(HeadError, match=r"type '\.stl'"):
        load_any_head(str(tmp_path / "head.stl"))
    (tmp_path / "subject").mkdir()
    with pytest.raises(HeadError, match="m2m_<id>"):
        load_any_head(str(tmp_path / "subject"))
    (tmp_path / "m2m_ernie").mkdir()
    with pytest.raises(HeadError, match="ernie.msh"):
        load_any_head(str(tmp_path / "m2m_ernie"))


def test_subject_folder_loads_with_its_mni_affine(subject_folder):
    folder, affine = subject_folder
    head = load_any_head(str(folder))
    assert head.name == "sub01" and head.frame == "head"
    np.testing.assert_allclose(head.provenance["mni_to_head_mm"], affine)
    assert head_species(str(folder)) == ("human", "a SimNIBS subject folder (human head)")
    assert "SimNIBS subject folder" in head_label(str(folder), head)
    # the mesh file itself, without the folder: no affine, species from the size
    direct = load_any_head(str(folder / "sub01.msh"))
    assert "mni_to_head_mm" not in direct.provenance
    species, how = head_species(str(folder / "sub01.msh"), direct)
    assert species == "human" and "mm across" in how
    # the same file is read once per process
    assert load_any_head(str(folder)) is head


def test_bad_affine_names_the_file(subject_folder, tmp_path):
    import shutil

    folder, _ = subject_folder
    copy = tmp_path / "m2m_sub01"
    shutil.copytree(folder, copy)
    (copy / "toMNI" / "MNI2conform_12DOF.txt").write_text("1 0 0\n0 1 0\n")
    with pytest.raises(HeadError, match="MNI2conform_12DOF.txt"):
        load_any_head(str(copy))


def test_field_and_dose_run_on_a_subject_folder(subject_folder, tmp_path):
    folder, _ = subject_folder
    out = tmp_path / "f"
    r = CliRunner().invoke(main, ["field", "--head", str(folder), "--coil", "magstim_70mm_fig8", "--mso", "50",
                                  "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["head"].startswith("sub01 (SimNIBS subject folder") and s["species"] == "human"
    assert 10 < s["p999_vm"] < 500 and s["half_max_depth_mm"] > 5
    r = CliRunner().invoke(main, ["dose", "--head", str(folder), "--intensity", "50%MSO", "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output[r.output.index("["):])
    assert "sub01 (SimNIBS subject folder" in rows[0]["setup"]
    # one definition of the half-peak depth: field and dose agree on the same head and pose
    assert rows[0]["half_max_depth_mm"] == pytest.approx(s["half_max_depth_mm"], rel=1e-6)


def test_unknown_head_on_every_command_is_a_usage_error(tmp_path):
    for args in (["field", "--head", "humna"], ["dose", "--head", "humna", "--intensity", "50%MSO"],
                 ["target", "--head", "humna"], ["translate", "--from", "rat", "--intensity", "30%MSO", "--to", "humna",
                                                 "--out", str(tmp_path / "t")]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert "Did you mean 'human'?" in r.output, args
