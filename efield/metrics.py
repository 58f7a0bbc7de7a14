"""Summary numbers of a cortical field: peak, percentiles, focality and depth."""

from __future__ import annotations

import numpy as np

from .fields import FieldResult, total_efield

__all__ = ["weighted_percentile", "surface_metrics", "half_max_depth", "half_max_depth_along"]


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Percentile ``q`` (0–100) of ``values`` (n,) with ``weights`` (n,) (e.g. areas, m²)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) - 0.5 * w
    return float(np.interp(q / 100.0 * w.sum(), cum, v))


def surface_metrics(result: FieldResult) -> dict[str, float]:
    """Peak, 95th, 99th and 99.9th area-weighted percentiles (V/m) and half-max area (m²) of |E|.

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
    half = 0.5 * mag[0]
    below = np.flatnonzero(mag < half)
    if len(below) == 0:
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
    half = 0.5 * mag[0]
    below = np.flatnonzero(mag < half)
    if len(below) == 0 or below[0] == 0:
        return float("nan")
    j = below[0]
    frac = (mag[j - 1] - half) / (mag[j - 1] - mag[j])
    return float(steps[j - 1] + frac * (steps[j] - steps[j - 1]))
