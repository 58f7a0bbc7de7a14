"""The offline HTML report (efield.views.report, ``efield report``): content, links, escaping, safety."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from efield._common.io import MARKER
from efield.cli import main
from efield.views.report import CSV_ROWS, GENERATOR, write_report

# the smallest valid PNG (1 x 1 px)
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
                     "cfc0f01f0005000201e2a1f5c70000000049454e44ae426082")


class _Links(HTMLParser):
    """Every href/src of a page, and the text outside tags."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("href", "src") and v is not None]

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _make_run(root: Path) -> Path:
    """A run folder with every kind of file the report shows, a plain subfolder and a part with its own report."""
    run = root / "run"
    (run / "maps").mkdir(parents=True)
    (run / "part-a").mkdir()
    (run / "field.png").write_bytes(_PNG)
    (run / "<script>.png").write_bytes(_PNG)
    (run / "maps" / "cortex.png").write_bytes(_PNG)
    (run / "maps" / "profile.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    (run / "summary.md").write_text("# Summary\n\n| coil | peak (V/m) |\n|---|---|\n| fig8 | 142 |\n\n"
                                    "```\nE = -dA/dt\n```\n<script>alert(1)</script>\n", encoding="utf-8")
    (run / "maps" / "notes.md").write_text("See ![cortex](cortex.png) and [the profile](profile.svg).\n",
                                           encoding="utf-8")
    (run / "summary.json").write_text(json.dumps({
        "assumptions": {"conductivity": "0.33 S/m", "note": "<b>bold</b> & co", "radii_mm": [70, 80]},
        "peak_v_per_m": 142.0}), encoding="utf-8")
    (run / "maps" / "pose.json").write_text(json.dumps({"x_mm": 1.5}), encoding="utf-8")
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(CSV_ROWS + 20))
    (run / "profile.csv").write_text(f"depth_mm,e_v_per_m\n{rows}\n", encoding="utf-8")
    (run / "scene.html").write_text("<html><body>3D</body></html>", encoding="utf-8")
    (run / "field.vtu").write_bytes(b"\0" * 1234)
    (run / "part-a" / "index.html").write_text(f"<html><head>{GENERATOR}</head></html>", encoding="utf-8")
    (run / "part-a" / "hidden-from-parent.png").write_bytes(_PNG)
    return run


@pytest.fixture
def run(tmp_path) -> Path:
    return _make_run(tmp_path)


def test_every_file_appears(run):
    page = write_report(run)
    assert page == run / "index.html"
    html = page.read_text(encoding="utf-8")
    urls = {unquote(u) for u in _parse(page).urls}
    for rel in ("field.png", "<script>.png", "maps/cortex.png", "maps/profile.svg", "summary.md", "maps/notes.md",
                "summary.json", "maps/pose.json", "profile.csv", "scene.html", "field.vtu", "part-a/index.html"):
        assert rel in urls, f"{rel} is not linked from the report"
    assert "part-a/hidden-from-parent.png" not in urls  # a part with its own report is linked, not shown
    assert '<iframe src="scene.html"' in html and "open full window" in html
    assert "<h1>Summary</h1>" in html and "<td>fig8</td>" in html and "<code>E = -dA/dt" in html
    assert "1.2 kB" in html  # the other file, with its size
    assert html.count("<tr><td>") >= CSV_ROWS and f"{CSV_ROWS + 20} rows, the first {CSV_ROWS} shown" in html
    assert f"<td>{CSV_ROWS + 1}</td>" not in html  # rows beyond the first 50 are not shown
    assert "<td>conductivity</td><td>0.33 S/m</td>" in html and "<td>radii_mm</td><td>[70, 80]</td>" in html


def test_links_are_relative_and_resolve(run, tmp_path):
    page = write_report(run)
    moved = tmp_path / "moved"
    run.rename(moved)
    for url in _parse(moved / "index.html").urls:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE) and not url.startswith("/"), url
        assert (moved / unquote(url)).is_file(), f"link {url!r} does not resolve"
    assert not page.exists()


def test_escaping_of_names_and_values(run):
    html = write_report(run).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;.png" in html and "%3Cscript%3E.png" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # raw HTML in Markdown is shown as text
    assert "<b>" not in html


def test_self_contained(run):
    html = write_report(run).read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    tags = set(_parse(run / "index.html").tags)
    assert not tags & {"script", "link"}, tags  # inline CSS only, no scripts or style sheets
    assert "<style>" in html and GENERATOR in html


def test_markdown_links_in_subfolders_are_rebased(run):
    write_report(run)
    urls = _parse(run / "index.html").urls
    assert "maps/cortex.png" in urls and "maps/profile.svg" in urls


def test_refuses_foreign_index(run):
    (run / "index.html").write_text("<html>my own page</html>", encoding="utf-8")
    with pytest.raises(OSError, match="index.html.*not written by efield"):
        write_report(run)
    assert (run / "index.html").read_text(encoding="utf-8") == "<html>my own page</html>"


def test_replaces_own_index_and_is_deterministic(run):
    first = write_report(run, title="A").read_bytes()
    second = write_report(run, title="A").read_bytes()
    assert first == second
    assert b"<title>A</title>" in first
    (run / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert b"extra.csv" in write_report(run, title="A").read_bytes()
    assert not [p for p in run.iterdir() if p.name.startswith(".index")]  # no staging files left


def test_index_recorded_in_efield_manifest(run):
    (run / MARKER).write_text("written by efield\nfield.png\n", encoding="utf-8")
    write_report(run)
    write_report(run)
    assert (run / MARKER).read_text(encoding="utf-8").splitlines()[1:] == ["field.png", "index.html"]


def test_refuses_missing_folder_or_file(tmp_path):
    with pytest.raises(ValueError, match="missing.*does not exist"):
        write_report(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="a.txt.*not a folder"):
        write_report(tmp_path / "a.txt")


def test_unreadable_files_do_not_stop_the_report(tmp_path):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe,\x00")
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert "bad.json" in html and "bad.csv" in html and html.count("could not be read") == 2


def test_cli(run):
    result = CliRunner().invoke(main, ["report", str(run), "--title", "Run <1>"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(run / "index.html")
    assert "<title>Run &lt;1&gt;</title>" in (run / "index.html").read_text(encoding="utf-8")


def test_cli_errors_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "Error:" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)
    (tmp_path / "index.html").write_text("not ours", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "index.html" in result.output and "not written by efield" in result.output


def test_pipes_inside_table_cells_stay_in_their_cell(tmp_path):
    (tmp_path / "t.md").write_text("| coil | peak |E| (V/m) | |E·d| |\n|---|---|---|\n| fig8 | 142 | 3 |\n",
                                   encoding="utf-8")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "<th>peak |E| (V/m)</th>" in page and "<th>|E·d|</th>" in page and "<td>142</td>" in page
