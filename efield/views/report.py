"""An offline HTML report of a run folder: ``RUN_DIR/index.html``.

:func:`write_report` shows every file of the folder (recursively, in sorted order): Markdown rendered,
pictures, interactive 3D scenes in frames, the ``assumptions`` of JSON results as tables, the first
rows of CSV tables, and every other file with its size.  The page is self-contained (inline CSS, no
scripts, fonts or network addresses of its own); every link is relative, so the folder can be moved.
Two runs on the same folder give identical bytes (no dates, sorted order).
"""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape
from pathlib import Path
from urllib.parse import quote, urlsplit

from .._common.io import MARKER, OutputExistsError, atomic_target, csv_delimiter, read_text

__all__ = ["CSV_ROWS", "GENERATOR", "SCENE_HEIGHT_PX", "write_report"]

#: the mark of an index.html written here; only such a file is ever replaced
GENERATOR = '<meta name="generator" content="efield report">'
#: at most this many data rows of a CSV file are shown
CSV_ROWS = 50
#: height of an embedded interactive scene (CSS pixels)
SCENE_HEIGHT_PX = 600
_INDEX = "index.html"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:1em 2em;color:#222;background:#fff;line-height:1.45}
h1{border-bottom:2px solid #446;padding-bottom:.2em}
h2{border-bottom:1px solid #ccd;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.92em}
th,td{border:1px solid #ccd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eef}
tr:nth-child(even) td{background:#f8f8fc}
img{max-width:100%;height:auto;border:1px solid #ddd}
.pics{display:flex;flex-wrap:wrap;gap:1em}
.pics .item{flex:1 1 30em;max-width:48%}
figure{margin:1em 0}
figcaption,.file{font-size:.9em;color:#555}
iframe{width:100%;border:1px solid #ccd}
pre{background:#f4f4f8;padding:.6em;overflow:auto}
code{background:#f4f4f8}
.md{border-left:3px solid #ccd;padding-left:1em}
.note{color:#a33}
"""


def write_report(run_dir, *, title: str | None = None) -> Path:
    """Write ``run_dir/index.html`` showing the folder's files and return its path.

    ``title``: the page heading (default: the folder's name).  An existing ``index.html`` is replaced
    only if it was written here (it carries :data:`GENERATOR`); otherwise ``OutputExistsError`` (an
    ``OSError``) naming it.  A ``run_dir`` that does not exist or is not a folder: ``ValueError``.
    """
    root = Path(run_dir)
    if not root.exists():
        raise ValueError(f"run folder '{root}' does not exist")
    if not root.is_dir():
        raise ValueError(f"run folder '{root}' is not a folder")
    index = root / _INDEX
    _check_ours(index)
    heading = title if title is not None else (root.resolve().name or str(root))
    body = _folder_html(root, root, top=True)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n{GENERATOR}\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(heading)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{escape(heading)}</h1>\n{body}</body>\n</html>\n")
    with atomic_target(index, force=True) as tmp:
        tmp.write_text(page, encoding="utf-8")
    _record_in_manifest(root)
    return index


def _check_ours(index: Path) -> None:
    """Refuse to replace an ``index.html`` that this module did not write."""
    if index.is_symlink() or index.is_dir():
        raise OutputExistsError(f"'{index}' is a symbolic link or a folder; refusing to replace it")
    if not index.exists():
        return
    try:
        with open(index, "rb") as fh:
            head = fh.read(65536).decode("utf-8", errors="replace")
    except OSError as exc:
        raise OutputExistsError(f"cannot read the existing '{index}': {exc.strerror or exc}") from None
    if GENERATOR not in head:
        raise OutputExistsError(f"'{index}' exists and was not written by efield report; refusing to "
                                "replace it — move it away first")


def _record_in_manifest(root: Path) -> None:
    """List index.html in the folder's efield output manifest (if any), so ``--force`` may replace it."""
    marker = root / MARKER
    if not marker.is_file():
        return
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or _INDEX in lines[1:]:
        return
    with atomic_target(marker, force=True) as tmp:
        tmp.write_text("\n".join([*lines, _INDEX]) + "\n", encoding="utf-8")


def _href(root: Path, path: Path) -> str:
    """The relative, percent-encoded URL of ``path`` from ``root``'s index.html (HTML-escaped)."""
    return escape(quote(path.relative_to(root).as_posix()), quote=True)


def _listing(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files, subfolders) directly in ``folder``, sorted; hidden entries and symlinked folders left out."""
    files, dirs = [], []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            if not p.is_symlink():
                dirs.append(p)
        elif p.is_file():
            files.append(p)
    return files, dirs


#: the order of a folder's files on the page: the summary first, tables, 3D views, pictures, data, the rest
_ORDER = {".md": 0, ".html": 1, ".htm": 1, ".png": 2, ".svg": 2, ".json": 3, ".csv": 4}


def _shown_files(folder: Path, files: list[Path]) -> list[Path]:
    """``files`` in page order (summary.md first, then by kind and name); an SVG with a PNG twin is left out
    (the PNG links it)."""
    files = [f for f in files if not (f.suffix.lower() == ".svg" and f.with_suffix(".png").is_file())]
    return sorted(files, key=lambda f: (f.name != "summary.md", _ORDER.get(f.suffix.lower(), 9), f.name))


def _folder_html(root: Path, folder: Path, *, top: bool = False) -> str:
    """The HTML of every file in ``folder`` and, one section each, of its subfolders."""
    files, dirs = _listing(folder)
    if top:
        files = [f for f in files if f.name != _INDEX]
    parts, pictures = [], []
    for f in _shown_files(folder, files):
        if f.suffix.lower() in (".png", ".svg"):
            pictures.append(_file_html(root, f))
            continue
        if pictures:
            parts.append('<div class="pics">\n' + "".join(pictures) + "</div>\n")
            pictures = []
        parts.append(_file_html(root, f))
    if pictures:
        parts.append('<div class="pics">\n' + "".join(pictures) + "</div>\n")
    for d in dirs:
        rel = escape(d.relative_to(root).as_posix())
        own = d / _INDEX
        if own.is_file():
            parts.append(f'<h2>{rel}/</h2>\n<p><a href="{_href(root, own)}">{rel}/ — its own report</a></p>\n')
        else:
            parts.append(f'<section>\n<h2>{rel}/</h2>\n{_folder_html(root, d)}</section>\n')
    if not files and not dirs:
        parts.append('<p class="file">(empty folder)</p>\n')
    return "".join(parts)


def _file_html(root: Path, path: Path) -> str:
    """The HTML showing one file, chosen by its suffix."""
    kind = path.suffix.lower()
    show = {".md": _markdown_html, ".png": _picture_html, ".svg": _picture_html, ".html": _scene_html,
            ".htm": _scene_html, ".json": _json_html, ".csv": _csv_html}.get(kind, _other_html)
    return f'<div class="item">\n{show(root, path)}</div>\n'


def _link(root: Path, path: Path, text: str | None = None) -> str:
    label = escape(text if text is not None else path.relative_to(root).as_posix())
    return f'<a href="{_href(root, path)}">{label}</a>'


def _size_text(n: int) -> str:
    """A file size in bytes as text (B, kB, MB, GB; powers of 1000)."""
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _other_html(root: Path, path: Path) -> str:
    return f'<p class="file">{_link(root, path)} ({_size_text(path.stat().st_size)})</p>\n'


def _picture_html(root: Path, path: Path) -> str:
    src = _href(root, path)
    alt = escape(path.name)
    svg = path.with_suffix(".svg")
    also = f" · {_link(root, svg, 'SVG')}" if path.suffix.lower() == ".png" and svg.is_file() else ""
    return (f'<figure><a href="{src}"><img src="{src}" alt="{alt}" loading="lazy"></a>'
            f"<figcaption>{_link(root, path)}{also}</figcaption></figure>\n")


def _scene_html(root: Path, path: Path) -> str:
    """An interactive scene (an exported vtk.js page) in a frame, with a link to open it alone."""
    src = _href(root, path)
    return (f'<p class="file">{_link(root, path)} — interactive 3D view (drag to rotate, scroll to zoom); '
            f'<a href="{src}" target="_blank">open full window</a></p>\n'
            f'<iframe src="{src}" height="{SCENE_HEIGHT_PX}" title="{escape(path.name)}" loading="lazy">'
            "</iframe>\n")


def _note(root: Path, path: Path, reason: str) -> str:
    return f'<p class="file">{_link(root, path)} <span class="note">({escape(reason)})</span></p>\n'


def _cell(value) -> str:
    """A JSON value as escaped table-cell text (nested values as compact JSON)."""
    if isinstance(value, str):
        return escape(value)
    return escape(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _json_html(root: Path, path: Path) -> str:
    """A JSON file: its ``assumptions`` dict and its top-level plain values as tables, and a link."""
    try:
        data = json.loads(read_text(path, "JSON"))
    except (ValueError, OSError) as exc:
        return _note(root, path, f"could not be read: {exc}")
    out = [f'<h3>{_link(root, path)}</h3>\n']
    if not isinstance(data, dict):
        return out[0]
    assumptions = data.get("assumptions")
    if isinstance(assumptions, dict) and assumptions:
        rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{_cell(v)}</td></tr>\n" for k, v in assumptions.items())
        out.append(f"<table class=\"assumptions\">\n<caption>Assumptions</caption>\n"
                   f"<tr><th>assumption</th><th>value</th></tr>\n{rows}</table>\n")
    plain = [(k, v) for k, v in data.items() if k != "assumptions" and (v is None or isinstance(v, (str, int, float)))]
    if plain:
        rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{_cell(v)}</td></tr>\n" for k, v in plain[:CSV_ROWS])
        out.append(f"<table>\n<tr><th>field</th><th>value</th></tr>\n{rows}</table>\n")
    return "".join(out)


def _csv_html(root: Path, path: Path) -> str:
    """A CSV file: its header and first :data:`CSV_ROWS` rows as a table, and a link to the whole file."""
    try:
        text = read_text(path, "CSV")
        rows = list(csv.reader(io.StringIO(text), delimiter=csv_delimiter(path, "CSV")))
    except (ValueError, OSError, csv.Error) as exc:
        return _note(root, path, f"could not be read: {exc}")
    rows = [r for r in rows if r]
    if not rows:
        return _note(root, path, "empty table")
    header, data = rows[0], rows[1:]
    shown = data[:CSV_ROWS]
    more = f", the first {len(shown)} shown" if len(data) > len(shown) else ""
    head = "".join(f"<th>{escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>\n" for r in shown)
    count = f"{len(data)} row" + ("" if len(data) == 1 else "s")
    return (f"<h3>{_link(root, path)}</h3>\n<p class=\"file\">{count}{more}</p>\n"
            f"<table>\n<tr>{head}</tr>\n{body}</table>\n")


def _markdown_html(root: Path, path: Path) -> str:
    """A Markdown file rendered (tables, fenced code); raw HTML in it is shown as text, and its
    relative links and pictures are rewritten to resolve from ``root``'s index.html."""
    import markdown

    try:
        text = read_text(path, "Markdown")
    except (ValueError, OSError) as exc:
        return _note(root, path, f"could not be read: {exc}")
    md = markdown.Markdown(extensions=["tables", "fenced_code", _relative_links(path.parent.relative_to(root))])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    text = "\n".join(_table_row(line) for line in text.splitlines())
    return f'<p class="file">{_link(root, path)}</p>\n<div class="md">\n{md.convert(text)}\n</div>\n'


def _table_row(line: str) -> str:
    """A Markdown table row with the pipes inside its cells escaped (``| peak |E| (V/m) |`` has 4 cells, not
    5): a cell separator has blanks (or the line's ends) on both sides; the ``|---|`` rule is left alone."""
    stripped = line.strip()
    if not stripped.startswith("|") or re.fullmatch(r"\|[\s:|-]+\|", stripped):
        return line
    inner = stripped[1:-1] if stripped.endswith("|") else stripped[1:]
    cells = re.split(r"(?<=\s)\|(?=\s)", inner)
    return "|" + "|".join(c.replace("|", "\\|") for c in cells) + ("|" if stripped.endswith("|") else "")


def _rebase(url: str, prefix: str) -> str | None:
    """``url`` (from a Markdown file in folder ``prefix``) as seen from the report; None: drop it."""
    parts = urlsplit(url)
    if parts.scheme:
        return url if parts.scheme in ("http", "https", "mailto") else None
    if not prefix or url.startswith(("#", "/")) or parts.netloc:
        return url
    return f"{quote(prefix)}/{url}"


def _relative_links(folder: Path):
    """A Markdown extension rewriting ``href``/``src`` of a file in ``folder`` (relative to the report)."""
    from markdown.extensions import Extension
    from markdown.treeprocessors import Treeprocessor

    prefix = folder.as_posix() if folder.as_posix() != "." else ""

    class Rebase(Treeprocessor):
        def run(self, tree):
            for el in tree.iter():
                for attr in ("href", "src"):
                    if el.get(attr) is not None:
                        new = _rebase(el.get(attr), prefix)
                        if new is None:
                            del el.attrib[attr]
                        else:
                            el.set(attr, new)

    class RelativeLinks(Extension):
        def extendMarkdown(self, md):
            md.treeprocessors.register(Rebase(md), "efield_relative_links", 5)

    return RelativeLinks()
