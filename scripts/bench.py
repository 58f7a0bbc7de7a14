"""Benchmark: pairs per second for primary E, B and sphere E, and the ratio to magpylib's B.

Run: ``python scripts/bench.py [--coil magstim_70mm_fig8] [--points 20000 200000]``.
Prints figures only; nothing here is a test.  A "pair" is one (evaluation point, wire segment)
combination of the coil model; for the sphere field each pair costs one B evaluation per
Gauss–Legendre node (the node count per point is printed).
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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--coil", default="magstim_70mm_fig8")
    ap.add_argument("--points", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--magpylib-points", type=int, default=1000)
    args = ap.parse_args()

    from coils import load_coil
    from efield import magnetic_field, primary_efield, total_efield
    from efield.fields import standard_pose
    from efield.sphere import quadrature_order, source_distance
    from meshes import sphere_head

    import numba

    head = sphere_head("human")
    coil = load_coil(args.coil).placed(standard_pose(head))
    nseg = coil.n_segments
    print(f"coil {args.coil}: {nseg} segments; numba threads {numba.get_num_threads()}; cores {os.cpu_count()}")
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
        return
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


if __name__ == "__main__":
    main()
