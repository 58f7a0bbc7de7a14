"""Coil → the flat arrays the kernels read (chain layout, x/y/z as separate arrays)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

__all__ = ["WireLayout", "wire_layout"]

_JOIN_TOL = 1e-12  # metres: consecutive segments closer than this share a node


@dataclass(frozen=True, eq=False)
class WireLayout:
    """A coil's sources as contiguous float64 arrays, in the coil's current (placed) frame.

    Segment ``k`` runs from node ``k`` to node ``k + 1``; segments that only bridge two separate
    current paths have zero weight.  ``cx, cy, cz`` are weight × unit direction (A/A).
    """

    nx: np.ndarray
    ny: np.ndarray
    nz: np.ndarray
    length: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    cz: np.ndarray
    w: np.ndarray
    qx: np.ndarray
    qy: np.ndarray
    qz: np.ndarray
    mx: np.ndarray
    my: np.ndarray
    mz: np.ndarray
    n_segments: int
    n_dipoles: int

    @property
    def wire_args_a(self):
        return (self.nx, self.ny, self.nz, self.length, self.cx, self.cy, self.cz)

    @property
    def wire_args_b(self):
        return (self.nx, self.ny, self.nz, self.w)

    @property
    def dipole_args(self):
        return (self.qx, self.qy, self.qz, self.mx, self.my, self.mz)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.ascontiguousarray(a[:, j], dtype=np.float64) for j in range(3))


def _split_long(start: np.ndarray, end: np.ndarray, weight: np.ndarray):
    """Cut segments much longer than the typical one into equal collinear pieces.

    Exact for both A and B (they are integrals along the line), and it keeps t = L/S small for
    points near long lead or crossover wires, so the kernels stay on their vectorised path.
    """
    length = np.linalg.norm(end - start, axis=1)
    if len(length) == 0:
        return start, end, weight
    piece = 2.0 * float(np.median(length[length > 0])) if np.any(length > 0) else 1.0
    counts = np.where(length > 1.5 * piece, np.ceil(length / piece).astype(np.int64), 1)
    if np.all(counts == 1):
        return start, end, weight
    idx = np.repeat(np.arange(len(start)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(len(idx)) - first
    frac0 = (k / counts[idx])[:, None]
    frac1 = ((k + 1) / counts[idx])[:, None]
    d = end[idx] - start[idx]
    new_start = start[idx] + frac0 * d
    new_end = np.where(frac1 == 1.0, end[idx], start[idx] + frac1 * d)
    return new_start, new_end, weight[idx]


def _build(start: np.ndarray, end: np.ndarray, weight: np.ndarray, pos: np.ndarray, mom: np.ndarray) -> WireLayout:
    start, end, weight = _split_long(start, end, weight)
    n = len(start)
    if n:
        breaks = np.ones(n, dtype=bool)
        breaks[1:] = np.linalg.norm(start[1:] - end[:-1], axis=1) > _JOIN_TOL
        # node list: for every segment whose start does not continue the previous end, first
        # its start node; then every segment's end node.
        n_nodes = n + int(breaks.sum())
        nodes = np.empty((n_nodes, 3))
        seg_w = np.empty(n_nodes - 1)
        real = np.empty(n_nodes - 1, dtype=bool)
        # position of each segment's end node in the node list
        end_pos = np.arange(n) + np.cumsum(breaks)
        nodes[end_pos] = end
        start_pos = end_pos - 1
        nodes[start_pos[breaks]] = start[breaks]
        # segment index j joins node j and j+1: real segments end at end_pos
        real[:] = False
        real[end_pos - 1] = True
        seg_w[:] = 0.0
        seg_w[end_pos - 1] = weight
        # a bridge from the previous path's end to a new start carries no current
        d = np.diff(nodes, axis=0)
        length = np.linalg.norm(d, axis=1)
        unit = np.divide(d, length[:, None], out=np.zeros_like(d), where=length[:, None] > 0)
        c = unit * seg_w[:, None]
        # a bridge contributes nothing; its length is set to zero so that t = L/S = 0 there (a long
        # bridge would otherwise count as "near" for every point and send each one to the kernel's
        # scalar logarithm pass)
        length[~real] = 0.0
    else:
        nodes = np.zeros((1, 3))
        length = np.zeros(0)
        c = np.zeros((0, 3))
        seg_w = np.zeros(0)
    nx, ny, nz = _split(nodes)
    cx, cy, cz = _split(c)
    qx, qy, qz = _split(pos)
    mx, my, mz = _split(mom)
    return WireLayout(nx, ny, nz, np.ascontiguousarray(length), cx, cy, cz,
                      np.ascontiguousarray(seg_w), qx, qy, qz, mx, my, mz, n, len(pos))


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def wire_layout(coil) -> WireLayout:
    """The kernel arrays of ``coil`` (cached per coil object; coils are immutable)."""
    try:
        return _CACHE[coil]
    except (KeyError, TypeError):
        pass
    layout = _build(coil.start, coil.end, coil.weight, coil.dipole_position, coil.dipole_moment)
    try:
        _CACHE[coil] = layout
    except TypeError:
        pass
    return layout
