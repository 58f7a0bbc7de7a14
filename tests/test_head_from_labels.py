"""Heads from labelled volumes (meshes.head_from_labels, efield head build): the analytic sphere, the
built-in human head reproduced, a rat volume through dose and targeting, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from meshes import LabelHeadError, head_from_labels, sphere_head
from meshes._labels import example_rat_volume, sphere_volume

SPHERE_TAGS = {2: "grey_matter", 3: "csf", 4: "bone", 5: "scalp"}


def sphere_errors(vox_mm: float, smooth: int = 0) -> dict:
    """Errors of the FEM field on the labelled-sphere head's own cortex against the analytic sphere field,
    70 mm figure-8 at 100 A/µs, relative to the analytic peak."""
    from coils import load_coil

    from efield import total_efield
    from efield.physics.fields import cortex_field, standard_pose

    head = head_from_labels(sphere_volume(vox_mm), SPHERE_TAGS, species="human", smooth=smooth)
    coil = load_coil("magstim_70mm_fig8")
    placed = coil.placed(standard_pose(head, coil=coil))
    res = cortex_field(placed, head, 1e8)
    ref = total_efield(placed, sphere_head("human"), res.points, 1e8)
    err = np.linalg.norm(res.efield - ref, axis=1)
    peak = np.linalg.norm(ref, axis=1).max()
    p999 = np.percentile(np.linalg.norm(ref, axis=1), 99.9)
    return {"rms": float(np.sqrt((err**2).mean()) / peak), "p99": float(np.percentile(err, 99) / peak),
            "rel_l2": float(np.linalg.norm(res.efield - ref) / np.linalg.norm(ref)),
            "peak": float(abs(np.percentile(res.magnitude, 99.9) - p999) / p999), "head": head}


def test_labelled_spheres_converge_to_the_analytic_field():
    coarse, fine = sphere_errors(6.0), sphere_errors(3.0)
    assert fine["rel_l2"] < coarse["rel_l2"] and fine["rms"] < coarse["rms"]
    # measured: 3 mm voxels, rms 0.97 % and p99 4.0 % of the peak, robust peak 0.8 %, relative L2 3.8 %
    assert fine["rms"] < 0.02 and fine["p99"] < 0.06 and fine["peak"] < 0.03 and fine["rel_l2"] < 0.06
    head = fine["head"]
    prov = head.provenance
    assert prov["species"] == "human" and prov["added_layers"].startswith("none")
    r = np.linalg.norm(head.cortex.vertices, axis=1)
    assert 0.060 < r.min() and r.max() < 0.070  # two voxels inside the 70 mm brain
    assert head.validate()["n_tets"] == len(head.tets)


def test_smoothing_keeps_every_tet_positive():
    lab, aff = sphere_volume(6.0)
    plain = head_from_labels((lab, aff), SPHERE_TAGS, species="human")
    smooth = head_from_labels((lab, aff), SPHERE_TAGS, species="human", smooth=3)
    assert np.array_equal(plain.tets, smooth.tets) and not np.allclose(plain.nodes, smooth.nodes)
    smooth.validate()  # raises on an inverted or degenerate tet
    # the smoothed scalp is rounder: its radius varies less than the staircase's
    rp = np.linalg.norm(plain.scalp.vertices, axis=1)
    rs = np.linalg.norm(smooth.scalp.vertices, axis=1)
    assert rs.std() < rp.std()
    assert "Taubin" in smooth.provenance["smoothing"]


def test_the_builtin_human_head_is_reproduced():
    import meshes
    from meshes import builtin_head

    with np.load(Path(meshes.__file__).parent / "data" / "heads" / "human_labels.npz") as d:
        lab, org, vox = d["labels"], d["origin_mm"], float(d["voxel_mm"])
    aff = np.diag([vox, vox, vox, 1.0])
    aff[:3, 3] = org
    general = head_from_labels((lab, aff), {1: "white_matter", 2: "grey_matter", 3: "csf", 4: "bone", 5: "scalp"},
                               voxel=2.6e-3, species="human")
    built = builtin_head("human")
    assert np.array_equal(general.tets, built.tets) and np.array_equal(general.tags, built.tags)
    assert np.abs(general.nodes - built.nodes).max() < 1e-12


def test_rat_volume_runs_through_dose_and_targeting(tmp_path, monkeypatch):
    import nibabel as nib

    from efield.cli import main

    lab, aff, marks = example_rat_volume()
    nib.save(nib.Nifti1Image(lab, aff), str(tmp_path / "rat_labels.nii.gz"))
    (tmp_path / "map.toml").write_text('3 = "brain"\n7 = "skull"\n9 = "scalp"\n')
    monkeypatch.chdir(tmp_path)
    run = CliRunner()
    res = run.invoke(main, ["head", "build", "rat_labels.nii.gz", "--labels", "map.toml", "--species", "rat",
                            "--frame", "bregma", "--bregma", ",".join(map(str, marks["bregma"])),
                            "--lambda", ",".join(map(str, marks["lambda"])), "--out", "rat.msh", "-q"])
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "rat.msh.json").read_text())
    assert side["frame"] == "bregma" and side["species"] == "rat"
    prov = side["provenance"]
    assert "csf" in prov["added_layers"] and "sphere_heads.toml" in prov["added_layers"]["csf"]
    assert prov["source_sha256"] and prov["tools"]["nibabel"]
    from efield.physics.heads import head_species, load_any_head

    head = load_any_head(str(tmp_path / "rat.msh"))
    assert head.frame == "bregma" and head_species(str(tmp_path / "rat.msh"), head)[0] == "rat"
    assert set(np.unique(head.tags)) == {3, 4, 5, 11}
    # bregma is the origin on the skull: the brain's top lies ~0.9 mm below it, the brain centre 4 mm behind
    brain = head.nodes[np.unique(head.tets[head.tags == 11])]
    assert -1.6e-3 < brain[:, 2].max() < -0.6e-3
    assert abs(0.5 * (brain[:, 1].max() + brain[:, 1].min()) + 3.5e-3) < 1.5e-3
    res = run.invoke(main, ["dose", "--head", "rat.msh", "--intensity", "50%MSO", "--coil", "magstim_25mm_fig8",
                            "--json", "-q"])
    assert res.exit_code == 0, res.output
    dose = json.loads(res.stdout[res.stdout.index("["):])[0]
    assert 10 < dose["e_target_vm"] < 1000
    res = run.invoke(main, ["target", "--head", "rat.msh", "--coil", "magstim_25mm_fig8", "--target",
                            "M1_forelimb_left", "--goal", "100", "--stimulator", "Magstim Rapid", "--out", "tgt", "-q"])
    assert res.exit_code == 0, res.output
    pose = json.loads((tmp_path / "tgt" / "pose.json").read_text())
    assert pose["frame"] == "bregma" and 0 < pose["mso_for_goal"] < 200


@pytest.mark.parametrize("labels, kw, match", [
    ({1: "grey_matter"}, {}, "not in the label map"),
    ({"*": "plasma"}, {}, "not a tissue"),
    ({1: "grey_matter", 2: "unobtainium"}, {}, "not a tissue"),
    ({1: "csf", 2: "scalp"}, {}, "no label maps to brain"),
    ({1: "grey_matter", 2: "scalp"}, {"frame": "bregma"}, "landmarks"),
    ({1: "grey_matter", 2: "scalp"}, {"voxel": 2.0}, "millimetres"),
    ({1: "grey_matter", 2: "scalp"}, {"layers": {"bone": 0.7}}, "millimetres"),
    ({1: "grey_matter", 2: "scalp"}, {"species": "cat"}, "species"),
])
def test_bad_labels_are_refused(labels, kw, match):
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[2:8, 2:8, 2:8] = 2
    lab[3:7, 3:7, 3:7] = 1
    with pytest.raises(LabelHeadError, match=match):
        head_from_labels((lab, np.diag([1.0, 1.0, 1.0, 1.0])), labels, **kw)


def test_bad_volumes_are_refused(tmp_path):
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[3:7, 3:7, 3:7] = 1
    with pytest.raises(LabelHeadError, match="metres"):
        head_from_labels((lab, np.diag([0.001, 0.001, 0.001, 1.0])), {1: "grey_matter"})
    with pytest.raises(LabelHeadError, match="not labels"):
        head_from_labels((lab + 0.5, np.eye(4)), {1: "grey_matter"})
    with pytest.raises(LabelHeadError, match="does not exist"):
        head_from_labels(tmp_path / "none.nii.gz", {1: "grey_matter"})
    (tmp_path / "junk.nii.gz").write_bytes(b"not a volume")
    with pytest.raises(LabelHeadError, match="cannot be read"):
        head_from_labels(tmp_path / "junk.nii.gz", {1: "grey_matter"})
    from meshes import read_label_map

    (tmp_path / "m.toml").write_text("1 = \n")
    with pytest.raises(LabelHeadError, match="not valid TOML"):
        read_label_map(tmp_path / "m.toml")


def test_cli_refuses_before_building(tmp_path, monkeypatch):
    import nibabel as nib

    from efield.cli import main

    lab = np.zeros((10, 10, 10), np.uint8)
    lab[3:7, 3:7, 3:7] = 1
    nib.save(nib.Nifti1Image(lab, np.eye(4)), str(tmp_path / "v.nii.gz"))
    (tmp_path / "map.toml").write_text('1 = "grey_matter"\n')
    (tmp_path / "taken.msh").write_text("x")
    monkeypatch.chdir(tmp_path)
    run = CliRunner()
    res = run.invoke(main, ["head", "build", "v.nii.gz", "--labels", "map.toml", "--out", "taken.msh"])
    assert res.exit_code != 0 and "exists" in res.output
    res = run.invoke(main, ["head", "build", "v.nii.gz", "--labels", "map.toml", "--out", "h.stl"])
    assert res.exit_code != 0 and ".msh" in res.output
    res = run.invoke(main, ["head", "build", "v.nii.gz", "--labels", "map.toml", "--frame", "bregma", "--out", "h.msh"])
    assert res.exit_code != 0 and "--bregma" in res.output
    (tmp_path / "map.toml").write_text('1 = "grey_matter"\n5 = "scalp"\n')
    lab[lab == 0] = 9
    nib.save(nib.Nifti1Image(lab, np.eye(4)), str(tmp_path / "v.nii.gz"))
    res = run.invoke(main, ["head", "build", "v.nii.gz", "--labels", "map.toml", "--out", "h.msh"])
    assert res.exit_code != 0 and "9" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "h.msh").exists()


def test_a_brain_atlas_maps_with_a_wildcard():
    lab = np.zeros((24, 24, 24), np.uint8)
    lab[6:18, 6:18, 6:18] = 5  # many "structures", all brain
    lab[8:12, 8:12, 8:12] = 17
    lab[12:16, 12:16, 12:16] = 23
    head = head_from_labels((lab, np.diag([0.5, 0.5, 0.5, 1.0])), {"*": "brain"}, species="rat")
    assert set(np.unique(head.tags)) == {3, 4, 5, 11}  # CSF, skull and scalp added around one brain
    assert set(head.provenance["label_map"].values()) == {"brain"}
