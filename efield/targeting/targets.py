"""Cortical targets: named ones (``data/targets.toml``, each with its source), MNI or bregma
coordinates in mm, or a point in metres; the wanted field direction and the cortical region the
objective averages over.  :func:`resolve_target` turns any of them into a :class:`Target`.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .._common.validation import as_scalar
from ..physics.placement import is_mesh_head as _is_mesh_head

__all__ = ["Target", "TargetError", "list_targets", "resolve_target", "check_target_text", "head_size", "scalp_tangent", "mni_affine"]

_DIRECTIONS = {
    "anterior": (0.0, 1.0, 0.0), "posterior": (0.0, -1.0, 0.0), "right": (1.0, 0.0, 0.0),
    "left": (-1.0, 0.0, 0.0), "superior": (0.0, 0.0, 1.0), "dorsal": (0.0, 0.0, 1.0),
    "inferior": (0.0, 0.0, -1.0), "ventral": (0.0, 0.0, -1.0),
}


class TargetError(ValueError):
    """A target, direction or search option that cannot be used."""


@functools.lru_cache(maxsize=1)
def _targets_file() -> dict:
    with resources.files("efield.targeting").joinpath("data/targets.toml").open("rb") as fh:
        return tomllib.load(fh)


def list_targets(species: str | None = None) -> dict[str, dict]:
    """Named targets by species ("human", "rat", "mouse"): coordinates (mm), description, source, flag."""
    data = {k: v for k, v in _targets_file().items() if k != "frames"}
    return {species: dict(data.get(species, {}))} if species else data


def _species(head) -> str:
    """The species whose named targets apply: from the head's name, else as :func:`efield.physics.heads.head_species`
    decides (SimNIBS subject folders are human; other file heads by their size)."""
    name = str(getattr(head, "name", "")).lower()
    for s in ("human", "rat", "mouse"):
        if name.startswith(s):
            return s
    from ..physics.heads import head_species

    return head_species(head, head)[0]


@dataclass(frozen=True, eq=False)
class Target:
    """A cortical target in the head frame.

    Attributes
    ----------
    point : (3,) float array, metres — the target (centre of the region)
    region : (k, 3) float array, metres — points averaged by the objective (``[point]`` for a point)
    direction : (3,) unit float array or None — wanted field direction (None: maximise |E|)
    label : str — name or coordinates as given
    direction_label : str — "normal", "anterior", …, "custom", "convention" or "|E|"
    source : str — where a named target's coordinates come from (with its flag)
    axial : bool — the objective is |E·direction| (a line, sign-agnostic) instead of the signed E·direction
    convention : dict or None — the named target's conventional coil orientation (``data/targets.toml``):
        description, source (with flag), field_direction and handle_direction (head-frame unit vectors as
        tabulated), field_label ("PA"), reverse_label ("AP"), field_toward / reverse_toward (words),
        handle_from_midline_deg
    """

    point: np.ndarray
    region: np.ndarray
    direction: np.ndarray | None
    label: str
    direction_label: str
    source: str = ""
    axial: bool = False
    convention: dict | None = None

    @property
    def objective_text(self) -> str:
        """The objective in words, e.g. "E along the conventional PA direction (|E·d|)"."""
        if self.direction is None:
            return "|E| (field magnitude)"
        if self.direction_label == "convention" and self.convention:
            return f"E along the conventional {self.convention.get('field_label', '')} direction (|E·d|)"
        return f"E along {self.direction_label}" + (" (|E·d|)" if self.axial else " (E·d, signed)")


def mni_affine(head) -> np.ndarray | None:
    """The 4×4 affine (mm → mm) from MNI coordinates to ``head``'s frame: the identity for heads in the MNI
    frame, a SimNIBS subject's ``toMNI/MNI2conform_12DOF.txt`` (``provenance["mni_to_head_mm"]``), else None."""
    if getattr(head, "frame", None) == "MNI":
        return np.eye(4)
    m = (getattr(head, "provenance", None) or {}).get("mni_to_head_mm")
    return None if m is None else np.asarray(m, dtype=float)


def _frame_point(head, coords_mm, kind: str) -> np.ndarray:
    """Head-frame point (m) of MNI or bregma coordinates (mm) on ``head``."""
    p = np.asarray(coords_mm, dtype=float) * 1e-3
    species = _species(head)
    if _is_mesh_head(head):
        if kind == "mni":
            m = mni_affine(head)
            if m is None:
                raise TargetError(f"MNI coordinates need a head in the MNI frame or a SimNIBS subject folder with "
                                  f"toMNI/MNI2conform_12DOF.txt; {head.name!r} is in the {head.frame!r} frame — give "
                                  "the target in the head's own coordinates as 'head:x,y,z' (mm)")
            return (m[:3, :3] @ np.asarray(coords_mm, dtype=float) + m[:3, 3]) * 1e-3
        if head.frame != "bregma":
            raise TargetError(f"bregma coordinates need a head in the bregma frame; {head.name!r} is in the "
                              f"{head.frame!r} frame — give 'head:x,y,z' (mm) instead")
        return p
    # sphere heads: direction from the frame's anchor, onto the cortex sphere
    if kind == "mni":
        if species != "human":
            raise TargetError(f"MNI coordinates need a human head; got {head.name!r}")
        anchor = np.asarray(_targets_file()["frames"]["human_sphere"]["mni_center_mm"], dtype=float) * 1e-3
        d = p - anchor
        if np.linalg.norm(d) > 1.5 * head.scalp_radius:  # real heads are longer than the sphere is wide
            raise TargetError(f"MNI ({', '.join(f'{x:g}' for x in coords_mm)}) mm lies "
                              f"{np.linalg.norm(d) * 1e3:.0f} mm from the head centre, outside any head "
                              f"(allowed: within {1.5 * head.scalp_radius * 1e3:.0f} mm); MNI coordinates are in mm")
        return np.asarray(head.center, dtype=float) + head.cortex_radius * d / np.linalg.norm(d)
    if species not in ("rat", "mouse"):
        raise TargetError(f"bregma coordinates need a rat or mouse head; got {head.name!r}")
    skull = next(layer.outer_radius for layer in head.layers if layer.tissue == "skull")
    return np.asarray(head.center, dtype=float) + p + [0.0, 0.0, skull]


def _mapped_mni(head, point, label) -> tuple[np.ndarray, str]:
    """An MNI point mapped into a subject's head by an affine (mm) may miss the brain by a few mm (an affine is
    not a nonlinear registration): move it to the nearest cortex point within 15 mm, saying so."""
    if not _is_mesh_head(head) or mni_affine(head) is None or getattr(head, "frame", None) == "MNI":
        return point, ""
    how = "MNI mapped into the subject by the 12-parameter affine toMNI/MNI2conform_12DOF.txt"
    cell = int(head.find_tets(point[None])[0])
    if cell >= 0 and int(head.tags[cell]) in _TARGET_TAGS:
        return point, how
    if head.cortex is None:
        return point, how
    v = head.cortex.vertices
    d = np.linalg.norm(v - point, axis=1)
    k = int(np.argmin(d))
    if d[k] > 0.015:
        raise TargetError(f"target {label} mapped into head {head.name!r} by its MNI affine lies {d[k] * 1e3:.0f} mm "
                          "from the cortex (allowed: 15 mm); is toMNI/MNI2conform_12DOF.txt this subject's?")
    return v[k].copy(), f"{how}, then moved {d[k] * 1e3:.1f} mm to the nearest cortex point"


def _below_brain_surface(head, ml_ap_mm, depth_mm) -> np.ndarray:
    """Head-frame point (m) ``depth_mm`` below the brain's dorsal surface at bregma coordinates ``ml_ap_mm``
    (x to the right, y anterior; mm), found along the vertical through them."""
    x, y = (float(v) * 1e-3 for v in ml_ap_mm)
    depth = float(depth_mm) * 1e-3
    if not _is_mesh_head(head):
        c = np.asarray(head.center, dtype=float)
        top = _frame_point(head, [0.0, 0.0, 0.0], "bregma")  # bregma on this sphere
        r2 = head.cortex_radius ** 2 - (top[0] + x - c[0]) ** 2 - (top[1] + y - c[1]) ** 2
        if r2 <= 0:
            raise TargetError(f"bregma ({ml_ap_mm[0]}, {ml_ap_mm[1]}) mm lies beyond the brain of {head.name!r}")
        return np.array([top[0] + x, top[1] + y, c[2] + math.sqrt(r2) - depth])
    if head.frame != "bregma":
        raise TargetError(f"bregma coordinates need a head in the bregma frame; {head.name!r} is in {head.frame!r}")
    brain = [t for t in (11, 1, 2) if np.any(head.tags == t)]
    zs = np.arange(0.01, -0.03, -2e-5)
    line = np.column_stack([np.full_like(zs, x), np.full_like(zs, y), zs])
    cells = head.find_tets(line)
    inside = (cells >= 0) & np.isin(head.tags[np.maximum(cells, 0)], brain)
    if not inside.any():
        raise TargetError(f"no brain below bregma ({ml_ap_mm[0]}, {ml_ap_mm[1]}) mm in head {head.name!r}")
    return np.array([x, y, zs[np.argmax(inside)] - depth])


def _parse_coords(text: str, what: str) -> list[float]:
    parts = [t for t in text.replace(";", ",").replace(" ", ",").split(",") if t]
    try:
        vals = [float(t) for t in parts]
    except ValueError:
        vals = []
    if len(vals) != 3 or not np.isfinite(vals).all():
        raise TargetError(f"target {what} coordinates must be three numbers in mm, e.g. 'mni:-37,-21,58'; got {text!r}")
    return vals


def check_target_text(text: str, species: str) -> None:
    """Check the form of a target given as text without a head (before any head is loaded): coordinates
    ``mni:``/``bregma:``/``head:`` with three numbers in mm, or a named target of ``species``.
    Raises :class:`TargetError` saying what is allowed.  Whether the point lies in the brain is checked
    when the head is there (:func:`resolve_target`)."""
    low = text.strip().lower()
    if low.startswith(("mni:", "bregma:", "head:")):
        kind, _, rest = low.partition(":")
        _parse_coords(rest, kind)
        return
    _named_target(species, text)


def _named_target(species: str, text: str) -> tuple[str, dict]:
    """(name as listed, entry) of the named target ``text`` (case-insensitive) for ``species``."""
    table = list_targets().get(species, {})
    match = {k.lower(): k for k in table}.get(text.strip().lower())
    if match is None:
        known = ", ".join(sorted(table)) or "none"
        raise TargetError(f"target {text.strip()!r} is not a named target for {species} heads; known: {known}; "
                          "or give 'mni:x,y,z' / 'bregma:x,y,z' / 'head:x,y,z' (mm) or a point in metres")
    return match, table[match]


def cortex_normal(head, point) -> np.ndarray:
    """Unit outward cortical normal (3,) at ``point`` (m): radial on spheres, mean of nearby vertex normals on meshes."""
    if not _is_mesh_head(head):
        d = np.asarray(point) - np.asarray(head.center, dtype=float)
        return d / np.linalg.norm(d)
    if head.cortex is None:
        raise TargetError(f"mesh head {head.name!r} has no cortex surface, so 'normal' is undefined; give a vector")
    v, nrm = head.cortex.vertices, head.cortex.normals
    dist = np.linalg.norm(v - point, axis=1)
    near = dist <= max(np.sort(dist)[min(7, len(dist) - 1)], 1e-12)
    n = nrm[near].sum(axis=0)
    return n / np.linalg.norm(n)


def _region_points(head, point, radius, max_points=32) -> np.ndarray:
    if radius == 0:
        return point[None].copy()
    if _is_mesh_head(head):
        if head.cortex is None:
            raise TargetError(f"mesh head {head.name!r} has no cortex surface to take a region from")
        v = head.cortex.vertices
        sel = v[np.linalg.norm(v - point, axis=1) <= radius]
    else:
        c = np.asarray(head.center, dtype=float)
        n = (point - c) / np.linalg.norm(point - c)
        e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        rho = np.linalg.norm(point - c)
        pts = []
        for r in np.linspace(0, radius, 4):
            for a in np.linspace(0, 2 * np.pi, max(1, int(round(6 * r / max(radius, 1e-12) * 3))), endpoint=False):
                q = point + r * (np.cos(a) * e1 + np.sin(a) * e2)
                pts.append(c + rho * (q - c) / np.linalg.norm(q - c))
        sel = np.asarray(pts)
    if len(sel) == 0:
        return point[None].copy()
    if len(sel) > max_points:
        sel = sel[np.linspace(0, len(sel) - 1, max_points).round().astype(int)]
    return np.vstack([point[None], sel])


def resolve_target(head, target, *, direction=None, radius: float = 0.0) -> Target:
    """A :class:`Target` on ``head`` from a name, coordinates or a point.

    Parameters
    ----------
    head : SphereHead or MeshHead
    target : Target, (3,) float array in metres (head frame), a name from :func:`list_targets`
        (e.g. "M1_hand_left", "DLPFC_left", "M1_forelimb_left"), "mni:x,y,z" (mm, human heads: the MNI
        frame, or a SimNIBS subject through its MNI affine), "bregma:x,y,z" (mm; x to the right, y anterior,
        z dorsal from bregma on the skull; rodents) or "head:x,y,z" (mm, the head's own frame)
    direction : None, "magnitude" (or "|E|"), "convention", "normal" (to the cortex), "anterior", "posterior",
        "left", "right", "superior", "inferior", "dorsal", "ventral", "named" (the named target's own
        ``direction`` entry) or a (3,) vector (dimensionless) — the wanted field direction.
        None (the default) uses the named target's conventional orientation where it has one (e.g.
        M1_hand_left: E along the posterior→anterior, lateral→medial line at 45° to the midline, as
        |E·d| — sign-agnostic, since pulses are often biphasic and coil current senses differ between
        manufacturers; the direction is projected onto the scalp tangent plane above the target) and
        |E| otherwise; "magnitude" always maximises |E|; "convention" requires a convention.  Named and
        vector directions are signed (E·d).
    radius : float, metres, >= 0 — the objective averages over cortical points within this distance
    """
    if isinstance(target, Target):
        return target
    radius = as_scalar(radius, "radius", "m", positive=True)
    source, named_dir, conv = "", None, None
    if isinstance(target, str):
        text = target.strip()
        low = text.lower()
        if low.startswith(("mni:", "bregma:", "head:")):
            kind, _, rest = low.partition(":")
            coords = _parse_coords(rest, kind)
            point = np.asarray(coords) * 1e-3 if kind == "head" else _frame_point(head, coords, kind)
            label = text
            if kind == "mni":
                point, source = _mapped_mni(head, point, label)
        else:
            match, entry = _named_target(_species(head), text)
            if "mni_mm" in entry:
                point, how = _mapped_mni(head, _frame_point(head, entry["mni_mm"], "mni"), match)
            else:
                point = _below_brain_surface(head, entry["bregma_ml_ap_mm"], entry["depth_below_brain_surface_mm"])
            label = match
            source = f"{entry['source']} ({entry['flag']})" + (f"; {how}" if "mni_mm" in entry and how else "")
            named_dir = entry.get("direction")
            conv = entry.get("convention")
    else:
        arr = np.asarray(target, dtype=float)
        if arr.shape != (3,) or not np.isfinite(arr).all():
            raise TargetError(f"target must be a name, 'mni:x,y,z', 'bregma:x,y,z', 'head:x,y,z' or a finite (3,) point in metres; "
                              f"got {target!r}")
        point = arr.copy()
        label = "({:.1f}, {:.1f}, {:.1f}) mm".format(*(arr * 1e3))
    _check_in_brain(head, point, label)
    key = direction.strip().lower() if isinstance(direction, str) else None
    if key == "named":
        direction = named_dir
    convention = _convention(conv, head) if conv else None
    axial = (direction is None and conv is not None) or key == "convention"
    if axial and not conv:
        raise TargetError(f"target {label} has no conventional coil orientation; give a direction or 'magnitude'")
    if axial:
        d, dlabel = scalp_tangent(head, point, convention["field_direction"]), "convention"
    else:
        d, dlabel = _direction(head, point, direction)
    return Target(point=point, region=_region_points(head, point, radius), direction=d, label=label,
                  direction_label=dlabel, source=source, axial=axial, convention=convention)


def scalp_tangent(head, point, vector) -> np.ndarray:
    """``vector`` (3,) projected onto the scalp tangent plane above ``point`` (m) and normalised."""
    from ..physics.placement import scalp_contact

    n = scalp_contact(head, np.asarray(point, dtype=float))[1]
    v = np.asarray(vector, dtype=float)
    t = v - (v @ n) * n
    norm = np.linalg.norm(t)
    if norm < 1e-9:
        raise TargetError(f"direction {v.tolist()} is normal to the scalp above the target; it has no tangential part")
    return t / norm


def _convention(conv: Mapping, head=None) -> dict:
    """A named target's convention as a plain dict: unit vectors (tabulated in MNI axes, mapped into the head's
    frame by the linear part of its MNI affine where it has one), source with its flag."""
    out = dict(conv)
    m = mni_affine(head) if head is not None and _is_mesh_head(head) else None
    for k in ("field_direction", "handle_direction"):
        v = np.asarray(out[k], dtype=float)
        if v.shape != (3,) or not np.isfinite(v).all() or np.linalg.norm(v) == 0:
            raise TargetError(f"convention {k} must be a non-zero 3-vector; got {out[k]!r}")
        if m is not None:
            v = m[:3, :3] @ v
        out[k] = tuple(float(x) for x in v / np.linalg.norm(v))
    if "flag" in out:
        out["source"] = f"{out.get('source', '')} ({out.pop('flag')})"
    return out


#: tissues a target may lie in on mesh heads (brain, and the CSF of the sulci a cortical point may touch)
_TARGET_TAGS = (1, 2, 3, 11)
#: the culture medium of a dish (frame "dish"), where targets are cells in the medium
_MEDIUM_TAG = 12


def _check_in_brain(head, point, label) -> None:
    """Refuse a target outside the brain: outside the cortex sphere, or in a mesh tissue other than brain/CSF."""
    where = f"({', '.join(f'{x * 1e3:.1f}' for x in point)}) mm"
    if not _is_mesh_head(head):
        if np.linalg.norm(point - np.asarray(head.center)) >= head.cortex_radius * (1 + 1e-9):
            raise TargetError(f"target {label} at {where} lies outside the cortex sphere of head {head.name!r}")
        return
    from meshes import TISSUE_NAMES

    cell = int(head.find_tets(point[None])[0])
    if cell < 0:
        raise TargetError(f"target {label} at {where} lies outside the {head.name!r} mesh (head frame "
                          f"{head.frame!r}; coordinates in mm)")
    tag = int(head.tags[cell])
    if tag == _MEDIUM_TAG and getattr(head, "frame", None) == "dish":
        return  # cells in a culture dish sit in the medium
    if tag not in _TARGET_TAGS:
        raise TargetError(f"target {label} at {where} lies in the {TISSUE_NAMES.get(tag, f'tag {tag}')} of head "
                          f"{head.name!r}, not in the brain; targets must be in grey/white matter (or the CSF "
                          "beside it)")


def head_size(head) -> float:
    """Head radius (m): the scalp sphere, or the mean distance of a mesh scalp from its centroid."""
    if not _is_mesh_head(head):
        return float(head.scalp_radius)
    v = head.scalp.vertices
    return float(np.linalg.norm(v - v.mean(axis=0), axis=1).mean())


def _direction(head, point, direction) -> tuple[np.ndarray | None, str]:
    """Unit field direction (3,) (or None: |E|) and its label from a name or a vector at ``point``."""
    if direction is None:
        return None, "|E|"
    if isinstance(direction, str):
        key = direction.strip().lower()
        if key in ("magnitude", "|e|", "none"):
            return None, "|E|"
        if key == "normal":
            if not _is_mesh_head(head):
                raise TargetError("direction 'normal' is undefined on a sphere head: the field normal to a "
                                  "spherical cortex is zero (E·r̂ = 0 in a spherically symmetric conductor); "
                                  "maximise |E| (direction=None) or give a tangential direction")
            return cortex_normal(head, point), "normal"
        if key in _DIRECTIONS:
            return np.asarray(_DIRECTIONS[key]), key
        raise TargetError(f"direction must be None, 'magnitude', 'convention', 'normal', one of "
                          f"{', '.join(_DIRECTIONS)} or a 3-vector; "
                          f"got {direction!r}")
    d = np.asarray(direction, dtype=float)
    if d.shape != (3,) or not np.isfinite(d).all() or np.linalg.norm(d) == 0:
        raise TargetError(f"direction must be a finite non-zero 3-vector; got {direction!r}")
    return d / np.linalg.norm(d), "custom"
