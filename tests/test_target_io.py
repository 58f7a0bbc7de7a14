"""Targeting output: the pose JSON record, the neuronavigation matrix, the polar and 3-D pictures."""

from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import matplotlib.image as mpimg  # noqa: E402

from coils import check_pose, coil_pose  # noqa: E402
from efield.targeting import pose_io as tio  # noqa: E402
from efield._common.io import OutputExistsError  # noqa: E402
from efield.views.plots import plot_orientation_polar  # noqa: E402




def _result(**changes):
    """A stand-in for a targeting result: a coil tilted over the left of an MNI-like head."""
    normal = np.array([-0.5, 0.2, 0.8])
    normal /= np.linalg.norm(normal)
    scalp = np.array([-0.045, 0.012, 0.071])
    pose = coil_pose(scalp, normal, handle=[0.3, -1.0, 0.1], distance=0.004)
    angles = np.arange(0.0, 360.0, 15.0)
    fields = dict(
        pose=pose, center=scalp, handle=pose[:3, 1].copy(), normal=pose[:3, 2].copy(),
        coil_name="MagVenture C-B60", head_name="MNI152 (sphere approx.)", frame="MNI",
        target_point=np.array([-0.038, 0.010, 0.052]), target_label="left M1 hand knob",
        target_direction=np.array([0.0, 1.0, 0.0]), quantity="magnitude",
        didt=np.float64(1.2e8), target_e=np.float32(98.5), target_e_per_aus=98.5 / 120.0,
        goal_e=110.0, mso_for_goal=np.float64(64.2), stimulator="MagPro X100",
        angle_reference=pose[:3, 1].copy(), angles_deg=angles,
        e_vs_angle=90.0 + 8.5 * np.cos(np.radians(2 * angles)),
        focality={"area_half_max_cm2": np.float64(11.3), "depth_half_max_mm": 17.25,
                  "brain_fraction_above_half_target": float("nan")},
        assumptions={"conductivity": "homogeneous 0.33 S/m", "scalp_gap": "4 mm"},
        timing={"total": 2.5, "search": np.float64(1.75)}, n_poses=np.int64(1234),
    )
    fields.update(changes)
    return SimpleNamespace(**fields)


def _only_plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


# ----------------------------------------------------------------------------- record
def test_pose_record_is_plain_and_consistent():
    res = _result()
    rec = tio.pose_record(res)
    assert rec["schema"] == "efield.pose/1"
    assert _only_plain(rec), "only plain Python values (no numpy types)"
    json.dumps(rec, allow_nan=False)  # strict JSON
    pose, pose_mm = np.array(rec["pose"]), np.array(rec["pose_mm"])
    np.testing.assert_allclose(pose, res.pose, atol=1e-15)
    np.testing.assert_allclose(pose_mm[:3, :3], pose[:3, :3], atol=0)
    np.testing.assert_allclose(pose_mm[:3, 3], 1e3 * pose[:3, 3], rtol=1e-15)
    np.testing.assert_allclose(rec["center_mm"], 1e3 * np.array(rec["center"]), rtol=1e-15)
    np.testing.assert_allclose(rec["target"]["point_mm"], 1e3 * res.target_point, rtol=1e-15)
    assert rec["didt"] == 1.2e8 and rec["didt_a_per_us"] == pytest.approx(120.0)
    assert rec["target_e"] == pytest.approx(98.5) and rec["mso_for_goal"] == pytest.approx(64.2)
    assert rec["focality"]["brain_fraction_above_half_target"] is None, "NaN is stored as null"
    assert rec["n_poses"] == 1234 and rec["frame"] == "MNI" and rec["coil"] == "MagVenture C-B60"
    assert rec["target"]["label"] == "left M1 hand knob" and rec["target"]["quantity"] == "magnitude"
    assert rec["orientation"]["angles_deg"][:3] == [0.0, 15.0, 30.0]
    assert len(rec["orientation"]["e_vs_angle"]) == 24
    # optional parts may be missing: stored as null
    sparse = tio.pose_record(SimpleNamespace(pose=res.pose, goal_e=None, target_direction=None))
    assert sparse["goal_e"] is None and sparse["target"]["direction"] is None and sparse["coil"] is None


def test_pose_record_refuses_bad_input():
    with pytest.raises(ValueError, match="result.pose is required"):
        tio.pose_record(SimpleNamespace())
    with pytest.raises(ValueError, match=r"result.pose: .*shape \(3, 3\)"):
        tio.pose_record(_result(pose=np.eye(3)))
    flipped = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"result.pose: .*determinant -1"):
        tio.pose_record(_result(pose=flipped))
    with pytest.raises(ValueError, match=r"result.target_point must have shape \(3,\)"):
        tio.pose_record(_result(target_point=[0.0, 0.1]))
    with pytest.raises(ValueError, match="result.angles_deg and result.e_vs_angle must have the same length"):
        tio.pose_record(_result(e_vs_angle=[1.0, 2.0]))


# ----------------------------------------------------------------------------- round trips
def test_json_round_trip(tmp_path):
    res = _result()
    out = tio.write_pose_json(res, tmp_path / "pose.json")
    assert out == tmp_path / "pose.json" and out.is_file()
    back = tio.read_pose_json(out)
    assert isinstance(back["pose"], np.ndarray) and back["pose"].shape == (4, 4)
    np.testing.assert_allclose(back["pose"], res.pose, atol=1e-9)
    check_pose(back["pose"])  # the project's strict check
    np.testing.assert_allclose(np.array(back["pose_mm"])[:3, 3] / 1e3, back["pose"][:3, 3], atol=1e-12)
    np.testing.assert_allclose(back["center"], res.center, atol=1e-9)
    np.testing.assert_allclose(back["target"]["point"], res.target_point, atol=1e-9)
    np.testing.assert_allclose(back["orientation"]["e_vs_angle"], res.e_vs_angle, atol=1e-9)
    assert back["didt"] == pytest.approx(res.didt, rel=1e-12)
    assert back["focality"]["depth_half_max_mm"] == pytest.approx(17.25)
    assert back["assumptions"] == res.assumptions and back["stimulator"] == "MagPro X100"
    assert "NaN" not in out.read_text()
    assert '"center": [-0.045, 0.012, 0.071]' in out.read_text(), "vectors are written on one line"
    odd = {"range": "[100,150]\n[1,\n2]", "nested": "[\n1\n]"}
    tricky = tio.read_pose_json(tio.write_pose_json(_result(assumptions=odd), tmp_path / "odd.json"))
    assert tricky["assumptions"] == odd, "strings survive the compact layout unchanged"
    (tmp_path / "odd.json").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.json"], "no temporary file left behind"


def test_matrix_round_trip(tmp_path):
    res = _result()
    out = tio.write_pose_matrix(res, tmp_path / "pose.txt")
    text = out.read_text()
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    rows = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    header = "\n".join(comments)
    for needle in ("frame: MNI", "millimetres", "coil frame to the head frame", "handle", "away from the head",
                   "casing bottom", "coil: MagVenture C-B60", "target: left M1 hand knob at (-38.00, 10.00, 52.00) mm"):
        assert needle in header, f"{needle!r} missing from the header"
    assert text.index("#") == 0 and len(rows) == 4
    for row in rows:
        parts = row.split(" ")
        assert len(parts) == 4 and all(p == f"{float(p):.6f}" for p in parts)
    np.testing.assert_allclose(np.array(rows[0].split(), float)[3], 1e3 * res.pose[0, 3], atol=5e-7)  # mm
    back = tio.read_pose_matrix(out)
    assert back.shape == (4, 4)
    np.testing.assert_allclose(back[:3, 3], res.pose[:3, 3], atol=1e-9)  # metres, 6 decimals of mm
    np.testing.assert_allclose(back[:3, :3], res.pose[:3, :3], atol=2e-6)  # 6 decimals
    check_pose(back)  # snapped to an exact rotation
    # the JSON and the matrix tell the same story
    js = tio.read_pose_json(tio.write_pose_json(res, tmp_path / "pose.json"))
    np.testing.assert_allclose(js["pose"], back, atol=2e-6)


# ----------------------------------------------------------------------------- safety
@pytest.mark.parametrize("writer", [tio.write_pose_json, tio.write_pose_matrix])
def test_refuses_overwrite_without_force(tmp_path, writer):
    out = tmp_path / "pose.out"
    out.write_text("mine")
    with pytest.raises(OutputExistsError, match="exists; pass --force"):
        writer(_result(), out)
    assert out.read_text() == "mine"
    writer(_result(), out, force=True)
    assert out.read_text() != "mine" and "MagVenture" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.out"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        writer(_result(), tmp_path / "missing" / "pose.out")


@pytest.mark.parametrize("writer", [tio.write_pose_json, tio.write_pose_matrix])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, writer):
    def broken(tmp, text):
        tmp.write_text(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(tio, "_write_text", broken)
    with pytest.raises(OSError, match="disk full"):
        writer(_result(), tmp_path / "new.json")
    assert list(tmp_path.iterdir()) == [], "no partial or temporary file"
    old = tmp_path / "old.json"
    old.write_text("previous")
    with pytest.raises(OSError, match="disk full"):
        writer(_result(), old, force=True)
    assert old.read_text() == "previous" and list(tmp_path.iterdir()) == [old]


def test_readers_reject_bad_files(tmp_path):
    rec = tio.pose_record(_result())

    def dump(name, **changes):
        path = tmp_path / name
        path.write_text(json.dumps({**rec, **changes}))
        return path

    scaled = (np.array(rec["pose"]) * [[1.01], [1.01], [1.01], [1.0]]).tolist()
    with pytest.raises(ValueError, match=r"scaled.json: the pose's rotation is not orthonormal"):
        tio.read_pose_json(dump("scaled.json", pose=scaled, pose_mm=None))
    mirror = np.array(rec["pose"])
    mirror[:3, 0] *= -1
    with pytest.raises(ValueError, match=r"mirror.json: .*determinant -1"):
        tio.read_pose_json(dump("mirror.json", pose=mirror.tolist(), pose_mm=None))
    with pytest.raises(ValueError, match=r"other.json: not an efield pose file \(schema 'foo/1'"):
        tio.read_pose_json(dump("other.json", schema="foo/1"))
    with pytest.raises(ValueError, match=r"v2.json: unsupported pose schema version 'efield.pose/2'"):
        tio.read_pose_json(dump("v2.json", schema="efield.pose/2"))
    moved = np.array(rec["pose_mm"])
    moved[0, 3] += 5.0
    with pytest.raises(ValueError, match=r"moved.json: 'pose' \(metres\) and 'pose_mm' \(millimetres\) disagree"):
        tio.read_pose_json(dump("moved.json", pose_mm=moved.tolist()))
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"junk.json: not a valid JSON file"):
        tio.read_pose_json(tmp_path / "junk.json")

    rows = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in np.array(rec["pose_mm"]))
    (tmp_path / "ok.txt").write_text("# comment\n\n" + rows + "\n")
    tio.read_pose_matrix(tmp_path / "ok.txt")
    (tmp_path / "flip.txt").write_text(rows.replace("\n", "\n-", 1).replace("--", ""))  # negate row 1's first entry
    with pytest.raises(ValueError, match=r"flip.txt: the pose's rotation is not orthonormal"):
        tio.read_pose_matrix(tmp_path / "flip.txt")
    reflect = np.array(rec["pose_mm"])
    reflect[:3, 2] *= -1
    (tmp_path / "reflect.txt").write_text("\n".join(" ".join(f"{v:.6f}" for v in row) for row in reflect))
    with pytest.raises(ValueError, match=r"reflect.txt: .*determinant -1"):
        tio.read_pose_matrix(tmp_path / "reflect.txt")
    (tmp_path / "short.txt").write_text("\n".join(rows.splitlines()[:3]))
    with pytest.raises(ValueError, match=r"short.txt: expected 4 rows of 4 numbers"):
        tio.read_pose_matrix(tmp_path / "short.txt")
    (tmp_path / "word.txt").write_text(rows + "\n1 2 three 4\n")
    with pytest.raises(ValueError, match=r"word.txt, line 5: expected 4 numbers"):
        tio.read_pose_matrix(tmp_path / "word.txt")


# ----------------------------------------------------------------------------- pictures
def _pixels(path):
    img = mpimg.imread(path)
    return np.round(img[..., :3] * 255).astype(np.int64)


def test_polar_plot(tmp_path):
    res = _result()
    out = plot_orientation_polar(res.angles_deg, res.e_vs_angle, tmp_path / "polar.png", best_deg=90.0,
                                 title="E at the target vs handle angle")
    assert out == tmp_path / "polar.png" and out.stat().st_size > 5000
    rgb = _pixels(out)
    assert rgb.shape[:2] == (1860, 1680)  # 5.6 x 6.2 in at 300 dpi
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) >= 20, "not blank"
    assert np.any(np.all(np.abs(rgb - [31, 119, 180]) <= 30, axis=-1)), "the curve (C0) is drawn"
    assert np.any(np.all(np.abs(rgb - [214, 39, 40]) <= 30, axis=-1)), "the best angle (C3) is marked"
    plot_orientation_polar([0, 90, 180], [-1.0, 2.0, 3.0], tmp_path / "signed.png")  # half circle, signed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["polar.png", "polar.svg", "signed.png", "signed.svg"]


def test_polar_plot_refuses_bad_input(tmp_path):
    out = tmp_path / "bad.png"
    with pytest.raises(ValueError, match="angles_deg must be a 1-D array of at least 3 angles"):
        plot_orientation_polar([0, 90], [1, 2], out)
    with pytest.raises(ValueError, match=r"values must have the same shape as angles_deg \(3,\); got \(2,\)"):
        plot_orientation_polar([0, 90, 180], [1, 2], out)
    with pytest.raises(ValueError, match="values must be finite"):
        plot_orientation_polar([0, 90, 180], [1, math.nan, 2], out)
    with pytest.raises(ValueError, match="angles_deg must be finite"):
        plot_orientation_polar([0, math.inf, 180], [1, 2, 2], out)
    with pytest.raises(ValueError, match="best_deg must be finite"):
        plot_orientation_polar([0, 90, 180], [1, 2, 2], out, best_deg=math.nan)
    with pytest.raises(ValueError, match="path must end in .png"):
        plot_orientation_polar([0, 90, 180], [1, 2, 2], tmp_path / "bad.pdf")
    assert list(tmp_path.iterdir()) == []


