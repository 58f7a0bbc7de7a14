"""Triangulated surfaces from STL (meshio) and GIFTI (nibabel) files, plus the file helpers
shared by all format modules (path checks, unit factors, atomic writes).

Neuroimaging surfaces (FreeSurfer/SimNIBS GIFTI, STL exports) are in millimetres, so
``units="mm"`` is the default here; :class:`~meshes.Surface` is always in metres.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from .._mesh import check_closed, surface_from_faces
from .._surface import Surface

__all__ = ["load_surface", "save_surface", "SURFACE_FORMATS"]

#: Length of one file unit in metres.
UNITS = {"mm": 1e-3, "m": 1.0}


# --------------------------------------------------------------------------- shared helpers
def unit_scale(units, default: str) -> tuple[str, float]:
    """``(units, metres per file unit)``; ``units=None`` takes ``default``."""
    u = default if units is None else units
    if u not in UNITS:
        raise ValueError(f"units must be one of {sorted(UNITS)} (lengths in the file); got {units!r}")
    return u, UNITS[u]


def extension(path: Path, known) -> str:
    """The registered extension of ``path`` (lower case, with dot) or a ValueError listing ``known``."""
    ext = path.suffix.lower()
    if ext not in known:
        raise ValueError(f"file extension {ext or '(none)'!r} of {str(path)!r} is not supported; "
                         f"known extensions: {', '.join(sorted(known))}")
    return ext


def existing_file(path) -> Path:
    p = Path(os.fspath(path))
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {str(p)!r}")
    return p


@contextlib.contextmanager
def atomic_target(path, *, force: bool):
    """Yield a temporary path next to ``path`` (same extension); move it onto ``path`` on success.

    Refuses (``FileExistsError``) to replace an existing ``path`` unless ``force`` is true; the
    temporary file is removed if writing fails, so ``path`` is never left half-written.
    """
    target = Path(os.fspath(path))
    if target.exists() and not force:
        raise FileExistsError(f"{str(target)!r} exists; pass force=True to overwrite it")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"directory {str(target.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes files private to the owner; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- STL
def _read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import meshio

    try:
        mesh = meshio.read(path, file_format="stl")
    except (Exception, SystemExit) as exc:  # meshio raises several types for broken files
        raise ValueError(f"cannot read STL file {str(path)!r}: expected an ASCII or binary STL; "
                         f"{type(exc).__name__}: {exc}") from exc
    tris = [c.data for c in mesh.cells if c.type == "triangle"]
    if not tris:
        raise ValueError(f"STL file {str(path)!r} holds no triangles")
    return mesh.points, np.concatenate(tris)


def _write_stl(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    import meshio

    meshio.write(path, meshio.Mesh(vertices, [("triangle", faces)]), file_format="stl", binary=True)


# --------------------------------------------------------------------------- GIFTI
def _read_gifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    try:
        img = nib.load(path)
        points = img.get_arrays_from_intent("NIFTI_INTENT_POINTSET")
        tris = img.get_arrays_from_intent("NIFTI_INTENT_TRIANGLE")
        arrays = (np.asarray(points[0].data), np.asarray(tris[0].data)) if points and tris else None
    except (Exception, SystemExit) as exc:  # nibabel raises ExpatError, ValueError, KeyError...
        raise ValueError(f"cannot read GIFTI file {str(path)!r}: expected a GIFTI surface; "
                         f"{type(exc).__name__}: {exc}") from exc
    if arrays is None:
        raise ValueError(f"GIFTI file {str(path)!r} must hold a POINTSET and a TRIANGLE array "
                         f"(a surface); found {len(points)} and {len(tris)}")
    return arrays


def _write_gifti(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    import nibabel as nib
    from nibabel.gifti import GiftiDataArray, GiftiImage

    img = GiftiImage(darrays=[
        GiftiDataArray(vertices.astype(np.float32), intent="NIFTI_INTENT_POINTSET", datatype="NIFTI_TYPE_FLOAT32"),
        GiftiDataArray(faces.astype(np.int32), intent="NIFTI_INTENT_TRIANGLE", datatype="NIFTI_TYPE_INT32"),
    ])
    nib.save(img, path)


#: Surface readers and writers by extension.
SURFACE_FORMATS = {".stl": (_read_stl, _write_stl), ".gii": (_read_gifti, _write_gifti)}


def _checked(path: Path, points, faces) -> tuple[np.ndarray, np.ndarray]:
    """Real finite (n, 3) vertices and integer (m, 3) faces indexing them, or a ValueError."""
    points, faces = np.asarray(points), np.asarray(faces)
    if points.dtype.kind not in "fiu":
        raise ValueError(f"surface file {str(path)!r}: vertex coordinates must be real numbers (float or int); "
                         f"got dtype {points.dtype}")
    if faces.dtype.kind not in "iu":
        raise ValueError(f"surface file {str(path)!r}: triangle vertex indices must be integers; "
                         f"got dtype {faces.dtype}")
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"surface file {str(path)!r}: vertices must be a non-empty (n, 3) array; "
                         f"got shape {points.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"surface file {str(path)!r}: triangles must be an (m, 3) array; "
                         f"got shape {faces.shape}")
    if len(faces) == 0:
        raise ValueError(f"surface file {str(path)!r} holds no triangles")
    with np.errstate(all="ignore"):  # NaN/inf are reported below, not warned about
        points = points.astype(np.float64)
    if not np.isfinite(points).all():
        raise ValueError(f"surface file {str(path)!r}: {int((~np.isfinite(points)).sum())} vertex coordinates "
                         "are not finite")
    lo, hi = int(faces.min()), int(faces.max())
    if lo < 0 or hi >= len(points):
        raise ValueError(f"surface file {str(path)!r}: triangle vertex indices must be in 0..{len(points) - 1} "
                         f"(the {len(points)} vertices); got values from {lo} to {hi}")
    return points, faces.astype(np.int64)


def load_surface(path, *, units: str = "mm", closed: bool = False) -> Surface:
    """Read a triangulated surface from STL (``.stl``) or GIFTI (``.gii``, e.g. ``lh.pial.gii``).

    Parameters
    ----------
    path : str or path-like
    units : ``"mm"`` (default: neuroimaging STL/GIFTI files are in millimetres) or ``"m"``
        Length unit of the coordinates in the file; the surface is returned in metres.
    closed : bool
        Require a closed surface (every edge shared by exactly two triangles); an open or
        non-manifold surface then raises ``ValueError`` naming the number of bad edges and where.

    Returns
    -------
    Surface, metres, with area-weighted vertex normals following the file's triangle orientation
    (STL and GIFTI surfaces are usually counter-clockwise seen from outside).
    """
    p = existing_file(path)
    ext = extension(p, SURFACE_FORMATS)
    _, scale = unit_scale(units, "mm")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # meshio/nibabel warn on odd files; problems are checked below
        points, faces = SURFACE_FORMATS[ext][0](p)
    points, faces = _checked(p, points, faces)
    if np.abs(points).max() * scale > 1e3:
        raise ValueError(f"surface file {str(p)!r}: vertex coordinates must lie within ±1000 m (read as {units}); "
                         f"got up to {np.abs(points).max() * scale:.3g} m")
    try:
        surface = surface_from_faces(points * scale, faces)
    except ValueError as exc:
        raise ValueError(f"surface file {str(p)!r}: {exc}") from None
    if closed:
        check_closed(surface, f"surface in {str(p)!r}")
    return surface


def save_surface(surface: Surface, path, *, units: str = "mm", force: bool = False) -> Path:
    """Write ``surface`` to STL or GIFTI (by extension) in ``units`` (default mm); atomic.

    GIFTI stores float32 coordinates (≈ 1e-7 relative precision).  Refuses to overwrite an
    existing file unless ``force=True``.  Returns the path written.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface; got {type(surface).__name__}")
    p = Path(os.fspath(path))
    ext = extension(p, SURFACE_FORMATS)
    _, scale = unit_scale(units, "mm")
    with atomic_target(p, force=force) as tmp:
        SURFACE_FORMATS[ext][1](tmp, surface.vertices / scale, surface.faces)
    return p
