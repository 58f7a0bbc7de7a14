"""Coil targeting: fast evaluators against the forward models, the optimiser against physics and brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import coils
import efield
import meshes
from efield.targeting import evaluators as TE
from efield.targeting import search as TS
from efield.targeting import targets as TT


@pytest.fixture(scope="module")
def human():
    return meshes.sphere_head("human")


@pytest.fixture(scope="module")
def rat():
    return meshes.sphere_head("rat")


@pytest.fixture(scope="module")
def fig8():
    return coils.load_coil("magstim_70mm_fig8")


def _poses(head, coil, target, positions, angles):
    scalp = TS._Scalp(head, target.point, 0.03)
    return np.concatenate([scalp.poses(coil, u, v, angles, 0.0) for u, v in positions])


@pytest.mark.parametrize("head_name, coil_name, target", [
    ("human", "magstim_70mm_fig8", "DLPFC_left"),
    ("human", "magventure_cb60", "M1_hand_left"),
    ("rat", "rodent_8mm_round", "M1_forelimb_left"),
    ("mouse", "magstim_25mm_fig8", "M1_forelimb_left"),
])
def test_sphere_evaluator_equals_forward_sphere_field(head_name, coil_name, target):
    head, coil = meshes.sphere_head(head_name), coils.load_coil(coil_name)
    tgt = TT.resolve_target(head, target, radius=0.1 * head.cortex_radius)
    step = 0.1 * head.scalp_radius
    poses = _poses(head, coil, tgt, [(0, 0), (step, 0), (-0.5 * step, step)], np.deg2rad([0, 37, 140, 290]))
    fast = TE.SphereEvaluator(coil, head, tgt)(poses)
    ref = TE.PoseEvaluator(coil, head, tgt)(poses)
    assert fast.shape == ref.shape == (len(poses), len(tgt.region), 3)
    assert np.abs(fast - ref).max() <= 1e-6 * np.abs(ref).max()


def test_best_position_is_above_the_target_with_the_figure8_current_along_the_wanted_direction(human, fig8):
    want = np.array([1.0, 1.0, 0.0])  # any tangential-ish direction; its radial part cannot be induced
    res = efield.optimize_pose(fig8, human, "mni:-40,30,45", 1e8, direction=want, focality=False)
    tgt = TT.resolve_target(human, "mni:-40,30,45")
    radial = tgt.point / np.linalg.norm(tgt.point)
    # centre of the casing on the radius through the target (≤ 1 mm)
    assert np.linalg.norm(np.cross(res.center, radial)) <= 1e-3
    # the induced E at the target (under the coil centre, the figure-8's junction current) points along the
    # tangential part of the wanted direction: E·r̂ = 0 in a sphere, so that is the best any coil can do
    tangential = want - (want @ radial) * radial
    e = res.target_efield / np.linalg.norm(res.target_efield)
    assert e @ (tangential / np.linalg.norm(tangential)) > np.cos(np.deg2rad(1.0))
    # the Magstim figure-8's junction current runs along its handle axis
    assert abs(res.handle @ e) > np.cos(np.deg2rad(2.0))
    assert res.target_e == pytest.approx(np.linalg.norm(res.target_efield) * np.linalg.norm(tangential)
                                         / np.linalg.norm(want), rel=1e-6)
    assert res.fast_vs_forward < 1e-6
    assert res.scalp_gap_m == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("head_name, coil_name, target, direction", [
    ("human", "magstim_70mm_fig8", "DLPFC_left", None),
    ("rat", "magstim_25mm_fig8", "M1_forelimb_left", "anterior"),
])
def test_optimiser_equals_brute_force(head_name, coil_name, target, direction):
    """The optimiser's best objective equals an exhaustive search with the forward model within 0.5 %."""
    head, coil = meshes.sphere_head(head_name), coils.load_coil(coil_name)
    res = efield.optimize_pose(coil, head, target, 1e6, direction=direction, focality=False)
    tgt = TT.resolve_target(head, target, direction=direction)
    # brute force: the forward sphere field (not the fast kernel) on a grid of positions and angles
    r = 0.04 * head.scalp_radius
    grid = [(u, v) for u in np.linspace(-r, r, 5) for v in np.linspace(-r, r, 5) if u * u + v * v <= r * r * 1.01]
    poses = _poses(head, coil, tgt, grid, np.deg2rad(np.arange(0, 360, 5)))
    brute = TS._objective(TE.PoseEvaluator(coil, head, tgt)(poses), tgt).max()
    assert abs(res.target_e_per_aus / 1e6 - brute) <= 0.005 * brute
    # and the optimiser is not worse than the brute force (it searches continuously)
    assert res.target_e_per_aus / 1e6 >= brute * (1 - 1e-6)


def test_orientation_curve_and_mso(human, fig8):
    res = efield.optimize_pose(fig8, human, "M1_hand_left", 1e8, direction="posterior", n_angles=36, goal_e=100.0)
    assert len(res.angles_deg) == 36 and np.all(np.diff(res.angles_deg) > 0)
    assert res.e_vs_angle.max() == pytest.approx(res.target_e, rel=1e-4)
    # a figure-8 along a wanted direction: the curve goes like cos(angle): negative half a turn away
    assert res.e_vs_angle.min() == pytest.approx(-res.e_vs_angle.max(), rel=0.05)
    pair = efield.stimulators.stimulator_pair("magstim_70mm_fig8")
    assert res.mso_for_goal == pytest.approx(100.0 * 100.0 / (res.target_e / res.didt * pair.didt_max), rel=1e-9)
    assert res.stimulator == pair.stimulator
    f = res.focality
    assert 0 < f["brain_fraction_above_half_target"] < 1 and f["area_half_max_cm2"] > 0 and f["depth_half_max_mm"] > 0


def test_small_coil_covers_less_of_the_rat_brain(rat):
    big = efield.optimize_pose("magstim_25mm_fig8", rat, "M1_forelimb_left", 1e8, n_angles=24, refine=False)
    small = efield.optimize_pose("rodent_8mm_round", rat, "M1_forelimb_left", 1e8, n_angles=24, refine=False)
    assert small.focality["brain_fraction_above_half_max"] < big.focality["brain_fraction_above_half_max"]


def test_region_target_averages(human, fig8):
    opts = dict(focality=False, refine=False, n_angles=12, search_radius=0.005)
    point = efield.optimize_pose(fig8, human, "DLPFC_left", 1e8, **opts)
    region = efield.optimize_pose(fig8, human, "DLPFC_left", 1e8, radius=0.01, **opts)
    assert region.target_e < point.target_e  # the mean over a 10 mm patch is below the peak under the centre
    assert "averaged over the region" in region.assumptions["objective"]


@pytest.fixture(scope="module")
def rat_mesh():
    return meshes.builtin_head("rat")


def test_mesh_reciprocity_equals_forward_fem(rat_mesh):
    coil = coils.load_coil("magstim_25mm_fig8")
    tgt = TT.resolve_target(rat_mesh, "M1_forelimb_left", direction="normal")
    scalp = TS._Scalp(rat_mesh, tgt.point, 0.005)
    poses = np.concatenate([scalp.poses(coil, u, v, [0.3, 2.0], 0.0) for u, v in [(0.002, 0.001)]])
    solver = efield.fields.mesh_solver(rat_mesh)
    ref = np.array([_forward(solver, coil.placed(P), tgt.point) for P in poses])
    q = np.asarray(coil.points)
    reach = np.concatenate([q @ P[:3, :3].T + P[:3, 3] for P in poses])
    fast = TE.MeshEvaluator(coil, rat_mesh, tgt, reach)(poses)[:, 0]
    err = np.linalg.norm(fast - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert err.max() < 2e-3, err


def _forward(solver, placed, point):
    """Converged FEM E (3,) per A/s at ``point``."""
    a = efield.vector_potential(placed, solver.nodes)
    phi = solver.solve_rhs(solver.rhs(a, 1.0), tol=1e-8)[0]
    cells, lam = solver.locate(point[None])
    return (-efield.vector_potential(placed, point[None]) - solver.gradient_at(phi, cells, lam))[0]


def test_named_rodent_target_lies_in_the_brain_of_the_mesh(rat_mesh):
    t = TT.resolve_target(rat_mesh, "M1_forelimb_left")
    cell = rat_mesh.find_tets(t.point[None])[0]
    assert cell >= 0 and rat_mesh.tags[cell] == 11
    above = t.point + [0, 0, 0.0011]  # 1.2 mm below the surface: 1.1 mm up is still brain, 1.3 mm is not
    assert rat_mesh.tags[rat_mesh.find_tets(above[None])[0]] == 11
    assert rat_mesh.tags[rat_mesh.find_tets((t.point + [0, 0, 0.0013])[None])[0]] != 11


def test_optimize_on_rat_mesh_rests_on_the_scalp(rat_mesh, monkeypatch):
    from efield.physics.fem import FEMSolver

    solves = []
    real = FEMSolver.solve
    monkeypatch.setattr(FEMSolver, "solve", lambda self, coil, didt: solves.append(coil) or real(self, coil, didt))
    res = efield.optimize_pose("magstim_25mm_fig8", rat_mesh, "M1_forelimb_left", 1e8, direction="normal",
                               n_angles=24, search_radius=0.0015)
    # the search runs on reciprocity; the forward check and the focality numbers share one solve of the pose
    assert len(solves) == 1 and np.allclose(solves[0].metadata["pose"], res.pose)
    placed = coils.load_coil("magstim_25mm_fig8").placed(res.pose)
    assert not rat_mesh.contains(placed.points).any()
    assert res.scalp_gap_m >= 0 and res.scalp_gap_m < 2e-4  # resting: touching within a mesh edge
    assert res.fast_vs_forward < 0.01
    assert "fell outside" not in res.assumptions["evaluator"]  # the reciprocal grids covered every pose
    assert res.frame == "bregma" and res.focality["brain_fraction_above_half_target"] > 0


def test_resolve_target_inputs_and_errors(human, rat):
    t = TT.resolve_target(human, "m1_hand_left")
    assert t.label == "M1_hand_left" and "Mayka" in t.source
    assert np.linalg.norm(t.point) == pytest.approx(human.cortex_radius)
    p = TT.resolve_target(rat, "bregma:-2.5,1.5,-1.5").point
    skull = [layer.outer_radius for layer in rat.layers if layer.tissue == "skull"][0]
    assert p == pytest.approx([-0.0025, 0.0015, skull - 0.0015])
    # named rodent targets sit at their depth below the brain surface, in every rodent head
    m1 = TT.resolve_target(rat, "M1_forelimb_left").point
    assert np.linalg.norm(m1 + [0, 0, 0.0012]) == pytest.approx(rat.cortex_radius, rel=1e-12)
    assert TT.resolve_target(human, [0.0, 0.0, 0.05], direction=[0, 2.0, 0]).direction == pytest.approx([0, 1, 0])
    with pytest.raises(ValueError, match="not a named target.*known: DLPFC_left"):
        TT.resolve_target(human, "V1")
    with pytest.raises(ValueError, match="outside"):
        TT.resolve_target(human, [0.0, 0.0, 0.08])
    with pytest.raises(ValueError, match="normal' is undefined on a sphere"):
        TT.resolve_target(human, "DLPFC_left", direction="normal")
    with pytest.raises(ValueError, match="three numbers"):
        TT.resolve_target(human, "mni:1,2")
    with pytest.raises(ValueError, match="MNI coordinates need a human head"):
        TT.resolve_target(rat, "mni:0,0,50")
    with pytest.raises(ValueError, match="direction must be"):
        TT.resolve_target(human, "DLPFC_left", direction="sideways")
    with pytest.raises(ValueError, match="n_angles"):
        efield.optimize_pose("magstim_70mm_fig8", human, "DLPFC_left", n_angles=2)
    with pytest.raises(ValueError, match="didt"):
        efield.optimize_pose("magstim_70mm_fig8", human, "DLPFC_left", didt=-1.0)


def test_cli_target_writes_pose_files_and_refuses_overwrite(tmp_path):
    out = tmp_path / "t"
    args = ["target", "--head", "rat", "--coil", "rodent_8mm_round", "--didt", "50A/us", "--angles", "12",
            "--search-radius", "1", "--out", str(out)]
    r = CliRunner().invoke(efield.cli.main, args)
    assert r.exit_code == 0, r.output
    from efield.targeting.navigation import NAV_FILES, read_pose_file

    assert {p.name for p in out.iterdir()} >= {"pose.json", *NAV_FILES.values(), "orientation.png", "field.png",
                                                "summary.md"}
    rec = efield._target_io.read_pose_json(out / "pose.json")
    for name in NAV_FILES.values():
        back = read_pose_file(out / name)
        assert np.allclose(rec["pose"], back.pose, atol=1e-8), name
        assert (back.coil, back.head, back.didt) == ("rodent_8mm_round", "rat", pytest.approx(50e6))
    assert json.loads((out / "pose.json").read_text())["didt"]  # didt recorded
    assert "50 A/µs" in r.output or "50 A/" in r.output
    r2 = CliRunner().invoke(efield.cli.main, args)
    assert r2.exit_code != 0 and "--force" in r2.output
    assert CliRunner().invoke(efield.cli.main, args + ["--force"]).exit_code == 0
    listing = CliRunner().invoke(efield.cli.main, ["target", "--list"])
    assert "DLPFC_left" in listing.output and "M1_forelimb_left" in listing.output
    # every pose file gives the field of pose.json back (coil, head and dI/dt as recorded in the file)
    peaks = []
    for name in ("pose.json", *NAV_FILES.values()):
        r3 = CliRunner().invoke(efield.cli.main, ["field", "--pose", str(out / name), "--json", "--quiet",
                                                  "--out", str(tmp_path / f"f_{name}")])
        assert r3.exit_code == 0, r3.output
        summary = json.loads(r3.stdout[r3.stdout.index("{"):])
        assert summary["coil"] == "rodent_8mm_round" and summary["didt_a_per_s"] == pytest.approx(50e6)
        peaks.append(summary["peak_vm"])
    assert max(peaks) - min(peaks) < 1e-4 * max(peaks), peaks


@pytest.mark.parametrize("head_name", ["rat-sphere", "rat-mesh"])
def test_simulate_returns_cortical_field_with_metrics(head_name, rat, rat_mesh):
    head = rat if head_name == "rat-sphere" else rat_mesh
    res = efield.simulate("magstim_25mm_fig8", head, 1e8)
    n = len(res.points)
    assert res.magnitude.shape == (n,) and res.normal_component.shape == (n,)
    m = res.metrics
    assert m["peak_vm"] == pytest.approx(res.magnitude.max()) and m["half_max_area_m2"] > 0
    assert m["p99_vm"] <= m["p999_vm"] <= m["peak_vm"]
    placed = coils.load_coil("magstim_25mm_fig8").placed(res.info["pose"] if "pose" in res.info else np.eye(4))
    if head_name == "rat-sphere":  # E·r̂ = 0 on a sphere
        assert np.abs(res.normal_component).max() < 1e-9 * m["peak_vm"]
    else:
        assert not head.contains(placed.points).any()


def test_off_target_penalty_trades_target_field_for_focality(human):
    opts = dict(n_angles=24, focality=False, search_radius=0.015)
    plain = efield.optimize_pose("magstim_70mm_fig8", human, "M1_hand_left", 1e8, direction="posterior", **opts)
    focal = efield.optimize_pose("magstim_70mm_fig8", human, "M1_hand_left", 1e8, direction="posterior",
                                 off_target_weight=5.0, off_target_distance=0.02, **opts)
    tgt = TT.resolve_target(human, "M1_hand_left", direction="posterior")
    off = TS._off_target_points(human, tgt, 0.02, 8)
    assert np.allclose(np.linalg.norm(off, axis=1), np.linalg.norm(tgt.point))  # on the cortex sphere

    def off_mean(res):
        e = efield.total_efield(coils.load_coil("magstim_70mm_fig8").placed(res.pose), human, off, 1e8)
        return np.linalg.norm(e, axis=1).mean()

    # a strong penalty gives up field at the target for less field around it
    assert focal.target_e < 0.99 * plain.target_e
    assert off_mean(focal) < 0.99 * off_mean(plain)
    # and is what it says: its score beats the plain optimum's score
    score = lambda r: r.target_e - 5.0 * off_mean(r)  # noqa: E731
    assert score(focal) >= score(plain) * (1 - 1e-3)
    assert "minus 5 × mean |E| at 8 cortical points" in focal.assumptions["objective"]
    with pytest.raises(ValueError, match="off_target_weight"):
        efield.optimize_pose("magstim_70mm_fig8", human, "M1_hand_left", off_target_weight=-1.0)
