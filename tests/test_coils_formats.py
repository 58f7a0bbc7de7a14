"""SimNIBS coil files: .ccd (dipoles) and .tcd (JSON dipole / line-segment elements)."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose

from coils import Coil, load_coil, read_ccd, read_coil, read_tcd, spiral_coil, write_ccd, write_coil, write_tcd
from tests._coil_field_ref import flux_density, grid_below, simnibs_coil_file, vector_potential

REFERENCE = {  # file: (dipoles, dIdtmax A/us in its header, stimulator)
    "MagStim_D70.ccd": (964, 114.73, "Magstim Rapid"),
    "MagVenture_C-B60.ccd": (1960, 155.40, "MagPro X100"),
    "MagVenture_Cool-B35.ccd": (1001, 141.28, "MagPro X100"),
}


# ------------------------------------------------------------------ .ccd
@pytest.mark.parametrize("fname", sorted(REFERENCE))
def test_reads_simnibs_reference_ccd_into_our_frame(fname):
    n, didt, stim = REFERENCE[fname]
    coil = read_ccd(simnibs_coil_file(fname))
    assert coil.n_dipoles == n and coil.n_segments == 0
    assert_allclose(coil.metadata["didt_max_a_per_s"], didt * 1e6, rtol=1e-12)
    assert coil.metadata["stimulator"] == stim
    # SimNIBS's dipoles sit at z < 0 (its z points into the head); ours are all above the casing
    assert coil.dipole_position[:, 2].min() > 0
    # the coils are left-right antisymmetric: the net moment is small against the wing moments
    wing = np.abs(coil.dipole_moment[coil.dipole_position[:, 0] > 0, 2].sum())
    assert abs(coil.dipole_moment[:, 2].sum()) < 0.05 * wing
    # a figure-8: the primary field under the centre runs along the handle axis (y)
    a = vector_potential(coil, [[0.0, 0.0, -0.02]])[0]
    assert abs(a[1]) > 20 * abs(a[0])  # measured models: not perfectly symmetric


def test_ccd_frame_conversion_is_a_rotation_about_x(tmp_path):
    # SimNIBS: z into the head, y away from the handle; ours: z away from the head, y along the handle
    f = tmp_path / "one.ccd"
    f.write_text("# one.ccd version 1.0; dIdtmax=100;coilname=one;\n1\n0.01 0.02 -0.005 1e-6 2e-6 -3e-6\n")
    coil = read_ccd(f)
    assert_allclose(coil.dipole_position, [[0.01, -0.02, 0.005]])
    assert_allclose(coil.dipole_moment, [[1e-6, -2e-6, 3e-6]])
    assert coil.name == "one" and coil.metadata["didt_max_a_per_s"] == 1e8


@pytest.mark.parametrize("fname", sorted(REFERENCE))
def test_ccd_round_trip_of_reference_files(fname, tmp_path):
    coil = read_ccd(simnibs_coil_file(fname))
    out = tmp_path / "copy.ccd"
    write_ccd(coil, out)
    back = read_ccd(out)
    assert_allclose(back.dipole_position, coil.dipole_position, rtol=0, atol=0)
    assert_allclose(back.dipole_moment, coil.dipole_moment, rtol=0, atol=0)
    for key in ("didt_max_a_per_s", "stimulator", "manufacturer"):
        assert back.metadata[key] == pytest.approx(coil.metadata[key]) if key == "didt_max_a_per_s" \
            else back.metadata[key] == coil.metadata[key]
    assert back.name == coil.name


def test_ccd_round_trip_of_a_synthetic_coil(tmp_path):
    rng = np.random.default_rng(3)
    coil = Coil("synthetic", dipole_position=rng.uniform(0.001, 0.05, (17, 3)),
                dipole_moment=rng.normal(0, 1e-5, (17, 3)), metadata={"didt_max_a_per_s": 1.2345e8})
    write_coil(coil, tmp_path / "s.ccd")
    back = read_coil(tmp_path / "s.ccd")
    assert_allclose(back.dipole_position, coil.dipole_position, rtol=0, atol=0)
    assert_allclose(back.dipole_moment, coil.dipole_moment, rtol=0, atol=0)
    assert back.metadata["didt_max_a_per_s"] == pytest.approx(1.2345e8, rel=1e-12)
    p = grid_below(0.05, [0.01], n=5)
    assert_allclose(flux_density(back, p), flux_density(coil, p), rtol=1e-14)


def test_write_ccd_refuses_wires(tmp_path):
    with pytest.raises(ValueError, match="holds magnetic dipoles only"):
        write_ccd(spiral_coil("s", 0.02, 0.04, 2), tmp_path / "x.ccd")


@pytest.mark.parametrize(
    "text, match",
    [
        ("# h\nabc\n", r"line 2 should hold the number of dipoles"),
        ("# h\n2\n0 0 -0.01 0 0 1e-6\n", "announces 2 dipoles but 1 data lines"),
        ("# h\n1\n0 0 -0.01 0 0\n", r"line 3 must hold 6 numbers"),
        ("# h\n1\n0 0 -0.01 0 0 x\n", "line 3 holds a value that is not a number"),
        ("# only a comment\n", "no dipole count found"),
        ("# dIdtmax=fast;\n1\n0 0 -0.01 0 0 1e-6\n", "dIdtmax='fast' in the header is not a number"),
        ("# h\n1\n0 0 -0.01 0 0 nan\n", "not finite"),
    ],
)
def test_malformed_ccd_errors_name_file_and_problem(tmp_path, text, match):
    f = tmp_path / "bad.ccd"
    f.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        read_ccd(f)
    assert "bad.ccd" in str(err.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ccd"):
        read_ccd(tmp_path / "nope.ccd")
    with pytest.raises(FileNotFoundError, match="nope.tcd"):
        load_coil(tmp_path / "nope.tcd")


# ------------------------------------------------------------------ .tcd
@pytest.mark.parametrize("compress", [False, True])
def test_tcd_round_trip_of_a_wire_coil(tmp_path, compress):
    coil = load_coil("magventure_cb60")
    out = tmp_path / "cb60.tcd"
    write_tcd(coil, out, compress=compress)
    doc = json.loads(out.read_text())
    assert {el["type"] for el in doc["coilElementList"]} == {2}
    assert doc["stimulatorList"][0]["maxdIdt"] == pytest.approx(155.40e6)
    back = read_tcd(out)
    back.check_closed()
    assert_allclose(back.start, coil.start, rtol=0, atol=1e-15)
    assert_allclose(back.end, coil.end, rtol=0, atol=1e-15)
    assert_allclose(back.weight, coil.weight, rtol=1e-15)
    assert back.metadata["didt_max_a_per_s"] == coil.metadata["didt_max_a_per_s"]
    assert back.metadata["stimulator"] == coil.metadata["stimulator"]
    p = grid_below(0.06, [0.01, 0.03], n=5)
    b = flux_density(coil, p)
    assert_allclose(flux_density(back, p), b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_tcd_round_trip_keeps_mixed_weights_and_dipoles(tmp_path):
    loop = spiral_coil("l", 0.03, 0.03, 1, segments_per_turn=16)
    s, e, _ = loop.segments
    w = np.r_[np.full(8, 0.5), np.full(8, 0.5)]
    coil = Coil("mixed", np.r_[s, s + [0, 0, 0.01]], np.r_[e, e + [0, 0, 0.01]], np.r_[w, np.full(16, -2.0)],
                dipole_position=[[0.0, 0.01, 0.02]], dipole_moment=[[1e-4, 0.0, -2e-4]],
                metadata={"manufacturer": "nobody"})
    write_tcd(coil, tmp_path / "m.tcd")
    doc = json.loads((tmp_path / "m.tcd").read_text())
    names = [el.get("name") for el in doc["coilElementList"]]
    assert names == ["mixed dipoles", "mixed wires (weight=0.5)", "mixed wires (weight=-2.0)"]
    assert doc["brand"] == "nobody"
    back = read_coil(tmp_path / "m.tcd")
    order = np.argsort(-back.weight, kind="stable")  # weight 0.5 first, then -2
    assert_allclose(back.weight, np.r_[w, np.full(16, -2.0)])
    assert_allclose(back.start[order], coil.start, atol=1e-15)
    assert_allclose(back.dipole_moment, coil.dipole_moment, rtol=1e-15)
    assert_allclose(back.dipole_position, coil.dipole_position, atol=1e-17)


@pytest.mark.parametrize("fname", sorted(REFERENCE))
def test_ccd_to_tcd_gives_the_same_field(tmp_path, fname):
    coil = read_ccd(simnibs_coil_file(fname))
    write_tcd(coil, tmp_path / "c.tcd", compress=True)
    back = read_tcd(tmp_path / "c.tcd")
    p = grid_below(0.05, [0.02], n=5)
    assert_allclose(vector_potential(back, p), vector_potential(coil, p), rtol=1e-12, atol=1e-20)
    assert back.metadata["didt_max_a_per_s"] == pytest.approx(coil.metadata["didt_max_a_per_s"], rel=1e-15)


def _square_tcd(**extra) -> dict:
    """A 20 mm square loop in SimNIBS's layout: midpoints and vectors in mm, SimNIBS frame."""
    corners = np.array([[-10, -10, -5], [10, -10, -5], [10, 10, -5], [-10, 10, -5]], float)
    nxt = np.roll(corners, -1, axis=0)
    el = {"name": "square", "stimulator": 0, "type": 2,
          "points": ((corners + nxt) / 2).tolist(), "values": (nxt - corners).tolist()}
    el.update(extra.pop("element", {}))
    doc = {"name": "square", "brand": "test", "stimulatorList": [{"name": "stim", "maxdIdt": 1.5e8}],
           "coilElementList": [el]}
    doc.update(extra)
    return doc


def test_reads_simnibs_layout_line_elements_and_deformations(tmp_path):
    f = tmp_path / "sq.tcd"
    f.write_text(json.dumps(_square_tcd()))
    coil = read_tcd(f)
    coil.check_closed()
    assert coil.n_segments == 4 and np.all(coil.weight == 1)
    assert_allclose(coil.start[:, 2], 0.005)  # SimNIBS z = -5 mm is 5 mm above the casing here
    assert_allclose(coil.start[0], [-0.01, 0.01, 0.005], atol=1e-15)  # y and z flip
    assert coil.metadata["didt_max_a_per_s"] == 1.5e8 and coil.metadata["stimulator"] == "stim"
    # counter-clockwise in SimNIBS's frame: moment along its +z (into the head) = our -z
    m = 0.5 * np.cross((coil.start + coil.end) / 2, coil.end - coil.start).sum(axis=0)
    assert_allclose(m, [0.0, 0.0, -4e-4], atol=1e-18)
    deformed = _square_tcd(
        element={"deformations": [0, 1]},
        deformList=[{"deformRange": 0, "type": "z"},
                    {"deformRange": 1, "type": "rot2p", "point1": [0, 0, 0], "point2": [0, 0, 1]}],
        deformRangeList=[{"initial": -3.0, "range": [-10, 10]}, {"initial": 90.0, "range": [0, 180]}],
    )
    f.write_text(json.dumps(deformed))
    moved = read_tcd(f)
    # z translation by -3 mm in SimNIBS's frame (3 mm further from the head), then 90 deg about its z
    assert_allclose(moved.start[:, 2], 0.008, atol=1e-15)
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])  # +90 deg about SimNIBS z ...
    flip = np.diag([1.0, -1.0, -1.0])  # ... seen in our frame
    expected = (coil.start - [0, 0, 0.005]) @ (flip @ rot @ flip).T + [0, 0, 0.008]
    assert_allclose(moved.start, expected, atol=1e-15)


def test_compressed_and_plain_tcd_arrays_read_alike(tmp_path):
    doc = _square_tcd()
    el = doc["coilElementList"][0]
    packed = dict(doc, coilElementList=[dict(el, **{
        k: base64.b64encode(zlib.compress(np.asarray(el[k], "<f8").tobytes())).decode() for k in ("points", "values")
    })])
    (tmp_path / "a.tcd").write_text(json.dumps(doc))
    (tmp_path / "b.tcd").write_text(json.dumps(packed))
    a, b = read_tcd(tmp_path / "a.tcd"), read_tcd(tmp_path / "b.tcd")
    assert_allclose(a.start, b.start, rtol=0, atol=0)
    assert_allclose(a.end, b.end, rtol=0, atol=0)


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        (json.dumps({"stimulatorList": [{"name": "s"}]}), "'coilElementList' must be a non-empty list"),
        (json.dumps(_square_tcd(element={"type": 3})), r"sampled A-field grid \(type 3\)"),
        (json.dumps(_square_tcd(element={"type": 7})), "has type 7"),
        (json.dumps(_square_tcd(element={"values": [[1, 0, 0]]})), "has 4 points but 1 values"),
        (json.dumps(_square_tcd(element={"points": [[1, 0]]})), r"points must be a non-empty list of \[x, y, z\]"),
        (json.dumps(_square_tcd(element={"points": "@@@"})), "not base64 zlib data"),
        (json.dumps(_square_tcd(element={"stimulator": 4})), r"stimulatorList\[4\], which does not exist"),
        (json.dumps(_square_tcd(element={"name": "w (weight=abc)"})), "weight tag that is not a number"),
        (json.dumps(_square_tcd(element={"deformations": [0]})), "deformation 0 is missing or incomplete"),
        (json.dumps(_square_tcd(element={"deformations": [0]}, deformList=[{"deformRange": 0, "type": "q"}],
                                deformRangeList=[{"initial": 1, "range": [0, 2]}])), "unknown type 'q'"),
        (json.dumps(_square_tcd(stimulatorList=[{"name": "s", "maxdIdt": -1}])), "maxdIdt must be a number > 0"),
    ],
)
def test_malformed_tcd_errors_name_file_and_problem(tmp_path, content, match):
    f = tmp_path / "broken.tcd"
    f.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        read_tcd(f)
    assert "broken.tcd" in str(err.value)


def test_registry_chooses_by_extension(tmp_path):
    with pytest.raises(ValueError, match=r"unknown extension '\.txt'; known: \.ccd, \.tcd"):
        read_coil(tmp_path / "coil.txt")
    with pytest.raises(ValueError, match="cannot write coil file"):
        write_coil(spiral_coil("s", 0.02, 0.04, 2), tmp_path / "coil.nii")


def test_write_tcd_refuses_a_coil_without_current(tmp_path):
    loop = spiral_coil("l", 0.03, 0.03, 1)
    dead = Coil("dead", loop.start, loop.end, np.zeros(loop.n_segments))
    with pytest.raises(ValueError, match="carries no current"):
        write_tcd(dead, tmp_path / "d.tcd")
