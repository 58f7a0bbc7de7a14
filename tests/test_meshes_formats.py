"""Head-mesh and surface files: .msh (v2.2/v4.1), .vtu, STL, GIFTI."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from meshes import (
    MeshHead,
    icosphere,
    load_head,
    load_head_fields,
    load_surface,
    save_head,
    save_surface,
    surface_from_faces,
)

from .test_meshes_mesh import cube_grid


@pytest.fixture
def head():
    nodes, tets = cube_grid(n=2, size=0.02)
    tags = np.where(np.arange(len(tets)) % 3 == 0, 2, 5)
    base = MeshHead("cube", nodes, tets, tags)
    return MeshHead("cube", nodes, tets, tags, scalp=base.boundary_surface())


FORMATS = [("x.msh", "2.2"), ("x.msh", "2.2-binary"), ("x.msh", "4.1"), ("x.vtu", "2.2")]


@pytest.mark.parametrize("fname, msh_format", FORMATS)
def test_round_trip_with_tags_and_fields(tmp_path, head, fname, msh_format):
    rng = np.random.default_rng(1)
    e_tets = rng.normal(size=(head.n_tets, 3))
    phi = rng.normal(size=head.n_nodes)
    fields = {"E": e_tets, "magnE": np.linalg.norm(e_tets, axis=1), "phi": phi}
    path = save_head(head, tmp_path / fname, fields=fields, msh_format=msh_format)
    back = load_head(path)
    # v4.1 stores one entity per tissue: tets come back grouped by tag (stable within a tag)
    order = np.argsort(head.tags, kind="stable") if msh_format == "4.1" and fname.endswith(".msh") else slice(None)
    assert_allclose(back.nodes, head.nodes, rtol=1e-14, atol=1e-18, err_msg="metres after mm round trip")
    assert_array_equal(back.tets, head.tets[order])
    assert_array_equal(back.tags, head.tags[order])
    assert back.tissues == {2: "grey_matter", 5: "scalp"}
    assert back.scalp is not None and back.scalp.n_faces == head.scalp.n_faces
    assert_allclose(back.scalp.area, head.scalp.area, rtol=1e-12)
    assert back.cortex is None
    stored = load_head_fields(path)
    assert_allclose(stored.tets["E"], e_tets[order], rtol=1e-14)
    assert_allclose(stored.tets["magnE"], fields["magnE"][order], rtol=1e-14)
    assert_allclose(stored.nodes["phi"], phi, rtol=1e-14)


@pytest.mark.parametrize("fname, msh_format", FORMATS)
def test_surface_off_the_volume_mesh_round_trips_without_adding_nodes(tmp_path, head, fname, msh_format):
    # a cortex surface whose vertices are not mesh nodes (as in the built-in rodent heads) is
    # stored as extra points; reading it back must give the same volume mesh, not unused nodes
    from dataclasses import replace

    cortex = icosphere(0.004, 2, center=(0.01, 0.01, 0.01))
    h = replace(head, cortex=cortex)
    phi = np.arange(h.n_nodes, dtype=float)
    path = save_head(h, tmp_path / fname, fields={"phi": phi}, msh_format=msh_format)
    back = load_head(path)
    assert back.n_nodes == h.n_nodes and back.validate()["unused_nodes"] == 0
    assert back.provenance["points_not_in_tets"] == cortex.n_vertices
    assert_allclose(back.cortex.vertices, cortex.vertices, rtol=1e-12, atol=1e-15)
    assert_allclose(load_head_fields(path).nodes["phi"], phi)


def test_msh_is_in_mm_and_vtu_in_metres(tmp_path, head):
    save_head(head, tmp_path / "h.msh")
    save_head(head, tmp_path / "h.vtu")
    assert load_head(tmp_path / "h.msh", units="m").nodes.max() == pytest.approx(20.0)
    assert load_head(tmp_path / "h.vtu").nodes.max() == pytest.approx(0.02)


def test_gmsh_shows_tissues_as_physical_groups(tmp_path, head):
    gmsh = pytest.importorskip("gmsh")
    path = save_head(head, tmp_path / "h.msh", fields={"E": np.ones((head.n_tets, 3))}, msh_format="4.1")
    gmsh.initialize(["", "-v", "0"])
    try:
        gmsh.open(str(path))
        groups = gmsh.model.getPhysicalGroups()
        names = {tag: gmsh.model.getPhysicalName(dim, tag) for dim, tag in groups}
        assert len(gmsh.view.getTags()) == 1
    finally:
        gmsh.finalize()
    assert names == {1005: "scalp_surface", 2: "grey_matter", 5: "scalp"}


SIMNIBS_NODES_MM = [(0, 0, 0), (10, 0, 0), (0, 10, 0), (0, 0, 10), (10, 10, 10), (-10, -10, 0)]


def write_simnibs_like(path, tet_tags=(1, 2, 3, 4, 5)):
    """A hand-written SimNIBS-style v2.2 file: mm, triangles 1002/1005 then tets tagged 1..5."""
    tets = [(1, 2, 3, 4), (2, 3, 4, 5), (1, 3, 4, 6), (1, 2, 4, 6)][: len(tet_tags)]
    # fix orientation so every tet is positive
    p = np.array(SIMNIBS_NODES_MM, float)
    fixed = []
    for t in tets:
        a, b, c, d = p[np.array(t) - 1]
        fixed.append(t if np.dot(np.cross(b - a, c - a), d - a) > 0 else (t[1], t[0], t[2], t[3]))
    lines = ["$MeshFormat", "2.2 0 8", "$EndMeshFormat", "$Nodes", str(len(p))]
    lines += [f"{i + 1} {x} {y} {z}" for i, (x, y, z) in enumerate(SIMNIBS_NODES_MM)]
    lines += ["$EndNodes", "$Elements"]
    elements = [(2, 1002, (2, 3, 4)), (2, 1005, (1, 3, 2))]  # GM face shared by tets 0 and 1
    elements += [(4, tag, t) for tag, t in zip(tet_tags, fixed)]
    lines.append(str(len(elements)))
    lines += [f"{i + 1} {kind} 2 {tag} {tag} " + " ".join(map(str, t)) for i, (kind, tag, t) in enumerate(elements)]
    lines += ["$EndElements"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_simnibs_style_msh(tmp_path):
    path = write_simnibs_like(tmp_path / "ernie.msh", tet_tags=(1, 2, 3, 4))
    head = load_head(path, validate=False)  # its one-triangle scalp is open (see the next test)
    assert head.name == "ernie"
    assert head.tissues == {1: "white_matter", 2: "grey_matter", 3: "csf", 4: "bone"}
    assert_allclose(head.nodes, np.array(SIMNIBS_NODES_MM) * 1e-3)
    assert_allclose(head.sigma_per_tet, [0.126, 0.275, 1.654, 0.010])
    assert head.provenance["units_in_file"] == "mm"
    # GM face (nodes 2, 3, 4) is oriented away from the grey-matter tet (nodes 2, 3, 4, 5)
    c = head.cortex
    n = c.face_normals()[0]
    assert np.dot(n, head.nodes[4] - c.vertices[c.faces[0, 0]]) < 0
    assert head.scalp.n_faces == 1 and head.provenance["scalp_tag"] == 1005


def test_simnibs_scalp_without_tissue_5_is_kept_as_given(tmp_path):
    head = load_head(write_simnibs_like(tmp_path / "h.msh", tet_tags=(1, 2)), validate=False)
    assert head.scalp.n_faces == 1
    with pytest.raises(ValueError, match="scalp of mesh 'h' must be closed.*3 boundary edge"):
        head.validate()


def test_unknown_tag_in_file_names_it_and_the_fix(tmp_path):
    path = write_simnibs_like(tmp_path / "h.msh", tet_tags=(1, 2, 3, 42))
    with pytest.raises(ValueError, match=r"tag\(s\) \[42\].*conductivity=\{42: 0.3\}"):
        load_head(path, validate=False)
    head = load_head(path, conductivity={42: 0.2}, validate=False)
    assert head.conductivity[42] == 0.2
    assert head.provenance["conductivity_source"][42] == "given to load_head"


def test_inverted_tet_in_file_is_reported(tmp_path, head):
    tets = np.array(head.tets)
    tets[5] = tets[5][[1, 0, 2, 3]]
    bad = MeshHead("bad", head.nodes, tets, head.tags)
    path = save_head(bad, tmp_path / "bad.msh")
    with pytest.raises(ValueError, match=r"inverted or degenerate.*tet 5 at"):
        load_head(path)
    assert load_head(path, validate=False).n_tets == head.n_tets


def test_file_without_tets(tmp_path):
    path = tmp_path / "tri.msh"
    path.write_text("$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n3\n1 0 0 0\n2 1 0 0\n3 0 1 0\n$EndNodes\n"
                    "$Elements\n1\n1 2 2 1005 1005 1 2 3\n$EndElements\n")
    with pytest.raises(ValueError, match="holds no tetrahedra .*triangle"):
        load_head(path)


def test_missing_file_and_unknown_extension(tmp_path, head):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_head(tmp_path / "nope.msh")
    (tmp_path / "h.obj").write_text("")
    with pytest.raises(ValueError, match=r"'\.obj'.*known extensions: \.msh, \.vtu"):
        load_head(tmp_path / "h.obj")
    with pytest.raises(ValueError, match="known extensions"):
        save_head(head, tmp_path / "h.stl")
    with pytest.raises(ValueError, match="units must be one of"):
        save_head(head, tmp_path / "h.msh") and load_head(tmp_path / "h.msh", units="cm")


def test_broken_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.msh"
    path.write_text("hello\n")
    with pytest.raises(ValueError, match="cannot read gmsh file"):
        load_head(path)


def test_overwrite_refused_unless_forced(tmp_path, head):
    path = save_head(head, tmp_path / "h.vtu")
    with pytest.raises(FileExistsError, match="force=True"):
        save_head(head, path)
    save_head(head, path, force=True)
    assert sorted(os.listdir(tmp_path)) == ["h.vtu"], "no temporary files left behind"


def test_failed_write_leaves_nothing(tmp_path, head):
    with pytest.raises(ValueError, match=r"fields\['E'\] must have one row per tet"):
        save_head(head, tmp_path / "h.msh", fields={"E": np.ones((3, 3))})
    with pytest.raises(ValueError, match="field names"):
        save_head(head, tmp_path / "h.msh", fields={"tissue": np.ones(head.n_tets)})
    assert os.listdir(tmp_path) == []


def test_gmsh_generated_two_layer_sphere(tmp_path):
    gmsh = pytest.importorskip("gmsh")
    gmsh.initialize(["", "-v", "0"])
    try:
        gmsh.model.add("spheres")
        outer = gmsh.model.occ.addSphere(0, 0, 0, 10.0)  # mm
        inner = gmsh.model.occ.addSphere(0, 0, 0, 7.0)
        gmsh.model.occ.fragment([(3, outer)], [(3, inner)])
        gmsh.model.occ.synchronize()
        vols = sorted(gmsh.model.getEntities(3), key=lambda e: gmsh.model.occ.getMass(*e))
        gmsh.model.addPhysicalGroup(3, [vols[0][1]], 11)  # inner: brain
        gmsh.model.addPhysicalGroup(3, [vols[1][1]], 5)  # shell: scalp
        gmsh.option.setNumber("Mesh.MeshSizeMax", 2.5)
        gmsh.model.mesh.generate(3)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.Binary", 0)
        gmsh.write(str(tmp_path / "s4.msh"))
        gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
        gmsh.option.setNumber("Mesh.Binary", 1)
        gmsh.write(str(tmp_path / "s2.msh"))
    finally:
        gmsh.finalize()
    for name in ("s4.msh", "s2.msh"):
        head = load_head(tmp_path / name)
        assert head.tissues == {5: "scalp", 11: "brain"}
        brain = head.tet_volumes[head.tags == 11].sum()
        # polyhedral approximation of the sphere: a few percent under 4/3 π r³ at this size
        assert_allclose(brain, 4 / 3 * np.pi * 0.007**3, rtol=0.05)
        assert_allclose(head.tet_volumes.sum(), 4 / 3 * np.pi * 0.010**3, rtol=0.05)
        assert head.contains([[0, 0, 0], [0, 0, 0.011]]).tolist() == [True, False]
        scalp = head.boundary_surface()
        assert_allclose(np.linalg.norm(scalp.vertices, axis=1), 0.010, rtol=1e-6)


def test_stl_closed_and_open(tmp_path):
    sphere = icosphere(70.0e-3, 2)
    path = save_surface(sphere, tmp_path / "s.stl")
    back = load_surface(path, closed=True)
    assert back.n_faces == sphere.n_faces
    assert_allclose(back.area, sphere.area, rtol=1e-5)  # binary STL stores float32
    assert (np.einsum("ij,ij->i", back.face_normals(), back.vertices[back.faces].mean(axis=1)) > 0).all()
    open_ = surface_from_faces(sphere.vertices, sphere.faces[:-2])
    save_surface(open_, tmp_path / "open.stl")
    assert load_surface(tmp_path / "open.stl").n_faces == sphere.n_faces - 2
    with pytest.raises(ValueError, match=r"must be closed.*it has \d+ boundary edge\(s\) \(open\), e.g. at \(.*\) mm"):
        load_surface(tmp_path / "open.stl", closed=True)


def test_gifti_round_trip(tmp_path):
    pytest.importorskip("nibabel")
    sphere = icosphere(0.07, 3, center=(0.001, -0.02, 0.03))
    path = save_surface(sphere, tmp_path / "lh.pial.gii")
    back = load_surface(path)
    assert_array_equal(back.faces, sphere.faces)
    assert_allclose(back.vertices, sphere.vertices, atol=1e-8)  # float32 mm
    # normals are rebuilt from the triangles (area-weighted), close to the exact sphere normals
    assert (np.einsum("ij,ij->i", back.normals, sphere.normals) > 0.999).all()
    in_metres = load_surface(path, units="m")
    assert_allclose(in_metres.vertices, sphere.vertices * 1e3, rtol=1e-6)
    with pytest.raises(FileExistsError):
        save_surface(sphere, path)
