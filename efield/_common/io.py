"""Atomic output: files appear complete or not at all; nothing is overwritten without force."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["staged_directory", "atomic_target", "atomic_write", "OutputExistsError", "MARKER"]

#: a file every output directory of this tool carries, so --force only ever replaces our own output
MARKER = ".efield-output"


class OutputExistsError(FileExistsError):
    """An output exists and ``force`` was not given."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, directory: bool) -> None:
    """Give a staged file or directory the permissions a plain ``open``/``mkdir`` would (mkstemp and
    mkdtemp create them private to the owner)."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def staged_directory(path, force: bool = False):
    """Yield a fresh temporary directory next to ``path``; on success it replaces ``path``.

    ``path`` must not exist unless ``force`` is true, and then it must be an earlier output of
    this tool (it holds the ``.efield-output`` marker): a user's own folder is never deleted.
    On error the staged directory is removed and ``path`` is untouched.
    """
    path = Path(path)
    if path.exists():
        if not force:
            raise OutputExistsError(f"output directory '{path}' exists; pass --force to replace it")
        if not (path / MARKER).exists():
            raise OutputExistsError(
                f"output directory '{path}' exists and was not written by efield (no {MARKER} file); "
                "refusing to replace it even with --force — choose another --out"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        (tmp / MARKER).write_text("written by efield; safe to replace with --force\n")
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish_mode(tmp, directory=True)
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_target(path, force: bool = False, default_suffix: str = ""):
    """Yield a temporary path next to ``path`` (same suffix); on success it replaces ``path`` in one
    rename, on error it is removed.  An existing ``path`` is refused unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"'{path}' exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the directory '{path.parent}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or default_suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish_mode(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path, writer, force: bool = False) -> Path:
    """Call ``writer(tmp_path)`` then move the result to ``path`` in one rename (see :func:`atomic_target`)."""
    with atomic_target(path, force=force) as tmp:
        writer(tmp)
    return Path(path)
