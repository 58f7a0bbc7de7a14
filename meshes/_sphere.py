"""Concentric-sphere head models: the :class:`SphereHead` value object and the built-in heads.

Sphere-head frame (all built-in heads): origin at the sphere centre, +z up (towards the vertex
in the human, dorsal in rodents), +y anterior, +x right; metres.  For rodents this shares the
axes of the bregma frame but not its origin.

The built-in radii and conductivities live in ``meshes/data/sphere_heads.toml``, each with its
source and a flag (V read in the source, R commonly quoted, C computed, A assumption).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import numpy as np

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

from ._surface import Surface, as_points, as_vector3, icosphere

__all__ = ["Layer", "SphereHead", "sphere_head", "list_sphere_heads", "BRAIN_TISSUES"]

#: Tissue names that count as brain: the outermost of these sets :attr:`SphereHead.brain_radius`.
BRAIN_TISSUES = frozenset({"grey_matter", "white_matter", "brain"})

_DATA_FILE = "sphere_heads.toml"


class Layer(NamedTuple):
    """One spherical shell: ``(tissue, outer radius in metres, conductivity in S/m)``."""

    tissue: str
    outer_radius: float
    conductivity: float


def _check_layers(layers) -> tuple[Layer, ...]:
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            "layers must be a sequence of (tissue, outer radius m, conductivity S/m) tuples; "
            f"got {type(layers).__name__}"
        )
    out = []
    for i, item in enumerate(layers):
        try:
            tissue, radius, sigma = item
        except (TypeError, ValueError):
            raise ValueError(
                f"layers[{i}] must be (tissue, outer radius m, conductivity S/m); got {item!r}"
            ) from None
        if not isinstance(tissue, str) or not tissue:
            raise ValueError(f"layers[{i}] tissue must be a non-empty string; got {tissue!r}")
        for what, v, unit in (("outer radius", radius, "m"), ("conductivity", sigma, "S/m")):
            if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
                raise TypeError(f"layers[{i}] {what} must be a number in {unit}; got {v!r}")
            if not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"layers[{i}] {what} must be finite and > 0 {unit}; got {v!r}")
        out.append(Layer(tissue, float(radius), float(sigma)))
    if not out:
        raise ValueError("layers must hold at least one (tissue, outer radius, conductivity) shell; got none")
    radii = [layer.outer_radius for layer in out]
    if any(b >= a for a, b in zip(radii, radii[1:])):
        shown = ", ".join(f"{layer.tissue} {layer.outer_radius * 1e3:.4g} mm" for layer in out)
        raise ValueError(f"layers must be ordered from outside in with strictly decreasing radii; got {shown}")
    if not any(layer.tissue in BRAIN_TISSUES for layer in out):
        raise ValueError(
            f"layers must include a brain tissue (one of {sorted(BRAIN_TISSUES)}); "
            f"got tissues {[layer.tissue for layer in out]}"
        )
    return tuple(out)


@dataclass(frozen=True, eq=False)
class SphereHead:
    """A head modelled as concentric spherical shells (sphere-head frame, metres).

    Parameters
    ----------
    name : str
        Identifier (``"human"``, ``"rat"``, ``"mouse"`` for the built-in heads).
    species : str
        Species the model stands for.
    center : (3,) float array, metres
        Centre of all shells.
    layers : sequence of (tissue : str, outer radius : float in metres, conductivity : float in S/m)
        Shells from outside in (scalp, skull, CSF, grey matter, ...), radii strictly decreasing;
        each shell extends from its outer radius to the next one's.  At least one tissue must be
        brain (``"grey_matter"``, ``"white_matter"`` or ``"brain"``).
    cortex_radius : float, metres
        Radius of the shell on which cortical fields are reported; at most :attr:`brain_radius`.
    provenance : mapping
        Where each value came from (source keys, flags, notes); free-form, JSON-serialisable.

    Notes
    -----
    Inside a spherically symmetric conductor the TMS-induced field does not depend on the layer
    radii or conductivities, only on the centre (Heller & van Hulsteyn 1992); the layers matter
    for meshing and for checks such as "is the coil outside the scalp".
    """

    name: str
    species: str
    center: np.ndarray
    layers: tuple
    cortex_radius: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string; got {self.name!r}")
        if not isinstance(self.species, str) or not self.species:
            raise ValueError(f"species must be a non-empty string; got {self.species!r}")
        center = as_vector3(self.center, "center").copy()
        center.setflags(write=False)
        layers = _check_layers(self.layers)
        r = self.cortex_radius
        if isinstance(r, bool) or not isinstance(r, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"cortex_radius must be a number in metres; got {r!r}")
        r = float(r)
        brain = max(layer.outer_radius for layer in layers if layer.tissue in BRAIN_TISSUES)
        if not (math.isfinite(r) and 0 < r <= brain):
            raise ValueError(
                f"cortex_radius must be in (0, {brain * 1e3:.4g} mm], inside the brain of head "
                f"{self.name!r}; got {r * 1e3:.4g} mm"
            )
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "cortex_radius", r)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    def __repr__(self) -> str:
        shells = ", ".join(f"{layer.tissue} {layer.outer_radius * 1e3:.4g}" for layer in self.layers)
        return (f"SphereHead({self.name!r}, {self.species}, shells [{shells}] mm, "
                f"cortex {self.cortex_radius * 1e3:.4g} mm)")

    # ------------------------------------------------------------------ radii
    @property
    def scalp_radius(self) -> float:
        """Outer radius of the outermost shell, metres."""
        return self.layers[0].outer_radius

    @property
    def brain_radius(self) -> float:
        """Outer radius of the outermost brain shell (grey matter, white matter or brain), metres."""
        return max(layer.outer_radius for layer in self.layers if layer.tissue in BRAIN_TISSUES)

    @property
    def cortex_depth(self) -> float:
        """Distance from the scalp down to the cortex shell, metres."""
        return self.scalp_radius - self.cortex_radius

    @property
    def tissues(self) -> tuple[str, ...]:
        """Tissue names from outside in."""
        return tuple(layer.tissue for layer in self.layers)

    @property
    def radii(self) -> np.ndarray:
        """Outer radii from outside in, (k,) metres."""
        return np.array([layer.outer_radius for layer in self.layers])

    @property
    def conductivities(self) -> np.ndarray:
        """Conductivities from outside in, (k,) S/m."""
        return np.array([layer.conductivity for layer in self.layers])

    # ------------------------------------------------------------------ points
    def _radius_of(self, points) -> np.ndarray:
        pts = as_points(points, "points")
        return np.linalg.norm(pts - self.center, axis=1)

    def contains(self, points) -> np.ndarray:
        """Which points lie inside the head (on or within the scalp sphere).

        Parameters
        ----------
        points : (n, 3) float array, metres (sphere-head frame)

        Returns
        -------
        (n,) bool array.
        """
        return self._radius_of(points) <= self.scalp_radius

    def layer_index(self, points) -> np.ndarray:
        """Index into :attr:`layers` of the shell holding each point, −1 outside the head.

        Parameters
        ----------
        points : (n, 3) float array, metres (sphere-head frame)

        Returns
        -------
        (n,) int array.  A point on a boundary belongs to the inner shell.
        """
        r = self._radius_of(points)
        # radii decrease; count shells whose outer radius is >= r, the last of them holds the point
        idx = np.searchsorted(-self.radii, -r, side="right") - 1
        return np.where(r <= self.scalp_radius, idx, -1).astype(np.int64)

    def scalp_point(self, direction) -> tuple[np.ndarray, np.ndarray]:
        """Point on the scalp in ``direction`` from the centre, and the outward normal there.

        Parameters
        ----------
        direction : (3,) or (n, 3) float array, any non-zero length
            Direction(s) from the centre (e.g. ``(0, 0, 1)`` for the top of the head).

        Returns
        -------
        point : same shape as ``direction``, metres
        normal : same shape as ``direction``, unit outward normal
        """
        d = np.asarray(direction, dtype=np.float64)
        single = d.shape == (3,)
        d = as_points(d[None, :] if single else d, "direction")
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError(
                f"direction must be non-zero; row {int(np.flatnonzero(norm[:, 0] == 0)[0])} is (0, 0, 0)"
            )
        n = d / norm
        p = self.center + self.scalp_radius * n
        return (p[0], n[0]) if single else (p, n)

    # ------------------------------------------------------------------ surfaces
    def cortex_surface(self, n_subdiv: int = 5) -> Surface:
        """Triangulated cortex shell at :attr:`cortex_radius` (an icosphere).

        Parameters
        ----------
        n_subdiv : int
            Icosphere subdivision level in [0, 8]: ``10·4**n + 2`` vertices (5 → 10,242,
            mean edge ≈ 0.038 × radius: 2.6 mm on the 70 mm human cortex, 0.3 mm on the rat's).

        Returns
        -------
        Surface with exact outward normals; one vertex sits at the top (+z) of the shell.
        """
        return icosphere(self.cortex_radius, n_subdiv, self.center)

    def shell_surface(self, radius: float, n_subdiv: int = 5) -> Surface:
        """Triangulated concentric sphere of ``radius`` (metres, inside the head) for depth maps."""
        if isinstance(radius, bool) or not isinstance(radius, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"radius must be a number in metres; got {radius!r}")
        if not 0 < float(radius) <= self.scalp_radius:
            raise ValueError(
                f"radius must be in (0, {self.scalp_radius * 1e3:.4g} mm] for head {self.name!r}; "
                f"got {float(radius) * 1e3:.4g} mm"
            )
        return icosphere(float(radius), n_subdiv, self.center)

    def cortex_cap(self, half_angle: float, n_subdiv: int = 5, direction=(0.0, 0.0, 1.0)) -> Surface:
        """The part of the cortex shell within ``half_angle`` of ``direction``.

        Parameters
        ----------
        half_angle : float, radians
            Angular radius of the cap, in (0, π]; π returns the whole shell.
        n_subdiv : int
            Subdivision level of the underlying icosphere (see :meth:`cortex_surface`).
        direction : (3,) float array
            Axis of the cap from the centre; default the top of the head (+z), where the
            demo places the coil.

        Returns
        -------
        Surface holding the vertices with angle to ``direction`` <= ``half_angle`` and the
        triangles whose three vertices are all kept.
        """
        if isinstance(half_angle, bool) or not isinstance(half_angle, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"half_angle must be a number in radians; got {half_angle!r}")
        a = float(half_angle)
        if not (math.isfinite(a) and 0 < a <= math.pi):
            raise ValueError(f"half_angle must be in (0, pi] radians; got {a!r}")
        axis = as_vector3(direction, "direction")
        length = float(np.linalg.norm(axis))
        if length == 0:
            raise ValueError("direction must be non-zero; got (0, 0, 0)")
        surf = self.cortex_surface(n_subdiv)
        cos_angle = surf.normals @ (axis / length)
        return surf.submesh(cos_angle >= math.cos(a) - 1e-12)


# ----------------------------------------------------------------------------- built-in heads
@functools.lru_cache(maxsize=1)
def _table() -> Mapping[str, Any]:
    with resources.files("meshes").joinpath("data", _DATA_FILE).open("rb") as fh:
        return tomllib.load(fh)


def list_sphere_heads() -> list[str]:
    """Names of the built-in sphere heads, sorted (e.g. ``["human", "mouse", "rat"]``)."""
    return sorted(_table()["heads"])


def _head_from_table(name: str, entry: Mapping[str, Any], table: Mapping[str, Any]) -> SphereHead:
    sigma = table["conductivity"]
    layers = []
    provenance: dict[str, Any] = {"data_file": f"meshes/data/{_DATA_FILE}", "layers": []}
    for item in entry["layers"]:
        tissue = item["tissue"]
        if tissue not in sigma:
            raise ValueError(f"{_DATA_FILE}: head {name!r} uses tissue {tissue!r} without a conductivity")
        layers.append((tissue, item["outer_radius_mm"] * 1e-3, sigma[tissue]["value"]))
        provenance["layers"].append({
            "tissue": tissue,
            "radius_source": item["source"], "radius_flag": item["flag"], "radius_note": item.get("note", ""),
            "conductivity_source": sigma[tissue]["source"], "conductivity_flag": sigma[tissue]["flag"],
        })
    cortex = entry["cortex_radius_mm"]
    provenance["cortex_radius"] = {k: cortex[k] for k in ("source", "flag", "note") if k in cortex}
    provenance["description"] = entry.get("description", "")
    provenance["radius_meaning"] = table["meta"]["radius_meaning"].strip()
    provenance["sources"] = {
        key: table["sources"][key]
        for key in {p["radius_source"] for p in provenance["layers"]}
        | {p["conductivity_source"] for p in provenance["layers"]}
        | {provenance["cortex_radius"]["source"]}
    }
    return SphereHead(
        name=name,
        species=entry["species"],
        center=np.asarray(entry["center_mm"], dtype=float) * 1e-3,
        layers=tuple(layers),
        cortex_radius=cortex["value"] * 1e-3,
        provenance=provenance,
    )


@functools.lru_cache(maxsize=None)
def _built_in(name: str) -> SphereHead:
    table = _table()
    return _head_from_table(name, table["heads"][name], table)


def sphere_head(name: str) -> SphereHead:
    """A built-in concentric-sphere head.

    Parameters
    ----------
    name : str
        ``"human"`` (Deng et al. 2013: 85 mm scalp, cortex at 70 mm), ``"rat"`` or ``"mouse"``
        (volume-equivalent brain spheres; see ``meshes/data/sphere_heads.toml`` for every value's
        source).  Case-insensitive.

    Returns
    -------
    SphereHead.  Change any value with ``dataclasses.replace(head, ...)``; ``provenance`` is
    copied unchanged, so pass a new one (e.g. ``provenance={"note": ...}``) when you change values.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string naming a sphere head; got {type(name).__name__}")
    key = name.strip().lower()
    known = list_sphere_heads()
    if key not in known:
        raise ValueError(f"sphere head {name!r} is unknown; known sphere heads: {', '.join(known)}")
    return _built_in(key)
