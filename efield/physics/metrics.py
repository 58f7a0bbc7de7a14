"""Summary numbers of a cortical field: peak, percentiles, focality and depth.

The numbers of one computed field live in :mod:`efield.physics._summary` (re-exported here);
:func:`half_max_depth` computes the field along a radius itself, so it sits above the field code.
"""

from __future__ import annotations

import numpy as np

from ._summary import half_crossing, half_max_depth_along, surface_metrics, weighted_percentile
from .fields import total_efield

__all__ = ["weighted_percentile", "surface_metrics", "half_max_depth", "half_max_depth_along"]


def half_max_depth(coil, head, didt, peak_point, *, samples: int = 400, backend: str | None = None) -> float:
    """Depth (m) below the cortical surface, along the radius through ``peak_point``, at which
    |E| falls to half of its value at the cortical surface (linear interpolation between
    ``samples`` points; NaN if it never does).

    Parameters
    ----------
    peak_point : (3,) float array, metres — a point on the cortex (usually the |E| peak).
    """
    c = np.asarray(head.center, dtype=float)
    d = np.asarray(peak_point, dtype=float) - c
    d /= np.linalg.norm(d)
    depth = np.linspace(0.0, head.cortex_radius, samples)
    pts = c + (head.cortex_radius - depth)[:, None] * d
    mag = np.linalg.norm(total_efield(coil, head, pts, didt, backend=backend), axis=1)
    return half_crossing(depth, mag)
