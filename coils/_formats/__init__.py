"""Coil file formats behind a small registry keyed by file extension.

One module per format (``ccd``: SimNIBS dipoles; ``tcd``: SimNIBS JSON coil definitions).
Every reader returns a :class:`coils.Coil` in this project's coil frame (metres); every writer
takes one.  Readers raise ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .._model import Coil
from .ccd import read_ccd, write_ccd
from .tcd import read_tcd, write_tcd

__all__ = ["READERS", "WRITERS", "read_coil", "write_coil", "read_ccd", "write_ccd", "read_tcd", "write_tcd"]

READERS: dict[str, Callable[..., Coil]] = {".ccd": read_ccd, ".tcd": read_tcd}
WRITERS: dict[str, Callable[..., None]] = {".ccd": write_ccd, ".tcd": write_tcd}


def _extension(path, table: dict, what: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in table:
        raise ValueError(
            f"cannot {what} coil file {str(path)!r}: unknown extension {ext or '(none)'!r}; "
            f"known: {', '.join(sorted(table))}"
        )
    return ext


def read_coil(path) -> Coil:
    """Read a coil file, choosing the reader by extension (``.ccd``, ``.tcd``).

    Parameters
    ----------
    path : str or Path
        Coil file.
    """
    return READERS[_extension(path, READERS, "read")](path)


def write_coil(coil: Coil, path, **kwargs) -> None:
    """Write ``coil`` to ``path``, choosing the writer by extension (``.ccd``, ``.tcd``)."""
    WRITERS[_extension(path, WRITERS, "write")](coil, path, **kwargs)
