"""Shared fixtures: both kernel back-ends, small closed test coils, the shared-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

# hermetic: cortical field models cached by earlier runs in the user's ~/.cache must not change what
# `--model auto` does in the tests; each session starts with an empty cache of its own
import tempfile as _tempfile  # noqa: E402

os.environ["EFIELD_CACHE"] = _tempfile.mkdtemp(prefix="efield-test-cache-")


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run a test on the numba kernels and on their plain-NumPy twins."""
    return request.param


def shared_dir() -> Path:
    env = os.environ.get("EFIELD_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def polygon_loop(radius, n, center=(0.0, 0.0, 0.0), normal_z=True, phase=0.0):
    """Closed regular n-gon (start, end, weight) with vertices on a circle of ``radius`` (m)."""
    th = phase + np.linspace(0.0, 2.0 * np.pi, n + 1)
    pts = np.stack([radius * np.cos(th), radius * np.sin(th), np.zeros(n + 1)], axis=1)
    pts[-1] = pts[0]
    pts = pts + np.asarray(center, dtype=float)
    return pts[:-1], pts[1:], np.ones(n)


def loop_coil(radius=0.03, n=64, center=(0.0, 0.0, 0.1), name="loop", weight=1.0):
    from coils._model import Coil

    s, e, w = polygon_loop(radius, n, center)
    return Coil(name, s, e, w * weight)


def figure8_wires(radius=0.02, n=96, height=0.1, gap=0.002):
    """Two flat circular loops side by side with opposite currents (a minimal figure-8)."""
    from coils._model import Coil

    s1, e1, w1 = polygon_loop(radius, n, (-(radius + gap / 2), 0.0, height))
    s2, e2, w2 = polygon_loop(radius, n, (radius + gap / 2, 0.0, height))
    return Coil("fig8", np.concatenate([s1, e2]), np.concatenate([e1, s2]), np.concatenate([w1, w2]))


def random_closed_polyline(rng, n=40, center=(0.0, 0.0, 0.12), scale=0.03):
    """A closed random 3-D polygon (a wiggly loop) around ``center``."""
    from coils._model import Coil

    th = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = scale * (1 + 0.3 * rng.uniform(-1, 1, n))
    pts = np.stack([r * np.cos(th), r * np.sin(th), 0.01 * rng.uniform(-1, 1, n)], axis=1) + center
    return Coil("wiggly", pts, np.roll(pts, -1, axis=0), np.ones(n))



@pytest.fixture(scope="session")
def subject_folder(tmp_path_factory):
    """A SimNIBS-style subject folder ``m2m_sub01/`` (the built-in human head at 5 mm voxels, moved into a
    made-up subject space; ``meshes.example_subject_folder``).  Returns (folder, MNI → subject affine, mm)."""
    from meshes import example_subject_affine, example_subject_folder

    folder = example_subject_folder(tmp_path_factory.mktemp("subjects") / "m2m_sub01")
    return folder, example_subject_affine()
