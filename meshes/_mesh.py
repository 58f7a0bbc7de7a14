"""Tetrahedral head meshes with tissue tags: the :class:`MeshHead` value object.

Metres and S/m inside.  Tissue tags follow SimNIBS (1 white matter … 10 muscle; triangles of the
surface between tissue ``k`` and its outside carry ``1000 + k``), plus two tags of this project:
11 ``brain`` (a one-compartment rodent brain) and 12 ``medium`` (culture medium in a dish).

Default conductivities (S/m)
----------------------------
Tags 1–10: Wagner T.A., Zahn M., Grodzinsky A.J., Pascual-Leone A. (2004) Three-dimensional head
model simulation of transcranial magnetic stimulation. *IEEE Trans Biomed Eng* 51(9):1586–1598,
as used by SimNIBS (:data:`WAGNER_2004`).
Tag 11 ``brain``: the grey-matter value 0.275, the common choice for a rodent brain modelled as one
compartment (rodent studies usually reuse the human values; flag R).
Tag 12 ``medium``: 1.6 S/m, the "physiological medium" of Pucihar G., Kotnik T., Kandušer M.,
Miklavčič D. (2001) The influence of medium conductivity on electropermeabilization and survival
of cells in vitro. *Bioelectrochemistry* 54(2):107–115 (abstract, V; the abstract does not state
the temperature: culture media and saline range about 1.5–1.8 S/m from room to body temperature).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ._surface import Surface, _frozen, as_points

__all__ = [
    "CONDUCTIVITY_SOURCES",
    "DEFAULT_CONDUCTIVITY",
    "MESH_FRAMES",
    "MeshHead",
    "PROJECT_TISSUES",
    "SIMNIBS_TISSUES",
    "SURFACE_TAG_OFFSET",
    "TISSUE_NAMES",
    "WAGNER_2004",
    "surface_from_faces",
]

#: Volume tags of SimNIBS head meshes → tissue name.
SIMNIBS_TISSUES: Mapping[int, str] = MappingProxyType({
    1: "white_matter", 2: "grey_matter", 3: "csf", 4: "bone", 5: "scalp", 6: "eyes",
    7: "compact_bone", 8: "spongy_bone", 9: "blood", 10: "muscle",
})
#: Volume tags added by this project → tissue name.
PROJECT_TISSUES: Mapping[int, str] = MappingProxyType({11: "brain", 12: "medium"})
#: All named tags (SimNIBS and project).
TISSUE_NAMES: Mapping[int, str] = MappingProxyType({**SIMNIBS_TISSUES, **PROJECT_TISSUES})
#: Triangles bounding tissue ``k`` carry tag ``SURFACE_TAG_OFFSET + k`` (SimNIBS: 1005 scalp, 1002 GM).
SURFACE_TAG_OFFSET = 1000

#: Conductivities in S/m of Wagner et al. 2004 as used by SimNIBS, by SimNIBS tag.
WAGNER_2004: Mapping[int, float] = MappingProxyType({
    1: 0.126, 2: 0.275, 3: 1.654, 4: 0.010, 5: 0.465, 6: 0.5, 7: 0.008, 8: 0.025, 9: 0.6, 10: 0.16,
})
#: Default conductivity in S/m for every named tag (see the module docstring for sources).
DEFAULT_CONDUCTIVITY: Mapping[int, float] = MappingProxyType({**WAGNER_2004, 11: 0.275, 12: 1.6})
#: Where each default conductivity comes from, by tag.
CONDUCTIVITY_SOURCES: Mapping[int, str] = MappingProxyType({
    **{k: "Wagner et al. 2004 (IEEE TBME 51:1586), as used by SimNIBS; V" for k in WAGNER_2004},
    11: "grey-matter value of Wagner et al. 2004, the common choice for a one-compartment rodent brain; R",
    12: "Pucihar et al. 2001 (Bioelectrochemistry 54:107), physiological medium 1.6 S/m; V (abstract)",
})
#: Frames a mesh may live in.
MESH_FRAMES = frozenset({"MNI", "bregma", "head", "dish"})

# Relative tolerance for barycentric point-in-tet tests.
_BARY_TOL = 1e-9


# --------------------------------------------------------------------------- helpers
def _tissue_list(tags) -> str:
    return ", ".join(f"{k} {TISSUE_NAMES.get(k, '?')}" for k in tags)


def _row_keys(rows: np.ndarray, n: int) -> np.ndarray:
    """One integer id per row of a sorted (k, 3) index array (equal rows ↔ equal ids)."""
    if n < 2**21:
        r = rows.astype(np.int64)
        return (r[:, 0] * n + r[:, 1]) * n + r[:, 2]
    _, inv = np.unique(rows, axis=0, return_inverse=True)
    return inv.reshape(-1).astype(np.int64)


def surface_from_faces(points, faces) -> Surface:
    """A :class:`Surface` from triangles indexing ``points``, keeping only the used points.

    Parameters
    ----------
    points : (n, 3) float array, metres
    faces : (k, 3) int array, indices into ``points``; orientation kept as given.

    Returns
    -------
    Surface with area-weighted unit vertex normals (following the face orientation) and its
    vertices renumbered in their original order.
    """
    pts = as_points(points, "points")
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    used = np.unique(faces)
    new_index = np.full(len(pts), -1, dtype=np.int64)
    new_index[used] = np.arange(len(used))
    v = pts[used]
    f = new_index[faces]
    tri = v[f]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 × area
    vn = np.zeros_like(v)
    for j in range(3):
        np.add.at(vn, f[:, j], fn)
    length = np.linalg.norm(vn, axis=1)
    bad = length <= 0
    if bad.any():  # vertex whose face normals cancel (pinch point): fall back to one face normal
        for i in np.flatnonzero(bad):
            cand = fn[(f == i).any(axis=1)]
            nz = cand[np.linalg.norm(cand, axis=1) > 0]
            vn[i] = nz[0] if len(nz) else (0.0, 0.0, 1.0)
        length = np.linalg.norm(vn, axis=1)
    return Surface(v, f, vn / length[:, None])


def _open_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of a triangle set used by one face (open) and by more than two (non-manifold)."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    return uniq[counts == 1], uniq[counts > 2]


def check_closed(surface: Surface, what: str = "surface") -> None:
    """Raise ``ValueError`` unless every edge of ``surface`` is shared by exactly two triangles."""
    if surface.n_faces == 0:
        raise ValueError(f"{what} has no triangles; a closed surface is needed")
    open_e, nonmanifold = _open_edges(surface.faces)
    if len(open_e) or len(nonmanifold):
        parts = []
        if len(open_e):
            p = surface.vertices[open_e[0]].mean(axis=0) * 1e3
            parts.append(f"{len(open_e)} boundary edge(s) (open), e.g. at ({p[0]:.4g}, {p[1]:.4g}, {p[2]:.4g}) mm")
        if len(nonmanifold):
            p = surface.vertices[nonmanifold[0]].mean(axis=0) * 1e3
            parts.append(f"{len(nonmanifold)} non-manifold edge(s) (shared by > 2 triangles), e.g. at "
                         f"({p[0]:.4g}, {p[1]:.4g}, {p[2]:.4g}) mm")
        raise ValueError(f"{what} must be closed (every edge shared by exactly two triangles); it has "
                         + " and ".join(parts))


# --------------------------------------------------------------------------- the value object
@dataclass(frozen=True, eq=False)
class MeshHead:
    """A head (or dish) as a tetrahedral mesh with one tissue tag per tetrahedron (metres).

    Parameters
    ----------
    name : str
        Identifier (e.g. the file stem).
    nodes : (n, 3) float array, metres
        Node positions in ``frame``.
    tets : (m, 4) int array
        Node indices of each tetrahedron (positive orientation: ``det(b−a, c−a, d−a) > 0``,
        checked by :meth:`validate`).
    tags : (m,) int array
        Tissue tag of each tetrahedron (SimNIBS convention, see :data:`TISSUE_NAMES`).
    conductivity : mapping int → float, S/m
        Conductivity per tag; every tag in ``tags`` needs one.  Default :data:`DEFAULT_CONDUCTIVITY`.
    anisotropy : (m, 3, 3) float array, S/m, or None
        Symmetric conductivity tensor per tetrahedron; overrides the scalar of its tag.  A tensor
        that is all NaN means "not given": that tetrahedron uses its scalar.
    cortex : Surface or None
        Surface where fields are reported (e.g. grey-matter or mid-cortical), metres.
    scalp : Surface or None
        Outer boundary, for coil placement, metres; must be closed (checked by :meth:`validate`).
    frame : str
        Frame of all coordinates: ``"MNI"``, ``"bregma"``, ``"head"`` or ``"dish"``.
    provenance : mapping
        Where the mesh and its values came from (file, units, conductivity sources); free-form.

    Construction checks shapes, finiteness, index range, tags and conductivities (cheap);
    :meth:`validate` checks tetrahedron quality, the boundary and the scalp (expensive).
    """

    name: str
    nodes: np.ndarray
    tets: np.ndarray
    tags: np.ndarray
    conductivity: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_CONDUCTIVITY))
    anisotropy: np.ndarray | None = None
    cortex: Surface | None = None
    scalp: Surface | None = None
    frame: str = "head"
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string; got {self.name!r}")
        nodes = as_points(self.nodes, "nodes")
        tets = np.asarray(self.tets)
        if tets.ndim != 2 or tets.shape[1] != 4 or len(tets) == 0:
            raise ValueError(f"tets must be an (m, 4) integer array with m >= 1; got shape {tets.shape}")
        if not np.issubdtype(tets.dtype, np.integer):
            raise TypeError(f"tets must hold integer node indices; got dtype {tets.dtype}")
        if tets.min() < 0 or tets.max() >= len(nodes):
            raise ValueError(f"tets must index nodes 0..{len(nodes) - 1}; got indices in "
                             f"[{int(tets.min())}, {int(tets.max())}]")
        tags = np.asarray(self.tags)
        if tags.shape != (len(tets),):
            raise ValueError(f"tags must have shape ({len(tets)},), one per tet; got {tags.shape}")
        if not np.issubdtype(tags.dtype, np.integer):
            raise TypeError(f"tags must be integers; got dtype {tags.dtype}")
        sigma = self._check_conductivity(self.conductivity)
        present = [int(t) for t in np.unique(tags)]
        missing = [t for t in present if t not in sigma]
        if missing:
            raise ValueError(
                f"tag(s) {missing} have no conductivity; known tags: {sorted(sigma)} "
                f"({_tissue_list(sorted(sigma))}); pass conductivity={{{missing[0]}: <S/m>, ...}}"
            )
        aniso = self.anisotropy
        if aniso is not None:
            aniso = np.asarray(aniso, dtype=np.float64)
            if aniso.shape != (len(tets), 3, 3):
                raise ValueError(f"anisotropy must have shape ({len(tets)}, 3, 3) S/m; got {aniso.shape}")
            given = ~np.isnan(aniso).all(axis=(1, 2))
            if not np.isfinite(aniso[given]).all():
                i = int(np.flatnonzero(given & ~np.isfinite(aniso).all(axis=(1, 2)))[0])
                raise ValueError(f"anisotropy[{i}] must be finite (or all NaN for 'not given')")
            asym = np.abs(aniso[given] - aniso[given].transpose(0, 2, 1)).max(initial=0.0)
            if asym > 1e-9 * max(np.abs(aniso[given]).max(initial=0.0), 1e-300):
                raise ValueError("anisotropy tensors must be symmetric")
            aniso = _frozen(aniso.copy(), np.float64)
        for what in ("cortex", "scalp"):
            s = getattr(self, what)
            if s is not None and not isinstance(s, Surface):
                raise TypeError(f"{what} must be a Surface or None; got {type(s).__name__}")
        if self.frame not in MESH_FRAMES:
            raise ValueError(f"frame must be one of {sorted(MESH_FRAMES)}; got {self.frame!r}")
        # copies: freezing must not make the caller's arrays read-only
        object.__setattr__(self, "nodes", _frozen(nodes.copy(), np.float64))
        object.__setattr__(self, "tets", _frozen(tets.astype(np.int64, copy=True), np.int64))
        object.__setattr__(self, "tags", _frozen(tags.astype(np.int32, copy=True), np.int32))
        object.__setattr__(self, "conductivity", MappingProxyType(sigma))
        object.__setattr__(self, "anisotropy", aniso)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @staticmethod
    def _check_conductivity(conductivity) -> dict[int, float]:
        if not isinstance(conductivity, Mapping):
            raise TypeError(f"conductivity must be a mapping tag → S/m; got {type(conductivity).__name__}")
        out = {}
        for k, v in conductivity.items():
            if isinstance(k, bool) or not isinstance(k, (numbers.Integral, np.integer)):
                raise TypeError(f"conductivity keys must be integer tags; got {k!r}")
            if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
                raise TypeError(f"conductivity[{k}] must be a number in S/m; got {v!r}")
            if not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"conductivity[{k}] must be finite and > 0 S/m; got {v!r}")
            out[int(k)] = float(v)
        return out

    def __repr__(self) -> str:
        return (f"MeshHead({self.name!r}, {self.n_nodes} nodes, {self.n_tets} tets, "
                f"tissues {list(self.tissues.values())}, frame {self.frame!r})")

    # ------------------------------------------------------------------ counts and measures
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_tets(self) -> int:
        return len(self.tets)

    @property
    def tissues(self) -> dict[int, str]:
        """Tag → tissue name for the tags present, sorted (unnamed tags show as ``"tag_<k>"``)."""
        return {int(t): TISSUE_NAMES.get(int(t), f"tag_{int(t)}") for t in np.unique(self.tags)}

    @functools.cached_property
    def sigma_per_tet(self) -> np.ndarray:
        """Scalar conductivity of each tetrahedron from its tag, (m,) S/m (ignores anisotropy)."""
        keys = np.array(sorted(self.conductivity), dtype=np.int64)
        values = np.array([self.conductivity[k] for k in keys])
        return _frozen(values[np.searchsorted(keys, self.tags)], np.float64)

    def sigma_tensors(self) -> np.ndarray:
        """Conductivity tensor of each tetrahedron, (m, 3, 3) S/m: σ·I, or the anisotropic tensor."""
        out = self.sigma_per_tet[:, None, None] * np.eye(3)
        if self.anisotropy is not None:
            given = ~np.isnan(self.anisotropy).all(axis=(1, 2))
            out[given] = self.anisotropy[given]
        return out

    def _signed_volumes(self) -> np.ndarray:
        p = self.nodes[self.tets]
        return np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0]) / 6.0

    @functools.cached_property
    def tet_volumes(self) -> np.ndarray:
        """Signed volume of each tetrahedron, (m,) m³ (positive for correctly oriented tets)."""
        return _frozen(self._signed_volumes(), np.float64)

    @functools.cached_property
    def tet_centroids(self) -> np.ndarray:
        """Centroid of each tetrahedron, (m, 3) metres."""
        return _frozen(self.nodes[self.tets].mean(axis=1), np.float64)

    # ------------------------------------------------------------------ faces and boundary
    def _face_table(self):
        """All 4m tet faces: sorted node triples, their keys, owning tet and opposite node."""
        t = self.tets
        faces = np.concatenate([t[:, [1, 2, 3]], t[:, [0, 2, 3]], t[:, [0, 1, 3]], t[:, [0, 1, 2]]])
        opposite = np.concatenate([t[:, 0], t[:, 1], t[:, 2], t[:, 3]])
        owner = np.tile(np.arange(self.n_tets), 4)
        keys = _row_keys(np.sort(faces, axis=1), self.n_nodes)
        return faces, keys, owner, opposite

    @functools.cached_property
    def _boundary(self) -> tuple[np.ndarray, np.ndarray]:
        faces, keys, owner, opposite = self._face_table()
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        once = first[counts == 1]
        bf = faces[once]
        # orient outward: away from the node opposite the face in its tet
        p = self.nodes
        n = np.cross(p[bf[:, 1]] - p[bf[:, 0]], p[bf[:, 2]] - p[bf[:, 0]])
        inward = np.einsum("ij,ij->i", n, p[opposite[once]] - p[bf[:, 0]]) > 0
        bf[inward] = bf[inward][:, [0, 2, 1]]
        over = first[counts > 2]
        return _frozen(bf, np.int64), over

    def boundary_faces(self) -> np.ndarray:
        """Outer boundary triangles (faces of exactly one tet), (k, 3) node indices, oriented outward."""
        return self._boundary[0]

    def boundary_surface(self) -> Surface:
        """The outer boundary as a :class:`Surface` (metres), e.g. a scalp when none was given."""
        return surface_from_faces(self.nodes, self.boundary_faces())

    # ------------------------------------------------------------------ expensive checks
    def validate(self) -> dict[str, Any]:
        """Check tetrahedron quality, the boundary and the scalp; return mesh statistics.

        Raises ``ValueError`` for inverted or degenerate tets (signed volume ≤ 1e-12 × longest
        edge³, listing the first bad tet indices and their centroids in mm), faces shared by more
        than two tets, and a ``scalp`` surface that is not closed (naming where it is open).

        Returns
        -------
        dict with ``n_nodes``, ``n_tets``, ``unused_nodes`` (nodes in no tet), ``duplicate_nodes``
        (nodes at the position of an earlier node, within 1 nm), ``boundary_faces``,
        ``volume`` (m³), ``min_tet_volume`` (m³) and ``tissues`` (tag → name).
        """
        p = self.nodes[self.tets]
        edges = np.stack([p[:, i] - p[:, j] for i, j in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))], 1)
        longest = np.linalg.norm(edges, axis=2).max(axis=1)
        vol = self.tet_volumes
        bad = np.flatnonzero(vol <= 1e-12 * longest**3)
        if len(bad):
            shown = bad[:5]
            where = "; ".join(
                f"tet {i} at ({c[0]:.4g}, {c[1]:.4g}, {c[2]:.4g}) mm, volume {vol[i]:.3g} m³"
                for i, c in zip(shown, self.tet_centroids[shown] * 1e3)
            )
            n_inv = int((vol[bad] < 0).sum())
            raise ValueError(
                f"mesh {self.name!r} has {len(bad)} inverted or degenerate tetrahedra "
                f"({n_inv} inverted: negative signed volume; the rest flat); first: {where}"
            )
        bf, over = self._boundary
        if len(over):
            faces, _, owner, _ = self._face_table()
            c = self.nodes[faces[over[0]]].mean(axis=0) * 1e3
            raise ValueError(
                f"mesh {self.name!r} has {len(over)} face(s) shared by more than two tetrahedra "
                f"(not a valid volume mesh), e.g. a face of tet {int(owner[over[0]])} at "
                f"({c[0]:.4g}, {c[1]:.4g}, {c[2]:.4g}) mm"
            )
        if self.scalp is not None:
            check_closed(self.scalp, f"scalp of mesh {self.name!r}")
        used = np.zeros(self.n_nodes, dtype=bool)
        used[self.tets.ravel()] = True
        rounded = np.round(self.nodes / 1e-9).astype(np.int64)
        n_unique = len(np.unique(rounded, axis=0))
        return {
            "n_nodes": self.n_nodes,
            "n_tets": self.n_tets,
            "unused_nodes": int((~used).sum()),
            "duplicate_nodes": self.n_nodes - n_unique,
            "boundary_faces": len(bf),
            "volume": float(vol.sum()),
            "min_tet_volume": float(vol.min()),
            "tissues": self.tissues,
        }

    # ------------------------------------------------------------------ points
    @functools.cached_property
    def _locator(self):
        from scipy.spatial import cKDTree

        p = self.nodes[self.tets]
        c = self.tet_centroids
        radius = np.linalg.norm(p - c[:, None, :], axis=2).max()
        mat = np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]], axis=2)  # columns
        inv = np.full_like(mat, np.nan)
        ok = np.abs(np.linalg.det(mat)) > 0  # flat tets hold no point (see validate)
        inv[ok] = np.linalg.inv(mat[ok])
        return cKDTree(c), float(radius), inv, p[:, 0].copy()

    def find_tets(self, points, k: int = 8) -> np.ndarray:
        """Index of the tetrahedron holding each point, −1 outside the mesh.

        Parameters
        ----------
        points : (n, 3) float array, metres (mesh frame)
        k : int
            Tets tried first per point (nearest centroids); more are tried until no further tet
            can hold the point, so the answer does not depend on ``k``.

        Returns
        -------
        (n,) int array.  A point on a shared face gets one of its tets.
        """
        pts = as_points(points, "points")
        tree, radius, inv, origin = self._locator
        out = np.full(len(pts), -1, dtype=np.int64)
        todo = np.arange(len(pts))
        k = max(1, min(int(k), self.n_tets))
        tried = 0
        while len(todo):
            dist, idx = tree.query(pts[todo], k=k)
            dist = dist.reshape(len(todo), -1)[:, tried:]
            idx = idx.reshape(len(todo), -1)[:, tried:]
            rel = pts[todo, None, :] - origin[idx]
            lam = np.einsum("nkij,nkj->nki", inv[idx], rel)
            lam4 = np.concatenate([1.0 - lam.sum(axis=2, keepdims=True), lam], axis=2)
            inside = (lam4 >= -_BARY_TOL).all(axis=2) & (dist <= radius)
            hit = inside.any(axis=1)
            out[todo[hit]] = idx[hit, inside[hit].argmax(axis=1)]
            # keep going only where a farther tet could still hold the point
            more = ~hit & (dist[:, -1] <= radius)
            if k >= self.n_tets:
                break
            todo = todo[more]
            tried, k = k, min(2 * k, self.n_tets)
        return out

    def contains(self, points) -> np.ndarray:
        """Which points lie inside the mesh (in or on some tetrahedron), (n,) bool array.

        Parameters
        ----------
        points : (n, 3) float array, metres (mesh frame)
        """
        return self.find_tets(points) >= 0
