"""Plain-NumPy twins of :mod:`efield._kernels` (same inputs, same outputs, no numba).

Written independently of the numba versions where that adds a check: the segment potential
here uses ``log`` of the exact ratio instead of the series, the segment B the textbook
``(cos θ1 − cos θ2) / d`` form.  Work is chunked over points to bound memory.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 256


def _chunks(n: int):
    for i in range(0, n, _CHUNK):
        yield slice(i, min(n, i + _CHUNK))


def _segment_geometry(p, lay):
    nodes = np.stack([lay.nx, lay.ny, lay.nz], axis=1)
    a = p[:, None, :] - nodes[None, :-1, :]
    b = p[:, None, :] - nodes[None, 1:, :]
    return a, b


def vector_potential(px, py, pz, nx, ny, nz, length, cx, cy, cz, qx, qy, qz, mx, my, mz, ox, oy, oz):
    p_all = np.stack([px, py, pz], axis=1)
    nodes = np.stack([nx, ny, nz], axis=1)
    c = np.stack([cx, cy, cz], axis=1)
    q = np.stack([qx, qy, qz], axis=1)
    m = np.stack([mx, my, mz], axis=1)
    out = np.zeros_like(p_all)
    for sl in _chunks(len(p_all)):
        p = p_all[sl]
        if len(length):
            ra = np.linalg.norm(p[:, None, :] - nodes[None, :-1], axis=2)
            rb = np.linalg.norm(p[:, None, :] - nodes[None, 1:], axis=2)
            s = ra + rb
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(length > 0, np.log((s + length) / (s - length)), 0.0)
            out[sl] += f @ c
        if len(q):
            r = p[:, None, :] - q[None]
            r3 = np.linalg.norm(r, axis=2) ** 3
            out[sl] += (np.cross(m[None], r) / r3[..., None]).sum(axis=1)
    ox[:], oy[:], oz[:] = out.T


def _b_segments(p, nodes, w):
    """B/(mu0/4pi) per ampere: |B| = (cos θ1 − cos θ2)/d along u × (p − a)/d."""
    a = nodes[:-1]
    d = nodes[1:] - a
    length = np.linalg.norm(d, axis=1)
    keep = (length > 0) & (w != 0)
    a, d, length, w = a[keep], d[keep], length[keep], w[keep]
    u = d / length[:, None]
    ra = p[:, None, :] - a[None]                      # (n, m, 3)
    along = np.einsum("nmk,mk->nm", ra, u)
    perp = ra - along[..., None] * u[None]
    dist2 = np.einsum("nmk,nmk->nm", perp, perp)
    rb_along = along - length[None]
    cos1 = along / np.sqrt(along**2 + dist2)
    cos2 = rb_along / np.sqrt(rb_along**2 + dist2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(dist2 > 0, (cos1 - cos2) / dist2, 0.0)
    direction = np.cross(u[None], perp)               # |.| = d
    return np.einsum("nm,nmk->nk", mag * w[None], direction)


def _b_dipoles(p, q, m):
    r = p[:, None, :] - q[None]
    r2 = np.einsum("nmk,nmk->nm", r, r)
    mr = np.einsum("mk,nmk->nm", m, r)
    return ((3 * mr / r2)[..., None] * r - m[None]) / (r2 ** 1.5)[..., None]


def flux_density(px, py, pz, nx, ny, nz, w, qx, qy, qz, mx, my, mz, ox, oy, oz):
    p_all = np.stack([px, py, pz], axis=1)
    nodes = np.stack([nx, ny, nz], axis=1)
    q = np.stack([qx, qy, qz], axis=1)
    m = np.stack([mx, my, mz], axis=1)
    out = np.zeros_like(p_all)
    for sl in _chunks(len(p_all)):
        p = p_all[sl]
        if len(w):
            out[sl] += _b_segments(p, nodes, w)
        if len(q):
            out[sl] += _b_dipoles(p, q, m).sum(axis=1)
    ox[:], oy[:], oz[:] = out.T


def sphere_poincare(px, py, pz, c0, c1, c2, rule_index, rule_nodes, rule_weights,
                    nx, ny, nz, w, qx, qy, qz, mx, my, mz, ox, oy, oz):
    centre = np.array([c0, c1, c2])
    r = np.stack([px, py, pz], axis=1) - centre
    acc = np.zeros_like(r)
    for row in np.unique(rule_index):
        sel = np.flatnonzero(rule_index == row)
        for lam, wq in zip(rule_nodes[row], rule_weights[row]):
            if wq == 0.0:
                break
            pts = centre + lam * r[sel]
            b = [np.empty(len(sel)) for _ in range(3)]
            flux_density(pts[:, 0], pts[:, 1], pts[:, 2], nx, ny, nz, w, qx, qy, qz, mx, my, mz, *b)
            acc[sel] += wq * lam * np.stack(b, axis=1)
    out = np.cross(r, acc)
    ox[:], oy[:], oz[:] = out.T


def sphere_dipoles_hvh(px, py, pz, c0, c1, c2, qx, qy, qz, mx, my, mz, ox, oy, oz):
    centre = np.array([c0, c1, c2])
    r_all = np.stack([px, py, pz], axis=1) - centre
    r0 = np.stack([qx, qy, qz], axis=1) - centre
    m = np.stack([mx, my, mz], axis=1)
    out = np.zeros_like(r_all)
    n0 = np.linalg.norm(r0, axis=1)
    for sl in _chunks(len(r_all)):
        r = r_all[sl][:, None, :]
        a_vec = r0[None] - r
        a = np.linalg.norm(a_vec, axis=2)
        ar0 = np.einsum("nmk,mk->nm", a_vec, r0)
        big_f = a * (n0 * a + ar0)
        grad_f = (a**2 / n0 + ar0 / a + 2 * a + 2 * n0)[..., None] * r0[None] - (a + 2 * n0 + ar0 / a)[..., None] * r
        mgf = np.einsum("mk,nmk->nm", m, grad_f)
        term = big_f[..., None] * np.cross(r, m[None]) - mgf[..., None] * np.cross(r, r0[None])
        out[sl] = (term / (big_f**2)[..., None]).sum(axis=1)
    ox[:], oy[:], oz[:] = out.T


def segment_distance(px, py, pz, ax, ay, az, bx, by, bz, out_dist, out_index):
    points = np.stack([px, py, pz], axis=1)
    a = np.stack([ax, ay, az], axis=1)
    d = np.stack([bx, by, bz], axis=1) - a
    l2 = np.einsum("ij,ij->i", d, d)
    for sl in _chunks(len(points)):
        p = points[sl, None, :] - a[None]
        t = np.clip(np.divide(np.einsum("nmk,mk->nm", p, d), l2, out=np.zeros((len(p), len(a))), where=l2 > 0), 0, 1)
        dist = np.linalg.norm(p - t[..., None] * d[None], axis=2)
        out_index[sl] = dist.argmin(axis=1)
        out_dist[sl] = dist.min(axis=1)
