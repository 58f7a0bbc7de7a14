"""Finite-element solver for the TMS-induced field in a tetrahedral head mesh (P1 or P2 Lagrange).

Physics (SI, quasi-static): ``E = −(dI/dt) a − ∇φ`` with ``a`` the coil's vector potential per ampere
(:func:`efield.vector_potential`), ``∇·(σE) = 0`` in the head and ``σE·n = 0`` on its surface.  Weak
form: ``∫ σ ∇φ·∇v = −(dI/dt) ∫ σ a·∇v`` for all ``v`` (pure Neumann; the constant is fixed by zero mean
over the degrees of freedom, which does not change E).

Set-up (once per mesh and conductivity): the stiffness matrix is assembled (numba, or NumPy/SciPy
with ``backend="numpy"``) and an algebraic multigrid preconditioner is built once:

* order 1: pyamg smoothed aggregation on the P1 matrix, one V-cycle per CG step;
* order 2: a two-level p-multigrid: Chebyshev smoothing (degree 1, Jacobi-scaled) on the P2 matrix and,
  as the coarse level, one smoothed-aggregation V-cycle on the P1 matrix of the same mesh (the
  Galerkin projection of the P2 matrix onto its P1 subspace, assembled directly).

Each pose then costs one :func:`~efield.vector_potential` call at the mesh vertices and
preconditioned CG: for order 2 first on the P1 subspace (AMG-preconditioned, cheap), whose solution,
prolonged, starts the P2 iteration — it is already O(h²) close, so the P2 solve then needs 2–8
steps on the gmsh spheres and 8–10 on the voxel human head instead of ~30.  The right-hand side uses the P1 (vertex) interpolant of ``a`` also for
order 2: its error is O(h²) like the P2 gradient itself (tests: < 2 % at 2 mm edges in a sphere).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._common.validation import as_points, as_scalar

__all__ = ["FEMSolver", "FEMSolution"]

logger = logging.getLogger(__name__)

_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
_QA, _QB = 0.5854101966249685, 0.1381966011250105
_QUAD = np.full((4, 4), _QB) + np.eye(4) * (_QA - _QB)


def _kernels():
    from . import _fem_numba
    return _fem_numba


# ----------------------------------------------------------------------------- NumPy twins
def _p2_basis_grads(lam, grads):
    """(m, 10, 3) gradients of the P2 basis at barycentric point ``lam`` (4,) in every tetrahedron."""
    vert = (4.0 * lam - 1.0)[None, :, None] * grads
    i, j = _EDGES[:, 0], _EDGES[:, 1]
    edge = 4.0 * (lam[i][None, :, None] * grads[:, j] + lam[j][None, :, None] * grads[:, i])
    return np.concatenate([vert, edge], axis=1)


def _local_stiffness_numpy(order, grads, vol, sigma):
    if order == 1:
        return np.einsum("t,tad,tdc,tbc->tab", vol, grads, sigma, grads)
    out = 0.0
    for lam in _QUAD:
        G = _p2_basis_grads(lam, grads)
        out = out + np.einsum("t,tad,tdc,tbc->tab", 0.25 * vol, G, sigma, G)
    return out


def _local_rhs_numpy(order, grads, vol, sigma, a_vert, tets):
    av = a_vert[tets]  # (m, 4, 3)
    if order == 1:
        sa = np.einsum("tdc,tc->td", sigma, av.mean(axis=1))
        return vol[:, None] * np.einsum("td,tad->ta", sa, grads)
    out = 0.0
    for lam in _QUAD:
        sa = np.einsum("tdc,tc->td", sigma, np.einsum("k,tkc->tc", lam, av))
        out = out + 0.25 * vol[:, None] * np.einsum("td,tad->ta", sa, _p2_basis_grads(lam, grads))
    return out


# ----------------------------------------------------------------------------- assembly
def _assemble(dofs, local, ndof, backend):
    """CSR matrix (ndof × ndof) summed from element matrices ``local`` (m, k, k)."""
    if backend == "numpy":
        k = dofs.shape[1]
        rows = np.repeat(dofs, k, axis=1).ravel()
        cols = np.tile(dofs, (1, k)).ravel()
        A = sp.coo_matrix((local.ravel(), (rows, cols)), shape=(ndof, ndof)).tocsr()
        A.sum_duplicates()
        A.sort_indices()
        return A
    kern = _kernels()
    flat = np.ascontiguousarray(dofs.ravel(), dtype=np.int64)
    adj_ptr = np.empty(ndof + 1, dtype=np.int64)
    adj_idx = np.empty(len(flat), dtype=np.int64)
    kern.adjacency(flat, ndof, adj_ptr, adj_idx)
    nchunk = 8 * max(1, int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)))
    counts = np.empty(ndof, dtype=np.int64)
    kern.csr_row_counts(dofs, adj_ptr, adj_idx, ndof, nchunk, counts)
    indptr = np.zeros(ndof + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    index_type = np.int32 if indptr[-1] < 2**31 - 1 else np.int64
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1])
    kern.csr_fill_scatter(dofs, local, adj_ptr, adj_idx, ndof, nchunk, indptr, indices, data)
    A = sp.csr_matrix((data, indices.astype(index_type), indptr.astype(index_type)), shape=(ndof, ndof))
    A.has_sorted_indices = True
    return A


class _Operator:
    """``A @ x`` for a CSR matrix, with the numba row-parallel kernel or SciPy."""

    def __init__(self, A, backend):
        self.A, self.backend = A, backend
        if backend != "numpy":
            self._spmv = _kernels().spmv

    def __call__(self, x):
        if self.backend == "numpy" or self.A.indptr.dtype == np.int32:  # SciPy's C++ CSR product is faster
            return self.A @ x
        y = np.empty(self.A.shape[0])
        self._spmv(self.A.indptr, self.A.indices, self.A.data, x, y)
        return y


class PMultigrid:
    """Two-level preconditioner for P2: Chebyshev smoothing on P2, an SA V-cycle on the P1 subspace.

    Symmetric (same polynomial smoother before and after the coarse correction), so it suits CG.
    """

    def __init__(self, matvec, diag, prolong, coarse, degree=3, lower=0.1, n_power=12, bounds=None):
        self.matvec, self.dinv, self.P, self.coarse, self.degree = matvec, 1.0 / diag, prolong, coarse, degree
        if bounds is not None:  # (lower, upper) of another instance on the same matrix
            self.lower, self.upper = bounds
            return
        rng = np.random.default_rng(0)
        x = rng.standard_normal(len(diag))
        lam = 1.0
        for _ in range(n_power):  # power iteration for the largest eigenvalue of D⁻¹A
            y = self.dinv * matvec(x)
            lam = float(np.linalg.norm(y) / np.linalg.norm(x))
            x = y / np.linalg.norm(y)
        self.upper = 1.1 * lam
        self.lower = lower * self.upper

    def _smooth(self, b, x, residual=None):
        theta = 0.5 * (self.upper + self.lower)
        delta = 0.5 * (self.upper - self.lower)
        sigma = theta / delta
        rho = 1.0 / sigma
        res = b - self.matvec(x) if residual is None else residual
        dinv = self.dinv if res.ndim == 1 else self.dinv[:, None]  # one column or a block of columns
        d = dinv * res / theta
        for k in range(self.degree):
            x = x + d
            if k == self.degree - 1:
                break
            res = res - self.matvec(d)
            rho_new = 1.0 / (2.0 * sigma - rho)
            d = rho_new * rho * d + (2.0 * rho_new / delta) * (dinv * res)
            rho = rho_new
        return x

    def __call__(self, r):
        x = self._smooth(r, np.zeros_like(r), residual=r)
        res = r - self.matvec(x)
        x = x + self.P @ self.coarse(self.P.T @ res)
        return self._smooth(r, x)


class _BlockOperator:
    """``A @ X`` for a CSR matrix and a block ``X`` (n, k) of columns (numba, the matrix read once per
    block); ``.T`` is the transposed operator."""

    def __init__(self, A):
        self.A = sp.csr_matrix(A)
        self._t = None

    @property
    def shape(self):
        return self.A.shape

    @property
    def T(self):
        if self._t is None:
            self._t = _BlockOperator(self.A.T.tocsr())
            self._t._t = self
        return self._t

    def __call__(self, X):
        X = np.ascontiguousarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] % 8 or X.shape[0] != self.A.shape[1]:
            raise ValueError(f"block products need ({self.A.shape[1]}, 8·j) columns; got {X.shape}")
        Y = np.empty((self.A.shape[0], X.shape[1]))
        _kernels().spmm_axpy(self.A.indptr, self.A.indices, self.A.data, X, Y, 0.0, Y)
        return Y

    __matmul__ = __call__


class BlockVCycle:
    """The V-cycle of a pyamg hierarchy (symmetric Gauss–Seidel pre- and post-smoothing, pseudo-inverse on
    the coarsest level: pyamg's smoothed-aggregation defaults) applied to a block of columns at once.

    Column by column it is ``ml.aspreconditioner(cycle="V")`` (tests compare the two); the block form reads
    each level's matrix once for all columns.
    """

    def __init__(self, ml):
        import scipy.linalg

        levels = ml.levels
        self.A = [sp.csr_matrix(lv.A) for lv in levels[:-1]]
        for A in self.A:
            A.sort_indices()
        self.ops = [_BlockOperator(A) for A in self.A]
        self.R = [_BlockOperator(lv.R) for lv in levels[:-1]]
        self.P = [_BlockOperator(lv.P) for lv in levels[:-1]]
        self.coarse = scipy.linalg.pinv(levels[-1].A.toarray())

    def _sweep(self, lvl, X, B):
        from numba import get_num_threads

        A = self.A[lvl]
        groups = max(1, min(X.shape[1], get_num_threads()))
        gs = _kernels().gauss_seidel_block
        gs(A.indptr, A.indices, A.data, X, B, True, groups)
        gs(A.indptr, A.indices, A.data, X, B, False, groups)

    def _cycle(self, lvl, B):
        X = np.zeros_like(B)
        self._sweep(lvl, X, B)
        coarse_b = self.R[lvl](B - self.ops[lvl](X))
        if lvl == len(self.A) - 1:
            coarse_x = self.coarse @ coarse_b
        else:
            coarse_x = self._cycle(lvl + 1, coarse_b)
        X += self.P[lvl](coarse_x)
        self._sweep(lvl, X, B)
        return X

    def __call__(self, B):
        return self._cycle(0, np.ascontiguousarray(B, dtype=float))


class _BlockPMultigrid:
    """:class:`PMultigrid` of degree 1 on a block of columns, with each step fused into one numba pass
    (the same operations column by column)."""

    def __init__(self, pm: PMultigrid, A, prolong: "_BlockOperator", coarse):
        if pm.degree != 1:
            raise ValueError("the fused block preconditioner is of degree 1")
        self.A = sp.csr_matrix(A)
        self.dinv, self.P, self.coarse = pm.dinv, prolong, coarse
        self.inv_theta = 1.0 / (0.5 * (pm.upper + pm.lower))

    def _residual(self, X, B, sign=-1.0, A=None):
        A = self.A if A is None else A
        if X.shape[1] % 8 or B.shape != (A.shape[0], X.shape[1]) or X.shape[0] != A.shape[1]:
            raise ValueError(f"block residual needs matching (n, 8·j) blocks; got {X.shape} and {B.shape}")
        Y = np.empty((A.shape[0], X.shape[1]))
        _kernels().spmm_axpy(A.indptr, A.indices, A.data, np.ascontiguousarray(X), B, sign, Y)
        return Y

    def __call__(self, R):
        kern = _kernels()
        X = np.empty_like(R)
        kern.block_scale(self.dinv, self.inv_theta, R, X)  # Jacobi step from zero
        correction = self.coarse(self.P.T(self._residual(X, R)))
        X = self._residual(correction, X, sign=1.0, A=self.P.A)  # X + P·(coarse correction)
        kern.block_scale_add(X, self.dinv, self.inv_theta, self._residual(X, R), X)  # Jacobi step
        return X


def _pcg_block(matvec, precond, B, tol, maxiter, X0=None):
    """Preconditioned CG on every column of ``B`` (n, k) at once (independent CGs in lock-step: one
    operator product per step for the whole block).  Each column stops when ‖b − Ax‖ ≤ tol·‖b‖ (its
    iterate is then frozen); returns (X, iterations (k,), relative residuals (k,))."""

    kern = _kernels()
    k = B.shape[1]
    bnorm = np.sqrt(kern.block_dot(B, B))
    safe = np.where(bnorm > 0.0, bnorm, 1.0)
    X = np.zeros_like(B) if X0 is None else np.array(X0, dtype=float)
    R = B - matvec(X) if X0 is not None else B.copy()
    rel = np.where(bnorm > 0.0, np.sqrt(kern.block_dot(R, R)) / safe, 0.0)
    iters = np.zeros(k, dtype=int)
    active = rel > tol
    if not active.any():
        return X, iters, rel
    Z = precond(R)
    P = Z.copy()
    rz = kern.block_dot(R, Z)
    for it in range(1, maxiter + 1):
        AP = matvec(P)
        pap = kern.block_dot(P, AP)
        alpha = np.zeros(k)
        np.divide(rz, pap, out=alpha, where=active & (pap != 0.0))
        rr = kern.block_cg_update(X, R, P, AP, alpha)  # X += αP, R −= αAP; returns ‖R‖² per column
        rel = np.where(active, np.sqrt(rr) / safe, rel)
        iters[active] = it
        active &= rel > tol
        if not active.any():
            return X, iters, rel
        Z = precond(R)
        rz_new = kern.block_dot(R, Z)
        beta = np.zeros(k)
        np.divide(rz_new, rz, out=beta, where=active & (rz != 0.0))
        kern.block_direction(P, Z, beta)  # P = Z + βP
        rz = rz_new
    raise RuntimeError(f"CG did not reach tol={tol} in maxiter={maxiter} iterations on every column "
                       f"(largest relative residual {rel.max():.3g})")


def _pcg(matvec, precond, b, tol, maxiter, dot=np.dot, x0=None):
    """Preconditioned CG for the consistent singular system, from ``x0`` (default zero).

    Stops when ‖b − Ax‖ ≤ tol·‖b‖; returns (x, iterations, relative residual).
    """
    bnorm = float(np.sqrt(dot(b, b)))
    if bnorm == 0.0:
        return np.zeros_like(b), 0, 0.0
    if x0 is None:
        x = np.zeros_like(b)
        r = b.copy()
    else:
        x = np.array(x0, dtype=float)
        r = b - matvec(x)
        rel = float(np.sqrt(dot(r, r))) / bnorm
        if rel <= tol:
            return x, 0, rel
    z = precond(r)
    p = z.copy()
    rz = float(dot(r, z))
    for it in range(1, maxiter + 1):
        Ap = matvec(p)
        alpha = rz / float(dot(p, Ap))
        x += alpha * p
        r -= alpha * Ap
        rel = float(np.sqrt(dot(r, r))) / bnorm
        if rel <= tol:
            return x, it, rel
        z = precond(r)
        rz_new = float(dot(r, z))
        p *= rz_new / rz
        p += z
        rz = rz_new
    raise RuntimeError(f"CG did not reach tol={tol} in maxiter={maxiter} iterations (relative residual {rel:.3g})")


# ----------------------------------------------------------------------------- the solver
def _check_mesh(nodes, tets, sigma):
    nodes = as_points(nodes, "nodes")
    tets_arr = np.asarray(tets)
    if tets_arr.ndim != 2 or tets_arr.shape[1] != 4 or not np.issubdtype(tets_arr.dtype, np.integer):
        raise ValueError(f"tets must be an (m, 4) integer array of node indices; got {tets_arr.dtype} {tets_arr.shape}")
    tets_arr = np.ascontiguousarray(tets_arr, dtype=np.int64)
    if len(tets_arr) == 0 or tets_arr.min() < 0 or tets_arr.max() >= len(nodes):
        raise ValueError(f"tets must index nodes 0..{len(nodes) - 1}; got range {tets_arr.min()}..{tets_arr.max()}")
    s = np.asarray(sigma, dtype=float)
    if s.shape not in ((len(tets_arr),), (len(tets_arr), 3, 3)):
        raise ValueError(f"sigma must be (m,) or (m, 3, 3) S/m with m = {len(tets_arr)} tets; got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("sigma must be finite (S/m)")
    if s.ndim == 1:
        if (s <= 0).any():
            bad = np.flatnonzero(s <= 0)[:5]
            raise ValueError(f"sigma must be positive (S/m); got {s[bad].tolist()} in tets {bad.tolist()}")
        return nodes, tets_arr, np.ascontiguousarray(s[:, None, None] * np.eye(3))
    if not np.allclose(s, s.transpose(0, 2, 1), rtol=1e-12, atol=0):
        raise ValueError("sigma tensors must be symmetric")
    if (np.linalg.eigvalsh(s)[:, 0] <= 0).any():
        raise ValueError("sigma must be positive (definite) in every tetrahedron (S/m)")
    return nodes, tets_arr, np.ascontiguousarray(s)


def _morton_order(points, bits=10):
    """Permutation (n,) sorting ``points`` (n, 3) along a Morton (z-order) curve."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    q = ((points - lo) / np.maximum(hi - lo, 1e-300) * (2**bits - 1)).astype(np.int64)
    key = np.zeros(len(points), dtype=np.int64)
    for b in range(bits):
        for d in range(3):
            key |= ((q[:, d] >> b) & 1) << (3 * b + d)
    return np.argsort(key, kind="stable")


def _geometry(nodes, tets):
    """Barycentric gradients (m, 4, 3) 1/m and volumes (m,) m³."""
    p = nodes[tets]
    J = p[:, 1:] - p[:, :1]  # rows: edge vectors
    det = np.linalg.det(J)
    vol = np.abs(det) / 6.0
    if not (vol > 0).all():
        bad = np.flatnonzero(vol <= 0)[:5]
        raise ValueError(f"tets must be non-degenerate; zero volume in tets {bad.tolist()}")
    grads = np.empty((len(tets), 4, 3))
    grads[:, 1:] = np.linalg.inv(J.transpose(0, 2, 1))  # rows are ∇λ1..∇λ3
    grads[:, 0] = -grads[:, 1:].sum(axis=1)
    return grads, vol


@contextlib.contextmanager
def _seeded_global_rng(seed: int):
    """Run a block with NumPy's global random state seeded, then restore the caller's state.

    pyamg's set-up draws its power-iteration start vectors from ``np.random``; without this the same
    head gave results differing in the 6th-7th digit from one run to the next."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class FEMSolver:
    """Stiffness matrix and preconditioner of one head mesh, reused for every coil pose.

    Parameters
    ----------
    nodes : (n, 3) float array, metres (head frame)
    tets : (m, 4) int array, node indices
    sigma : (m,) float array or (m, 3, 3) float array, S/m (isotropic or tensor per tetrahedron)
    order : {1, 2}
        Lagrange order of φ (default 2: second-order FEM, < 2 % error at ≈ 2–3 mm edges).
    tol : float
        CG stopping criterion on the relative residual ‖b − Aφ‖/‖b‖, dimensionless (default 1e-3;
        order 2 first solves the P1 problem to 3× this tolerance and starts from it.  In the sphere
        tests the cortical E moves by < 0.1 % of its peak between 1e-3 and 1e-9, a quarter of the
        discretisation error at 2.8 mm edges).
    maxiter : int
        CG iteration limit (a ``RuntimeError`` beyond it).
    backend : {"numba", "numpy"}, optional
        Kernels for assembly and matrix-vector products (default $EFIELD_BACKEND or numba).

    Attributes
    ----------
    tets : (m, 4) int array, the input tets reordered along a Morton curve (``tets = input[tet_order]``);
        cell indices returned by :meth:`locate` refer to this order
    tet_order : (m,) int array, permutation of the input tets
    matrix : scipy.sparse.csr_matrix, S·m (stiffness of the P1 or P2 space, built once)
    preconditioner : callable r → z, built once (pyamg smoothed aggregation; see module docstring)
    setup_seconds : dict of wall times (s) of the set-up steps
    """

    def __init__(self, nodes, tets, sigma, order: int = 2, *, tol: float = 1e-3, maxiter: int = 500,
                 backend: str | None = None):
        import pyamg

        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2; got {order!r}")
        self.backend = backend or os.environ.get("EFIELD_BACKEND", "numba")
        if self.backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy'; got {self.backend!r}")
        self.tol = as_scalar(tol, "tol", "1", positive=True, allow_zero=False)
        self.maxiter = int(maxiter)
        self.order = order
        t0 = time.perf_counter()
        self.nodes, tets, sigma = _check_mesh(nodes, tets, sigma)
        # keep the tets along a space-filling (Morton) curve of their centroids: assembly then reads
        # neighbouring element matrices from neighbouring memory (≈ 2× faster at 1 M tets)
        self.tet_order = _morton_order(self.nodes[tets].mean(axis=1))
        self.tets, self.sigma = tets[self.tet_order], sigma[self.tet_order]
        del tets, sigma
        self.grads, self.volumes = _geometry(self.nodes, self.tets)
        n = len(self.nodes)
        if order == 2:
            pairs = np.sort(self.tets[:, _EDGES], axis=2)
            edges, inverse = np.unique((pairs[..., 0] * n + pairs[..., 1]).ravel(), return_inverse=True)
            self.edges = np.stack([edges // n, edges % n], axis=1)
            dofs = np.hstack([self.tets, n + inverse.reshape(-1, 6)])
            # number the dofs along a space-filling (Morton) order: neighbours sit close in memory,
            # which makes the matrix-vector products cache-friendly (≈ 2–3× faster at 1 M tets)
            where = np.vstack([self.nodes, 0.5 * (self.nodes[self.edges[:, 0]] + self.nodes[self.edges[:, 1]])])
            self.dof_order = _morton_order(where)
            renumber = np.empty(len(where), dtype=np.int64)
            renumber[self.dof_order] = np.arange(len(where))
            self.dofs = np.ascontiguousarray(renumber[dofs])
        else:
            self.edges = np.zeros((0, 2), dtype=np.int64)
            self.dofs = self.tets
        self.n_dofs = n + len(self.edges)
        t1 = time.perf_counter()
        local1 = self._local_stiffness(1)
        A1 = _assemble(self.tets, local1, n, self.backend)
        del local1
        if order == 2:
            local2 = self._local_stiffness(2)
            self.matrix = _assemble(self.dofs, local2, self.n_dofs, self.backend)
            del local2
        else:
            self.matrix = A1
        # nodes no tetrahedron uses (meshes that carry surface-only vertices) would leave empty rows and
        # a singular system (NaN after a long CG); pin them to 0 with a unit diagonal
        unused = np.ones(n, dtype=bool)
        unused[self.tets.ravel()] = False
        self.n_unused_nodes = int(unused.sum())
        if self.n_unused_nodes:
            logger.info("FEM: %d mesh nodes belong to no tetrahedron; pinned to 0", self.n_unused_nodes)
            A1 = (A1 + sp.diags(unused.astype(float))).tocsr()
            if order == 2:
                pin = np.zeros(self.n_dofs)
                pin[renumber[np.flatnonzero(unused)]] = 1.0
                self.matrix = (self.matrix + sp.diags(pin)).tocsr()
            else:
                self.matrix = A1
        t2 = time.perf_counter()
        self._matvec = _Operator(self.matrix, self.backend)
        with _seeded_global_rng(0):  # pyamg estimates spectral radii from np.random: same mesh, same numbers
            ml = pyamg.smoothed_aggregation_solver(A1, symmetry="hermitian", max_coarse=500)
        self.amg = ml
        coarse = ml.aspreconditioner(cycle="V")
        self.matrix_p1 = A1
        self._matvec_p1 = _Operator(A1, self.backend)
        self._coarse = coarse.matvec
        self.prolongation = None
        if order == 2:
            ne = len(self.edges)
            rows = renumber[np.concatenate([np.arange(n), np.repeat(n + np.arange(ne), 2)])]
            vals = np.concatenate([np.ones(n), np.full(2 * ne, 0.5)])
            cols = np.concatenate([np.arange(n), self.edges.ravel()])
            P = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_dofs, n))
            self.prolongation = P
            # Chebyshev degree 1 (a scaled Jacobi step) before and after the coarse correction: on the
            # human head one more CG step than degree 3 but 25 % less time per solve
            self.preconditioner = PMultigrid(self._matvec, self.matrix.diagonal(), P, coarse.matvec, degree=1)
        else:
            self.preconditioner = coarse.matvec
        t3 = time.perf_counter()
        self.setup_seconds = {"mesh_checks": t1 - t0, "assembly": t2 - t1, "preconditioner": t3 - t2}
        self._tree = None
        self._block = None  # block operators of solve_rhs_block, made on first use
        logger.info("FEMSolver: %d dofs, %d nnz, set-up %s", self.n_dofs, self.matrix.nnz, self.setup_seconds)

    def _local_stiffness(self, order):
        if self.backend == "numpy":
            return _local_stiffness_numpy(order, self.grads, self.volumes, self.sigma)
        kern = _kernels()
        out = np.empty((len(self.tets), 10 if order == 2 else 4, 10 if order == 2 else 4))
        (kern.local_stiffness_p2 if order == 2 else kern.local_stiffness_p1)(self.grads, self.volumes, self.sigma, out)
        return out

    def rhs(self, a_vertices, didt):
        """Load vector (n_dofs,) A: ``−didt ∫ σ a_h·∇v`` with ``a_h`` the P1 interpolant of ``a_vertices`` (n,3)."""
        a = np.ascontiguousarray(a_vertices, dtype=float)
        if self.backend == "numpy":
            local = _local_rhs_numpy(self.order, self.grads, self.volumes, self.sigma, a, self.tets)
        else:
            local = np.empty(self.dofs.shape)
            _kernels().local_rhs(self.order, self.grads, self.volumes, self.sigma, a, self.tets, local)
        b = -didt * np.bincount(self.dofs.ravel(), weights=local.ravel(), minlength=self.n_dofs)
        return b - b.mean()  # exact zero sum up to rounding (Σ ∇v = 0); keep the system consistent

    def rhs_block(self, a_block, didt):
        """Load vectors (n_dofs, k) A of ``k`` vector potentials at once: column j is
        ``rhs(a_block[:, :, j], didt)``; a_block (n, 3, k) V·s/(A·m) per ampere at the nodes.

        One pass over the mesh for the whole block (numba backend); the cortical field model builds its
        mode loads with it."""
        a = np.asarray(a_block, dtype=float)
        if a.ndim != 3 or a.shape[:2] != (len(self.nodes), 3):
            raise ValueError(f"a_block must have shape ({len(self.nodes)}, 3, k); got {a.shape}")
        if self.backend == "numpy":
            return np.stack([self.rhs(a[:, :, j], didt) for j in range(a.shape[2])], axis=1)
        import numba

        acc = np.zeros((max(1, numba.get_num_threads()), self.n_dofs, a.shape[2]))
        _kernels().rhs_block(self.order, self.grads, self.volumes, self.sigma, np.ascontiguousarray(a), self.tets,
                             self.dofs, acc)
        b = acc.sum(axis=0) if len(acc) > 1 else acc[0]
        b *= -didt
        return b - b.mean(axis=0)

    def solve(self, coil, didt) -> "FEMSolution":
        """Total E for ``coil`` (placed in the mesh frame) at ``didt`` (A/s); see :class:`FEMSolution`."""
        from .biot_savart import vector_potential

        from .._common import progress

        didt = as_scalar(didt, "didt", "A/s")
        with progress.task(f"FEM solve ({self.n_dofs:,} unknowns)"):
            t0 = time.perf_counter()
            a_vert = vector_potential(coil, self.nodes)
            t1 = time.perf_counter()
            b = self.rhs(a_vert, didt)
            phi, iters, rel, coarse_iters = self.solve_rhs(b)
            t2 = time.perf_counter()
        timing = {"primary": t1 - t0, "solve": t2 - t1, "total": t2 - t0}
        return FEMSolution(self, coil, didt, phi, a_vert, iters, rel, timing, coarse_iters)

    def solve_rhs(self, b, tol: float | None = None):
        """Solve ``A x = b`` for a load vector ``b`` (n_dofs,) with zero sum; returns (x, iterations,
        relative residual, coarse iterations), ``x`` with zero mean.  ``tol`` defaults to the solver's."""
        tol = self.tol if tol is None else tol
        dot = np.dot if self.backend == "numpy" else _kernels().dot
        x0, coarse_iters = None, 0
        if self.order == 2:
            # start from the P1 solution (the Galerkin problem on the P1 subspace: A1 = PᵀA2P, b1 = Pᵀb2),
            # which is O(h²) from the P2 one; it only needs to be good to ~ that difference: 3× the
            # tolerance (built-in human head: 12 instead of 14 P1 steps, the same 8 P2 steps)
            phi1, coarse_iters, _ = _pcg(self._matvec_p1, self._coarse, self.prolongation.T @ b, 3.0 * tol,
                                         self.maxiter, dot)
            x0 = self.prolongation @ phi1
        x, iters, rel = _pcg(self._matvec, self.preconditioner, b, tol, self.maxiter, dot, x0=x0)
        return x - x.mean(), iters, rel, coarse_iters

    def solve_rhs_block(self, B, tol: float | None = None):
        """Solve ``A X = B`` for a block of load vectors ``B`` (n_dofs, k), each with zero sum, in one
        lock-step CG (the same preconditioner as :meth:`solve_rhs`, the matrices read once per block:
        several times the throughput of k single solves).  Returns (X (n_dofs, k) with zero column means,
        iterations (k,), relative residuals (k,), coarse iterations (k,))."""
        tol = self.tol if tol is None else tol
        B = np.ascontiguousarray(B, dtype=float)
        if B.ndim != 2 or B.shape[0] != self.n_dofs:
            raise ValueError(f"B must have shape ({self.n_dofs}, k); got {B.shape}")
        if self._block is None:
            op = _BlockOperator(self.matrix)
            vcycle = BlockVCycle(self.amg)
            if self.order == 2:
                P = _BlockOperator(self.prolongation)
                pm = self.preconditioner
                if pm.degree == 1:
                    pre = _BlockPMultigrid(pm, self.matrix, P, vcycle)
                else:
                    pre = PMultigrid(op, self.matrix.diagonal(), P, vcycle, degree=pm.degree,
                                     bounds=(pm.lower, pm.upper))
                self._block = (op, pre, P, _BlockOperator(self.matrix_p1), vcycle)
            else:
                self._block = (op, vcycle, None, None, None)
        op, pre, P, op1, vcycle = self._block
        k = B.shape[1]
        if k % 8:  # the block kernels take 8 columns at a time: pad with zero loads (solved as zero)
            B = np.hstack([B, np.zeros((B.shape[0], 8 - k % 8))])
        X0, coarse = None, np.zeros(B.shape[1], dtype=int)
        if self.order == 2:
            X1, coarse, _ = _pcg_block(op1, vcycle, P.T(B), 3.0 * tol, self.maxiter)
            X0 = P(X1)
        X, iters, rel = _pcg_block(op, pre, B, tol, self.maxiter, X0=X0)
        X = X[:, :k]
        return X - X.mean(axis=0), iters[:k], rel[:k], coarse[:k]

    def basis_gradients(self, cell: int, lam) -> np.ndarray:
        """Gradients (k, 3) 1/m of the k local basis functions (4 for P1, 10 for P2; order of ``dofs[cell]``)
        at barycentric point ``lam`` (4,) in tet ``cell`` (internal numbering, as :meth:`locate` returns)."""
        g = self.grads[cell]
        if self.order == 1:
            return g.copy()
        return _p2_basis_grads(np.asarray(lam, dtype=float), g[None])[0]

    def gradient_at(self, phi, cells, lam):
        """∇φ (k, 3) V/m of dof values ``phi`` at barycentric points ``lam`` (k, 4) in tets ``cells`` (k,)."""
        g = self.grads[cells]
        if self.order == 1:
            return np.einsum("ka,kad->kd", phi[self.tets[cells]], g)
        if self.backend == "numpy":
            vert = (4.0 * lam - 1.0)[:, :, None] * g
            i, j = _EDGES[:, 0], _EDGES[:, 1]
            edge = 4.0 * (lam[:, i, None] * g[:, j] + lam[:, j, None] * g[:, i])
            return np.einsum("ka,kad->kd", phi[self.dofs[cells]], np.concatenate([vert, edge], axis=1))
        out = np.empty((len(cells), 3))
        _kernels().p2_gradient(phi, self.dofs, self.grads, np.ascontiguousarray(cells, dtype=np.int64),
                               np.ascontiguousarray(lam), out)
        return out

    def locate(self, points, k: int = 12):
        """Containing tet (k,) and clipped barycentric coordinates (k, 4) of ``points`` (k, 3) m.

        Searches the ``k`` tets with the nearest centroids (scipy cKDTree, built on first use); a point
        outside the mesh gets the candidate it is least outside of, with coordinates clipped onto it.
        """
        from scipy.spatial import cKDTree

        pts = as_points(points)
        if self._tree is None:
            self._tree = cKDTree(self.nodes[self.tets].mean(axis=1))
        k = min(k, len(self.tets))
        _, cand = self._tree.query(pts, k=k)
        cand = cand.reshape(len(pts), k)
        rel = pts[:, None, :] - self.nodes[self.tets[cand, 0]]
        lam123 = np.einsum("pkad,pkd->pka", self.grads[cand][:, :, 1:], rel)
        lam = np.concatenate([1.0 - lam123.sum(axis=2, keepdims=True), lam123], axis=2)
        best = np.argmax(lam.min(axis=2), axis=1)
        rows = np.arange(len(pts))
        cells, lam = cand[rows, best], np.clip(lam[rows, best], 0.0, None)
        return cells, lam / lam.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class FEMSolution:
    """Result of :meth:`FEMSolver.solve` for one coil pose.

    Attributes
    ----------
    solver : FEMSolver
    coil : coils.Coil, placed in the mesh frame
    didt : float, A/s
    potential : (n_dofs,) float array, volts (zero mean over the dofs)
    vertex_potential : (n, 3) float array, V·s/(A·m): the coil's vector potential per ampere at the nodes
    iterations : int, CG iterations on the solver's matrix; residual : float, final relative residual
    timing : dict of wall times (s): primary field, solve, total
    coarse_iterations : int, CG iterations of the P1 start (order 2; 0 for order 1)
    """

    solver: FEMSolver
    coil: object
    didt: float
    potential: np.ndarray
    vertex_potential: np.ndarray
    iterations: int
    residual: float
    timing: dict
    coarse_iterations: int = 0

    @functools.cached_property
    def efield_tets(self) -> np.ndarray:
        """Total E (m, 3) V/m at every tet centroid (primary part from the P1 interpolant of ``a``)."""
        s = self.solver
        grad_c = s.gradient_at(self.potential, np.arange(len(s.tets)), np.full((len(s.tets), 4), 0.25))
        out = np.empty_like(grad_c)
        out[s.tet_order] = -self.didt * self.vertex_potential[s.tets].mean(axis=1) - grad_c
        return out

    def efield_at(self, points) -> np.ndarray:
        """Total E (k, 3) V/m at ``points`` (k, 3) m: −∇φ in the containing tet − didt·a (exact at the points)."""
        from .biot_savart import vector_potential

        pts = as_points(points)
        cells, lam = self.solver.locate(pts)
        return -self.didt * vector_potential(self.coil, pts) - self.solver.gradient_at(self.potential, cells, lam)
