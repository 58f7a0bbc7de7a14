"""The FEM solver of each mesh head, built once and kept (weakly, with the head) for every further pose."""

from __future__ import annotations

import weakref

_SOLVERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def mesh_solver(head, order: int = 2):
    """The FEM solver of a mesh head, built once and kept for every further coil pose (cached)."""
    from .fem import FEMSolver

    key = (order,)
    per_head = _SOLVERS.setdefault(head, {})
    if key not in per_head:
        from .._common import progress

        sigma = head.anisotropy if head.anisotropy is not None else head.sigma_per_tet
        with progress.task(f"FEM set-up on {getattr(head, 'name', 'the mesh')} ({head.n_tets:,} tets, "
                           f"P{order} matrix and multigrid)"):
            per_head[key] = FEMSolver(head.nodes, head.tets, sigma, order=order)
    return per_head[key]
