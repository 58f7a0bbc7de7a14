"""``efield report``: an offline HTML page (``RUN_DIR/index.html``) showing a run folder."""

from __future__ import annotations

import click

from ._shared import fail


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--title", default=None, help="Page heading (default: the folder's name).")
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser when written.")
def report_cmd(run_dir, title, open_page):
    """Write RUN_DIR/index.html: the run's tables, pictures, 3D views and assumptions, readable offline.

    An existing index.html is replaced only if efield report wrote it. Prints the path written."""
    from ..views.report import write_report

    try:
        path = write_report(run_dir, title=title)
    except (ValueError, OSError) as exc:
        fail(exc)
    click.echo(str(path))
    if open_page:
        click.launch(str(path.resolve()))
