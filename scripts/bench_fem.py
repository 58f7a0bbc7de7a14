"""Benchmark of efield.physics.fem.FEMSolver on a ≈1 M-tet 3-layer sphere (2 mm edges).

Prints the one-off set-up time (assembly + preconditioner), the time per further coil pose
(primary potential at the vertices + one preconditioned CG solve), CG iterations, the error
against the analytic sphere field at cortex depth, and the peak memory of the process.

    python scripts/bench_fem.py [--edge-mm 2.0] [--order 2] [--poses 3]

Built-in mesh heads instead of the gmsh sphere (no analytic reference there):

    python scripts/bench_fem.py --head human [--order 2] [--poses 3] [--check-tol]

    --head NAME     benchmark the built-in mesh head human, rat or mouse (coil magstim_70mm_fig8 for
                    human, magstim_25mm_fig8 for the rodents, ``efield.standard_pose`` with the handle
                    turned by 180°/poses per pose): set-up time and breakdown, node/tet/dof counts,
                    per-pose time with ``sol.timing``, CG iterations (P2 and the P1 start), |E| at the
                    target (the cortex vertex nearest the coil centre) and peak memory
    --check-tol     with --head: also build a second solver with tol=1e-8 and print the change of the
                    target E (and of E on the cortex) between the default tolerance and 1e-8
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import coils  # noqa: E402
import efield  # noqa: E402
import meshes  # noqa: E402
from efield.physics.fem import FEMSolver  # noqa: E402
from meshes._gmsh_sphere import concentric_sphere_mesh  # noqa: E402


def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


RADII, SIGMA = [0.085, 0.0785, 0.070], np.array([0.465, 0.010, 0.275])  # scalp, skull, brain (Wagner 2004)
#: coil preset per built-in head
HEAD_COILS = {"human": "magstim_70mm_fig8", "rat": "magstim_25mm_fig8", "mouse": "magstim_25mm_fig8"}


def machine():
    import numba

    print(f"cores {os.cpu_count()} (available to this process {len(os.sched_getaffinity(0))}), "
          f"numba threads {numba.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")


def warm_up(order):
    """Warm the numba cache on a tiny sphere problem so compile time is not counted."""
    head = meshes.sphere_head("human")
    small = concentric_sphere_mesh(RADII, [0, 1, 2], 0.02)
    coil0 = coils.load_coil("magstim_70mm_fig8").placed(efield.standard_pose(head))
    FEMSolver(small[0], small[1], SIGMA[small[2]], order=order).solve(coil0, 1e8)
    print(f"peak memory after warm-up: {peak_gb():.2f} GB")


def bench_head(args):
    """Set-up and per-pose figures of the FEM solver on a built-in mesh head."""
    from efield.physics.fields import mesh_solver

    t = time.perf_counter()
    head = meshes.builtin_head(args.head)
    print(f"head {args.head}: {len(head.nodes)} nodes, {len(head.tets)} tets, frame {head.frame}; "
          f"load/mesh {time.perf_counter() - t:.1f} s (not counted)")
    warm_up(args.order)
    t = time.perf_counter()
    solver = mesh_solver(head, order=args.order)
    setup = time.perf_counter() - t
    print(f"set-up: {setup:.2f} s {  {k: round(v, 2) for k, v in solver.setup_seconds.items()} } (goal ≤ 15 s), "
          f"{len(solver.nodes)} nodes, {len(solver.tets)} tets, {solver.n_dofs} dofs (order {args.order}), "
          f"{solver.matrix.nnz} nnz, AMG levels {len(solver.amg.levels)}, tol {solver.tol:g}")
    coil_name = HEAD_COILS[args.head]
    local = coils.load_coil(coil_name)
    cortex = head.cortex.vertices
    placed, sols, times, target = [], [], [], None
    for k in range(args.poses):
        angle = np.pi * k / max(args.poses, 1)
        pose = efield.standard_pose(head, handle=(np.sin(angle), np.cos(angle), 0.0), coil=local)
        coil = local.placed(pose)
        if target is None:  # the cortex vertex nearest the coil centre of the first pose
            target = cortex[np.argmin(np.linalg.norm(cortex - pose[:3, 3], axis=1))][None]
            print(f"coil {coil_name}; target: cortex vertex nearest the coil centre, "
                  f"({', '.join(f'{x * 1e3:.1f}' for x in target[0])}) mm, "
                  f"{np.linalg.norm(target[0] - pose[:3, 3]) * 1e3:.1f} mm from it")
        t = time.perf_counter()
        sol = solver.solve(coil, 1e8)
        dt = time.perf_counter() - t
        times.append(dt)
        placed.append(coil)
        sols.append(sol)
        e = np.linalg.norm(sol.efield_at(target)[0])
        print(f"pose {k} (handle {np.degrees(angle):.0f}°): {dt:.2f} s "
              f"{  {key: round(v, 2) for key, v in sol.timing.items()} }, {sol.iterations} CG iterations "
              f"(P1 start {sol.coarse_iterations}), rel. residual {sol.residual:.1e}, "
              f"|E| target {e:.4g} V/m at 100 A/µs")
    if times:
        print(f"per pose: mean {np.mean(times):.2f} s, max {np.max(times):.2f} s (goal ≤ 3 s on ≈1 M tets; "
              f"this head {len(head.tets) / 1e6:.2f} M tets)")
    print(f"peak memory: {peak_gb():.2f} GB (ru_maxrss; goal < 8 GB)")
    if not args.check_tol:
        return
    sigma = head.anisotropy if head.anisotropy is not None else head.sigma_per_tet  # as mesh_solver
    t = time.perf_counter()
    tight = FEMSolver(head.nodes, head.tets, sigma, order=args.order, tol=1e-8)
    print(f"tol=1e-8 solver set-up: {time.perf_counter() - t:.2f} s")
    for k, (coil, sol) in enumerate(zip(placed, sols)):
        t = time.perf_counter()
        ref = tight.solve(coil, 1e8)
        dt = time.perf_counter() - t
        e, e_ref = sol.efield_at(target)[0], ref.efield_at(target)[0]
        c, c_ref = sol.efield_at(cortex), ref.efield_at(cortex)
        d_target = np.linalg.norm(e - e_ref) / np.linalg.norm(e_ref)
        d_cortex = np.linalg.norm(c - c_ref, axis=1).max() / np.linalg.norm(c_ref, axis=1).max()
        print(f"pose {k}: tol 1e-8 {dt:.2f} s, {ref.iterations} CG iterations (P1 start {ref.coarse_iterations}); "
              f"target E change tol {solver.tol:g} → 1e-8: |ΔE|/|E| {d_target:.1e}; "
              f"cortex max |ΔE| / max |E| {d_cortex:.1e}")
    print(f"peak memory with both solvers: {peak_gb():.2f} GB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edge-mm", type=float, default=2.0)
    ap.add_argument("--order", type=int, default=2)
    ap.add_argument("--poses", type=int, default=3)
    ap.add_argument("--head", choices=sorted(HEAD_COILS), default=None,
                    help="benchmark this built-in mesh head instead of the gmsh sphere")
    ap.add_argument("--check-tol", action="store_true",
                    help="with --head: compare the target E at the default tolerance with tol=1e-8")
    args = ap.parse_args()
    machine()
    if args.head:
        bench_head(args)
        return
    head = meshes.sphere_head("human")
    radii, sigma = RADII, SIGMA
    t = time.perf_counter()
    nodes, tets, tags = concentric_sphere_mesh(radii, [0, 1, 2], args.edge_mm * 1e-3)
    print(f"mesh: {len(nodes)} nodes, {len(tets)} tets, gmsh {time.perf_counter() - t:.1f} s (not counted)")
    warm_up(args.order)

    t = time.perf_counter()
    solver = FEMSolver(nodes, tets, sigma[tags], order=args.order)
    setup = time.perf_counter() - t
    print(f"set-up: {setup:.2f} s {  {k: round(v, 2) for k, v in solver.setup_seconds.items()} }, "
          f"{solver.n_dofs} dofs, {solver.matrix.nnz} nnz, AMG levels {len(solver.amg.levels)}")
    rng = np.random.default_rng(0)
    n = 2000
    th = np.arccos(rng.uniform(np.cos(np.arcsin(0.030 / 0.066)), 1, n))
    ph = rng.uniform(0, 2 * np.pi, n)
    r = rng.uniform(0.065, 0.068, n)
    pts = np.stack([r * np.sin(th) * np.cos(ph), r * np.sin(th) * np.sin(ph), r * np.cos(th)], 1)
    for k in range(args.poses):
        angle = np.pi * k / max(args.poses, 1)
        pose = efield.standard_pose(head, handle=(np.sin(angle), np.cos(angle), 0.0))
        coil = coils.load_coil("magstim_70mm_fig8").placed(pose)
        t = time.perf_counter()
        sol = solver.solve(coil, 1e8)
        dt = time.perf_counter() - t
        e = sol.efield_at(pts)
        ref = efield.total_efield(coil, head, pts, 1e8)
        err = np.abs(e - ref).max() / np.abs(ref).max()
        print(f"pose {k}: {dt:.2f} s (primary {sol.timing['primary']:.2f} s, solve {sol.timing['solve']:.2f} s), "
              f"{sol.iterations} CG iterations, rel. residual {sol.residual:.1e}, error vs sphere {err:.4f}")
    print(f"peak memory: {peak_gb():.2f} GB (ru_maxrss)")


if __name__ == "__main__":
    main()
