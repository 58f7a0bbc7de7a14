"""The coil model: straight current segments and magnetic dipoles in the coil frame.

Coil frame (used everywhere in this project, documented once here):

* origin at the centre of the coil's bottom (casing) surface, the face that touches the head;
* +z points away from the head, so every wire and dipole of a coil lies at z > 0;
* +y points along the handle (for a figure-8: along the line between the two wing centres is +x,
  the handle and the junction wires run along +y);
* right-handed, metres.

A coil carries one current I (amperes).  Each segment carries ``weight * I``; each dipole has
moment ``moment * I`` (A·m² per A).  Fields are linear in I, so every kernel works per ampere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ._validation import as_vectors, as_weights

__all__ = ["Coil"]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Coil:
    """A TMS coil as current segments and/or magnetic dipoles (coil frame, metres).

    Parameters
    ----------
    name : str
        Identifier (preset id or file stem).
    start, end : (n, 3) float arrays, metres
        Segment end points in the coil frame; current flows from ``start`` to ``end``.
    weight : (n,) float array, amperes per ampere of coil current
        Current carried by each segment for 1 A of coil current (1 for one turn of wire,
        -1 to reverse, N for N parallel conductors lumped into one path).
    dipole_position : (m, 3) float array, metres
        Magnetic dipole positions in the coil frame (empty for a pure wire model).
    dipole_moment : (m, 3) float array, A·m² per ampere of coil current
        Dipole moments for 1 A of coil current.
    metadata : mapping
        Free-form, JSON-serialisable provenance: source, citation, what is not modelled
        (iron core, casing), default stimulator, casing thickness in metres, ...
    """

    name: str
    start: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    end: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dipole_position: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    dipole_moment: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start = as_vectors(self.start, "start")
        end = as_vectors(self.end, "end")
        if start.shape != end.shape:
            raise ValueError(
                f"start and end must have the same shape (n, 3); got {start.shape} and {end.shape}"
            )
        weight = as_weights(self.weight, "weight", len(start))
        pos = as_vectors(self.dipole_position, "dipole_position")
        mom = as_vectors(self.dipole_moment, "dipole_moment")
        if pos.shape != mom.shape:
            raise ValueError(
                "dipole_position and dipole_moment must have the same shape (m, 3); "
                f"got {pos.shape} and {mom.shape}"
            )
        if len(start) == 0 and len(pos) == 0:
            raise ValueError(f"coil {self.name!r} has neither segments nor dipoles")
        object.__setattr__(self, "start", _frozen(start))
        object.__setattr__(self, "end", _frozen(end))
        object.__setattr__(self, "weight", _frozen(weight))
        object.__setattr__(self, "dipole_position", _frozen(pos))
        object.__setattr__(self, "dipole_moment", _frozen(mom))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # ------------------------------------------------------------------ views
    @property
    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(start (n, 3) m, end (n, 3) m, weight (n,) A/A)`` in the coil's current frame."""
        return self.start, self.end, self.weight

    @property
    def n_segments(self) -> int:
        return len(self.start)

    @property
    def n_dipoles(self) -> int:
        return len(self.dipole_position)

    @property
    def points(self) -> np.ndarray:
        """All wire end points and dipole positions, (k, 3) metres (for extents and clearance)."""
        return np.concatenate([self.start, self.end, self.dipole_position])

    def __repr__(self) -> str:
        return (
            f"Coil({self.name!r}, {self.n_segments} segments, {self.n_dipoles} dipoles)"
        )

    # -------------------------------------------------------------- geometry
    def placed(self, pose: np.ndarray) -> "Coil":
        """Return this coil moved by a 4×4 rigid transform (coil frame → head frame, metres).

        Parameters
        ----------
        pose : (4, 4) float array
            Homogeneous matrix ``[[R, t], [0, 0, 0, 1]]``; R a rotation (orthonormal, det +1),
            t the translation in metres.  :func:`coils.coil_pose` builds one.
        """
        from ._pose import check_pose

        pose = check_pose(pose, "pose")
        rot, shift = pose[:3, :3], pose[:3, 3]
        meta = dict(self.metadata)
        prev = np.asarray(meta.get("pose", np.eye(4)), dtype=float)
        meta["pose"] = (pose @ prev).tolist()
        return Coil(
            name=self.name,
            start=self.start @ rot.T + shift,
            end=self.end @ rot.T + shift,
            weight=self.weight,
            dipole_position=self.dipole_position @ rot.T + shift,
            dipole_moment=self.dipole_moment @ rot.T,
            metadata=meta,
        )

    def open_ends(self, tol: float = 1e-9) -> np.ndarray:
        """Points (k, 3) metres where the net segment current does not balance.

        A closed current path (what Faraday's law and the sphere solution assume) has, at every
        node, as much weighted current flowing in as out.  Returns the unbalanced nodes.
        """
        if self.n_segments == 0:
            return np.zeros((0, 3))
        nodes = np.concatenate([self.start, self.end])
        scale = max(float(np.ptp(nodes, axis=0).max()), 1e-12)
        key = np.round(nodes / (scale * tol)).astype(np.int64)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.ravel()
        n = self.n_segments
        net = np.zeros(len(uniq))
        np.add.at(net, inv[:n], -self.weight)
        np.add.at(net, inv[n:], self.weight)
        bad = np.abs(net) > 1e-9 * max(1.0, float(np.abs(self.weight).max()))
        first = np.zeros(len(uniq), dtype=np.int64)
        first[inv[::-1]] = np.arange(len(inv))[::-1]
        return nodes[first[bad]]

    def check_closed(self) -> None:
        """Raise ``ValueError`` if the segment current paths are not closed."""
        ends = self.open_ends()
        if len(ends):
            pts = ", ".join(f"({x * 1e3:.2f}, {y * 1e3:.2f}, {z * 1e3:.2f}) mm" for x, y, z in ends[:3])
            raise ValueError(
                f"coil {self.name!r}: the current path is open at {len(ends)} point(s), e.g. {pts}; "
                "a closed path (include return and crossover wires) is required"
            )
