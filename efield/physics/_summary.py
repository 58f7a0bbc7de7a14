"""Summary numbers of a field that need no field model: area-weighted percentiles, peak, area above
half maximum, and where |E| halves along a line of samples.  Imports nothing from efield, so the
field code (:mod:`efield.physics.fields`) can use it; :mod:`efield.physics.metrics` is the public face."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_percentile", "surface_metrics", "half_max_depth_along", "half_crossing"]


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Percentile ``q`` (0–100) of ``values`` (n,) with ``weights`` (n,) (e.g. areas, m²)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) - 0.5 * w
    return float(np.interp(q / 100.0 * w.sum(), cum, v))


def surface_metrics(result) -> dict[str, float]:
    """Peak, 95th, 99th and 99.9th area-weighted percentiles (V/m) and half-max area (m²) of |E| of a
    :class:`~efield.physics.fields.FieldResult`.

    The 99.9th percentile (``p999_vm``) is the robust headline figure (as SimNIBS reports it): on a
    voxel head the raw peak is often one hot vertex at a tissue step, far above its neighbours.
    """
    mag = result.magnitude
    areas = result.vertex_areas() if result.faces is not None else np.ones(len(mag))
    peak = float(mag.max())
    return {
        "peak_vm": peak,
        "p95_vm": weighted_percentile(mag, areas, 95.0),
        "p99_vm": weighted_percentile(mag, areas, 99.0),
        "p999_vm": weighted_percentile(mag, areas, 99.9),
        "half_max_area_m2": float(areas[mag >= 0.5 * peak].sum()) if result.faces is not None else float("nan"),
        "peak_point_m": result.points[int(mag.argmax())].tolist(),
    }


def half_crossing(depth: np.ndarray, mag: np.ndarray) -> float:
    """First depth (m, from ``depth`` (n,)) at which ``mag`` (n,) falls below half of ``mag[0]``, linearly
    interpolated between samples; NaN if it never does."""
    half = 0.5 * mag[0]
    below = np.flatnonzero(mag < half)
    if len(below) == 0 or below[0] == 0:
        return float("nan")
    k = below[0]
    f = (mag[k - 1] - half) / (mag[k - 1] - mag[k])
    return float(depth[k - 1] + f * (depth[k] - depth[k - 1]))


def half_max_depth_along(field_at, head, point, normal, length: float, samples: int = 801) -> float:
    """Depth (m) along ``−normal`` from ``point`` at which |E| falls to half its value at ``point``.

    Parameters
    ----------
    field_at : callable, (k, 3) points in m → (k, 3) E (any unit)
    head : MeshHead — the walk stops where the line leaves the mesh
    point : (3,) float array, m; normal : (3,) unit float array (outward)
    length : float, m — how far to walk; samples : int — points on the walk (linear interpolation between them)

    Returns NaN if |E| does not halve inside the mesh within ``length``.
    """
    steps = np.linspace(0.0, length, samples)
    line = np.asarray(point, dtype=float) - steps[:, None] * np.asarray(normal, dtype=float)
    inside = head.contains(line)
    stop = int(np.argmin(inside)) if not inside.all() else len(line)
    if stop < 2:
        return float("nan")
    mag = np.linalg.norm(field_at(line[:stop]), axis=1)
    return half_crossing(steps[:stop], mag)
