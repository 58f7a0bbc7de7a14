"""One validation helper for arrays at every public boundary of :mod:`efield`."""

from __future__ import annotations

import numbers

import numpy as np

#: the field models a mesh-head field can come from (physics.fields.cortex_field, the CLI's --model,
#: dose.Setup.field_model): the full FEM solve, the precomputed cortical field model, or the model where cached
MODEL_CHOICES = ("fem", "auto", "precomputed")


def as_points(points, name: str = "points") -> np.ndarray:
    """Return ``points`` as a C-contiguous finite (n, 3) float64 array (metres) or raise."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an (n, 3) array of numbers in metres; got {type(points).__name__}") from exc
    if arr.ndim == 1 and arr.shape == (3,):
        raise ValueError(f"{name} must be an (n, 3) array in metres; got shape (3,) — use points[None, :] for one point")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be an (n, 3) array in metres; got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(f"{name} must be finite; rows {idx[:5].tolist()} contain NaN or infinity")
    return np.ascontiguousarray(arr)


def as_scalar(value, name: str, unit: str, *, positive: bool = False, allow_zero: bool = True) -> float:
    """Return ``value`` as a finite float (in ``unit``) or raise naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in {unit}; got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite ({unit}); got {v}")
    if positive and (v < 0 or (v == 0 and not allow_zero)):
        raise ValueError(f"{name} must be positive ({unit}); got {v}")
    return v


def as_vector3(value, name: str, unit: str, *, unit_length: bool = False) -> np.ndarray:
    """Return ``value`` as a finite (3,) float64 array in ``unit`` (normalised if ``unit_length``) or raise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers ({unit}); got {value!r}") from None
    if arr.shape != (3,):
        raise ValueError(f"{name} must have shape (3,) ({unit}); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    if unit_length:
        norm = float(np.linalg.norm(arr))
        if norm == 0.0:
            raise ValueError(f"{name} must be a non-zero direction; got (0, 0, 0)")
        arr = arr / norm
    return arr


def did_you_mean(word, choices, n: int = 3) -> str:
    """``" Did you mean 'a' or 'b'?"`` for the choices closest to ``word`` (case-insensitive), or ``""``.

    Parameters
    ----------
    word : str
        What was given.
    choices : iterable of str
        What is allowed.
    n : int
        At most this many suggestions.
    """
    import difflib

    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(str(word).strip().lower(), list(lowered), n=n, cutoff=0.6)
    if not hits:
        return ""
    names = [repr(lowered[h]) for h in hits]
    return " Did you mean " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]) + "?"
