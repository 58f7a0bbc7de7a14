"""``efield cohort``: run a study plan (many heads × targets × coils × protocols) here or on Dask."""

from __future__ import annotations

import click

from ._shared import JSON_HELP, echo_json, fail, long_running, say


@click.command("cohort")
@click.argument("plan", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="efield-cohort", show_default=True, type=click.Path(file_okay=False),
              help="Output folder: results.csv, index.html, jobs/<key>/. Give the same folder again to resume: "
                   "finished jobs are not redone.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Worker processes of a local Dask cluster (default: one per core; 1 runs in this process).")
@click.option("--scheduler", default=None, help="Join a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (then "
                                                "--workers is ignored: the cluster's workers run the jobs).")
@click.option("--example", is_flag=True, help="Write an example plan to PLAN (rodent and sphere jobs, about a "
                                              "minute on a laptop) and exit.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@long_running
def cohort_cmd(plan, out_dir, workers, scheduler, example, as_json):
    """Run the study plan PLAN (.csv or .toml; one job per row: dose, target or model) and write one
    results table with every row's status (done, failed with the error, skipped with the reason) and
    every assumption as columns.

    \b
    Columns: job, head (human, rat, mouse, human-mesh, rat-mesh, mouse-mesh, a .msh file, an m2m_ folder),
    id, subject, coil, stimulator, intensity (dose: 120%RMT, 50%MSO, 80A/us, 100;120%RMT), targets
    (target: names or mni:/bregma:/head:x,y,z in mm, separated by ';'), direction, goal_e_vm (V/m),
    rmt_mso, amt_mso, gap_mm, skip (yes). Other columns are kept.
    """
    from .._common.io import OutputError
    from ..cohort import PlanError, run_cohort, write_example_plan

    if plan is None:
        raise click.UsageError("give a PLAN file (or `efield cohort --example plan.csv` to write one)")
    if example:
        try:
            path = write_example_plan(plan)
        except OSError as exc:
            fail(exc)
        click.echo(f"wrote the example plan {path}; run it with: efield cohort {path} --out study")
        return
    try:
        result = run_cohort(plan, out_dir, workers=workers, scheduler=scheduler)
    except (PlanError, OutputError, ValueError, OSError) as exc:
        fail(exc)
    if as_json:
        echo_json({"counts": result.counts, "out": str(result.out), "scheduler": result.scheduler,
                   "seconds": result.seconds, "rows": result.rows})
        return
    for r in result.rows:
        if r["status"] != "done":
            say(f"row {r['row']} ({r['id']}): {r['status']}: {r['reason']}")
    click.echo(result.summary())
    click.echo(f"report: {result.out}/index.html")
