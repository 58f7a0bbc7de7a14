"""``efield demo``: the main job on built-in defaults."""

from __future__ import annotations

from pathlib import Path

import click

from ._shared import FORCE_HELP, check_output, fail, long_running


@click.command("demo")
@click.option("--out", "out_dir", default="efield-demo", show_default=True, type=click.Path(file_okay=False),
              help="Output folder of the whole demo.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--subdiv", type=click.IntRange(2, 7), default=5, show_default=True,
              help="Cortex icosphere subdivision on the sphere heads (5: 10,242 points).")
@long_running
def demo_cmd(out_dir, force, subdiv):
    """Run the main job on built-in defaults and write a results folder."""
    from coils import list_coils

    from ..demo import run_demo

    check_output(out_dir, force)
    click.echo(f"efield demo: {len(list_coils())} preset coils on their default sphere heads -> {out_dir}/", err=True)
    try:
        rows = run_demo(out_dir, force=force, n_subdiv=subdiv, progress=lambda msg: click.echo(f"  {msg}", err=True))
    except OSError as exc:
        fail(exc)
    click.echo((Path(out_dir) / "summary.md").read_text())
    click.echo("Published protocols translated to human-equivalent doses "
               f"({out_dir}/translation/translated.md, .csv, .png, assumptions.md):")
    click.echo((Path(out_dir) / "translation" / "translated.md").read_text())
    click.echo("Sphere vs built-in mesh heads (mesh_vs_sphere.md):")
    click.echo((Path(out_dir) / "mesh_vs_sphere.md").read_text())
    click.echo(f"Coil targeting (targeting/targeting.md; pose files and pictures in {out_dir}/targeting/*/):")
    click.echo((Path(out_dir) / "targeting" / "targeting.md").read_text())
    subject = Path(out_dir) / "subject" / "subject.md"
    if subject.exists():
        click.echo(f"From a SimNIBS subject folder to neuronavigation pose files ({out_dir}/subject/):")
        click.echo(subject.read_text())
    click.echo(f"The report of everything above, 3D views included: open {Path(out_dir) / 'index.html'} in a browser "
               "(it works offline).")
    return rows


