"""The precomputed cortical field model against full P2 FEM solves, and its cache, checks and CLI."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

import coils
import meshes
from efield.physics import cortex_model as cm
from efield.physics.fields import cortex_field

#: a smaller build than the default (500 training poses instead of 600) to keep the suite short
SMALL = {"n_train": 500}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    old = os.environ.get("EFIELD_CACHE")
    path = tmp_path_factory.mktemp("efield-cache")
    os.environ["EFIELD_CACHE"] = str(path)
    cm._MEMORY.clear()
    yield path
    cm._MEMORY.clear()
    if old is None:
        os.environ.pop("EFIELD_CACHE", None)
    else:
        os.environ["EFIELD_CACHE"] = old


@pytest.fixture(scope="module")
def rat():
    return meshes.builtin_head("rat")


@pytest.fixture(scope="module")
def model(rat, cache):
    return cm.CortexFieldModel.build(rat, **SMALL)


def _fem(head, coil, pose, points):
    """Reference: the full P2 FEM solve at a converged tolerance (1e-6), E (n, 3) V/m per A/s at ``points``."""
    return cm.full_solve_at(head, coil, pose, points)


def _robust_peak(e):
    return float(np.percentile(np.linalg.norm(e, axis=1), 99.9))


def test_shapes_and_linearity(model, rat):
    coil = coils.load_coil("magstim_25mm_fig8")
    poses = cm.random_poses(rat, coil, 3, np.random.default_rng(5))
    e = model.field(coil, poses, 1e8)
    assert e.shape == (3, len(rat.cortex.vertices), 3)
    one = model.field(coil, poses[1], 2e8)
    assert one.shape == (1, model.n_points, 3)
    np.testing.assert_allclose(one[0], 2.0 * e[1], rtol=1e-5, atol=1e-6 * np.abs(e).max())
    assert np.all(model.last_residual >= 0)


def test_against_full_fem_on_the_rat(model, rat):
    """Random admissible poses of every preset (none of them a training pose; fine windings, not the
    training polygons): relative L2 error over the cortex and the robust peak against the converged FEM."""
    rng = np.random.default_rng(2024)
    errs, peaks = [], []
    for cid in coils.list_coils():
        coil = coils.load_coil(cid)
        for pose in cm.random_poses(rat, coil, 2, rng, max_gap=0.005):
            ref = _fem(rat, coil, pose, model.points)
            got = model.field(coil, pose, 1.0)[0]
            errs.append(np.linalg.norm(got - ref) / np.linalg.norm(ref))
            peaks.append(abs(_robust_peak(got) / _robust_peak(ref) - 1.0))
    errs = np.array(errs)
    assert np.median(errs) <= 0.01, errs
    assert errs.max() <= 0.02, errs
    assert max(peaks) <= 0.02, peaks


def test_a_coil_it_was_not_trained_on(model, rat):
    """A 40 mm figure-8 of other turns and wing spacing (not a preset): the basis spans exterior fields,
    not only the training coils'."""
    coil = coils.figure8_coil("test_40mm_fig8", 0.012, 0.040, 7, wing_spacing=0.042, z_bottom=0.003)
    rng = np.random.default_rng(7)
    for pose in cm.random_poses(rat, coil, 3, rng):
        ref = _fem(rat, coil, pose, model.points)
        got = model.field(coil, pose, 1.0)[0]
        assert np.linalg.norm(got - ref) / np.linalg.norm(ref) <= 0.02


def test_dipole_coil_from_simnibs(model, rat):
    """A validated dipole model (.ccd) of a real coil, read from the shared data (skips where absent)."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "simnibs_coils"
    files = sorted(folder.glob("*.ccd")) if folder.is_dir() else []
    if not files:
        pytest.skip("no SimNIBS .ccd coils in ../shared/data/simnibs_coils")
    coil = coils.read_ccd(files[0])
    pose = cm.random_poses(rat, coil, 1, np.random.default_rng(3))[0]
    ref = _fem(rat, coil, pose, model.points)
    got = model.field(coil, pose, 1.0)[0]
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) <= 0.02


def test_bad_poses_are_refused(model, rat):
    coil = coils.load_coil("magstim_25mm_fig8")
    pose = cm.random_poses(rat, coil, 1, np.random.default_rng(1))[0]
    mm = pose.copy()
    mm[:3, 3] *= 1000.0
    with pytest.raises(ValueError, match="metres, not mm"):
        model.field(coil, mm, 1.0)
    skew = pose.copy()
    skew[:3, 0] *= 2.0
    with pytest.raises(ValueError, match="rotation"):
        model.field(coil, skew, 1.0)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        model.field(coil, np.eye(3), 1.0)
    sunk = pose.copy()
    sunk[:3, 3] -= 0.004 * pose[:3, 2]  # 4 mm into the head along the coil axis
    with pytest.raises(ValueError, match="into the scalp"):
        model.field(coil, sunk, 1.0)
    with pytest.raises(ValueError, match="didt"):
        model.field(coil, pose, float("nan"))


def test_save_load_and_cache_keyed_by_content(model, rat, cache, tmp_path):
    path = model.save(tmp_path / "m.npz")
    back = cm.CortexFieldModel.load(path)
    coil = coils.load_coil("magstim_25mm_fig8")
    pose = cm.random_poses(rat, coil, 1, np.random.default_rng(9))[0]
    np.testing.assert_array_equal(back.field(coil, pose, 1.0), model.field(coil, pose, 1.0))
    assert back.key == cm.head_key(rat) and back.info["n_modes"] == model.n_modes
    # another conductivity is another head
    tag = int(np.unique(rat.tags)[0])  # a tissue the mesh has
    other = dataclasses.replace(rat, conductivity={**rat.conductivity, tag: rat.conductivity[tag] * 1.5})
    assert cm.head_key(other) != cm.head_key(rat)
    # the cache: a model saved under the head's key is found and used without a build
    cm.save_to_cache(model, rat, **SMALL)
    cm._MEMORY.clear()
    found = cm.cortex_model(rat, build=False, **SMALL)
    assert found is not None and found.key == model.key
    assert cm.cortex_model(other, build=False, **SMALL) is None


def test_damaged_file_is_named(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="broken.npz"):
        cm.CortexFieldModel.load(bad)
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not an efield cortical field model"):
        cm.CortexFieldModel.load(tmp_path / "foreign.npz")


def test_cortex_field_uses_the_cached_model(model, rat, cache):
    cm.save_to_cache(model, rat)  # as the default build would be cached
    cm._MEMORY.clear()
    coil = coils.load_coil("magstim_25mm_fig8")
    pose = cm.random_poses(rat, coil, 1, np.random.default_rng(11))[0]
    fast = cortex_field(coil.placed(pose), rat, 1e8, model="auto")
    assert fast.info["precomputed"] is True and "modes" in fast.info["model"]
    slow = cortex_field(coil.placed(pose), rat, 1e8, model="fem")
    assert "precomputed" not in slow.info
    assert np.linalg.norm(fast.efield - slow.efield) / np.linalg.norm(slow.efield) <= 0.02
    with pytest.raises(ValueError, match="model must be one of"):
        cortex_field(coil.placed(pose), rat, 1e8, model="fast")


def test_cli_field_with_the_model(model, rat, cache, tmp_path):
    from click.testing import CliRunner

    from efield.cli import main

    cm.save_to_cache(model, rat)
    cm._MEMORY.clear()
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["field", "--head", "rat-mesh", "--coil", "magstim_25mm_fig8", "--didt", "50A/us",
                                    "--model", "precomputed", "--out", str(out), "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert "precomputed cortical field model" in summary["model"]
    # the depth comes from the model's brain sample, and agrees with the full solve's
    assert "brain sample" in summary["half_max_depth_note"]
    res = CliRunner().invoke(main, ["field", "--head", "rat-mesh", "--coil", "magstim_25mm_fig8", "--didt", "50A/us",
                                    "--model", "fem", "--out", str(tmp_path / "fem"), "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    fem = json.loads((tmp_path / "fem" / "summary.json").read_text())
    assert "precomputed" not in fem["model"]
    assert abs(summary["half_max_depth_mm"] - fem["half_max_depth_mm"]) <= 0.2
    res = CliRunner().invoke(main, ["model", "--head", "rat-mesh", "--check-only", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["cached"] is True
    res = CliRunner().invoke(main, ["model", "--head", "human", "--quiet"])
    assert res.exit_code != 0 and "sphere head" in res.output


def test_brain_field_and_depth_against_fem(model, rat):
    """The model's brain sample: E there against the FEM's own tetrahedron field (P1 primary part, P2
    gradient at the centroid), and the half-value depth taken over it against the depth over every
    brain tetrahedron of the full solve."""
    from efield.physics.fields import FieldResult, _solution, mesh_solver
    from efield.physics.metrics import BRAIN_TAGS, hot_spot_depth

    brain = np.isin(rat.tags, BRAIN_TAGS)
    idx, _ = cm.brain_sample(rat, model.info["n_brain_max"])  # deterministic: the model's own sample
    np.testing.assert_array_equal(rat.tet_centroids[idx], model.brain_points)
    np.testing.assert_allclose(model.brain_weights.sum(), np.abs(rat.tet_volumes[brain]).sum(), rtol=1e-12)
    rng = np.random.default_rng(31)
    for cid in ("magstim_25mm_fig8", "rodent_8mm_round", "magventure_mcb70"):
        coil = coils.load_coil(cid)
        pose = cm.random_poses(rat, coil, 1, rng, max_gap=0.005)[0]
        placed = coil.placed(pose)
        fast = cortex_field(placed, rat, 1e8, model="precomputed")
        assert fast.brain is not None and fast.brain.efield.shape == model.brain_points.shape
        slow = cortex_field(placed, rat, 1e8, model="fem")
        assert slow.brain is None
        # the FEM's field at the same tetrahedra (efield_tets is in the head's tet order)
        ref = _solution(mesh_solver(rat), placed, 1e8).efield_tets[idx]
        got = fast.brain.efield
        assert np.linalg.norm(got - ref) / np.linalg.norm(ref) <= 0.02
        d_fast, d_slow = hot_spot_depth(placed, rat, fast, 1e8), hot_spot_depth(placed, rat, slow, 1e8)
        assert np.isfinite(d_fast) and abs(d_fast - d_slow) <= 0.2e-3, (cid, d_fast, d_slow)
        # a scaled result carries its brain sample along
        half = fast.scaled(5e7)
        np.testing.assert_allclose(half.brain.efield, 0.5 * fast.brain.efield)
        assert isinstance(half, FieldResult)


def test_brain_sample_is_a_weighted_subset_of_the_brain(rat):
    from efield.physics.metrics import BRAIN_TAGS

    brain = np.isin(rat.tags, BRAIN_TAGS)
    idx, w = cm.brain_sample(rat, 2000)
    assert 1000 <= len(idx) <= 2000 and len(np.unique(idx)) == len(idx)
    assert brain[idx].all()
    np.testing.assert_allclose(w.sum(), np.abs(rat.tet_volumes[brain]).sum(), rtol=1e-12)
    assert (w > 0).all()
    every, w_all = cm.brain_sample(rat, 10**7)
    assert len(every) == brain.sum()
    np.testing.assert_allclose(w_all, np.abs(rat.tet_volumes[every]))


def test_mode_tolerance_settings_are_checked(rat):
    with pytest.raises(ValueError, match="max_mode_tol"):
        cm.CortexFieldModel.build(rat, mode_tol=1e-3, max_mode_tol=1e-4)
    with pytest.raises(ValueError, match="max_mode_tol"):
        cm.CortexFieldModel.build(rat, max_mode_tol=0.5)
    with pytest.raises(ValueError, match="mode_tol"):
        cm.CortexFieldModel.build(rat, mode_tol=float("nan"))
    with pytest.raises(ValueError, match="deep_fraction must lie between 0 and 1"):
        cm.CortexFieldModel.build(rat, deep_fraction=10.0)  # a depth in mm, not a fraction
    with pytest.raises(ValueError, match="deep_fraction"):
        cm.CortexFieldModel.build(rat, deep_fraction=-0.5)


def test_model_records_its_tolerances(model):
    import inspect

    info = model.info
    defaults = inspect.signature(cm.CortexFieldModel.build).parameters
    assert info["mode_tol"] == defaults["mode_tol"].default and info["max_mode_tol"] == defaults["max_mode_tol"].default
    assert info["mode_tol"] <= info["mode_tol_last"] <= info["max_mode_tol"]
    assert info["n_brain"] == len(model.brain_points) and "brain tetrahedra" in info["brain_sample"]


def test_dose_uses_the_model_when_cached(model, rat, cache, tmp_path):
    """efield dose on a mesh head: the cached model gives the same numbers as the FEM within the model's
    error, and the output names which one ran."""
    from click.testing import CliRunner

    from efield.cli import main
    from efield.dose.dosimetry import DoseError, Setup

    cm.save_to_cache(model, rat)
    cm._MEMORY.clear()
    rows = {}
    for m in ("precomputed", "fem"):
        res = CliRunner().invoke(main, ["dose", "--head", "rat-mesh", "--coil", "magstim_25mm_fig8",
                                        "--intensity", "40%MSO", "--model", m, "--json", "--quiet"])
        assert res.exit_code == 0, res.output
        rows[m] = json.loads(res.output[res.output.index("["):])[0]
    fast, slow = rows["precomputed"], rows["fem"]
    assert any("precomputed cortical field model" in a for a in fast["assumptions"])
    assert any("brain sample" in a for a in fast["assumptions"])
    assert any("second-order FEM" in a for a in slow["assumptions"])
    assert not any("precomputed" in a for a in slow["assumptions"])
    for key in ("e_target_vm", "p999_vm"):
        assert abs(fast[key] / slow[key] - 1.0) <= 0.02, (key, fast[key], slow[key])
    assert abs(fast["half_max_depth_mm"] - slow["half_max_depth_mm"]) <= 0.2
    with pytest.raises(DoseError, match="field_model"):
        Setup(head="rat-mesh", field_model="fast")


def test_fit_points_are_deep_mesh_nodes_and_refit_reuses_the_modes(model, rat):
    """The build fits at random deep mesh nodes (an unbiased sample of the norm its basis is best in:
    nodes at least deep_fraction of the shallowest cortex depth below the scalp) and checks poses against
    an even sample of scalp vertices; refit at its own points gives the same model, at other points
    another fit of the same modes."""
    nodes = {tuple(p) for p in np.asarray(rat.nodes)}
    assert all(tuple(p) in nodes for p in model.fit_points)
    cortex_depth = cm.node_depth(rat, rat.cortex.vertices).min()
    cut = model.info["deep_fraction"] * cortex_depth
    assert model.info["deep_depth_m"] == pytest.approx(cut) and 0 < cut < cortex_depth
    assert cm.node_depth(rat, model.fit_points).min() >= cut
    assert cm.node_depth(rat, rat.nodes).min() < cut  # some nodes were left out
    scalp = {tuple(p) for p in np.asarray(rat.scalp.vertices)}
    assert all(tuple(p) in scalp for p in model.scalp_points)
    assert "mesh nodes drawn at random" in model.info["fit_points"]
    coil = coils.load_coil("magstim_70mm_fig8")
    poses = cm.random_poses(rat, coil, 2, np.random.default_rng(13))
    same = model.refit(model.fit_points)
    np.testing.assert_array_equal(same.field(coil, poses, 1.0), model.field(coil, poses, 1.0))
    other = model.refit(np.asarray(rat.nodes)[::7])
    assert other.modes is model.modes and len(other.fit_points) != len(model.fit_points)
    ref = cm.full_solve_at(rat, coil, poses[0], model.points)
    assert np.linalg.norm(other.field(coil, poses[0], 1.0)[0] - ref) / np.linalg.norm(ref) <= 0.02
    with pytest.raises(ValueError, match="fit_points must be"):
        model.refit(np.zeros((3, 2)))
    back = cm.CortexFieldModel.load(model.save(Path(os.environ["EFIELD_CACHE"]) / "refit-check.npz", force=True))
    np.testing.assert_array_equal(back.train_weights, model.train_weights)
    np.testing.assert_array_equal(back.scalp_points, model.scalp_points)


def test_a_pose_outside_the_basis_is_guarded(model, rat, cache, monkeypatch):
    """Above the residual limit (here forced to 0: every pose is above it) 'auto' solves the FEM and says
    why, 'precomputed' keeps the model's field with a warning, and the live page shows it."""
    from efield.dose.dosimetry import _unit_field_cached
    from efield.views.live import LiveSession, _text

    cm.save_to_cache(model, rat)
    cm._MEMORY.clear()
    coil = coils.load_coil("magstim_25mm_fig8")
    pose = cm.random_poses(rat, coil, 1, np.random.default_rng(17))[0]
    placed = coil.placed(pose)
    fine = cortex_field(placed, rat, 1e8, model="auto")
    assert fine.info["precomputed"] is True and not fine.info["model_warning"]
    assert fine.info["model_fit_residual"] <= cm.RESIDUAL_LIMIT
    monkeypatch.setattr(cm, "RESIDUAL_LIMIT", 0.0)
    auto = cortex_field(placed, rat, 1e8, model="auto")
    assert "precomputed" not in auto.info and "not used" in auto.info["model_note"]
    forced = cortex_field(placed, rat, 1e8, model="precomputed")
    assert forced.info["precomputed"] is True and "outside the model's basis" in forced.info["model_warning"]
    _unit_field_cached.cache_clear()
    from efield.dose.dosimetry import Setup, dose

    d = dose(Setup(head="rat-mesh", coil="magstim_25mm_fig8", field_model="precomputed"), "60A/us")[0]
    assert any("WARNING" in a and "outside the model's basis" in a for a in d.assumptions)
    d = dose(Setup(head="rat-mesh", coil="magstim_25mm_fig8", field_model="auto"), "60A/us")[0]
    assert any("second-order FEM" in a and "not used" in a for a in d.assumptions)
    _unit_field_cached.cache_clear()
    session = LiveSession(rat, coil, model, didt_max=1e8)
    numbers, _ = session.evaluate(None)
    assert numbers["fit_residual"] > 0 and "outside the model's basis" in _text(numbers)["warning_text"]
