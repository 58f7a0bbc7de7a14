"""The project's one numba wrapper: every kernel is compiled with the same settings.

``fastmath`` is limited to re-association and contraction (FMA): that lets LLVM vectorise the
sums over wires, while NaN and infinity keep their IEEE meaning (the kernels rely on neither
being assumed away).  Sparse products over index arrays are compiled with ``gather=True``: contraction
only, since re-association makes LLVM vectorise the indexed loads into AVX-512 gathers, which ran the
human head's matrix-vector product 2–4× slower than scalar loads on this project's 2-core machine.
"""

from __future__ import annotations

import os

import numba

FASTMATH = {"reassoc", "contract"}

#: set ``EFIELD_NUMBA_CACHE=0`` to compile in memory only (e.g. on a read-only install).
_CACHE = os.environ.get("EFIELD_NUMBA_CACHE", "1") != "0"


def jit(parallel: bool = False, gather: bool = False):
    """Decorator: ``numba.njit`` with the project's defaults (cached, limited fastmath; ``gather``: the
    loop reads through an index array, compile without re-association)."""
    fastmath = {"contract"} if gather else set(FASTMATH)
    return numba.njit(cache=_CACHE, parallel=parallel, fastmath=fastmath, error_model="numpy")


prange = numba.prange
