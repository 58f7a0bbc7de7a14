"""Preset coils: one TOML file per coil in ``coils/presets`` (sources cited there), built on demand.

The TOML files hold millimetres and degrees (the human edge); this module converts them to SI
and builds the wire model with :func:`coils.figure8_coil` or :func:`coils.spiral_coil`.
Coils are immutable, so built presets are cached.
"""

from __future__ import annotations

import copy
import functools
import math
import tomllib
from pathlib import Path

from ._builders import figure8_coil, spiral_coil
from ._formats import READERS, read_coil
from ._model import Coil

__all__ = ["UnknownCoilError", "list_coils", "coil_info", "load_coil", "PRESET_DIR", "simnibs_coil_dirs",
           "SIMNIBS_COILS_ENV"]

PRESET_DIR = Path(__file__).resolve().parent / "presets"

_REQUIRED = ("id", "name", "manufacturer", "kind", "species", "not_modelled", "geometry", "placement", "sources")
_KINDS = ("figure8", "circular")
_SPECIES = ("human", "rodent")


class UnknownCoilError(ValueError):
    """A coil name that is neither a preset id nor a coil file."""


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict]:
    out = {}
    for path in sorted(PRESET_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            try:
                info = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"preset file {path.name}: invalid TOML ({exc})") from None
        missing = [k for k in _REQUIRED if k not in info]
        if missing:
            raise ValueError(f"preset file {path.name}: missing keys {missing}")
        if info["id"] != path.stem:
            raise ValueError(f"preset file {path.name}: id {info['id']!r} must equal the file name stem")
        if info["kind"] not in _KINDS:
            raise ValueError(f"preset file {path.name}: kind must be one of {_KINDS}; got {info['kind']!r}")
        if info["species"] not in _SPECIES:
            raise ValueError(f"preset file {path.name}: species must be one of {_SPECIES}; got {info['species']!r}")
        out[info["id"]] = info
    return out


def list_coils() -> list[str]:
    """Sorted ids of the preset coils."""
    return sorted(_catalogue())


def _unknown(name) -> UnknownCoilError:
    known = ", ".join(list_coils())
    return UnknownCoilError(
        f"coil {str(name)!r} is unknown; known coils: {known} "
        f"(or give the path of a {'/'.join(sorted(READERS))} file)"
    )


def coil_info(name: str) -> dict:
    """The preset's TOML content (a copy; millimetres and degrees as in the file).

    Parameters
    ----------
    name : str
        Preset id (see :func:`list_coils`).
    """
    try:
        return copy.deepcopy(_catalogue()[name])
    except (KeyError, TypeError):
        raise _unknown(name) from None


def _mm(geom: dict, key: str, default=None):
    value = geom.get(f"{key}_mm")
    return default if value is None else float(value) * 1e-3


def _metadata(info: dict) -> dict:
    stim = info.get("stimulator") or {}
    place = info["placement"]
    meta = {
        "id": info["id"],
        "display_name": info["name"],
        "manufacturer": info["manufacturer"],
        "kind": info["kind"],
        "species": info["species"],
        "not_modelled": " ".join(info["not_modelled"].split()),
        "citation": "; ".join(s["citation"] for s in info["sources"] if s.get("flag") != "A"),
        "sources": copy.deepcopy(info["sources"]),
        "casing_thickness_m": float(place["casing_thickness_mm"]) * 1e-3,
        "scalp_gap_m": float(place.get("scalp_gap_mm", 0.0)) * 1e-3,
        "stimulator": stim.get("name"),
        "didt_max_a_per_s": float(stim["didt_max_a_per_us"]) * 1e6 if "didt_max_a_per_us" in stim else None,
        "source": f"preset {info['id']} ({(PRESET_DIR / (info['id'] + '.toml')).name})",
    }
    return meta


@functools.lru_cache(maxsize=None)
def _build(cid: str, segments_per_turn: int | None = None) -> Coil:
    info = _catalogue()[cid]
    g = info["geometry"]
    common = dict(
        layers=int(g.get("layers", 1)),
        layer_spacing=_mm(g, "layer_spacing"),
        z_bottom=float(info["placement"]["casing_thickness_mm"]) * 1e-3,
        sense=int(g.get("sense", 1)),
        conductor_width=_mm(g, "conductor_width"),
        conductor_height=_mm(g, "conductor_height", 0.0),
        segments_per_turn=segments_per_turn,
        metadata=_metadata(info),
    )
    args = (cid, _mm(g, "inner_diameter"), _mm(g, "outer_diameter"), float(g["turns"]))
    if info["kind"] == "figure8":
        return figure8_coil(*args, wing_spacing=_mm(g, "wing_spacing"),
                            bend_angle=math.radians(float(g.get("bend_angle_deg", 0.0))),
                            fold_offset=_mm(g, "fold_offset", 0.0), wing_stack=_mm(g, "wing_stack", 0.0),
                            top_wing=int(g.get("top_wing", 1)), **common)
    return spiral_coil(*args, **common)


#: environment variable naming a folder of SimNIBS coil files (``simnibs:NAME`` reads NAME.ccd/.tcd there)
SIMNIBS_COILS_ENV = "EFIELD_SIMNIBS_COILS"


def simnibs_coil_dirs() -> list[Path]:
    """Folders searched for ``simnibs:NAME`` coils, in order.

    ``$EFIELD_SIMNIBS_COILS`` first; then the coil folders of an installed SimNIBS
    (``simnibs/resources/coil_models`` and its subfolders, found through the importable
    ``simnibs`` package) if there is one.
    """
    import importlib.util
    import os

    dirs = []
    env = os.environ.get(SIMNIBS_COILS_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    spec = importlib.util.find_spec("simnibs")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent / "resources" / "coil_models"
        if root.is_dir():
            dirs.append(root)
            dirs.extend(sorted(p for p in root.iterdir() if p.is_dir()))
    return dirs


def _simnibs_coil(name: str) -> Coil:
    stem = name.split(":", 1)[1].strip()
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        raise UnknownCoilError(f"coil {name!r}: give a SimNIBS coil file name after 'simnibs:', e.g. "
                               "'simnibs:MagVenture_MC-B70'")
    dirs = simnibs_coil_dirs()
    if not dirs:
        raise UnknownCoilError(
            f"coil {name!r}: no SimNIBS coil folder found; set {SIMNIBS_COILS_ENV} to a folder of SimNIBS "
            ".ccd/.tcd files (e.g. simnibs/resources/coil_models/Drakaki_BrainStim_2022) or install SimNIBS")
    names = [stem] if Path(stem).suffix.lower() in (".ccd", ".tcd") else [stem + ".ccd", stem + ".tcd"]
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return read_coil(d / n)
    avail = sorted({p.stem for d in dirs if d.is_dir() for p in d.iterdir() if p.suffix.lower() in (".ccd", ".tcd")})
    shown = ", ".join(avail[:40]) + (" ..." if len(avail) > 40 else "")
    raise UnknownCoilError(
        f"coil {name!r}: no {' or '.join(names)} in {', '.join(str(d) for d in dirs)}; "
        f"available: {shown or 'none'}")


def load_coil(name, *, segments_per_turn: int | None = None) -> Coil:
    """A preset coil by id, a SimNIBS coil by name, or a coil file by path (``.ccd``, ``.tcd``).

    Parameters
    ----------
    name : str or Path
        Preset id (see :func:`list_coils`), ``"simnibs:NAME"`` (the validated SimNIBS model
        ``NAME.ccd`` or ``NAME.tcd`` from the folder in ``$EFIELD_SIMNIBS_COILS``, else from an
        installed SimNIBS; see :func:`simnibs_coil_dirs`), or the path of a coil file.
    segments_per_turn : int, optional
        Spiral sampling of presets (default: the sagitta rule of :mod:`coils._builders`).
        Ignored for files.

    Raises
    ------
    UnknownCoilError
        ``name`` is neither a preset id nor a coil file; the message lists the known ids.
    """
    if isinstance(name, str) and name in _catalogue():
        return _build(name, None if segments_per_turn is None else int(segments_per_turn))
    if isinstance(name, str) and name.lower().startswith("simnibs:"):
        return _simnibs_coil(name)
    if isinstance(name, (str, Path)):
        path = Path(name)
        if path.is_dir():
            raise ValueError(f"coil '{path}' is a folder, not a coil file; give a .ccd or .tcd file or a preset id "
                             "(see `efield coils`)")
        if path.suffix.lower() in READERS or path.is_file():
            return read_coil(path)
    raise _unknown(name)
