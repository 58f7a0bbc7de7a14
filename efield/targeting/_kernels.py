"""Numba kernels of the pose search (tier one: no checks, contiguous arrays, preallocated out).

A coil is reduced to quadrature points along its wires: positions ``q`` (coil frame) and current
elements ``dl`` (metres × amperes per ampere, Gauss weights included), so that a line integral
``∮ F·dl`` becomes ``Σ F(q)·dl``.  A pose is a rotation ``R`` (3, 3) and translation ``t`` (3,):
``q_head = R q + t``, ``dl_head = R dl``.

* :func:`sphere_poses` — E at target points in a spherical conductor (Poincaré gauge):
  ``E(r) = (dI/dt) μ0/4π · r × Σ dl × H(q)`` with ``H(q) = ∫₀¹ λ (λr − q)/|λr − q|³ dλ``
  (Gauss–Legendre in λ; ``r`` and ``q`` relative to the sphere centre).
* :func:`grid_poses` — E at one target (as three components) in a mesh head by reciprocity:
  ``E·d = −(dI/dt) Σ dl·[μ0/4π d/|r_t − q| − U_d(q)]`` with ``U_d`` the precomputed vector
  potential of the reciprocal currents of direction ``d`` on a regular grid (trilinear).
* :func:`grid_potential` — that grid: ``U(g) = μ0/4π Σ_n W_n / |g − x_n|`` for all grid points.
"""

from __future__ import annotations

import math

import numpy as np

from ..physics._jit import jit, prange
from ..physics.biot_savart import _MU0_4PI


@jit(parallel=True)
def sphere_poses(qx, qy, qz, lx, ly, lz, rot, trans, targets, lam, lw, out):
    """E per A/s (P, K, 3) at ``targets`` (K, 3, relative to the centre) for poses ``rot`` (P,3,3), ``trans`` (P,3)
    (translations relative to the centre)."""
    n = qx.shape[0]
    nl = lam.shape[0]
    for p in prange(rot.shape[0]):
        R = rot[p]
        sx = np.empty(n)
        sy = np.empty(n)
        sz = np.empty(n)
        dx = np.empty(n)
        dy = np.empty(n)
        dz = np.empty(n)
        for i in range(n):
            sx[i] = R[0, 0] * qx[i] + R[0, 1] * qy[i] + R[0, 2] * qz[i] + trans[p, 0]
            sy[i] = R[1, 0] * qx[i] + R[1, 1] * qy[i] + R[1, 2] * qz[i] + trans[p, 1]
            sz[i] = R[2, 0] * qx[i] + R[2, 1] * qy[i] + R[2, 2] * qz[i] + trans[p, 2]
            dx[i] = R[0, 0] * lx[i] + R[0, 1] * ly[i] + R[0, 2] * lz[i]
            dy[i] = R[1, 0] * lx[i] + R[1, 1] * ly[i] + R[1, 2] * lz[i]
            dz[i] = R[2, 0] * lx[i] + R[2, 1] * ly[i] + R[2, 2] * lz[i]
        for k in range(targets.shape[0]):
            rx = targets[k, 0]
            ry = targets[k, 1]
            rz = targets[k, 2]
            ax = 0.0
            ay = 0.0
            az = 0.0
            for j in range(nl):  # inner loop over the wire points: contiguous, vectorised
                u = lam[j]
                wu = lw[j] * u
                px = u * rx
                py = u * ry
                pz = u * rz
                for i in range(n):
                    ex = px - sx[i]
                    ey = py - sy[i]
                    ez = pz - sz[i]
                    d2 = ex * ex + ey * ey + ez * ez
                    c = wu / (d2 * math.sqrt(d2))
                    ax += c * (dy[i] * ez - dz[i] * ey)
                    ay += c * (dz[i] * ex - dx[i] * ez)
                    az += c * (dx[i] * ey - dy[i] * ex)
            out[p, k, 0] = _MU0_4PI * (ry * az - rz * ay)
            out[p, k, 1] = _MU0_4PI * (rz * ax - rx * az)
            out[p, k, 2] = _MU0_4PI * (rx * ay - ry * ax)


@jit()
def _trilinear_dot(grid, origin, step, sx, sy, sz, dx, dy, dz, acc):
    """Add the trilinear U_d(q)·dl (d = 0..2) of ``grid`` to ``acc``; False (nothing added) if q is off the grid."""
    fx = (sx - origin[0]) / step
    fy = (sy - origin[1]) / step
    fz = (sz - origin[2]) / step
    ix = int(math.floor(fx))
    iy = int(math.floor(fy))
    iz = int(math.floor(fz))
    if ix < 0 or iy < 0 or iz < 0 or ix > grid.shape[0] - 2 or iy > grid.shape[1] - 2 or iz > grid.shape[2] - 2:
        return False
    tx = fx - ix
    ty = fy - iy
    tz = fz - iz
    for a in range(2):
        wa = tx if a == 1 else 1.0 - tx
        for b in range(2):
            wb = wa * (ty if b == 1 else 1.0 - ty)
            for c in range(2):
                w = wb * (tz if c == 1 else 1.0 - tz)
                g = grid[ix + a, iy + b, iz + c]
                acc[0] += w * (g[0, 0] * dx + g[0, 1] * dy + g[0, 2] * dz)
                acc[1] += w * (g[1, 0] * dx + g[1, 1] * dy + g[1, 2] * dz)
                acc[2] += w * (g[2, 0] * dx + g[2, 1] * dy + g[2, 2] * dz)
    return True


@jit(parallel=True)
def grid_poses(qx, qy, qz, lx, ly, lz, rot, trans, target, fine, fine_origin, fine_step,
               coarse, coarse_origin, coarse_step, out, outside):
    """E·d per A/s (P, 3) for d = x, y, z at ``target`` (3,).  ``fine`` and ``coarse`` (nx, ny, nz, 3 directions,
    3 components) tabulate U_d from ``*_origin`` (3,) with spacing ``*_step`` (m); a wire point uses the fine grid
    where it covers it, else the coarse one.  ``outside`` (P,) counts wire points on neither (left out)."""
    n = qx.shape[0]
    for p in prange(rot.shape[0]):
        R = rot[p]
        prim = np.zeros(3)
        rec = np.zeros(3)
        off = 0
        for i in range(n):
            sx = R[0, 0] * qx[i] + R[0, 1] * qy[i] + R[0, 2] * qz[i] + trans[p, 0]
            sy = R[1, 0] * qx[i] + R[1, 1] * qy[i] + R[1, 2] * qz[i] + trans[p, 1]
            sz = R[2, 0] * qx[i] + R[2, 1] * qy[i] + R[2, 2] * qz[i] + trans[p, 2]
            dx = R[0, 0] * lx[i] + R[0, 1] * ly[i] + R[0, 2] * lz[i]
            dy = R[1, 0] * lx[i] + R[1, 1] * ly[i] + R[1, 2] * lz[i]
            dz = R[2, 0] * lx[i] + R[2, 1] * ly[i] + R[2, 2] * lz[i]
            # primary part, exact: μ0/4π dl/|r_t − q|
            ex = target[0] - sx
            ey = target[1] - sy
            ez = target[2] - sz
            inv = _MU0_4PI / math.sqrt(ex * ex + ey * ey + ez * ez)
            prim[0] += dx * inv
            prim[1] += dy * inv
            prim[2] += dz * inv
            if not _trilinear_dot(fine, fine_origin, fine_step, sx, sy, sz, dx, dy, dz, rec):
                if not _trilinear_dot(coarse, coarse_origin, coarse_step, sx, sy, sz, dx, dy, dz, rec):
                    off += 1
        for d in range(3):
            out[p, d] = rec[d] - prim[d]
        outside[p] = off


@jit(parallel=True)
def grid_potential(gx, gy, gz, nx_, ny_, nz_, w, out):
    """``out[g, m] = μ0/4π Σ_n w[m, n] / |g − x_n|`` for grid points (G,) and nodes (N,); ``w`` (9, N)."""
    nn = nx_.shape[0]
    for g in prange(gx.shape[0]):
        px = gx[g]
        py = gy[g]
        pz = gz[g]
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        a5 = 0.0
        a6 = 0.0
        a7 = 0.0
        a8 = 0.0
        for n in range(nn):  # contiguous over the nodes: vectorised
            ex = px - nx_[n]
            ey = py - ny_[n]
            ez = pz - nz_[n]
            inv = 1.0 / math.sqrt(max(ex * ex + ey * ey + ez * ez, 1e-30))
            a0 += w[0, n] * inv
            a1 += w[1, n] * inv
            a2 += w[2, n] * inv
            a3 += w[3, n] * inv
            a4 += w[4, n] * inv
            a5 += w[5, n] * inv
            a6 += w[6, n] * inv
            a7 += w[7, n] * inv
            a8 += w[8, n] * inv
        out[g, 0] = _MU0_4PI * a0
        out[g, 1] = _MU0_4PI * a1
        out[g, 2] = _MU0_4PI * a2
        out[g, 3] = _MU0_4PI * a3
        out[g, 4] = _MU0_4PI * a4
        out[g, 5] = _MU0_4PI * a5
        out[g, 6] = _MU0_4PI * a6
        out[g, 7] = _MU0_4PI * a7
        out[g, 8] = _MU0_4PI * a8
