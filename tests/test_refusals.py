"""Bad input is refused with a message naming the parameter, what is allowed and what was received."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import coils
import efield
import meshes
from efield.cli import main
from efield.dose.dosimetry import DoseError, Setup, dose
from efield.targeting.targets import TargetError, resolve_target


@pytest.fixture(scope="module")
def rat_mesh():
    return meshes.builtin_head("rat")


def _loop_through(z0: float, size: float = 0.04):
    """A square wire loop in the x-z plane whose bottom edge runs along x at height z0 (m)."""
    pts = np.array([[-size / 2, 0, z0], [size / 2, 0, z0], [size / 2, 0, z0 + size], [-size / 2, 0, z0 + size],
                    [-size / 2, 0, z0]])
    return coils.Coil(name="loop", start=pts[:-1], end=pts[1:], weight=np.ones(4))


def test_wire_passing_through_a_mesh_head_is_refused(rat_mesh):
    # the loop's corners are all outside the rat; its bottom edge runs through the brain
    loop = _loop_through(-3e-3)
    assert not rat_mesh.contains(loop.points).any()
    with pytest.raises(ValueError, match=r"coil 'loop' intersects the head: its wires pass inside the 'rat' mesh"):
        efield.total_efield(loop, rat_mesh, np.array([[0.0, 0.0, -1e-3]]), 1e6)
    # the same loop lifted clear of the head is accepted
    e = efield.total_efield(_loop_through(0.03), rat_mesh, np.array([[0.0, 0.0, -1e-3]]), 1e6)
    assert np.isfinite(e).all()


def test_target_outside_the_brain_is_refused(rat_mesh):
    with pytest.raises(TargetError, match=r"lies in the scalp of head 'rat', not in the brain"):
        resolve_target(rat_mesh, "bregma:0,0,0.5")
    with pytest.raises(TargetError, match=r"MNI \(500, 0, 0\) mm lies 500 mm from the head centre"):
        resolve_target(meshes.sphere_head("human"), "mni:500,0,0")
    assert resolve_target(rat_mesh, "M1_forelimb_left").label == "M1_forelimb_left"


def test_intensity_beyond_the_stimulator_is_refused():
    s = Setup(head="human", coil="magstim_70mm_fig8", stimulator="Magstim Rapid")
    with pytest.raises(DoseError, match=r"5000 V/m needs 3\d\d\d % MSO on Magstim Rapid \+ magstim_70mm_fig8, "
                                        r"beyond its maximum output"):
        dose(s, "5000V/m")
    assert dose(s, "5000V/m", limit_mso=False)[0].mso > 100  # translation spans hypothetical set-ups
    assert 0 < dose(s, "80V/m")[0].mso < 100


@pytest.mark.parametrize("args, message", [
    (["dose", "--intensity", "120%RMT", "--rmt=-5"], "'--rmt': must be above 0 and at most 100 (% MSO); got -5"),
    (["dose", "--intensity", "120%RMT", "--rmt", "0"], "'--rmt': must be above 0 and at most 100 (% MSO); got 0"),
    (["dose", "--intensity", "120%RMT", "--rmt", "200"], "'--rmt': must be above 0 and at most 100 (% MSO); got 200"),
    (["dose", "--intensity", "120%RMT", "--rmt", "nan"], "'--rmt': must be a finite number in % MSO"),
    (["dose", "--intensity", "5000V/m"], "beyond its maximum output"),
    (["target", "--mso", "150", "--out", "x"], "'--mso': must be between 0 and 100 (% MSO); got 150"),
    (["target", "--distance", "nan", "--out", "x"], "'--distance': must be a finite number in mm"),
    (["target", "--direction", "a,b,c", "--out", "x"], "three numbers x,y,z; got 'a,b,c'"),
    (["target", "--head", "human", "--target", "mni:500,0,0", "--out", "x"], "outside any head"),
    (["translate", "--from", "rat", "--intensity", "30%MSO", "--from-rmt", "-5", "--out", "x"], "got -5"),
])
def test_cli_refusals_name_parameter_allowed_and_received(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0
    assert message in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "x").exists()


def test_pose_in_millimetres_is_refused():
    pose = np.eye(4)
    pose[:3, 3] = [0.0, -20.0, 95.0]  # mm by mistake
    with pytest.raises(ValueError, match=r"poses are in metres — is it in millimetres\?"):
        coils.load_coil("magstim_70mm_fig8").placed(pose)


def test_a_folder_is_not_a_coil(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder, not a coil file"):
        coils.load_coil(str(tmp_path))


def test_unused_mesh_nodes_do_not_break_the_solver(rat_mesh):
    from efield.physics.fem import FEMSolver

    coil = coils.load_coil("magstim_25mm_fig8")
    placed = coil.placed(efield.standard_pose(rat_mesh, coil=coil))
    nodes = np.vstack([rat_mesh.nodes, rat_mesh.nodes[:2000] + 0.1])  # 2000 nodes no tetrahedron uses
    padded = FEMSolver(nodes, rat_mesh.tets, rat_mesh.sigma_per_tet)
    assert padded.n_unused_nodes == 2000
    e = padded.solve(placed, 1e6).efield_tets
    ref = efield.physics.fields.mesh_solver(rat_mesh).solve(placed, 1e6).efield_tets
    assert np.isfinite(e).all()
    assert np.abs(e - ref).max() <= 1e-2 * np.abs(ref).max()  # same answer within the CG tolerance



def test_clearance_check_near_a_dipole_coil_stays_small_in_memory():
    import tracemalloc

    from efield.physics.biot_savart import check_clearance

    rng = np.random.default_rng(0)
    pos = rng.uniform([-0.05, -0.05, 0.001], [0.05, 0.05, 0.02], (1000, 3))
    coil = coils.Coil(name="dipoles", dipole_position=pos, dipole_moment=np.tile([0.0, 0.0, 1e-3], (1000, 1)))
    pts = rng.uniform([-0.05, -0.05, 0.001], [0.05, 0.05, 0.02], (300_000, 3))
    pts[123_456] = pos[7] + [1e-6, 0.0, 0.0]  # one point 1 µm from dipole 7
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"points\[123456\] lies 1 µm from a dipole \(index 7\)"):
            check_clearance(coil, pts, clearance=1e-5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300e6  # a dense (points × dipoles × 3) array would be 7.2 GB


@pytest.mark.parametrize("outer, likely", [(90.0, "millimetres"), (5e-5, "a unit larger than metres")])
def test_coil_builders_refuse_implausible_sizes(outer, likely):
    with pytest.raises(ValueError, match=rf"builder dimensions are in metres .* given in {likely}\?"):
        coils.figure8_coil("x", 0.3 * outer, outer, 10)


@pytest.mark.parametrize("text, hint", [("1e9A/us", "A/s or A/ms given as A/µs?"), ("5000T", "mT given as T?"),
                                        ("1e6V/m", "mV/m given as V/m?"), ("5000%RMT", "above 1000 % RMT")])
def test_implausible_intensities_are_refused_with_the_likely_mistake(text, hint):
    s = Setup(head="rat", coil="rodent_8mm_round")  # no stimulator: the %MSO limit cannot catch these
    with pytest.raises(DoseError, match="is implausible: above") as info:
        dose(s, text)
    assert hint in str(info.value)
    assert dose(s, "100A/us")[0].didt == pytest.approx(1e8)
