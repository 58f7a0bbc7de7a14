"""Numba kernels: vector potential and flux density of straight wires and magnetic dipoles.

Tier one of three (see STYLE.md): no checks, contiguous float64 in, preallocated out.
Coordinates come as separate x, y, z arrays (measured ~10x faster than (n, 3) rows).
All results are per ampere of coil current and *without* the factor mu0/(4 pi); the
validated layer (:mod:`efield.physics.biot_savart`) applies it.

Wires use the *chain layout* built by :mod:`efield._wires`: nodes ``0..m`` and segment ``k``
runs from node ``k`` to node ``k + 1`` (gaps between separate paths are segments of zero
weight).  Each distance to a node is then computed once per segment, not twice per path.

Straight segment, vector potential (exact)::

    A = w u ln((S + L) / (S - L)) = 2 w u atanh(t),   S = |p - a| + |p - b|,  t = L / S

``atanh`` is summed as its Taylor series ``t (1 + t²/3 + t⁴/5 + ...)`` up to ``t^19``
when ``t <= 0.15`` (truncation below 2e-18 relative, no ``log`` call, so the loop
vectorises); the few pairs with ``t > 0.15`` (a point within about three segment lengths of
the wire) get the exact ``log((1 + t)/(1 − t))`` in a second, scalar pass over the stored t.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit, prange

#: above this t = L/S the series is replaced by the exact logarithm.
T_SERIES_MAX = 0.15
#: points per parallel work item (each item owns one scratch buffer)
_CHUNK = 64


@jit()
def _atanh2_series(t):
    """2·atanh(t) for 0 <= t <= 0.15 by its Taylor series (relative error < 2e-18)."""
    t2 = t * t
    p = 1.0 / 19.0
    p = p * t2 + 1.0 / 17.0
    p = p * t2 + 1.0 / 15.0
    p = p * t2 + 1.0 / 13.0
    p = p * t2 + 1.0 / 11.0
    p = p * t2 + 1.0 / 9.0
    p = p * t2 + 1.0 / 7.0
    p = p * t2 + 1.0 / 5.0
    p = p * t2 + 1.0 / 3.0
    p = p * t2 + 1.0
    return 2.0 * t * p


@jit()
def _segments_a_at(x, y, z, nx, ny, nz, length, cx, cy, cz, tbuf):
    """Sum over chain segments of w u 2 atanh(L/S) at one point (no mu0/4pi).

    ``tbuf`` (m + 1,) is scratch space: a first pass stores the distance to every chain node (one
    square root per node, shared by the two segments that meet there), the second, vectorised pass
    overwrites it with t = L/S and sums the series terms, and a third only reads it, taking the exact
    logarithm for the rare pairs with t > T_SERIES_MAX.
    """
    m = length.shape[0]
    for k in range(m + 1):
        dx = x - nx[k]
        dy = y - ny[k]
        dz = z - nz[k]
        tbuf[k] = math.sqrt(dx * dx + dy * dy + dz * dz)
    ax = 0.0
    ay = 0.0
    az = 0.0
    n_near = 0
    for k in range(m):
        t = length[k] / (tbuf[k] + tbuf[k + 1])
        tbuf[k] = t
        near = t > T_SERIES_MAX
        f = 0.0 if near else _atanh2_series(t)
        n_near += 1 if near else 0
        ax += cx[k] * f
        ay += cy[k] * f
        az += cz[k] * f
    if n_near:
        for k in range(m):
            t = tbuf[k]
            if t > T_SERIES_MAX:
                f = math.log((1.0 + t) / (1.0 - t))
                ax += cx[k] * f
                ay += cy[k] * f
                az += cz[k] * f
    return ax, ay, az


@jit()
def _segments_b_at(x, y, z, nx, ny, nz, w):
    """Sum over chain segments of w (a×b)(|a|+|b|)/(|a||b|(|a||b|+a·b)) at one point."""
    m = w.shape[0]
    bx = 0.0
    by = 0.0
    bz = 0.0
    for k in range(m):
        ax_ = x - nx[k]
        ay_ = y - ny[k]
        az_ = z - nz[k]
        bx_ = x - nx[k + 1]
        by_ = y - ny[k + 1]
        bz_ = z - nz[k + 1]
        ra = math.sqrt(ax_ * ax_ + ay_ * ay_ + az_ * az_)
        rb = math.sqrt(bx_ * bx_ + by_ * by_ + bz_ * bz_)
        rab = ra * rb
        den = rab * (rab + ax_ * bx_ + ay_ * by_ + az_ * bz_)
        # den == 0 only on the segment itself (excluded by the validated layer) or for a
        # zero-weight gap; 1e-300 keeps 0 * (1 / tiny) finite there.
        f = w[k] * (ra + rb) / (den + 1e-300)
        bx += f * (ay_ * bz_ - az_ * by_)
        by += f * (az_ * bx_ - ax_ * bz_)
        bz += f * (ax_ * by_ - ay_ * bx_)
    return bx, by, bz


@jit()
def _dipoles_a_at(x, y, z, qx, qy, qz, mx, my, mz):
    """Sum of m × R / |R|³ at one point (no mu0/4pi)."""
    ax = 0.0
    ay = 0.0
    az = 0.0
    for k in range(qx.shape[0]):
        rx = x - qx[k]
        ry = y - qy[k]
        rz = z - qz[k]
        r2 = rx * rx + ry * ry + rz * rz
        inv3 = 1.0 / (r2 * math.sqrt(r2))
        ax += (my[k] * rz - mz[k] * ry) * inv3
        ay += (mz[k] * rx - mx[k] * rz) * inv3
        az += (mx[k] * ry - my[k] * rx) * inv3
    return ax, ay, az


@jit()
def _dipoles_b_at(x, y, z, qx, qy, qz, mx, my, mz):
    """Sum of (3 R (m·R) / |R|² − m) / |R|³ at one point (no mu0/4pi)."""
    bx = 0.0
    by = 0.0
    bz = 0.0
    for k in range(qx.shape[0]):
        rx = x - qx[k]
        ry = y - qy[k]
        rz = z - qz[k]
        r2 = rx * rx + ry * ry + rz * rz
        inv = 1.0 / r2
        inv3 = inv / math.sqrt(r2)
        mr3 = 3.0 * (mx[k] * rx + my[k] * ry + mz[k] * rz) * inv
        bx += (mr3 * rx - mx[k]) * inv3
        by += (mr3 * ry - my[k]) * inv3
        bz += (mr3 * rz - mz[k]) * inv3
    return bx, by, bz


@jit(parallel=True)
def vector_potential(px, py, pz, nx, ny, nz, length, cx, cy, cz, qx, qy, qz, mx, my, mz, ox, oy, oz):
    """A/(mu0/4pi) per ampere of wires (chain layout) and dipoles at points; writes ox, oy, oz."""
    n = px.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        tbuf = np.empty(length.shape[0] + 1)
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            ax, ay, az = _segments_a_at(px[i], py[i], pz[i], nx, ny, nz, length, cx, cy, cz, tbuf)
            dx, dy, dz = _dipoles_a_at(px[i], py[i], pz[i], qx, qy, qz, mx, my, mz)
            ox[i] = ax + dx
            oy[i] = ay + dy
            oz[i] = az + dz


@jit(parallel=True)
def flux_density(px, py, pz, nx, ny, nz, w, qx, qy, qz, mx, my, mz, ox, oy, oz):
    """B/(mu0/4pi) per ampere of wires (chain layout) and dipoles at points; writes ox, oy, oz."""
    for i in prange(px.shape[0]):
        bx, by, bz = _segments_b_at(px[i], py[i], pz[i], nx, ny, nz, w)
        dx, dy, dz = _dipoles_b_at(px[i], py[i], pz[i], qx, qy, qz, mx, my, mz)
        ox[i] = bx + dx
        oy[i] = by + dy
        oz[i] = bz + dz


@jit(parallel=True)
def sphere_poincare(px, py, pz, c0, c1, c2, rule_index, rule_nodes, rule_weights,
                    nx, ny, nz, w, qx, qy, qz, mx, my, mz, ox, oy, oz):
    """r × ∫₀¹ λ B(c + λ r) dλ per ampere (no mu0/4pi), r = p − c, by Gauss–Legendre.

    ``rule_index[i]`` selects the row of ``rule_nodes``/``rule_weights`` (nodes on [0, 1],
    unused entries have weight 0) used for point ``i``; the caller picks it from the
    distance ratio between the nearest source and the point (see :mod:`efield.physics.sphere`).
    """
    nmax = rule_nodes.shape[1]
    for i in prange(px.shape[0]):
        rx = px[i] - c0
        ry = py[i] - c1
        rz = pz[i] - c2
        sx = 0.0
        sy = 0.0
        sz = 0.0
        row = rule_index[i]
        for q in range(nmax):
            wq = rule_weights[row, q]
            if wq == 0.0:
                break
            lam = rule_nodes[row, q]
            x = c0 + lam * rx
            y = c1 + lam * ry
            z = c2 + lam * rz
            bx, by, bz = _segments_b_at(x, y, z, nx, ny, nz, w)
            dx, dy, dz = _dipoles_b_at(x, y, z, qx, qy, qz, mx, my, mz)
            f = wq * lam
            sx += f * (bx + dx)
            sy += f * (by + dy)
            sz += f * (bz + dz)
        ox[i] = ry * sz - rz * sy
        oy[i] = rz * sx - rx * sz
        oz[i] = rx * sy - ry * sx


@jit(parallel=True)
def sphere_dipoles_hvh(px, py, pz, c0, c1, c2, qx, qy, qz, mx, my, mz, ox, oy, oz):
    """Heller & van Hulsteyn (1992) closed form: E/(−dI/dt mu0/4pi) of dipoles in a sphere.

    With r the point and r0 the dipole, both relative to the sphere centre, a = r0 − r:
    F = |a| (|r0||a| + r0·a),  ∇F = (|a|²/|r0| + a·r0/|a| + 2|a| + 2|r0|) r0 − (|a| + 2|r0| + a·r0/|a|) r,
    result = (F (r × m) − (m·∇F)(r × r0)) / F², summed over dipoles.
    """
    for i in prange(px.shape[0]):
        rx = px[i] - c0
        ry = py[i] - c1
        rz = pz[i] - c2
        ex = 0.0
        ey = 0.0
        ez = 0.0
        for k in range(qx.shape[0]):
            r0x = qx[k] - c0
            r0y = qy[k] - c1
            r0z = qz[k] - c2
            vx = r0x - rx
            vy = r0y - ry
            vz = r0z - rz
            a = math.sqrt(vx * vx + vy * vy + vz * vz)
            r0 = math.sqrt(r0x * r0x + r0y * r0y + r0z * r0z)
            ar0 = vx * r0x + vy * r0y + vz * r0z
            big_f = a * (r0 * a + ar0)
            g0 = a * a / r0 + ar0 / a + 2.0 * a + 2.0 * r0
            g1 = a + 2.0 * r0 + ar0 / a
            mgf = g0 * (mx[k] * r0x + my[k] * r0y + mz[k] * r0z) - g1 * (mx[k] * rx + my[k] * ry + mz[k] * rz)
            inv_f2 = 1.0 / (big_f * big_f)
            # r × m and r × r0
            cmx = ry * mz[k] - rz * my[k]
            cmy = rz * mx[k] - rx * mz[k]
            cmz = rx * my[k] - ry * mx[k]
            crx = ry * r0z - rz * r0y
            cry = rz * r0x - rx * r0z
            crz = rx * r0y - ry * r0x
            ex += (big_f * cmx - mgf * crx) * inv_f2
            ey += (big_f * cmy - mgf * cry) * inv_f2
            ez += (big_f * cmz - mgf * crz) * inv_f2
        ox[i] = ex
        oy[i] = ey
        oz[i] = ez


def empty_like_points(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(n), np.empty(n), np.empty(n)


@jit(parallel=True)
def segment_distance(px, py, pz, ax, ay, az, bx, by, bz, out_dist, out_index):
    """Minimum distance (m) from each point to the segments a→b, and the index of the nearest."""
    m = ax.shape[0]
    for i in prange(px.shape[0]):
        best = np.inf
        arg = -1
        for k in range(m):
            dx = bx[k] - ax[k]
            dy = by[k] - ay[k]
            dz = bz[k] - az[k]
            rx = px[i] - ax[k]
            ry = py[i] - ay[k]
            rz = pz[i] - az[k]
            l2 = dx * dx + dy * dy + dz * dz
            t = (rx * dx + ry * dy + rz * dz) / l2 if l2 > 0.0 else 0.0
            t = min(max(t, 0.0), 1.0)
            ex = rx - t * dx
            ey = ry - t * dy
            ez = rz - t * dz
            d2 = ex * ex + ey * ey + ez * ez
            if d2 < best:
                best = d2
                arg = k
        out_dist[i] = math.sqrt(best)
        out_index[i] = arg
