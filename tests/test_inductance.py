"""Self-inductance of wire models against the exact mutual inductance of coaxial circles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ellipe, ellipk

from coils._model import Coil
from efield import MU0
from efield.physics.inductance import rectangle_gmd, self_inductance
from tests.conftest import loop_coil


def _coaxial_circles(radius, gap):
    # Maxwell: M = mu0 R ((2/k − k) K(k) − (2/k) E(k)),  k² = 4R² / (4R² + gap²)
    m = 4 * radius**2 / (4 * radius**2 + gap**2)
    k = np.sqrt(m)
    return MU0 * radius * ((2 / k - k) * ellipk(m) - 2 / k * ellipe(m))


@pytest.mark.parametrize("gmd", [1e-3, 3e-3])
def test_circular_loop_converges_to_exact_form(gmd):
    radius = 0.05
    errors = []
    for n in (360, 1440):
        coil = loop_coil(radius, n, center=(0, 0, 0))
        errors.append(abs(self_inductance(coil, gmd, directions=1) / _coaxial_circles(radius, gmd) - 1))
    assert errors[1] < errors[0] / 10  # second order in the polygon's angular step
    assert errors[1] < 5e-6
    # and the thin-wire textbook value mu0 R (ln(8R/g) − 2) to O((g/R)² ln)
    approx = MU0 * radius * (np.log(8 * radius / gmd) - 2)
    assert abs(self_inductance(loop_coil(radius, 1440, (0, 0, 0)), gmd) / approx - 1) < 2 * (gmd / radius) ** 2


def test_node_order_has_converged():
    coil = loop_coil(0.03, 500, center=(0, 0, 0))
    assert np.isclose(self_inductance(coil, 2e-3, order=8), self_inductance(coil, 2e-3, order=16), rtol=1e-9, atol=0)


def test_two_turns_in_series_more_than_double():
    # Two coaxial turns in series: L = 2 L1 + 2 M > 2 L1
    one = loop_coil(0.03, 720, center=(0, 0, 0))
    two = Coil("two", np.concatenate([one.start, one.start + [0, 0, 0.004]]),
               np.concatenate([one.end, one.end + [0, 0, 0.004]]), np.ones(1440))
    l1, l2 = self_inductance(one, 1e-3, directions=1), self_inductance(two, 1e-3, directions=1)
    mutual = _coaxial_circles(0.03, 0.004)
    assert np.isclose(l2, 2 * l1 + 2 * mutual, rtol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="gmd must be positive"):
        self_inductance(loop_coil(), -1.0)
    open_coil = Coil("open", [[0, 0, 0]], [[0.01, 0, 0]], [1.0])
    with pytest.raises(ValueError, match="open"):
        self_inductance(open_coil, 1e-3)
    assert np.isclose(rectangle_gmd(1.75e-3, 6e-3), 0.2235 * 7.75e-3)
