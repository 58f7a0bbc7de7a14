"""Numba kernels of the tetrahedral FEM (tier one: no checks, contiguous arrays, preallocated out).

Lagrange P2 on a tetrahedron in barycentric coordinates λ (gradients ``g_k = ∇λ_k``):
vertex k: ``λ_k(2λ_k − 1)`` with gradient ``(4λ_k − 1) g_k``; edge (i, j): ``4 λ_i λ_j`` with gradient
``4 (λ_i g_j + λ_j g_i)``.  Edge order within a tetrahedron: :data:`EDGES`.  Integrals of products of
two gradients (degree 2) use the 4-point rule exact for degree 2 (weights V/4).

Plain-NumPy twins live in :mod:`efield._fem_numpy`.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, prange

EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]], dtype=np.int64)
_QA, _QB = 0.5854101966249685, 0.1381966011250105
#: quadrature points (4, 4) in barycentric coordinates, weights 1/4 each (times the volume)
QUAD = np.full((4, 4), _QB) + np.eye(4) * (_QA - _QB)


@jit()
def _p2_grads(lam, g, out):
    """Gradients (10, 3) of the 10 P2 basis functions at barycentric point ``lam`` (4,)."""
    for k in range(4):
        c = 4.0 * lam[k] - 1.0
        for d in range(3):
            out[k, d] = c * g[k, d]
    for e in range(6):
        i = EDGES[e, 0]
        j = EDGES[e, 1]
        for d in range(3):
            out[4 + e, d] = 4.0 * (lam[i] * g[j, d] + lam[j] * g[i, d])


@jit(parallel=True)
def local_stiffness_p2(grads, vol, sigma, out):
    """``out[t, a, b] = ∫_t σ ∇φ_a·∇φ_b`` for P2; grads (m,4,3), vol (m,), sigma (m,3,3), out (m,10,10)."""
    quad = QUAD
    for t in prange(grads.shape[0]):
        G = np.empty((10, 3))
        SG = np.empty((10, 3))
        for a in range(10):
            for b in range(10):
                out[t, a, b] = 0.0
        w = 0.25 * vol[t]
        for q in range(4):
            _p2_grads(quad[q], grads[t], G)
            for a in range(10):
                for d in range(3):
                    SG[a, d] = sigma[t, d, 0] * G[a, 0] + sigma[t, d, 1] * G[a, 1] + sigma[t, d, 2] * G[a, 2]
            for a in range(10):
                for b in range(a, 10):
                    v = w * (G[a, 0] * SG[b, 0] + G[a, 1] * SG[b, 1] + G[a, 2] * SG[b, 2])
                    out[t, a, b] += v
        for a in range(10):
            for b in range(a + 1, 10):
                out[t, b, a] = out[t, a, b]


@jit(parallel=True)
def local_stiffness_p1(grads, vol, sigma, out):
    """``out[t, a, b] = V σ g_a·g_b`` for P1; grads (m,4,3), vol (m,), sigma (m,3,3), out (m,4,4)."""
    for t in prange(grads.shape[0]):
        for a in range(4):
            for b in range(4):
                s = 0.0
                for d in range(3):
                    for c in range(3):
                        s += grads[t, a, d] * sigma[t, d, c] * grads[t, b, c]
                out[t, a, b] = vol[t] * s


@jit(parallel=True)
def local_rhs(order, grads, vol, sigma, a_vert, tets, out):
    """``out[t, a] = ∫_t σ a_h·∇φ_a`` with ``a_h`` the P1 interpolant of ``a_vert`` (n,3); out (m, 4|10).

    Tetrahedra are taken in chunks, each with its own scratch arrays (allocated once per chunk, not
    once per tetrahedron)."""
    quad = QUAD
    m = grads.shape[0]
    n_chunks = max(1, min(256, m // 1024))
    for c in prange(n_chunks):
        G = np.empty((10, 3))
        aq = np.empty(3)
        sa = np.empty(3)
        nb = out.shape[1]
        for t in range((c * m) // n_chunks, ((c + 1) * m) // n_chunks):
            for a in range(nb):
                out[t, a] = 0.0
            nq = 4 if order == 2 else 1
            for q in range(nq):
                for d in range(3):
                    s = 0.0
                    for k in range(4):
                        lam = quad[q, k] if order == 2 else 0.25
                        s += lam * a_vert[tets[t, k], d]
                    aq[d] = s
                for d in range(3):
                    sa[d] = sigma[t, d, 0] * aq[0] + sigma[t, d, 1] * aq[1] + sigma[t, d, 2] * aq[2]
                w = vol[t] / nq
                if order == 2:
                    _p2_grads(quad[q], grads[t], G)
                    for a in range(10):
                        out[t, a] += w * (sa[0] * G[a, 0] + sa[1] * G[a, 1] + sa[2] * G[a, 2])
                else:
                    for a in range(4):
                        out[t, a] += w * (sa[0] * grads[t, a, 0] + sa[1] * grads[t, a, 1] + sa[2] * grads[t, a, 2])


@jit(parallel=True, gather=True)
def rhs_block(order, grads, vol, sigma, a_vert, tets, dofs, out):
    """Unscaled load vectors of ``k`` fields at once: ``out[c, i, j]`` accumulates ``∫_t σ a_h^j·∇φ_i`` over
    the tets of chunk ``c`` (``a_h^j`` the P1 interpolant of ``a_vert[:, :, j]``); a_vert (n, 3, k), dofs
    (m, 4|10), out (n_chunks, n_dofs, k) zeroed by the caller, who sums it over the chunks.

    One pass over the tetrahedra for the whole block (geometry and basis gradients read once for ``k``
    fields), each chunk scattering into its own accumulator (no atomics, no per-tet local array)."""
    quad = QUAD
    m = grads.shape[0]
    n_chunks = out.shape[0]
    k = a_vert.shape[2]
    nb = dofs.shape[1]
    nq = 4 if order == 2 else 1
    for c in prange(n_chunks):
        G = np.empty((10, 3))
        aq = np.empty((3, k))
        sa = np.empty((3, k))
        for t in range((c * m) // n_chunks, ((c + 1) * m) // n_chunks):
            w = vol[t] / nq
            for q in range(nq):
                for d in range(3):
                    for j in range(k):
                        aq[d, j] = 0.0
                for v in range(4):
                    lam = quad[q, v] if order == 2 else 0.25
                    node = tets[t, v]
                    for d in range(3):
                        for j in range(k):
                            aq[d, j] += lam * a_vert[node, d, j]
                for d in range(3):
                    for j in range(k):
                        sa[d, j] = w * (sigma[t, d, 0] * aq[0, j] + sigma[t, d, 1] * aq[1, j] + sigma[t, d, 2] * aq[2, j])
                if order == 2:
                    _p2_grads(quad[q], grads[t], G)
                else:
                    for a in range(4):
                        for d in range(3):
                            G[a, d] = grads[t, a, d]
                for a in range(nb):
                    row = dofs[t, a]
                    for j in range(k):
                        out[c, row, j] += sa[0, j] * G[a, 0] + sa[1, j] * G[a, 1] + sa[2, j] * G[a, 2]


@jit(parallel=True)
def csr_row_counts(dofs, adj_ptr, adj_idx, ndof, nchunk, counts):
    """Number of distinct columns of each row (dof) of the element-coupling graph; counts (ndof,)."""
    k = dofs.shape[1]
    size = (ndof + nchunk - 1) // nchunk
    for c in prange(nchunk):
        marker = np.full(ndof, -1, dtype=np.int64)
        for r in range(c * size, min(ndof, (c + 1) * size)):
            n = 0
            for p in range(adj_ptr[r], adj_ptr[r + 1]):
                t = adj_idx[p] // k
                for b in range(k):
                    col = dofs[t, b]
                    if marker[col] != r:
                        marker[col] = r
                        n += 1
            counts[r] = n


@jit()
def adjacency(flat, ndof, ptr, idx):
    """Counting sort of the flattened dof table: ``idx[ptr[r]:ptr[r+1]]`` are the positions of dof r."""
    for r in range(ndof + 1):
        ptr[r] = 0
    for p in range(flat.shape[0]):
        ptr[flat[p] + 1] += 1
    for r in range(ndof):
        ptr[r + 1] += ptr[r]
    fill = ptr[:-1].copy()
    for p in range(flat.shape[0]):
        r = flat[p]
        idx[fill[r]] = p
        fill[r] += 1


@jit(parallel=True)
def csr_fill_scatter(dofs, local, adj_ptr, adj_idx, ndof, nchunk, indptr, indices, data):
    """Sorted column indices of each row into ``indices`` and the summed ``local`` (m,k,k) into ``data``.

    Rows are split into ``nchunk`` contiguous chunks; each chunk owns its rows and a dense
    column → position map, so no two threads write the same entry.
    """
    k = dofs.shape[1]
    size = (ndof + nchunk - 1) // nchunk
    for c in prange(nchunk):
        marker = np.full(ndof, -1, dtype=np.int64)
        where = np.empty(ndof, dtype=np.int64)
        for r in range(c * size, min(ndof, (c + 1) * size)):
            lo = indptr[r]
            hi = indptr[r + 1]
            n = lo
            for p in range(adj_ptr[r], adj_ptr[r + 1]):
                t = adj_idx[p] // k
                for b in range(k):
                    col = dofs[t, b]
                    if marker[col] != r:
                        marker[col] = r
                        indices[n] = col
                        n += 1
            indices[lo:hi] = np.sort(indices[lo:hi])
            for j in range(lo, hi):
                where[indices[j]] = j
                data[j] = 0.0
            for p in range(adj_ptr[r], adj_ptr[r + 1]):
                t = adj_idx[p] // k
                a = adj_idx[p] % k
                for b in range(k):
                    data[where[dofs[t, b]]] += local[t, a, b]


@jit(parallel=True, gather=True)
def spmv(indptr, indices, data, x, y):
    """``y = A x`` for a CSR matrix (row-parallel)."""
    for r in prange(indptr.shape[0] - 1):
        s = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            s += data[j] * x[indices[j]]
        y[r] = s


@jit()
def _chunks_jit(n):
    return max(1, min(64, n // 4096))


@jit(parallel=True, gather=True)
def spmm_axpy(indptr, indices, data, X, B, sign, Y):
    """``Y = B + sign · A X`` for a CSR matrix and blocks (n, k) C-ordered, k a multiple of 8
    (``sign = −1``: the residual; ``sign = 0``: ``Y = A X``, ``B`` unread).  The matrix is read once per
    8 columns, whose sums stay in registers."""
    for r in prange(indptr.shape[0] - 1):
        for c in range(0, X.shape[1], 8):
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
            for j in range(indptr[r], indptr[r + 1]):
                v = data[j]
                q = indices[j]
                a0 += v * X[q, c]
                a1 += v * X[q, c + 1]
                a2 += v * X[q, c + 2]
                a3 += v * X[q, c + 3]
                a4 += v * X[q, c + 4]
                a5 += v * X[q, c + 5]
                a6 += v * X[q, c + 6]
                a7 += v * X[q, c + 7]
            if sign != 0.0:
                a0 = B[r, c] + sign * a0
                a1 = B[r, c + 1] + sign * a1
                a2 = B[r, c + 2] + sign * a2
                a3 = B[r, c + 3] + sign * a3
                a4 = B[r, c + 4] + sign * a4
                a5 = B[r, c + 5] + sign * a5
                a6 = B[r, c + 6] + sign * a6
                a7 = B[r, c + 7] + sign * a7
            Y[r, c] = a0
            Y[r, c + 1] = a1
            Y[r, c + 2] = a2
            Y[r, c + 3] = a3
            Y[r, c + 4] = a4
            Y[r, c + 5] = a5
            Y[r, c + 6] = a6
            Y[r, c + 7] = a7


@jit(parallel=True)
def block_scale_add(X, dinv, s, R, Y):
    """``Y = X + s · dinv[:, None] · R`` for blocks (n, k) (a Jacobi step; ``X`` may be ``Y``)."""
    k = R.shape[1]
    for r in prange(R.shape[0]):
        f = s * dinv[r]
        for c in range(k):
            Y[r, c] = X[r, c] + f * R[r, c]


@jit(parallel=True)
def block_scale(dinv, s, R, Y):
    """``Y = s · dinv[:, None] · R`` for blocks (n, k)."""
    k = R.shape[1]
    for r in prange(R.shape[0]):
        f = s * dinv[r]
        for c in range(k):
            Y[r, c] = f * R[r, c]


@jit(parallel=True)
def block_dot(U, V):
    """Column dot products (k,) of blocks ``U``, ``V`` (n, k)."""
    n, k = U.shape
    m = _chunks_jit(n)
    part = np.zeros((m, k))
    for g in prange(m):
        for r in range((g * n) // m, ((g + 1) * n) // m):
            for c in range(k):
                part[g, c] += U[r, c] * V[r, c]
    return part.sum(axis=0)


@jit(parallel=True)
def block_cg_update(X, R, P, AP, alpha):
    """``X += alpha P``, ``R −= alpha AP`` (alpha (k,) per column); returns the column norms² of ``R``."""
    n, k = X.shape
    m = _chunks_jit(n)
    part = np.zeros((m, k))
    for g in prange(m):
        for r in range((g * n) // m, ((g + 1) * n) // m):
            for c in range(k):
                X[r, c] += alpha[c] * P[r, c]
                v = R[r, c] - alpha[c] * AP[r, c]
                R[r, c] = v
                part[g, c] += v * v
    return part.sum(axis=0)


@jit(parallel=True)
def block_direction(P, Z, beta):
    """``P = Z + beta P`` (beta (k,) per column)."""
    k = P.shape[1]
    for r in prange(P.shape[0]):
        for c in range(k):
            P[r, c] = Z[r, c] + beta[c] * P[r, c]


@jit(parallel=True, gather=True)
def gauss_seidel_block(indptr, indices, data, X, B, forward, n_groups):
    """One Gauss–Seidel sweep (``forward`` or backward over the rows) on every column of ``X`` (n, k) in
    place, right-hand sides ``B`` (n, k); the columns are split into ``n_groups`` run in parallel.  Per
    column it is the same sweep as pyamg's point Gauss–Seidel."""
    n = indptr.shape[0] - 1
    k = X.shape[1]
    for g in prange(n_groups):
        c0 = (g * k) // n_groups
        c1 = ((g + 1) * k) // n_groups
        w = c1 - c0
        acc = np.empty(w)
        for step in range(n):
            r = step if forward else n - 1 - step
            diag = 0.0
            for c in range(w):
                acc[c] = 0.0
            for j in range(indptr[r], indptr[r + 1]):
                col = indices[j]
                v = data[j]
                if col == r:
                    diag += v
                else:
                    for c in range(w):
                        acc[c] += v * X[col, c0 + c]
            if diag != 0.0:
                for c in range(w):
                    X[r, c0 + c] = (B[r, c0 + c] - acc[c]) / diag


@jit(parallel=True)
def p2_gradient(dof_values, dofs, grads, cells, lam, out):
    """∇φ (k,3) of a P2 field at barycentric points ``lam`` (k,4) in tetrahedra ``cells`` (k,)."""
    for p in prange(cells.shape[0]):
        G = np.empty((10, 3))
        t = cells[p]
        _p2_grads(lam[p], grads[t], G)
        for d in range(3):
            s = 0.0
            for a in range(10):
                s += dof_values[dofs[t, a]] * G[a, d]
            out[p, d] = s


@jit(parallel=True)
def dot(x, y):
    """``x · y`` (parallel reduction; avoids BLAS threads competing with numba's)."""
    s = 0.0
    for i in prange(x.shape[0]):
        s += x[i] * y[i]
    return s
