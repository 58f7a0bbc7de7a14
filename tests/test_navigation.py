"""Pose files for neuronavigation: axis conventions, round trips, real exported files, refusals.

The real Brainsight and Localite exports are SimNIBS's test files (GPL-3.0, not copied here): they are
read from a SimNIBS git clone at ``$EFIELD_SIMNIBS_REPO`` (default: ``../.mirror/simnibs+simnibs/repo``
beside the project) and the tests that need them skip where it is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import coils
import meshes
from coils import coil_pose
from efield.physics.fields import cortex_field, standard_pose
from efield.targeting.navigation import (
    NAV_FILES,
    NAV_SYSTEMS,
    PoseFileError,
    check_pose_on_head,
    from_system,
    read_pose_file,
    read_pose_files,
    to_system,
    write_brainsight,
    write_localite,
    write_navigation_files,
    write_simnibs,
)

NNAV = "simnibs/_internal_resources/testing_files/nnav_testdata"


def _random_pose(rng) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    pose = np.eye(4)
    pose[:3, :3] = q
    pose[:3, 3] = rng.uniform(-0.1, 0.1, 3)
    return pose


# ----------------------------------------------------------------------------- conventions
def test_each_system_matrix_is_a_rotation():
    for system, c in NAV_SYSTEMS.items():
        assert np.allclose(c.T @ c, np.eye(3)), system
        assert np.linalg.det(c) == pytest.approx(1.0), system


def test_to_and_from_system_are_inverse():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pose = _random_pose(rng)
        for system in NAV_SYSTEMS:
            m = to_system(pose, system)
            assert np.allclose(m[:3, 3], pose[:3, 3] * 1e3)  # the same point, in mm
            assert np.allclose(from_system(m, system), pose, atol=1e-15)


def test_simnibs_documentation_example():
    """SimNIBS's documented example matsimnibs: coil over the vertex, z into the head, y along +y."""
    mat = np.array([[-1, 0, 0, -1.2], [0, 1, 0, -15.8], [0, 0, -1, 120.0], [0, 0, 0, 1]])
    pose = from_system(mat, "simnibs")
    assert np.allclose(pose[:3, 2], [0, 0, 1])    # efield z: away from the head (the coil is at z = 120 mm)
    assert np.allclose(pose[:3, 1], [0, -1, 0])   # efield y = handle: opposite SimNIBS's y
    assert np.allclose(pose[:3, 3], [-1.2e-3, -15.8e-3, 0.12])
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)


def test_brainsight_and_localite_match_simnibs_conversions():
    """The published matsimnibs conversions: Brainsight = matsimnibs @ diag(-1, 1, -1), Localite =
    matsimnibs @ [[0, 0, 1], [0, -1, 0], [1, 0, 0]] (simnibs.utils.nnav)."""
    pose = _random_pose(np.random.default_rng(5))
    sim = to_system(pose, "simnibs")[:3, :3]
    assert np.allclose(to_system(pose, "brainsight")[:3, :3], sim @ np.diag([-1, 1, -1]))
    assert np.allclose(to_system(pose, "localite")[:3, :3], sim @ np.array([[0, 0, 1], [0, -1, 0], [1, 0, 0]]))


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("writer,system", [(write_simnibs, "simnibs"), (write_brainsight, "brainsight"),
                                           (write_localite, "localite")])
def test_write_then_read_gives_the_same_pose(tmp_path, writer, system):
    rng = np.random.default_rng(11)
    info = {"coil": "magstim_70mm_fig8", "didt_a_per_us": "87.5", "head": "m2m_x", "target": "M1_hand_left"}
    for k in range(5):
        pose = _random_pose(rng)
        path = writer(pose, tmp_path / f"p{k}_{system}.txt", info=info)
        back = read_pose_file(path)
        assert back.system == system
        tol = 2e-6 if system == "brainsight" else 1e-9  # Brainsight keeps 6 decimals (mm and unitless)
        assert np.abs(back.pose[:3, :3] - pose[:3, :3]).max() < tol
        assert np.abs(back.pose[:3, 3] - pose[:3, 3]).max() < tol * 1e-3
        assert (back.coil, back.head, back.target) == ("magstim_70mm_fig8", "m2m_x", "M1_hand_left")
        assert back.didt == pytest.approx(87.5e6)


def test_simnibs_file_loads_with_numpy(tmp_path):
    pose = _random_pose(np.random.default_rng(2))
    m = np.loadtxt(write_simnibs(pose, tmp_path / "pose_simnibs.txt"))
    assert np.allclose(m, to_system(pose, "simnibs"), atol=1e-9)


def test_navigation_files_give_the_same_field(tmp_path):
    head, coil = meshes.sphere_head("human"), coils.load_coil("magstim_70mm_fig8")
    pose = coil_pose([0.03, 0.02, 0.0], [0.4, 0.2, 1.0], [-1.0, -1.0, 0.0])
    pose[:3, 3] = head.center + (head.scalp_radius + 0.002) * pose[:3, 2]
    names = write_navigation_files(pose, tmp_path, coil=coil.name, didt=1e8, head="human", target="test")
    assert names == list(NAV_FILES.values())
    ref = np.linalg.norm(cortex_field(coil.placed(pose), head, 1e8, n_subdiv=4).efield, axis=1)
    for name in names:
        back = read_pose_file(tmp_path / name)
        e = np.linalg.norm(cortex_field(coil.placed(back.pose), head, 1e8, n_subdiv=4).efield, axis=1)
        assert np.abs(e - ref).max() < 1e-4 * ref.max(), name
    with pytest.raises(FileExistsError):
        write_navigation_files(pose, tmp_path)
    write_navigation_files(pose, tmp_path, force=True)


def test_efield_json_and_old_matrix_are_read(tmp_path):
    from efield.targeting.pose_io import write_pose_json, write_pose_matrix

    pose = coil_pose([0, 0, 0.09], [0, 0, 1], [0, -1, 0])
    rec = {"pose": pose, "coil_name": "magstim_70mm_fig8", "head_name": "human", "didt": 5e7, "target_label": "t"}
    back = read_pose_file(write_pose_json(rec, tmp_path / "pose.json"))
    assert (back.system, back.coil, back.didt) == ("efield", "magstim_70mm_fig8", 5e7)
    assert np.allclose(back.pose, pose)
    old = read_pose_file(write_pose_matrix(rec, tmp_path / "pose_matrix.txt"))
    assert old.system == "efield-matrix" and np.allclose(old.pose, pose, atol=1e-8)


# ----------------------------------------------------------------------------- refusals
def test_bad_files_are_refused_with_the_file_named(tmp_path):
    cases = {
        "short.txt": "1 0 0 0\n0 1 0 0\n0 0 1 0\n",
        "word.txt": "1 0 0 0\n0 one 0 0\n0 0 1 0\n0 0 0 1\n",
        "reflect.txt": "1 0 0 0\n0 1 0 0\n0 0 -1 0\n0 0 0 1\n",
        "skew.txt": "1 0.2 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n",
        "lastrow.txt": "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 1 1\n",
        "dtd.xml": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><InstrumentMarkerList/>',
        "broken.xml": "<InstrumentMarkerList><InstrumentMarker>",
        "space.xml": '<InstrumentMarkerList coordinateSpace="MNI"/>',
        "empty.xml": '<InstrumentMarkerList coordinateSpace="RAS"/>',
        "world.txt": "# Version: 7\n# Coordinate system: World\n# Target Name\tLoc. X\n",
        "bs_lps.txt": "# Version: 7\n# Coordinate system: Brainsight\n# Target Name\tLoc. X\n",
        "bs_cols.txt": "# Version: 12\n# Coordinate system: NIfTI:Aligned\n# Target Name\tLoc. X\tLoc. Y\n",
        "binary.txt": b"\xff\xfe\x00\x01",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(PoseFileError) as exc:
            read_pose_file(p)
        assert str(p) in str(exc.value), name
    with pytest.raises(PoseFileError, match="does not exist"):
        read_pose_file(tmp_path / "missing.txt")


def test_several_entries_need_a_choice(tmp_path):
    rng = np.random.default_rng(4)
    a, b = write_brainsight(_random_pose(rng), tmp_path / "a.txt", name="A"), None
    lines = a.read_text().splitlines()
    row = lines[-1].split("\t")
    lines.append("\t".join(["B"] + row[1:]))
    lines.append("\t".join(["LPA"] + ["(null)"] * (len(row) - 1)))
    b = tmp_path / "two.txt"
    b.write_text("\n".join(lines) + "\n")
    with pytest.raises(PoseFileError, match="holds 2 coil poses.*'A', 'B'"):
        read_pose_file(b)
    assert read_pose_file(b, name="B").name == "B"
    assert read_pose_file(b, index=0).name == "A"
    assert read_pose_file(b, name="1").name == "B"
    assert any("without a pose skipped" in n for n in read_pose_file(b, name="A").notes)
    with pytest.raises(PoseFileError, match="no entry is named 'C'"):
        read_pose_file(b, name="C")
    with pytest.raises(PoseFileError, match=r"\(null\)"):
        read_pose_file(b, name="LPA")
    with pytest.raises(PoseFileError, match="out of range"):
        read_pose_file(b, index=5)


def test_pose_must_sit_on_the_head():
    head, coil = meshes.sphere_head("human"), coils.load_coil("magstim_70mm_fig8")
    pose = standard_pose(head, coil=coil)
    assert abs(check_pose_on_head(pose, head, coil)) < 1e-3
    flipped = pose @ np.diag([1.0, -1.0, -1.0, 1.0])  # a matsimnibs read as efield's own axes
    with pytest.raises(PoseFileError, match="inside the scalp.*into the head"):
        check_pose_on_head(flipped, head, coil, "p.txt")
    metres = pose.copy()
    metres[:3, 3] *= 1e-3  # a file in metres read as millimetres
    with pytest.raises(PoseFileError, match="in metres"):
        check_pose_on_head(metres, head, coil, "p.txt")
    far = pose.copy()
    far[:3, 3] += 0.2 * pose[:3, 2]
    with pytest.raises(PoseFileError, match="200 mm above the scalp.*another head"):
        check_pose_on_head(far, head, coil, "p.txt")


# ----------------------------------------------------------------------------- real exports
def _simnibs_repo() -> Path | None:
    env = os.environ.get("EFIELD_SIMNIBS_REPO")
    repo = Path(env) if env else Path(__file__).resolve().parents[2] / ".mirror" / "simnibs+simnibs" / "repo"
    return repo if repo.exists() and shutil.which("git") else None


@pytest.fixture(scope="module")
def nnav_files(tmp_path_factory):
    """SimNIBS's Brainsight and Localite test exports, copied out of its git clone into a temporary folder."""
    repo = _simnibs_repo()
    if repo is None:
        pytest.skip("no SimNIBS clone with the neuronavigation test exports (set EFIELD_SIMNIBS_REPO)")
    git = ["git", "--git-dir", str(repo)]
    names = subprocess.run(git + ["ls-tree", "-r", "--name-only", "HEAD", NNAV], capture_output=True,
                           text=True, check=True).stdout.split()
    out = tmp_path_factory.mktemp("nnav")
    files = {}
    for name in names:
        if name.endswith((".txt", ".xml")):
            data = subprocess.run(git + ["show", f"HEAD:{name}"], capture_output=True, check=True).stdout
            files[name[len(NNAV) + 1:]] = out / name.replace("/", "_")
            files[name[len(NNAV) + 1:]].write_bytes(data)
    if not files:
        pytest.skip("the SimNIBS clone has no neuronavigation test exports")
    return files


def _all_poses(path):
    poses = read_pose_files(path)
    assert [p.name for p in poses[:3]] == [read_pose_file(path, index=k).name for k in range(min(3, len(poses)))]
    return poses


def test_real_localite_markers_point_out_of_the_head_with_the_handle_as_named(nnav_files):
    """Localite markers from a motor-cortex session: every coil normal (efield z) points away from the head,
    and the markers named for their orientation have the handle there: "PA" straight back, "LM" to the
    left, the "hotspot" and "M0" backwards and laterally (the usual M1 placement)."""
    ras = [p for k, p in nnav_files.items() if "InstrumentMarkers/RAS_" in k]
    lps = [p for k, p in nnav_files.items() if "InstrumentMarkers/LPS_" in k]
    assert ras and lps
    poses = {}
    for path in ras + lps:
        for pf in _all_poses(path):
            c = pf.pose[:3, 3]
            assert pf.pose[:3, 2] @ c / np.linalg.norm(c) > 0.5, (path.name, pf.name)
            poses[pf.name] = pf.pose
    assert poses["PA"][:3, 1] @ [0, -1, 0] > 0.95
    assert poses["LM"][:3, 1] @ [-1, 0, 0] > 0.9
    for name in ("hotspot", "M0"):
        assert poses[name][:3, 1] @ (np.array([-1, -1, 0]) / np.sqrt(2)) > 0.75, name
    assert all(c[:3, 3][0] < 0 for c in poses.values())  # all over the left hemisphere


def test_real_localite_trigger_markers(nnav_files):
    path = next(p for k, p in nnav_files.items() if k.endswith("TriggerMarkers_Coil1_20210409170817799.xml"))
    poses = _all_poses(path)
    didt = [pf.didt for pf in poses]
    assert len(poses) == 8 and all(50e6 < d < 80e6 for d in didt) and didt[0] == pytest.approx(62e6)  # A/s
    untracked = next(p for k, p in nnav_files.items() if k.endswith("TriggerMarkers_Coil0_20210409170817799.xml"))
    with pytest.raises(PoseFileError, match="not tracked"):
        read_pose_file(untracked)


def test_real_brainsight_exports(nnav_files):
    aligned = [p for k, p in nnav_files.items() if k.startswith("brainsight/") and "brainsightcoord" not in k
               and "worldcoord" not in k and "empty" not in k]
    assert aligned
    for path in aligned:
        poses = _all_poses(path)
        assert poses, path.name
        for pf in poses:
            c = pf.pose[:3, 3]
            assert pf.pose[:3, 2] @ c / np.linalg.norm(c) > 0.3, (path.name, pf.name)
            assert np.allclose(pf.pose[:3, :3].T @ pf.pose[:3, :3], np.eye(3), atol=1e-12)
    for key in ("brainsight/niiImage_brainsightcoord.txt", "brainsight/dcmimage_worldcoord.txt"):
        with pytest.raises(PoseFileError, match="not the MRI's world frame.*NIfTI:Aligned"):
            read_pose_file(nnav_files[key])
    with pytest.raises(PoseFileError, match="holds no coil pose"):
        read_pose_file(nnav_files["brainsight/niiImage_niftialignedcoord_empty.txt"])
