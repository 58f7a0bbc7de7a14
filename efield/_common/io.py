"""Safe output: files appear complete or not at all, nothing the toolkit did not write is replaced,
and two runs cannot both claim one output folder.

* :func:`staged_directory` — an output folder is built in a hidden staging folder beside it and
  renamed into place when complete.  While a run builds it, it holds an exclusive lock
  (``fcntl.flock`` on ``.<name>.lock`` beside the folder; released by the kernel even if the process
  is killed), so a second run on the same folder is refused at once.  ``--force`` replaces only an
  earlier output of this tool, and only if it still holds exactly the files that run wrote (the
  ``.efield-output`` manifest): a file a user added is never deleted.  A symbolic link, the current
  folder or one of its parents is never an output folder.  Staging folders left by a killed run are
  removed by the next run that holds the lock.
* :func:`atomic_target`, :func:`atomic_write` — one file, written to a temporary name and renamed.
* :func:`json_text` — JSON without the non-standard ``NaN``/``Infinity`` tokens (they become null).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["staged_directory", "folder_lock", "check_output_path", "atomic_target", "atomic_write", "OutputError", "OutputExistsError", "MARKER",
           "json_text", "read_text", "csv_records", "csv_table", "csv_delimiter", "CSV_DELIMITERS"]

#: a file every output directory of this tool carries, so --force only ever replaces our own output;
#: it lists the files the run wrote (one relative path per line after the first line)
MARKER = ".efield-output"
_MARKER_HEAD = "written by efield; safe to replace with --force while it holds only the files listed below"


class OutputError(OSError):
    """An output cannot be written where it was asked for (the message says why and what to do)."""


class OutputExistsError(OutputError, FileExistsError):
    """An output exists and may not be replaced (no ``force``, not ours, or changed since)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, directory: bool) -> None:
    """Give a staged file or directory the permissions a plain ``open``/``mkdir`` would (mkstemp and
    mkdtemp create them private to the owner)."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def _os_error(exc: OSError, what: str) -> OutputError:
    reason = exc.strerror or str(exc)
    hint = " (read-only file system?)" if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else ""
    return OutputError(f"cannot write {what}: {reason}{hint}")


def check_output_path(path: Path) -> None:
    """Refuse a symbolic link, an existing file, the current folder, one of its parents or the root as an
    output folder (:class:`OutputError` naming it and what to do)."""
    if path.is_symlink():
        raise OutputError(f"output folder '{path}' is a symbolic link; give the folder it points to "
                                        f"('{os.path.realpath(path)}') or another --out")
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"output '{path}' exists and is a file, not an output folder")
    here = Path.cwd().resolve()
    target = path.resolve()
    if target == here or target in here.parents or target.parent == target:
        raise OutputError(f"output folder '{path}' is the current folder, one of its parents or "
                                        "the file-system root; give a new folder name, e.g. --out results")


def _written_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MARKER)


def _is_empty_dir(path: Path) -> bool:
    try:
        return path.is_dir() and not any(path.iterdir())
    except OSError:
        return False


def _check_replaceable(path: Path) -> None:
    """Refuse to replace ``path`` unless it is empty or an untouched earlier output of this tool."""
    if _is_empty_dir(path):
        return
    marker = path / MARKER
    if not marker.is_file():
        raise OutputExistsError(f"output directory '{path}' exists and was not written by efield (no {MARKER} "
                                "file); refusing to replace it even with --force — choose another --out")
    listed = [ln for ln in marker.read_text(encoding="utf-8", errors="replace").splitlines()[1:] if ln]
    present = _written_files(path)
    added = sorted(set(present) - set(listed))
    if listed and added:
        shown = ", ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
        raise OutputExistsError(f"output directory '{path}' holds files efield did not write ({shown}); "
                                "refusing to delete them with --force — move them out or choose another --out")


@contextlib.contextmanager
def _folder_lock(path: Path):
    """Hold an exclusive lock for output folder ``path`` (refuse at once if another run holds it)."""
    import fcntl

    lock_path = path.with_name(f".{path.name}.lock")
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        except OSError as exc:
            raise _os_error(exc, f"the lock file '{lock_path}'") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputExistsError(f"another efield run is writing '{path}' right now (it holds "
                                                 f"'{lock_path}'); wait for it or choose another --out") from None
        # the file may have been unlinked by the run that held it before us: lock the current one
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


#: the lock of an output folder, for outputs built in place (a resumable cohort folder)
folder_lock = _folder_lock


def _remove_stale_staging(path: Path) -> None:
    """Remove staging folders of ``path`` left by runs that were killed (we hold the lock now)."""
    for p in path.parent.glob(f".{path.name}.*"):
        if p.is_dir() and not p.is_symlink() and (p / MARKER).is_file():
            shutil.rmtree(p, ignore_errors=True)


def _check_existing(path: Path, force: bool) -> None:
    if _is_empty_dir(path):
        return
    if not force:
        raise OutputExistsError(f"output directory '{path}' exists; pass --force to replace it")
    _check_replaceable(path)


def check_output_directory(path, force: bool = False) -> Path:
    """Check, before any computation, that :func:`staged_directory` may write ``path``.

    An empty existing folder is accepted (with or without ``force``); a non-empty one needs
    ``force`` and must be an untouched earlier output of this tool.  Creates the parent folders.
    Raises :class:`OutputError` naming the folder.  Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    check_output_path(path)
    if path.exists():
        _check_existing(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, f"the folder '{path.parent}'") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in '{path.parent}' (permission denied); choose another --out")
    return path


@contextlib.contextmanager
def staged_directory(path, force: bool = False):
    """Yield a fresh temporary directory next to ``path``; on success it replaces ``path``.

    ``path`` must not exist unless ``force`` is true, and then it must be an untouched earlier output
    of this tool (see the module docstring).  On error or interruption the staged directory is
    removed and ``path`` is untouched.  Raises :class:`OutputError` (an ``OSError``) with a message
    naming the folder for every refusal and for unwritable locations.
    """
    path = check_output_directory(path, force)
    with _folder_lock(path):
        _remove_stale_staging(path)
        if path.exists():  # checked again under the lock
            _check_existing(path, force)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
            (tmp / MARKER).write_text(_MARKER_HEAD + "\n", encoding="utf-8")
        except OSError as exc:
            raise _os_error(exc, f"in '{path.parent}'") from None
        try:
            yield tmp
            (tmp / MARKER).write_text("\n".join([_MARKER_HEAD, *_written_files(tmp)]) + "\n", encoding="utf-8")
            _publish_mode(tmp, directory=True)
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def atomic_target(path, force: bool = False, default_suffix: str = ""):
    """Yield a temporary path next to ``path`` (same suffix); on success it replaces ``path`` in one
    rename, on error it is removed.  An existing ``path`` is refused unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"'{path}' exists; pass --force to overwrite it")
    if path.is_dir():
        raise OutputExistsError(f"'{path}' is a folder, not a file")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the directory '{path.parent}' does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or default_suffix, dir=path.parent)
    except OSError as exc:
        raise _os_error(exc, f"'{path}'") from None
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


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalars and arrays
        return _finite(obj.tolist())
    return obj


def json_text(obj, indent: int | None = 2) -> str:
    """``obj`` as standard JSON: NaN and ±inf become null (``json.dumps`` would write invalid tokens)."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False, ensure_ascii=False)


def read_text(path, what: str) -> str:
    """The UTF-8 text (a BOM is dropped) of the ``what`` file ``path`` ("protocol table", ...), or a
    ``ValueError`` naming the file: unreadable, or not UTF-8 (with the offending byte)."""
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{what} '{path}' cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} '{path}' is not UTF-8 text (byte {exc.start}: {exc.reason}); "
                         "save it as UTF-8 CSV") from None


#: delimiters a CSV table may use: comma, semicolon (European spreadsheets), tab and pipe
CSV_DELIMITERS = ",;\t|"


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter of a CSV whose (comment-blanked) ``lines`` are given: ``","`` unless the header (the
    first non-blank line) is a single comma-separated column that holds ``;``, a tab or ``|``; then the one
    :class:`csv.Sniffer` finds among those on the first lines (falling back to the most frequent one in the
    header)."""
    import csv

    head = [ln for ln in lines if ln.strip()][:5]
    if not head:
        return ","
    first = head[0]
    try:
        cells = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return ","
    others = [d for d in CSV_DELIMITERS if d != ","]
    if len(cells) > 1 or not any(d in first for d in others):
        return ","
    try:
        found = csv.Sniffer().sniff("".join(head), delimiters="".join(others)).delimiter
    except csv.Error:
        found = ""
    if found not in others or found not in first:
        found = max(others, key=first.count)
    return found


def csv_delimiter(path, what: str, *, comments: bool = False) -> str:
    """The delimiter :func:`csv_records` uses for the ``what`` file ``path`` (see :func:`_sniff_delimiter`)."""
    lines = read_text(path, what).splitlines(keepends=True)
    if comments:
        lines = ["\n" if ln.lstrip().startswith("#") else ln for ln in lines]
    return _sniff_delimiter(lines)


def csv_records(path, what: str, *, comments: bool = False, max_cell: int | None = None,
                delimiter: str | None = None):
    """Yield (first line, last line, cells) of each non-empty CSV record of the ``what`` file ``path``.

    Line numbers are those of the file.  ``comments``: lines starting with ``#`` are skipped.
    ``max_cell``: refuse cells longer than this many characters (default: the csv module's limit).
    ``delimiter``: one of :data:`CSV_DELIMITERS`; by default sniffed from the header: a header that is one
    comma-separated column holding ``;``, tabs or ``|`` marks a file separated by those (a European
    spreadsheet's ``;``, a tab-separated export); otherwise comma.
    Unreadable, non-UTF-8 or invalid CSV gives a ``ValueError`` naming the file and line."""
    import csv

    path = Path(path)
    lines = read_text(path, what).splitlines(keepends=True)
    if comments:  # blank them out, so the reader's line numbers stay the file's
        lines = ["\n" if ln.lstrip().startswith("#") else ln for ln in lines]
    if delimiter is None:
        delimiter = _sniff_delimiter(lines)
    elif delimiter not in CSV_DELIMITERS:
        raise ValueError(f"{what} '{path}': delimiter {delimiter!r} is not one of {list(CSV_DELIMITERS)}")
    old_limit = csv.field_size_limit()
    if max_cell is not None:
        csv.field_size_limit(max_cell)
    try:
        reader = csv.reader(lines, delimiter=delimiter)
        last = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = reader.line_num
                if max_cell is not None and "field larger than field limit" in str(exc):
                    raise ValueError(f"{what} '{path}': line {line}: a cell is longer than the allowed {max_cell} "
                                     f"characters (a broken quote, or not a {what}?)") from None
                raise ValueError(f"{what} '{path}': line {line}: not valid CSV ({exc})") from None
            if cells:
                yield last + 1, reader.line_num, cells
            last = reader.line_num
    finally:
        csv.field_size_limit(old_limit)


def csv_table(path, what: str, need: set[str]) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header and the (line number, row dict) rows of a CSV with ``#`` comment lines (see
    :func:`csv_records`).

    Refuses with a ``ValueError`` naming the file: missing columns ``need`` and a row with more cells
    than the header; rows with fewer cells get empty cells."""
    records = list(csv_records(path, what, comments=True))
    header = [h.strip() for h in records[0][2]] if records else None
    if not header or not need <= set(header):
        raise ValueError(f"{what} '{path}' must have columns {sorted(need)}; got {header}")
    rows = []
    for line, _, cells in records[1:]:
        if len(cells) > len(header):
            raise ValueError(f"{what} '{path}': row {line} has {len(cells)} cells; at most the header's "
                             f"{len(header)} are allowed (an unquoted delimiter in a cell?)")
        rows.append((line, dict(zip(header, [*cells, *[""] * (len(header) - len(cells))]))))
    return header, rows
