"""Parametric spirals and figure-8 coils: closed paths, geometry and fields against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from coils import Coil, figure8_coil, list_coils, load_coil, spiral_coil
from tests._coil_field_ref import MU0_4PI, flux_density, grid_below, vector_potential


def _moment(coil, mask=None) -> np.ndarray:
    """Magnetic moment per ampere ½ Σ w (r × dl) of (a subset of) the segments, A·m² per A."""
    s, e, w = coil.segments
    if mask is not None:
        s, e, w = s[mask], e[mask], w[mask]
    return 0.5 * (w[:, None] * np.cross((s + e) / 2, e - s)).sum(axis=0)


def _archimedes_length(r_a: float, r_b: float, turns: float) -> float:
    """Arc length of r = r_a + bθ, θ in [0, 2π turns]: (1/2b)[r√(r²+b²) + b² asinh(r/b)]."""
    b = (r_b - r_a) / (2 * np.pi * turns)
    F = lambda r: r * math.hypot(r, b) + b * b * math.asinh(r / b)  # noqa: E731
    return (F(r_b) - F(r_a)) / (2 * b)


# ------------------------------------------------------------------ closed paths
@pytest.mark.parametrize("cid", list_coils())
def test_every_preset_is_a_closed_path_above_the_casing(cid):
    coil = load_coil(cid)
    coil.check_closed()
    assert len(coil.open_ends()) == 0
    g = coil.metadata["geometry"]
    casing = coil.metadata["casing_thickness_m"]
    if g.get("bend_angle_rad", 0.0) < 0:  # wings bent towards the head: above the folded casing plane
        u = np.abs(coil.points[:, 0]) - g["fold_offset_m"]
        floor = casing + np.minimum(0.0, u * math.tan(g["bend_angle_rad"]))
        assert (coil.points[:, 2] - floor).min() >= -1e-12
    else:
        assert coil.points[:, 2].min() >= casing - 1e-12
    assert 1000 < coil.n_segments < 8000  # "a few thousand" segments per coil


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(layers=1), dict(layers=2), dict(layers=3, layer_spacing=2e-3),
        dict(turns=2.5), dict(turns=2.5, layers=2), dict(conductor_height=3e-3, filaments=3),
    ],
)
def test_spirals_close_for_any_layer_count_and_fractional_turns(kwargs):
    args = dict(turns=4)
    args.update(kwargs)
    spiral_coil("s", 0.02, 0.06, **args).check_closed()
    figure8_coil("f", 0.02, 0.06, **args, bend_angle=0.2).check_closed()


def test_removing_a_segment_opens_the_path():
    coil = spiral_coil("s", 0.02, 0.06, 3)
    broken = Coil("b", coil.start[1:], coil.end[1:], coil.weight[1:])
    with pytest.raises(ValueError, match="open at 2 point"):
        broken.check_closed()


# ------------------------------------------------------------------ geometry
@pytest.mark.parametrize("spt", [32, 64, 128])
def test_spiral_wire_length_matches_archimedes(spt):
    ri, ro, n, zb, gap = 0.028, 0.0435, 9, 0.004, 0.002
    coil = spiral_coil("s", 2 * ri, 2 * ro, n, z_bottom=zb, lead_gap=gap, segments_per_turn=spt)
    w = (ro - ri) / n
    r_a, r_b = ri + w / 2, ro - w / 2
    leads = 2 * gap + (r_b - r_a)  # up, radial crossover, down (thin wire at z_bottom)
    length = np.linalg.norm(coil.end - coil.start, axis=1).sum()
    expected = _archimedes_length(r_a, r_b, n) + leads
    d = 2 * np.pi / spt
    # area-preserving chords are longer than the arc by ~ d²/24 (relative)
    assert abs(length / expected - 1) < d * d / 12
    assert length > expected


def test_spiral_length_error_falls_as_step_squared():
    errs = []
    for spt in (32, 64, 128):
        c = spiral_coil("s", 0.056, 0.087, 9, segments_per_turn=spt)
        w = 0.0155 / 9
        exp = _archimedes_length(0.028 + w / 2, 0.0435 - w / 2, 9) + 2 * 0.002 + (0.0155 - w)
        errs.append(np.linalg.norm(c.end - c.start, axis=1).sum() / exp - 1)
    assert_allclose(np.array(errs[:-1]) / np.array(errs[1:]), 4.0, rtol=0.05)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_spiral_has_the_magnetic_moment_of_the_archimedean_spiral(layers):
    # m_z = ½∮ r² dθ = (π N / 3)(r_a² + r_a r_b + r_b²) per layer; leads add no m_z.
    ri, ro, n = 0.0175, 0.0375, 5
    coil = spiral_coil("s", 2 * ri, 2 * ro, n, layers, conductor_height=5e-3, layer_spacing=6e-3)
    w = (ro - ri) / n
    r_a, r_b = ri + w / 2, ro - w / 2
    mz = layers * np.pi * n / 3 * (r_a**2 + r_a * r_b + r_b**2)
    assert_allclose(_moment(coil)[2], mz, rtol=1e-6)
    flipped = spiral_coil("s", 2 * ri, 2 * ro, n, layers, conductor_height=5e-3, layer_spacing=6e-3, sense=-1)
    assert_allclose(_moment(flipped), -_moment(coil), rtol=1e-12, atol=1e-18)


def test_figure8_wings_have_opposite_moments_and_sit_at_their_centres():
    coil = figure8_coil("f", 0.056, 0.087, 9, wing_spacing=0.09, conductor_height=5e-3)
    mid = (coil.start + coil.end) / 2
    right, left = _moment(coil, mid[:, 0] > 0), _moment(coil, mid[:, 0] < 0)
    assert right[2] > 0 and left[2] < 0
    assert_allclose(right[2], -left[2], rtol=1e-12)
    w = 0.0155 / 9
    r_a, r_b = 0.028 + w / 2, 0.0435 - w / 2
    assert_allclose(right[2], np.pi * 9 / 3 * (r_a**2 + r_a * r_b + r_b**2), rtol=1e-6)
    # the +x wing is a spiral centred at x = +45 mm; the -x wing is its mirror image
    wing = spiral_coil("w", 0.056, 0.087, 9, conductor_height=5e-3, center=(0.045, 0, 0))
    assert_allclose(coil.start[mid[:, 0] > 0], wing.start, atol=1e-15)
    mirror = coil.start[mid[:, 0] < 0] * [-1, 1, 1]
    assert_allclose(np.sort(mirror, axis=0), np.sort(wing.end, axis=0), atol=1e-15)


def test_figure8_currents_add_along_y_under_the_centre():
    coil = figure8_coil("f", 0.056, 0.087, 9, conductor_height=5e-3)
    p = np.array([[0.0, 0.0, -0.02]])
    a = vector_potential(coil, p)[0]
    assert a[1] < 0 and abs(a[0]) < 1e-6 * abs(a[1])  # current under the centre flows along -y
    one_wing = figure8_coil("f", 0.056, 0.087, 9, conductor_height=5e-3)
    mid = (one_wing.start + one_wing.end) / 2
    right = Coil("r", one_wing.start[mid[:, 0] > 0], one_wing.end[mid[:, 0] > 0], one_wing.weight[mid[:, 0] > 0])
    a_right = vector_potential(right, p)[0]
    assert_allclose(a[1], 2 * a_right[1], rtol=1e-9)  # both wings contribute equally, same sign
    b = flux_density(coil, p)[0]
    assert abs(b[2]) < 1e-9 * np.linalg.norm(b)  # antisymmetric B_z vanishes on the symmetry plane
    flipped = figure8_coil("f", 0.056, 0.087, 9, conductor_height=5e-3, sense=-1)
    rows = lambda a: a[np.lexsort(a.T)]  # noqa: E731
    assert_allclose(rows(flipped.start), rows(coil.end), atol=0)  # same wires, current reversed
    assert_allclose(vector_potential(flipped, p)[0], -a, rtol=1e-12, atol=1e-15 * np.linalg.norm(a))  # atol: round-off of the ~0 x part


def test_bent_wings_lift_their_outer_edges():
    flat = figure8_coil("f", 0.024, 0.108, 10, conductor_height=6e-3, z_bottom=4e-3)
    beta = np.radians(10)
    bent = figure8_coil("f", 0.024, 0.108, 10, conductor_height=6e-3, z_bottom=4e-3, bend_angle=beta)
    bent.check_closed()
    assert bent.points[:, 2].min() >= 4e-3 - 1e-12
    far = np.abs(bent.points[:, 0]) > 0.09
    assert bent.points[far, 2].min() > flat.points[:, 2].max()
    # rotation about y through (x=0, z=z_bottom): the +x wing's moment is the flat one turned by -beta
    mid_b, mid_f = (bent.start + bent.end) / 2, (flat.start + flat.end) / 2
    m_bent, m_flat = _moment(bent, mid_b[:, 0] > 0), _moment(flat, mid_f[:, 0] > 0)
    c, s = np.cos(beta), np.sin(beta)
    assert_allclose(m_bent, np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]) @ m_flat, rtol=1e-12, atol=1e-15)
    mid = mid_b
    # mirror symmetry x -> -x of the geometry: wire lengths equal on both sides
    lengths = np.linalg.norm(bent.end - bent.start, axis=1)
    assert_allclose(lengths[mid[:, 0] > 0].sum(), lengths[mid[:, 0] < 0].sum(), rtol=1e-12)


def test_filaments_split_the_current_and_keep_the_moment():
    one = spiral_coil("s", 0.04, 0.09, 15, conductor_height=0.0, z_bottom=7e-3)
    two = spiral_coil("s", 0.04, 0.09, 15, conductor_height=6e-3, z_bottom=4e-3)
    three = spiral_coil("s", 0.04, 0.09, 15, conductor_height=6e-3, z_bottom=4e-3, filaments=3)
    assert set(np.round(two.weight, 12)) == {0.5}
    for c in (two, three):
        assert_allclose(_moment(c)[2], _moment(one)[2], rtol=1e-12)
    # Gauss-Legendre filaments: 2 and 3 filaments agree (uniform current over the height)
    p = grid_below(0.05, [0.01, 0.02], n=7)
    b2, b3, b1 = flux_density(two, p), flux_density(three, p), flux_density(one, p)
    assert np.abs(b2 - b3).max() < 2e-3 * np.abs(b3).max()
    assert np.abs(b1 - b3).max() > np.abs(b2 - b3).max()


# ------------------------------------------------------------------ fields
def test_one_turn_circle_on_axis_field_matches_closed_form():
    a, h = 0.035, 0.005
    coil = spiral_coil("loop", 2 * a, 2 * a, 1, z_bottom=h)
    assert coil.n_segments == coil.metadata["geometry"]["segments_per_turn"]  # no lead wires
    assert_allclose(np.linalg.norm(coil.start - [0, 0, h], axis=1).max(), a * 1.001, rtol=1e-3)
    depth = np.linspace(0.01, 0.1, 10)
    p = np.stack([np.zeros_like(depth), np.zeros_like(depth), -depth], axis=1)
    b = flux_density(coil, p)
    zz = depth + h
    exact = 4 * np.pi * MU0_4PI * a**2 / (2 * (a**2 + zz**2) ** 1.5)
    assert_allclose(b[:, 2], exact, rtol=1e-6)
    assert np.abs(b[:, :2]).max() < 1e-9 * exact.max()


def test_on_axis_error_of_the_polygon_falls_as_step_to_the_fourth():
    a, h = 0.035, 0.005
    p = np.array([[0.0, 0.0, -0.01]])
    exact = 4 * np.pi * MU0_4PI * a**2 / (2 * (a**2 + (0.01 + h) ** 2) ** 1.5)
    errs = [abs(flux_density(spiral_coil("l", 2 * a, 2 * a, 1, z_bottom=h, segments_per_turn=n), p)[0, 2] / exact - 1)
            for n in (16, 32, 64)]
    assert errs[0] / errs[1] > 12 and errs[1] / errs[2] > 12


@pytest.mark.parametrize("cid", list_coils())
def test_sampling_rule_refined_twice_changes_fields_below_1e6(cid):
    coil = load_coil(cid)
    spt = coil.metadata["geometry"]["segments_per_turn"]
    fine = load_coil(cid, segments_per_turn=2 * spt)
    assert fine.n_segments > 1.9 * coil.n_segments
    half = 0.02 if coil.metadata["species"] == "rodent" and "round" in cid else 0.08
    below = max(0.0, -float(coil.points[:, 2].min()))  # wings bent towards the head reach below z = 0
    pts = grid_below(half, [below + 0.010, below + 0.015, below + 0.030], n=15)  # ≥ 10 mm below every wire
    for field in (flux_density, vector_potential):
        f1, f2 = field(coil, pts), field(fine, pts)
        change = np.abs(f1 - f2).max() / np.abs(f2).max()
        # folded wings (MC-B70): the chords that cross a fold line bend at the chord's crossing, not the
        # arc's, a local O(d^3) area error per crossing: measured 5.6e-5, bound 2e-4; flat coils: O(d^4)
        bound = 2e-4 if coil.metadata["geometry"].get("fold_offset_m", 0.0) > 0 else 1e-6
        assert change < bound, f"{cid}: {field.__name__} changed by {change:.2e}"


def test_reference_helper_agrees_with_efield_kernels():
    efield = pytest.importorskip("efield")
    coil = load_coil("magstim_70mm_fig8")
    p = grid_below(0.05, [0.01, 0.03], n=5)
    assert_allclose(efield.magnetic_field(coil, p), flux_density(coil, p), rtol=1e-7, atol=1e-12 * 1e-4)
    assert_allclose(efield.vector_potential(coil, p), vector_potential(coil, p), rtol=1e-7, atol=1e-16)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0.06, 0.04, 3), {}, "outer_diameter .* must be >= inner_diameter"),
        ((0.02, 0.06, 0), {}, "turns must be finite and > 0"),
        ((0.02, 0.06, 3), dict(sense=2), r"sense must be \+1"),
        ((0.02, 0.06, 3), dict(layers=0), "layers must be an integer >= 1"),
        ((0.02, 0.06, 3), dict(layers=2.0), "layers must be an integer"),
        ((0.02, 0.06, 3), dict(segments_per_turn=4), "segments_per_turn must be an integer >= 8"),
        ((0.02, 0.06, 3), dict(conductor_width=0.05), "conductor_width .* exceeds"),
        ((0.02, 0.06, 3), dict(layers=2, conductor_height=5e-3, layer_spacing=2e-3), "layers would overlap"),
        ((0.02, 0.06, 3), dict(z_bottom=0.0), "z_bottom must be finite and > 0"),
        ((0.02, "wide", 3), {}, "outer_diameter must be a number"),
        ((0.02, np.nan, 3), {}, "outer_diameter must be finite"),
    ],
)
def test_builders_refuse_bad_geometry(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        spiral_coil("s", *args, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(wing_spacing=0.05), "the wings overlap; wing_stack"),
        (dict(bend_angle=-2.0), r"bend_angle must be in \(-pi/2, pi/2\)"),
        (dict(bend_angle=2.0), "bend_angle"),
    ],
)
def test_figure8_refuses_bad_layout(kwargs, match):
    with pytest.raises(ValueError, match=match):
        figure8_coil("f", 0.02, 0.06, 3, **kwargs)


def test_spiral_center_offset_and_metadata():
    coil = spiral_coil("s", 0.02, 0.06, 3, center=(0.01, -0.02, 0.001), metadata={"note": "x"})
    ref = spiral_coil("s", 0.02, 0.06, 3)
    assert_allclose(coil.start, ref.start + [0.01, -0.02, 0.001], atol=1e-15)
    assert coil.metadata["note"] == "x"
    assert coil.metadata["geometry"]["builder"] == "spiral_coil"
    with pytest.raises(ValueError, match="center must be 3 finite numbers"):
        spiral_coil("s", 0.02, 0.06, 3, center=(0, 0))
