"""Benchmark of efield.fem.FEMSolver on a ≈1 M-tet 3-layer sphere (2 mm edges).

Prints the one-off set-up time (assembly + preconditioner), the time per further coil pose
(primary potential at the vertices + one preconditioned CG solve), CG iterations, the error
against the analytic sphere field at cortex depth, and the peak memory of the process.

    python scripts/bench_fem.py [--edge-mm 2.0] [--order 2] [--poses 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import coils  # noqa: E402
import efield  # noqa: E402
import meshes  # noqa: E402
from efield.fem import FEMSolver  # noqa: E402
from meshes._gmsh_sphere import concentric_sphere_mesh  # noqa: E402


def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge-mm", type=float, default=2.0)
    ap.add_argument("--order", type=int, default=2)
    ap.add_argument("--poses", type=int, default=3)
    args = ap.parse_args()
    head = meshes.sphere_head("human")
    radii, sigma = [0.085, 0.0785, 0.070], np.array([0.465, 0.010, 0.275])  # scalp, skull, brain (Wagner 2004)
    t = time.perf_counter()
    nodes, tets, tags = concentric_sphere_mesh(radii, [0, 1, 2], args.edge_mm * 1e-3)
    print(f"mesh: {len(nodes)} nodes, {len(tets)} tets, gmsh {time.perf_counter() - t:.1f} s (not counted)")
    # warm the numba cache on a tiny problem so compile time is not counted
    small = concentric_sphere_mesh(radii, [0, 1, 2], 0.02)
    coil0 = coils.load_coil("magstim_70mm_fig8").placed(efield.standard_pose(head))
    FEMSolver(small[0], small[1], sigma[small[2]], order=args.order).solve(coil0, 1e8)
    print(f"peak memory after warm-up: {peak_gb():.2f} GB")

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
