"""Every way to name a head, in one place: built-in names, head-mesh files and SimNIBS subject folders.

Accepted everywhere a head is taken (``--head`` on every command, ``head=`` in the API):

==========================  =====================================================================
form                        what it is
==========================  =====================================================================
``human``, ``rat``,         concentric-sphere heads (``meshes.sphere_head``)
``mouse``
``human-mesh``,             built-in tetrahedral heads (``meshes.builtin_head``; FEM)
``rat-mesh``,
``mouse-mesh``, ``dish``
``path/to/head.msh``        a gmsh/SimNIBS mesh, coordinates in mm (tags 1–12, surfaces 1002/1005)
``path/to/head.vtu``        a VTK mesh, coordinates in metres (cell array ``tissue``)
``path/to/m2m_<id>/``       a SimNIBS subject folder: ``<id>.msh`` inside it (SimNIBS 4, charm) or
                            beside it (SimNIBS 3, headreco); ``toMNI/MNI2conform_12DOF.txt``, when
                            present, maps MNI targets into the subject's space (affine)
a head object               ``SphereHead`` / ``MeshHead``, passed through
==========================  =====================================================================

File heads are in the subject's own frame (``frame="head"``; SimNIBS: the world space of the
subject's T1, RAS, mm in files).  Loaded heads are cached per process by path, size and
modification time.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from .._common.validation import did_you_mean
from .placement import is_mesh_head, is_sphere_head

__all__ = ["SPHERE_HEADS", "BUILTIN_MESH_HEADS", "ACCEPTED_HEADS", "HeadError", "load_any_head", "head_label",
           "head_species", "is_builtin_head", "head_names", "scalp_surface"]

SPHERE_HEADS = ("human", "rat", "mouse")
#: built-in mesh head names → the name ``meshes.builtin_head`` takes
BUILTIN_MESH_HEADS = {"human-mesh": "human", "rat-mesh": "rat", "mouse-mesh": "mouse", "dish": "dish"}
HEAD_FILE_TYPES = (".msh", ".vtu")

ACCEPTED_HEADS = ("a built-in head (spheres: human, rat, mouse; meshes: human-mesh, rat-mesh, mouse-mesh, dish), "
                  "a head-mesh file (.msh from SimNIBS or gmsh, coordinates in mm; .vtu, coordinates in metres) "
                  "or a SimNIBS subject folder m2m_<id>/")

#: SimNIBS's affine MNI → subject transform inside an m2m folder (coordinates in mm)
MNI_AFFINE = Path("toMNI") / "MNI2conform_12DOF.txt"

#: head size (largest extent of the mesh, m) at and above which a file head is taken as human, and
#: at and above which a smaller one is taken as rat (below: mouse); a stated assumption
HUMAN_MIN_EXTENT_M, RAT_MIN_EXTENT_M = 0.10, 0.035


class HeadError(ValueError):
    """A head that cannot be resolved (unknown name, missing or unreadable file)."""


def head_names() -> list[str]:
    """Every built-in head name."""
    return [*SPHERE_HEADS, *BUILTIN_MESH_HEADS]


def is_builtin_head(spec) -> bool:
    """True for a built-in head name (sphere or mesh)."""
    return isinstance(spec, str) and spec.strip().lower() in head_names()


def _looks_like_path(text: str) -> bool:
    return (os.sep in text or "/" in text or text.startswith(".") or text.lower().endswith(HEAD_FILE_TYPES)
            or Path(text).name.startswith("m2m_") or Path(text).exists())


def _unknown(spec: str) -> HeadError:
    hint = did_you_mean(spec, head_names())
    return HeadError(f"head {spec!r} is unknown; give {ACCEPTED_HEADS}.{hint}")


def _m2m_mesh(folder: Path) -> tuple[Path, str]:
    """The head mesh of SimNIBS subject folder ``folder`` and the subject id."""
    sub = folder.name[4:] if folder.name.startswith("m2m_") else ""
    if not sub:
        raise HeadError(f"folder '{folder}' is not a SimNIBS subject folder: its name must be m2m_<id> "
                        f"(got {folder.name!r}); give the folder SimNIBS made, or its <id>.msh file")
    for candidate in (folder / f"{sub}.msh", folder.parent / f"{sub}.msh"):
        if candidate.is_file():
            return candidate, sub
    meshes = sorted(p.name for p in folder.glob("*.msh"))
    found = f"; .msh files in it: {', '.join(meshes)}" if meshes else "; it holds no .msh file"
    raise HeadError(f"SimNIBS subject folder '{folder}' has no head mesh: expected '{folder / (sub + '.msh')}' "
                    f"(SimNIBS 4) or '{folder.parent / (sub + '.msh')}' (SimNIBS 3){found}")


def _read_mni_affine(path: Path) -> np.ndarray:
    from .._common.io import read_text

    text = read_text(path, "MNI transform")
    try:
        rows = [[float(x) for x in ln.replace(",", " ").split()] for ln in text.splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
        m = np.asarray(rows, dtype=float)
    except ValueError:
        m = np.zeros((0,))
    if m.shape != (4, 4) or not np.isfinite(m).all() or not np.allclose(m[3], [0, 0, 0, 1], atol=1e-6) \
            or abs(np.linalg.det(m[:3, :3])) < 1e-3:
        raise HeadError(f"'{path}': expected SimNIBS's 4x4 affine MNI → subject matrix (mm, last row 0 0 0 1, "
                        f"invertible); got {m.shape[0] if m.ndim else 0} rows that do not form one")
    return m


@functools.lru_cache(maxsize=8)
def _load_file_head(path: str, size: int, mtime: float, m2m: str | None, units: str | None):
    from dataclasses import replace

    from meshes import load_head

    head = load_head(path, units=units)
    if m2m is None:
        return head
    folder = Path(m2m)
    prov = dict(head.provenance)
    prov["simnibs_subject_folder"] = str(folder)
    affine = folder / MNI_AFFINE
    if affine.is_file():
        prov["mni_to_head_mm"] = _read_mni_affine(affine).tolist()
        prov["mni_to_head_source"] = f"{affine} (SimNIBS 12-DOF affine MNI → subject; not the non-linear warp)"
    return replace(head, name=folder.name[4:], provenance=prov)


def load_any_head(spec, *, units: str | None = None):
    """The head named by ``spec`` (see the module docstring for every accepted form).

    Parameters
    ----------
    spec : str, path-like, SphereHead or MeshHead
    units : ``"mm"`` or ``"m"``, optional
        Length unit of a head-mesh file (default: mm for ``.msh``, m for ``.vtu``).

    Raises
    ------
    HeadError naming what was given and listing every accepted form (with a "did you mean").
    """
    if is_sphere_head(spec) or is_mesh_head(spec):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise HeadError(f"head must be a name, a file or folder path, or a head object; got {type(spec).__name__}")
    text = os.fspath(spec).strip()
    key = text.lower()
    if key in SPHERE_HEADS:
        from meshes import sphere_head

        return sphere_head(key)
    if key in BUILTIN_MESH_HEADS:
        from meshes._builtin import builtin_head

        if key != "human-mesh":
            return builtin_head(BUILTIN_MESH_HEADS[key])
        from .._common import progress

        with progress.task("meshing the built-in human head (2.6 mm voxels, 1.25 M tets)"):
            return builtin_head("human")
    if not _looks_like_path(text):
        raise _unknown(text)
    path = Path(text).expanduser()
    m2m = None
    if path.is_dir():
        m2m = path
        path, _ = _m2m_mesh(path)
    elif not path.exists():
        raise HeadError(f"head file '{text}' does not exist; give {ACCEPTED_HEADS}")
    elif path.suffix.lower() not in HEAD_FILE_TYPES:
        raise HeadError(f"head file '{text}' has the type {path.suffix or '(none)'!r}; head meshes are "
                        f"{' or '.join(HEAD_FILE_TYPES)} (or give an m2m_<id>/ folder)")
    st = path.stat()
    from .._common import progress

    try:
        with progress.task(f"reading head mesh {path.name} ({st.st_size / 1e6:.0f} MB)"):
            return _load_file_head(str(path.resolve()), st.st_size, st.st_mtime, None if m2m is None else str(m2m.resolve()),
                               units)
    except (ValueError, OSError) as exc:
        raise HeadError(str(exc)) from None


def head_label(spec, head=None) -> str:
    """Readable name of a head and its model, e.g. ``"human (sphere)"``, ``"rat-mesh (built-in mesh, FEM)"``,
    ``"ernie (SimNIBS subject folder /data/m2m_ernie, FEM)"``."""
    if isinstance(spec, str) and spec.strip().lower() in SPHERE_HEADS:
        return f"{spec.strip().lower()} (sphere)"
    if isinstance(spec, str) and spec.strip().lower() in BUILTIN_MESH_HEADS:
        return f"{spec.strip().lower()} (built-in mesh, FEM)"
    head = head if head is not None else load_any_head(spec)
    if is_sphere_head(head):
        return f"{head.name} (sphere)"
    prov = getattr(head, "provenance", {}) or {}
    if "simnibs_subject_folder" in prov:
        return f"{head.name} (SimNIBS subject folder {prov['simnibs_subject_folder']}, FEM)"
    if "file" in prov:
        return f"{head.name} (mesh file {prov['file']}, FEM)"
    if head.name in BUILTIN_MESH_HEADS.values():
        return f"{head.name} (built-in mesh, FEM)"
    return f"{head.name} (mesh, FEM)"


def head_species(spec, head=None) -> tuple[str, str]:
    """The species whose thresholds and defaults apply to a head, and how it was decided.

    Built-in names carry theirs; the dish is ``"cells"``.  A file head is human if it comes from a
    SimNIBS subject folder or is at least 10 cm across, rat from 3.5 cm, mouse below (an
    assumption stated in the returned text).
    """
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "dish":
            return "cells", "the culture dish"
        if key in SPHERE_HEADS or key in BUILTIN_MESH_HEADS:
            return key.split("-")[0], f"built-in head {key}"
    head = head if head is not None else load_any_head(spec)
    if is_sphere_head(head):
        return str(head.name).split("-")[0], f"sphere head {head.name}"
    prov = getattr(head, "provenance", {}) or {}
    if "simnibs_subject_folder" in prov:
        return "human", "a SimNIBS subject folder (human head)"
    if "sidecar" in prov and prov.get("species") in ("human", "rat", "mouse"):
        return prov["species"], f"declared in the head's sidecar {prov['sidecar']}"
    extent = float(np.ptp(head.nodes, axis=0).max())
    species = "human" if extent >= HUMAN_MIN_EXTENT_M else "rat" if extent >= RAT_MIN_EXTENT_M else "mouse"
    return species, (f"assumed from the head's size ({extent * 1e3:.0f} mm across: human from "
                     f"{HUMAN_MIN_EXTENT_M * 1e3:.0f} mm, rat from {RAT_MIN_EXTENT_M * 1e3:.0f} mm, mouse below)")


def scalp_surface(head, n_subdiv: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The scalp of ``head`` as (vertices (n, 3) m, faces (m, 3) int) for pictures and scene files: a mesh
    head's scalp surface, or an icosphere of a sphere head's scalp radius (``n_subdiv`` subdivisions)."""
    if is_sphere_head(head):
        from meshes import icosphere

        surf = icosphere(float(head.scalp_radius), n_subdiv, center=tuple(np.asarray(head.center, dtype=float)))
        return surf.vertices, surf.faces
    if getattr(head, "scalp", None) is None:
        raise HeadError(f"head {head.name!r} has no scalp surface")
    return np.asarray(head.scalp.vertices), np.asarray(head.scalp.faces)
