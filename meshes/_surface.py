"""Triangulated surfaces: the :class:`Surface` value object and a NumPy icosphere builder.

A surface is a triangle mesh in some head frame (metres) with a unit outward normal per vertex.
Faces are oriented counter-clockwise seen from outside, so ``cross(b - a, c - a)`` points out.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Surface", "icosphere", "MAX_SUBDIVISIONS"]

#: Largest icosphere subdivision level accepted (8 → 655,362 vertices).
MAX_SUBDIVISIONS = 8


# --------------------------------------------------------------------------- validation helpers
def as_points(value, name: str = "points") -> np.ndarray:
    """Return ``value`` as a C-contiguous finite (n, 3) float64 array (metres) or raise.

    The one array check used at every public boundary of :mod:`meshes`.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an (n, 3) array of numbers in metres; got {type(value).__name__}") from exc
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be an (n, 3) array in metres; got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{name} must be finite; rows {rows} contain NaN or infinity")
    return np.ascontiguousarray(arr)


def as_vector3(value, name: str) -> np.ndarray:
    """Return ``value`` as a finite (3,) float64 array or raise naming ``name``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a (3,) array of numbers; got {type(value).__name__}") from exc
    if arr.shape != (3,):
        raise ValueError(f"{name} must have shape (3,); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    return arr


def check_subdivisions(n_subdiv, name: str = "n_subdiv") -> int:
    """Return ``n_subdiv`` as an int in [0, MAX_SUBDIVISIONS] or raise."""
    if isinstance(n_subdiv, bool) or not isinstance(n_subdiv, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [0, {MAX_SUBDIVISIONS}]; got {n_subdiv!r}")
    n = int(n_subdiv)
    if not 0 <= n <= MAX_SUBDIVISIONS:
        raise ValueError(
            f"{name} must be in [0, {MAX_SUBDIVISIONS}] (level 5 gives 10,242 vertices); got {n}"
        )
    return n


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------- the value object
@dataclass(frozen=True, eq=False)
class Surface:
    """A triangulated surface with unit outward vertex normals (head frame, metres).

    Parameters
    ----------
    vertices : (n, 3) float array, metres
        Vertex positions.
    faces : (m, 3) int array
        Vertex indices of each triangle, counter-clockwise seen from outside.
    normals : (n, 3) float array, dimensionless
        Unit outward normal at each vertex.

    Construction checks shapes, finiteness, index range and unit normals (cheap);
    :meth:`validate` checks that faces are oriented along the vertex normals (expensive).
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray

    def __post_init__(self) -> None:
        vertices = as_points(self.vertices, "vertices")
        faces = np.asarray(self.faces)
        if faces.ndim == 1 and faces.size == 0:
            faces = faces.reshape(0, 3)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f"faces must be an (m, 3) integer array; got shape {faces.shape}")
        if faces.size and not np.issubdtype(faces.dtype, np.integer):
            raise TypeError(f"faces must hold integer vertex indices; got dtype {faces.dtype}")
        faces = faces.astype(np.int64, copy=False)
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise ValueError(
                f"faces must index vertices 0..{len(vertices) - 1}; got indices in "
                f"[{int(faces.min())}, {int(faces.max())}]"
            )
        normals = as_points(self.normals, "normals")
        if normals.shape != vertices.shape:
            raise ValueError(
                f"normals must have the shape of vertices {vertices.shape}; got {normals.shape}"
            )
        length = np.linalg.norm(normals, axis=1)
        if len(length) and np.abs(length - 1.0).max() > 1e-9:
            i = int(np.abs(length - 1.0).argmax())
            raise ValueError(f"normals must be unit vectors; normals[{i}] has length {length[i]:.6g}")
        object.__setattr__(self, "vertices", _frozen(vertices, np.float64))
        object.__setattr__(self, "faces", _frozen(faces, np.int64))
        object.__setattr__(self, "normals", _frozen(normals, np.float64))

    def __repr__(self) -> str:
        return f"Surface({self.n_vertices} vertices, {self.n_faces} faces)"

    # ------------------------------------------------------------------ counts and measures
    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    def edges(self) -> np.ndarray:
        """Unique undirected edges, (k, 2) int array with ``edges[:, 0] < edges[:, 1]``."""
        if self.n_faces == 0:
            return np.zeros((0, 2), dtype=np.int64)
        e = np.concatenate([self.faces[:, [0, 1]], self.faces[:, [1, 2]], self.faces[:, [2, 0]]])
        return np.unique(np.sort(e, axis=1), axis=0)

    @property
    def euler_characteristic(self) -> int:
        """V − E + F (2 for a closed surface of genus 0)."""
        return self.n_vertices - len(self.edges()) + self.n_faces

    def face_normals(self) -> np.ndarray:
        """Unit normals of the triangles, (m, 3), following the vertex order (outward)."""
        tri = self.vertices[self.faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    @functools.cached_property
    def face_centroids(self) -> np.ndarray:
        """Centroid of each triangle, (m, 3) metres (computed once per surface)."""
        return _frozen(self.vertices[self.faces].mean(axis=1), np.float64)

    @functools.cached_property
    def face_area_vectors(self) -> np.ndarray:
        """Area-weighted normal of each triangle, (m, 3) m²: half the cross product, outward by the vertex
        order (computed once per surface)."""
        tri = self.vertices[self.faces]
        return _frozen(0.5 * np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), np.float64)

    @functools.cached_property
    def mean_edge_length(self) -> float:
        """Mean length (m) of the triangles' first edges (every edge counted once per triangle side)."""
        if self.n_faces == 0:
            return 0.0
        return float(np.linalg.norm(self.vertices[self.faces[:, 0]] - self.vertices[self.faces[:, 1]], axis=1).mean())

    def triangle_areas(self) -> np.ndarray:
        """Area of each triangle, (m,) m²."""
        tri = self.vertices[self.faces]
        return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)

    @property
    def area(self) -> float:
        """Total area, m²."""
        return float(self.triangle_areas().sum())

    def vertex_areas(self) -> np.ndarray:
        """Area attributed to each vertex (a third of each adjacent triangle), (n,) m²."""
        out = np.zeros(self.n_vertices)
        a = self.triangle_areas() / 3.0
        for j in range(3):
            np.add.at(out, self.faces[:, j], a)
        return out

    # ------------------------------------------------------------------ derived surfaces
    def submesh(self, mask) -> "Surface":
        """The part of the surface on the vertices where ``mask`` is true.

        Parameters
        ----------
        mask : (n,) bool array
            Vertices to keep.  Triangles are kept when all three of their vertices are kept;
            vertices are renumbered in their original order.
        """
        mask = np.asarray(mask)
        if mask.shape != (self.n_vertices,) or mask.dtype != bool:
            raise ValueError(
                f"mask must be a boolean array of shape ({self.n_vertices},); "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )
        keep_face = mask[self.faces].all(axis=1)
        new_index = np.full(self.n_vertices, -1, dtype=np.int64)
        new_index[mask] = np.arange(int(mask.sum()))
        return Surface(self.vertices[mask], new_index[self.faces[keep_face]], self.normals[mask])

    def validate(self) -> None:
        """Raise ``ValueError`` unless every triangle is non-degenerate and faces outward.

        "Outward" means the triangle normal (vertex order) agrees with the mean of its
        vertex normals.
        """
        areas = self.triangle_areas()
        if len(areas) and areas.min() <= 0:
            raise ValueError(f"surface has {int((areas <= 0).sum())} degenerate triangle(s)")
        mean_normal = self.normals[self.faces].sum(axis=1)
        tri = self.vertices[self.faces]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        inward = np.einsum("ij,ij->i", cross, mean_normal) <= 0
        if inward.any():
            raise ValueError(
                f"{int(inward.sum())} triangle(s) are oriented against the vertex normals, "
                f"e.g. faces[{int(np.flatnonzero(inward)[0])}]"
            )


# --------------------------------------------------------------------------- icosphere
def _icosahedron() -> tuple[np.ndarray, np.ndarray]:
    """Unit icosahedron with a vertex at +z (north pole) and one at −z, faces outward.

    The two rings of five vertices sit at z = ±1/√5; the upper ring starts at +x, so the
    mesh is mirror-symmetric under y → −y.
    """
    z = 1.0 / np.sqrt(5.0)
    rho = 2.0 / np.sqrt(5.0)
    k = np.arange(5)
    upper = np.stack([rho * np.cos(2 * np.pi * k / 5), rho * np.sin(2 * np.pi * k / 5), np.full(5, z)], 1)
    phase = 2 * np.pi * (k + 0.5) / 5
    lower = np.stack([rho * np.cos(phase), rho * np.sin(phase), np.full(5, -z)], 1)
    verts = np.concatenate([[[0.0, 0.0, 1.0]], upper, lower, [[0.0, 0.0, -1.0]]])
    top, up, lo, bottom = 0, 1 + k, 6 + k, 11
    up1, lo1 = 1 + (k + 1) % 5, 6 + (k + 1) % 5
    faces = np.concatenate([
        np.stack([np.full(5, top), up, up1], 1),
        np.stack([up, lo, up1], 1),
        np.stack([up1, lo, lo1], 1),
        np.stack([np.full(5, bottom), lo1, lo], 1),
    ])
    faces = _orient_outward(verts, faces)
    return verts, faces


def _orient_outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip triangles of a star-shaped closed mesh around the origin so they face outward."""
    tri = verts[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", cross, tri.sum(axis=1)) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _subdivide(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split every triangle into four at its edge midpoints, projected to the unit sphere."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    uniq, inv = np.unique(np.sort(e, axis=1), axis=0, return_inverse=True)
    inv = inv.ravel()
    mid = verts[uniq[:, 0]] + verts[uniq[:, 1]]
    mid /= np.linalg.norm(mid, axis=1, keepdims=True)
    m = len(faces)
    ab, bc, ca = (len(verts) + inv[:m], len(verts) + inv[m:2 * m], len(verts) + inv[2 * m:])
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    new_faces = np.concatenate([
        np.stack([a, ab, ca], 1),
        np.stack([b, bc, ab], 1),
        np.stack([c, ca, bc], 1),
        np.stack([ab, bc, ca], 1),
    ])
    return np.concatenate([verts, mid]), new_faces


@functools.lru_cache(maxsize=None)
def _unit_icosphere(n_subdiv: int) -> tuple[np.ndarray, np.ndarray]:
    verts, faces = _icosahedron()
    for _ in range(n_subdiv):
        verts, faces = _subdivide(verts, faces)
    # re-normalise once more so every vertex is on the sphere to the last bit
    verts = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return _frozen(verts, np.float64), _frozen(faces, np.int64)


def icosphere(radius: float, n_subdiv: int = 5, center=(0.0, 0.0, 0.0)) -> Surface:
    """A triangulated sphere: a subdivided icosahedron projected onto the sphere.

    Parameters
    ----------
    radius : float, metres
        Sphere radius (> 0).
    n_subdiv : int
        Subdivision level in [0, 8]; the mesh has ``10·4**n_subdiv + 2`` vertices and
        ``20·4**n_subdiv`` triangles (level 5: 10,242 vertices, mean edge ≈ 0.038·radius).
    center : (3,) float array, metres
        Sphere centre.

    Returns
    -------
    Surface with exact outward normals ``(vertex − center) / radius``.  One vertex sits at the
    north pole ``center + (0, 0, radius)``.
    """
    if isinstance(radius, bool) or not isinstance(radius, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"radius must be a number in metres; got {radius!r}")
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite positive number of metres; got {radius}")
    n = check_subdivisions(n_subdiv)
    c = as_vector3(center, "center")
    unit, faces = _unit_icosphere(n)
    return Surface(unit * radius + c, faces, unit)
