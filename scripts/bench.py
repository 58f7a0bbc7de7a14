"""Benchmark: pairs per second for primary E, B and sphere E, and the ratio to magpylib's B.

Run: ``python scripts/bench.py [--coil magstim_70mm_fig8] [--points 20000 200000] [--skip-targeting] [--quick]``.
Prints figures only; nothing here is a test.  A "pair" is one (evaluation point, wire segment)
combination of the coil model; for the sphere field each pair costs one B evaluation per
Gauss–Legendre node (the node count per point is printed).

Targeting section (pose-evaluation throughput of :mod:`efield.targeting`): on the human and rat
sphere heads, poses per second of the reciprocity kernel (``SphereEvaluator``) against the forward
reference (``PoseEvaluator``, one ``total_efield`` per pose) and their largest relative difference;
on a built-in mesh head, the FEM set-up time and ``optimize_pose``'s precompute time, grid poses per
second and fast-vs-forward difference (``result.timing``, ``result.fast_vs_forward``).

    --skip-targeting       leave out the targeting section
    --target-poses N       sphere-head poses per head, (u, v) grid × 72 handle angles (default ≈ 10,000)
    --reference-poses N    poses evaluated by the forward reference on sphere heads (default 50)
    --mesh-head NAME       built-in mesh head for the optimize_pose timing: human, rat, mouse or none
                           (default human; rat with --quick)
    --quick                smoke test: rat mesh head and 1,000 sphere poses (figures not representative)
    --cortex-model HEADS   heads for the cortical field model section (default human rat; none skips it):
                           build time and memory, accuracy over --model-poses random poses (default 200)
                           against full FEM solves, poses per second batched and one pose
    --cohort N             cohorts (efield.cohort; issue 15): the example plan repeated N times (default 2;
                           0 skips it) in this process, on a 1-worker and on a 2-worker Dask LocalCluster:
                           jobs per minute, where the time goes, memory per worker
    --labels MM [MM ...]   heads from labelled volumes (meshes.head_from_labels; issue 16): concentric spheres
                           labelled at these voxel sizes (default 6 4 3 2 mm; none skips it), without and with
                           interface smoothing: error of the FEM field on the head's own cortex against the
                           analytic sphere field (70 mm figure-8), mesh size and times
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _best_time(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _cortex_points(head, n, rng, cap_deg=60.0):
    """n points in the brain under the coil: radius 0.5–1.0 × cortex radius, within cap_deg of +z."""
    cosmax = np.cos(np.radians(cap_deg))
    z = rng.uniform(cosmax, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z * z)
    d = np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    r = head.cortex_radius * rng.uniform(0.5, 1.0, n) ** (1 / 3)
    return np.asarray(head.center) + d * r[:, None]


def _magpylib_sources(coil):
    import magpylib as magpy

    sources, i, n = [], 0, coil.n_segments
    while i < n:
        j = i
        while j + 1 < n and np.allclose(coil.start[j + 1], coil.end[j]) and coil.weight[j + 1] == coil.weight[i]:
            j += 1
        verts = np.concatenate([coil.start[i:j + 1], coil.end[j:j + 1]])
        sources.append(magpy.current.Polyline(current=float(coil.weight[i]), vertices=verts))
        i = j + 1
    return magpy.Collection(*sources)


#: targeting benchmark cases: species → (coil preset, named target)
_TARGETING_CASES = {"human": ("magstim_70mm_fig8", "DLPFC_left"), "rat": ("magstim_25mm_fig8", "M1_forelimb_left"),
                    "mouse": ("magstim_25mm_fig8", "M1_forelimb_left")}


def _sphere_targeting(species, n_poses, n_ref):
    """Poses/s of SphereEvaluator and of the forward PoseEvaluator on a sphere head; returns the fast rate."""
    from coils import load_coil
    from efield.targeting.evaluators import PoseEvaluator, SphereEvaluator
    from efield.targeting.search import _Scalp
    from efield.targeting.targets import resolve_target
    from meshes import sphere_head

    coil_name, target_name = _TARGETING_CASES[species]
    head = sphere_head(species)
    coil = load_coil(coil_name)
    target = resolve_target(head, target_name)
    scalp = _Scalp(head, target.point, 0.03)
    angles = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    # square (u, v) grid over the default search disc of optimize_pose (25 % of the head radius)
    side = max(1, int(round(np.sqrt(n_poses / len(angles)))))
    span = 0.25 * head.scalp_radius
    uv = np.linspace(-span, span, side) if side > 1 else np.zeros(1)
    poses = np.concatenate([scalp.poses(coil, u, v, angles, 0.0) for u in uv for v in uv])

    fast = SphereEvaluator(coil, head, target)
    fast(poses[:64])  # numba warm-up
    t_fast = _best_time(lambda: fast(poses), repeat=3)
    rate_fast = len(poses) / t_fast

    sub = poses[np.linspace(0, len(poses) - 1, min(n_ref, len(poses))).astype(int)]
    ref = PoseEvaluator(coil, head, target)
    ref(sub[:1])  # warm-up of the forward model
    t = time.perf_counter()
    e_ref = ref(sub)
    t_ref = time.perf_counter() - t
    rate_ref = len(sub) / t_ref
    e_fast = fast(sub)
    diff = np.linalg.norm(e_fast - e_ref, axis=2) / np.linalg.norm(e_ref, axis=2)
    print(f"  {species} sphere, {coil_name} ({coil.n_segments} segments), target {target_name} "
          f"({len(target.region)} point(s)), {len(fast._q[0])} wire quadrature points × {len(fast.lam)} λ nodes, "
          f"{side}×{side} positions × {len(angles)} angles:")
    print(f"    SphereEvaluator {len(poses):>6d} poses: {t_fast:8.3f} s  {rate_fast:10.0f} poses/s  "
          f"(goal ≥ 10,000 poses/s on sphere heads: {'met' if rate_fast >= 1e4 else 'NOT met'})")
    print(f"    PoseEvaluator   {len(sub):>6d} poses: {t_ref:8.3f} s  {rate_ref:10.0f} poses/s  "
          f"(forward total_efield per pose)")
    print(f"    ratio fast / forward {rate_fast / rate_ref:.0f}x; max relative difference on the "
          f"{len(sub)} poses {diff.max():.1e}")
    return rate_fast


def _mesh_targeting(name):
    """FEM set-up time and optimize_pose timing on a built-in mesh head."""
    import efield
    from coils import load_coil
    from efield.physics.fields import mesh_solver
    from meshes import builtin_head, culture_dish

    # warm-up on a tiny dish (its own FEM solver): FEM, reciprocity and grid kernels compiled or loaded
    t = time.perf_counter()
    efield.optimize_pose("magstim_25mm_fig8", culture_dish(0.01, 0.003, 0.001), np.array([0.0, 0.0, 0.0015]), 1e8,
                         focality=False, n_angles=8, search_radius=0.001)
    warm = time.perf_counter() - t
    coil_name, target_name = _TARGETING_CASES[name]
    t = time.perf_counter()
    head = builtin_head(name)
    load = time.perf_counter() - t
    print(f"  {name} mesh head: {len(head.nodes)} nodes, {len(head.tets)} tets; load/mesh {load:.1f} s, "
          f"warm-up {warm:.1f} s (neither counted)")
    t = time.perf_counter()
    solver = mesh_solver(head)  # cached on the head: optimize_pose below reuses it
    setup = time.perf_counter() - t
    print(f"    FEM set-up (mesh_solver): {setup:.2f} s, {solver.n_dofs} dofs")
    coil = load_coil(coil_name)
    t = time.perf_counter()
    res = efield.optimize_pose(coil, head, target_name, 1e8, focality=False)
    total = time.perf_counter() - t
    tm = res.timing
    print(f"    optimize_pose {coil_name} → {target_name}: {total:.2f} s wall, {res.n_poses} poses evaluated")
    print(f"    precompute {tm['precompute']:.2f} s (goal ≤ 60 s: {'met' if tm['precompute'] <= 60 else 'NOT met'}); "
          f"grid search {tm['grid_search']:.2f} s = {tm['grid_poses_per_s']:.0f} poses/s "
          f"(goal ≥ 1,000: {'met' if tm['grid_poses_per_s'] >= 1000 else 'NOT met'})")
    print(f"    placement {tm['placement']:.2f} s, refine {tm['refine']:.2f} s, "
          f"forward check {tm['forward_check']:.2f} s; "
          f"fast_vs_forward {res.fast_vs_forward:.1e}; target |E| {res.target_e:.4g} V/m at 100 A/µs")


def _cortex_model(name, n_test):
    """Issue 14: build the head's cortical field model, then accuracy against full FEM solves and speed."""
    import resource

    import coils
    from efield.physics import cortex_model as cm
    from efield.physics.fields import FieldResult, mesh_solver
    from efield.physics._summary import surface_metrics
    from meshes import builtin_head

    head = builtin_head(name)
    t = time.perf_counter()
    solver = mesh_solver(head)
    setup = time.perf_counter() - t
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    t = time.perf_counter()
    model = cm.CortexFieldModel.build(head)
    build = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    info, tm = model.info, model.info["timings_s"]
    goal_t = 60 if name != "human" else 900
    print(f"  {name} mesh: {len(head.nodes):,} nodes, {solver.n_dofs:,} P2 unknowns, {model.n_points:,} cortical "
          f"points; FEM set-up {setup:.1f} s (before the build)")
    print(f"    build {build:.1f} s (goal <= {goal_t} s: {'met' if build <= goal_t else 'NOT met'}): training fields "
          f"{tm['training_fields_s']:.1f} s ({info['n_train']} poses), basis {tm['basis_s']:.1f} s, "
          f"{model.n_modes} mode solves {tm['mode_solves_s']:.1f} s "
          f"({tm['mode_solves_s'] / model.n_modes:.2f} s each, {info['mode_cg_iterations_mean']:.1f} CG steps)")
    print(f"    modes kept: {model.n_modes} (last singular value {info['last_singular_value_rel']:.1e} of the first); "
          f"peak memory {rss1:.1f} GB (before the build {rss0:.1f} GB; goal <= 8 GB)")
    ids = cm.training_coils(head)
    coil = coils.load_coil(ids[0])
    poses = cm.random_poses(head, coil, 200, np.random.default_rng(7))
    model.field(coil, poses[:2], 1.0)
    t_batch = _best_time(lambda: model.field(coil, poses, 1.0), repeat=2)
    t_one = _best_time(lambda: model.field(coil, poses[0], 1.0), repeat=7)
    t_bs = _best_time(lambda: cm._coil_a_at(coil, poses[:1], model.fit_points), repeat=7)
    print(f"    speed ({coil.name}, {coil.n_segments} segments): {200 / t_batch:.0f} poses/s batched (200 poses; goal "
          f">= 100: {'met' if 200 / t_batch >= 100 else 'NOT met'}), one pose {t_one * 1e3:.1f} ms (goal <= 20 ms: "
          f"{'met' if t_one <= 0.020 else 'NOT met'}); a full FEM solve at the solver's tolerance "
          f"{solver.tol:g} in this run: {_best_time(lambda: solver.solve(coil.placed(poses[0]), 1.0), repeat=1):.2f} s")
    from efield.views.live import LiveScene, LiveSession, update_rate

    session = LiveSession(head, coil, model, didt_max=1.5e8)
    scene = LiveScene(session)
    try:
        rate = update_rate(session, scene, n=30)
    finally:
        scene.close()
    print(f"    efield view, no browser ({coil.name}, 30 random slider settings, 800 x 600 px): "
          f"{rate['updates_per_s']:.1f} updates/s (goal >= 10: {'met' if rate['updates_per_s'] >= 10 else 'NOT met'}); "
          f"pose {rate['pose_ms']:.1f} ms, field {rate['field_ms']:.1f} ms, numbers {rate['metrics_ms']:.1f} ms, "
          f"picture {rate['render_ms']:.1f} ms")
    print(f"    one pose: Biot–Savart at the {len(model.fit_points):,} fit points {t_bs * 1e3:.1f} ms "
          f"(∝ fit points × coil segments), the two products ∝ modes × (3·fit points + 3·cortical points) = "
          f"{model.n_modes} × {3 * len(model.fit_points) + 3 * model.n_points:,}")

    # accuracy: reference solves 8 poses at a time (FEMSolver.solve_rhs_block: the same CG iterates as
    # single solves, the matrices read once per 8), CG tolerance 1e-6
    from efield.physics.biot_savart import vector_potential
    from efield.physics.cortex_model import BrainField
    from efield.physics.fem import FEMSolution
    from efield.physics.metrics import BRAIN_TAGS, hot_spot_depth

    rng = np.random.default_rng(20261203)
    brain_all = np.isin(head.tags, BRAIN_TAGS)
    cells, lam = solver.locate(model.points)
    faces, normals = model.faces, model.normals
    cases = []
    for k in range(n_test):
        cid = ids[k % len(ids)]
        coil = coils.load_coil(cid)
        cases.append((cid, coil, cm.random_poses(head, coil, 1, rng, max_gap=0.005)[0]))
    errs, peaks, by_coil, depths, resids = [], [], {}, [], []
    t_ref = time.perf_counter()
    for b0 in range(0, n_test, 8):
        batch = cases[b0:b0 + 8]
        placed = [coil.placed(pose) for _, coil, pose in batch]
        a_nodes = [vector_potential(pc, solver.nodes) for pc in placed]
        phi = solver.solve_rhs_block(solver.rhs_block(np.stack(a_nodes, axis=2), 1.0), tol=1e-6)[0]
        for i, (cid, coil, pose) in enumerate(batch):
            phi_i = np.ascontiguousarray(phi[:, i])
            ref = -vector_potential(placed[i], model.points) - solver.gradient_at(phi_i, cells, lam)
            got, got_b = model.field(coil, pose, 1.0, brain=True)
            got, got_b = got[0], got_b[0]
            resids.append(float(model.last_residual[0]))
            if (b0 + i) % 4 == 0:  # half-value depth: the FEM's brain tets against the model's brain sample
                e_tets = FEMSolution(solver, placed[i], 1.0, phi_i, a_nodes[i], 0, 0.0, {}).efield_tets
                fem_brain = BrainField(head.tet_centroids[brain_all], e_tets[brain_all],
                                       np.abs(head.tet_volumes[brain_all]))
                res_fem = FieldResult(model.points, ref, 1.0, normals, faces, brain=fem_brain)
                res_got = FieldResult(model.points, got, 1.0, normals, faces,
                                      brain=BrainField(model.brain_points, got_b, model.brain_weights))
                depths.append((hot_spot_depth(placed[i], head, res_fem), hot_spot_depth(placed[i], head, res_got)))
            err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
            p_ref = surface_metrics(FieldResult(model.points, ref, 1.0, normals, faces))["p999_vm"]
            p_got = surface_metrics(FieldResult(model.points, got, 1.0, normals, faces))["p999_vm"]
            errs.append(err)
            peaks.append(abs(p_got / p_ref - 1.0))
            by_coil.setdefault(cid, []).append(err)
    t_fem = [(time.perf_counter() - t_ref) / n_test]
    e = np.array(errs) * 100
    pk = np.array(peaks) * 100
    print(f"    accuracy over {n_test} random resting poses (whole reachable scalp, all handle angles, tilt <= 20°, "
          f"gap <= 5 mm; coils {', '.join(ids)}) against the P2 FEM at CG tolerance 1e-6 "
          f"(8 poses per block solve, {np.mean(t_fem):.2f} s per pose with its model evaluation):")
    print(f"      relative L2 error of E over the cortex: median {np.median(e):.3f} %, p90 {np.percentile(e, 90):.3f} %, "
          f"p99 {np.percentile(e, 99):.3f} %, max {e.max():.3f} % (goals median <= 1 %, p99 <= 2 %: "
          f"{'met' if np.median(e) <= 1 and np.percentile(e, 99) <= 2 else 'NOT met'})")
    print(f"      robust peak (99.9th percentile |E|): median {np.median(pk):.3f} %, max {pk.max():.3f} % "
          f"(goal <= 2 %: {'met' if pk.max() <= 2 else 'NOT met'})")
    for cid, v in by_coil.items():
        v = np.array(v) * 100
        print(f"      {cid:22s} median {np.median(v):.3f} %, max {v.max():.3f} % ({len(v)} poses)")
    res = np.array(resids)
    ok_r = res <= cm.RESIDUAL_LIMIT
    print(f"      fit residual {100 * res.min():.1f}-{100 * res.max():.1f} % (correlation with the cortex error "
          f"{np.corrcoef(res, e)[0, 1]:.2f}); the {int(ok_r.sum())} poses at or below the limit "
          f"({100 * cm.RESIDUAL_LIMIT:.0f} %, answered by the model): error p99 {np.percentile(e[ok_r], 99):.3f} %, "
          f"max {e[ok_r].max():.3f} %, robust peak max {pk[ok_r].max():.3f} %"
          + (f"; the {int((~ok_r).sum())} above it (auto solves the FEM, precomputed warns): error max "
             f"{e[~ok_r].max():.3f} %, robust peak max {pk[~ok_r].max():.3f} %" if (~ok_r).any() else ""))
    dd = np.array(depths) * 1e3
    ok = np.isfinite(dd).all(axis=1)
    diff = np.abs(dd[ok, 1] - dd[ok, 0])
    print(f"      half-value depth, model's brain sample ({len(model.brain_points):,} points) vs the FEM's "
          f"{int(brain_all.sum()):,} brain tets, {int(ok.sum())} poses: FEM {dd[ok, 0].min():.1f}-{dd[ok, 0].max():.1f} mm, "
          f"difference median {np.median(diff):.2f} mm, max {diff.max():.2f} mm")


def _targeting(args):
    n_poses = 1000 if args.quick and args.target_poses is None else (args.target_poses or 10_000)
    mesh = args.mesh_head or ("rat" if args.quick else "human")
    print(f"targeting (efield.targeting pose evaluation){' [--quick: smoke test]' if args.quick else ''}:")
    for species in ("human", "rat"):
        _sphere_targeting(species, n_poses, args.reference_poses)
    if mesh != "none":
        _mesh_targeting(mesh)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coil", default="magstim_70mm_fig8")
    ap.add_argument("--points", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--magpylib-points", type=int, default=1000)
    ap.add_argument("--skip-targeting", action="store_true", help="leave out the targeting section")
    ap.add_argument("--target-poses", type=int, default=None,
                    help="sphere-head poses per head (default 10,000; 1,000 with --quick)")
    ap.add_argument("--reference-poses", type=int, default=50, help="poses for the forward reference")
    ap.add_argument("--mesh-head", choices=["human", "rat", "mouse", "none"], default=None,
                    help="built-in mesh head for optimize_pose (default human; rat with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke test: rat mesh head, 1,000 sphere poses")
    ap.add_argument("--cortex-model", nargs="+", default=None, choices=["human", "rat", "mouse", "none"],
                    help="heads for the cortical field model section (default human rat; rat with --quick)")
    ap.add_argument("--model-poses", type=int, default=None,
                    help="test poses per head against the full FEM (default 200; 24 with --quick)")
    ap.add_argument("--cohort", type=int, default=None,
                    help="example-plan copies for the cohort section (default 2; 1 with --quick; 0 skips it)")
    ap.add_argument("--labels", nargs="+", default=None,
                    help="voxel sizes (mm) of the labelled-sphere section (default 6 4 3 2; 6 4 with --quick; none skips)")
    args = ap.parse_args()

    from coils import load_coil
    from efield import magnetic_field, primary_efield, total_efield
    from efield.physics.fields import standard_pose
    from efield.physics.sphere import quadrature_order, source_distance
    from meshes import sphere_head

    import numba

    head = sphere_head("human")
    coil = load_coil(args.coil).placed(standard_pose(head))
    nseg = coil.n_segments
    print(f"coil {args.coil}: {nseg} segments; numba threads {numba.get_num_threads()}; cores {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    warm = _cortex_points(head, 64, rng)
    primary_efield(coil, warm, 1e8), magnetic_field(coil, warm), total_efield(coil, head, warm, 1e8)

    rates = {}
    for n in args.points:
        pts = _cortex_points(head, n, rng)
        gamma = source_distance(coil, head.center) / np.linalg.norm(pts - head.center, axis=1)
        nodes = quadrature_order(gamma)
        for label, fn in (("primary E", lambda: primary_efield(coil, pts, 1e8)),
                          ("B", lambda: magnetic_field(coil, pts, 1.0)),
                          ("sphere E", lambda: total_efield(coil, head, pts, 1e8))):
            t = _best_time(fn, repeat=3 if n <= 50_000 else 1)
            rate = n * nseg / t
            rates[(label, n)] = rate
            extra = f"  (Gauss–Legendre nodes per point: median {np.median(nodes):.0f}, max {nodes.max():.0f})" \
                if label == "sphere E" else ""
            print(f"{label:10s} {n:>8d} points: {t:8.3f} s  {rate:10.3e} pairs/s{extra}")

    try:
        import magpylib  # noqa: F401
    except ImportError:
        print("magpylib not installed: pip install '.[test]' for the reference ratio")
    else:
        m = args.magpylib_points
        pts = _cortex_points(head, m, rng)
        src = _magpylib_sources(coil)
        t_ref = _best_time(lambda: src.getB(pts), repeat=1)
        t_ours = _best_time(lambda: magnetic_field(coil, pts, 1.0), repeat=5)
        b_ref, b_ours = src.getB(pts), magnetic_field(coil, pts, 1.0)
        err = np.abs(b_ours - b_ref).max() / np.abs(b_ref).max()
        print(f"magpylib {magpylib.__version__} B, {m} points x {nseg} segments ({len(src)} polylines): "
              f"{t_ref:.3f} s = {m * nseg / t_ref:.3e} pairs/s; ours {t_ours:.4f} s; "
              f"ratio {t_ref / t_ours:.0f}x; max |ΔB| / max |B| = {err:.1e}")

    if not args.skip_targeting:
        _targeting(args)
    heads = args.cortex_model or (["rat"] if args.quick else ["human", "rat"])
    if "none" not in heads:
        print("cortical field model (efield.physics.cortex_model; issue 14):")
        for name in heads:
            _cortex_model(name, args.model_poses or (24 if args.quick else 200))
    copies = args.cohort if args.cohort is not None else (1 if args.quick else 2)
    if copies > 0:
        _cohort(copies)
    sizes = args.labels or (["6", "4"] if args.quick else ["6", "4", "3", "2"])
    if "none" not in sizes:
        _labelled_spheres([float(v) for v in sizes])


def _cohort(copies: int) -> None:
    """Jobs per minute of the example plan (``copies`` times, each copy a distinct job: another gap) in this
    process and on 1- and 2-worker local Dask clusters; where the time goes; worker memory."""
    import csv
    import io
    import tempfile

    from efield.cohort import EXAMPLE_PLAN, run_cohort

    print("cohorts (efield.cohort; issue 15): the example plan"
          + (f" × {copies} (copies differ in gap_mm, so every job is new)" if copies > 1 else ""))
    recs = [r for r in csv.DictReader(io.StringIO("\n".join(ln for ln in EXAMPLE_PLAN.splitlines()
                                                             if not ln.startswith("#"))))]
    plan = []
    for c in range(copies):
        for r in recs:
            r = dict(r, id=f"{r['id']}_{c}")
            if c:
                r["gap_mm"] = f"{c * 0.5:g}"
            plan.append(r)
    with tempfile.TemporaryDirectory() as tmp:
        tables = {}
        for label, kw in (("in-process, 1 worker", {"workers": 1}), ("LocalCluster, 1 worker", "lc1"),
                          ("LocalCluster, 2 workers", "lc2")):
            out = Path(tmp) / label.replace(" ", "_").replace(",", "")
            rss = None
            t = time.perf_counter()
            if isinstance(kw, dict):
                res = run_cohort(plan, out, **kw)
            else:
                import psutil
                from distributed import Client, LocalCluster

                n = int(kw[-1])
                threads = max(1, (os.cpu_count() or 1) // n)
                with LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None, silence_logs=40,
                                  env={"NUMBA_NUM_THREADS": str(threads)}) as lc, Client(lc) as client:
                    t = time.perf_counter()  # cluster start-up is not counted (workers stay up for a study)
                    res = run_cohort(plan, out, client=client)
                    rss = client.run(lambda: psutil.Process().memory_info().rss)
            wall = time.perf_counter() - t
            ran = [o for o in res.outcomes if not o.get("reused")]
            jobs = len(ran)
            sec = {k: sum(o.get("seconds", {}).get(k, 0.0) for o in ran) for k in ("head", "compute", "total")}
            loads = sum(bool(o.get("worker", {}).get("head_loaded")) for o in ran)
            mem = "" if rss is None else "; worker RSS " + ", ".join(f"{v / 2**30:.2f} GiB" for v in rss.values())
            print(f"  {label:24s} {jobs} jobs in {wall:6.1f} s = {60 * jobs / wall:6.1f} jobs/min; job time: head loading "
                  f"{sec['head']:.1f} s ({loads} loads), compute {sec['compute']:.1f} s; scheduling and writing "
                  f"{max(0.0, wall - sec['total'] / (1 if rss is None else len(rss))):.1f} s{mem}")
            by = {}
            for o in ran:
                k = f"{o.get('job')} on {o.get('head')}"
                by[k] = by.get(k, 0.0) + o.get("seconds", {}).get("total", 0.0)
            print("      job time by kind and head: " + ", ".join(f"{k} {v:.1f} s" for k, v in
                                                          sorted(by.items(), key=lambda kv: -kv[1])))
            tables[label] = (out / "results.csv").read_text()
        same = len(set(tables.values())) == 1
        print(f"  results.csv identical across the three runs: {same}")


def _labelled_spheres(sizes) -> None:
    """Concentric spheres as labelled volumes → head_from_labels → P2 FEM, against the analytic field."""
    import resource

    from coils import load_coil
    from efield import total_efield
    from efield.physics.fields import cortex_field, standard_pose
    from meshes import head_from_labels, sphere_head
    from meshes._labels import sphere_volume

    print("heads from labelled volumes (meshes.head_from_labels; issue 16): concentric spheres (85 mm scalp, "
          "70 mm brain) labelled at each voxel size; magstim_70mm_fig8 on the scalp; error of E on the head's own "
          "cortex (two voxels below the brain's boundary) against the analytic sphere field, relative to its peak")
    coil = load_coil("magstim_70mm_fig8")
    ref_head = sphere_head("human")
    for vox in sizes:
        for smooth in (0, 3):
            t = time.perf_counter()
            head = head_from_labels(sphere_volume(vox), {2: "grey_matter", 3: "csf", 4: "bone", 5: "scalp"},
                                    species="human", smooth=smooth)
            t_build = time.perf_counter() - t
            placed = coil.placed(standard_pose(head, coil=coil))
            t = time.perf_counter()
            res = cortex_field(placed, head, 1e8)
            t_fem = time.perf_counter() - t
            ref = total_efield(placed, ref_head, res.points, 1e8)
            err = np.linalg.norm(res.efield - ref, axis=1)
            mag_ref = np.linalg.norm(ref, axis=1)
            peak = mag_ref.max()
            p999 = np.percentile(mag_ref, 99.9)
            print(f"  {vox:4.1f} mm, smoothing {smooth}: {len(head.tets):>9,} tets, build {t_build:5.1f} s, FEM {t_fem:5.1f} s; "
                  f"error / peak: rms {100 * np.sqrt((err ** 2).mean()) / peak:.2f} %, p99 {100 * np.percentile(err, 99) / peak:.2f} %, "
                  f"max {100 * err.max() / peak:.2f} %; robust peak {100 * abs(np.percentile(res.magnitude, 99.9) - p999) / p999:.2f} %; "
                  f"relative L2 {100 * np.linalg.norm(res.efield - ref) / np.linalg.norm(ref):.2f} %")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"  peak memory of this process so far {rss:.1f} GB; 1 mm voxels on this head would be ~15 M tets "
          "(~21 M P2 unknowns): not run (an estimate from the 1.7 M-unknown human head, ~3 GB: ~40 GB)")


if __name__ == "__main__":
    main()
