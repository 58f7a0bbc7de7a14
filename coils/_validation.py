"""Array checks shared by the coil package (the efield package has its own boundary helper)."""

from __future__ import annotations

import numpy as np


def as_vectors(value, name: str) -> np.ndarray:
    """Return ``value`` as a finite (n, 3) float64 array or raise naming ``name``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be an (n, 3) array in metres; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int((~np.isfinite(arr)).sum())} non-finite values")
    return arr


def as_weights(value, name: str, n: int) -> np.ndarray:
    """Return ``value`` as a finite (n,) float64 array or raise naming ``name``."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one value per segment; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr
