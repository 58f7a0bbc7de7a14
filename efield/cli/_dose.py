"""``efield dose`` and ``efield translate``: the field of a protocol and its equivalent in another species."""

from __future__ import annotations

from pathlib import Path

import click

from ._shared import (
    FORCE_HELP,
    HEAD_HELP,
    JSON_HELP,
    MM_POSITIVE,
    STIMULATORS_HELP,
    THRESHOLD_MSO,
    check_output,
    echo_json,
    fail,
    load_head,
    long_running,
    model_option,
)


def _setup_options(prefix: str, help_who: str):
    """Shared options describing one set-up (species, coil, stimulator, gap, RMT)."""

    def deco(f):
        opts = [
            click.option(f"--{prefix}coil", default=None, help=f"{help_who} coil: preset id (default: declared default)."),
            click.option(f"--{prefix}stimulator", default=None, help=f"{help_who} stimulator (see `efield stimulators`)."),
            click.option(f"--{prefix}rmt", type=THRESHOLD_MSO, default=None,
                         help=f"{help_who} resting motor threshold in % MSO (default: derived, an assumption)."),
        ]
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


@click.command("dose")
@click.option("--head", "--species", "head", default="human", show_default=True, help=HEAD_HELP)
@click.option("--intensity", required=True, help="e.g. 60%MSO, 120%RMT, 80%AMT, 155A/us, 1.2T, 80V/m, 23-25%MSO, 25;50%MSO.")
@click.option("--coil", default=None, help="Preset id (default: the species' default coil; see `efield coils`).")
@click.option("--stimulator", default=None, help="Stimulator name (default: the coil's own; see `efield stimulators`).")
@click.option("--rmt", type=THRESHOLD_MSO, default=None, help="Subject's resting motor threshold, % MSO.")
@click.option("--amt", type=THRESHOLD_MSO, default=None,
              help="Subject's active motor threshold, % MSO (default: RMT x the declared AMT/RMT ratio).")
@click.option("--gap", "gap_mm", type=MM_POSITIVE, default=0.0, show_default=True, help="Coil–scalp gap (mm).")
@click.option("--depth", "depth_mm", type=MM_POSITIVE, default=None, help="Target depth below the scalp (mm; default: cortex).")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help=STIMULATORS_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Also write the results here: dose.json, dose.md, the field at the first intensity (field.png, "
                   "field.html, scene.vtm) and index.html (the report).")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@model_option
@long_running
def dose_cmd(head, intensity, coil, stimulator, rmt, amt, gap_mm, depth_mm, table, as_json, out_dir, force, model):
    """Cortical E of one protocol: E at the target, peak, percentiles, depth and area above half peak."""
    from ..dose.dosimetry import dose
    from ..dose.translation import destination_setup

    if out_dir:
        check_output(out_dir, force)
    load_head(head)  # every check before any computation: an unknown head is a usage error
    from dataclasses import replace

    try:
        setup = destination_setup(head, coil, stimulator, rmt_mso=rmt, gap=gap_mm * 1e-3, stimulator_table=table,
                                  amt_mso=amt)
        setup = replace(setup, field_model=model)
        if depth_mm is not None:
            setup = replace(setup, target_depth=depth_mm * 1e-3)
        results = dose(setup, intensity)
    except ValueError as exc:
        fail(exc)
    rows = []
    for d in results:
        row = {
            "intensity": str(d.intensity), "didt_aus": d.didt / 1e6,
            "didt_aus_band": [d.didt_band[0] / 1e6, d.didt_band[1] / 1e6],
            "e_target_vm": d.e_target, "e_target_vm_band": list(d.e_target_band),
            "e_target_normal_vm": d.e_target_normal, "peak_vm": d.peak, "p99_vm": d.p99, "p999_vm": d.p999,
            "half_max_depth_mm": d.half_max_depth_m * 1e3, "half_max_area_cm2": d.half_max_area_m2 * 1e4,
            "mso": d.mso, "rmt_pct": d.rmt_pct, "amt_pct": d.amt_pct, "setup": setup.describe(),
            "assumptions": list(d.assumptions),
        }
        rows.append(row)
    if out_dir:
        _write_dose(out_dir, force, setup, results[0].didt, rows)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        band = r["e_target_vm_band"]
        band_txt = f" [{band[0]:.3g}–{band[1]:.3g}]" if band[1] > band[0] else ""
        click.echo(f"{r['intensity']}: dI/dt {r['didt_aus']:.4g} A/µs"
                   + (f" = {r['mso']:.3g} % MSO" if r["mso"] is not None else "")
                   + (f" = {r['rmt_pct']:.3g} % RMT" if r["rmt_pct"] is not None else "")
                   + (f" = {r['amt_pct']:.3g} % AMT" if r["amt_pct"] is not None else ""))
        click.echo(f"  E at target {r['e_target_vm']:.4g}{band_txt} V/m (normal to cortex {r['e_target_normal_vm']:.3g}); "
                   f"cortex 99.9th percentile (robust peak) {r['p999_vm']:.4g} V/m, raw peak {r['peak_vm']:.4g}, "
                   f"99th {r['p99_vm']:.4g} V/m")
        depth = "not reached" if r["half_max_depth_mm"] != r["half_max_depth_mm"] else f"{r['half_max_depth_mm']:.2f} mm"
        click.echo(f"  half-value depth (how deep the brain sees at least half the peak cortical |E|) {depth}, "
                   f"cortex area above half peak {r['half_max_area_cm2']:.3g} cm²")
        click.echo(f"  set-up: {r['setup']}")
        for a in r["assumptions"]:
            click.echo(f"  assumption: {a}")
    if out_dir:
        click.echo(f"wrote {out_dir}/: dose.json, dose.md, field.png, field.html, scene.vtm, index.html (the report)")


def _write_dose(out_dir, force, setup, didt, rows) -> None:
    """dose.json, dose.md, the field of the set-up at ``didt`` (A/s) and the report, into ``out_dir``."""
    from coils import load_coil

    from .._common import progress
    from .._common.io import json_text, staged_directory
    from ..dose.dosimetry import head_by_name
    from ..physics.fields import cortex_field, standard_pose
    from ..views.field_scene import field_pictures
    from ..views.report import write_report

    head, coil = head_by_name(setup.head), load_coil(setup.coil)
    placed = coil.placed(standard_pose(head, distance=setup.gap, coil=coil))
    result = cortex_field(placed, head, didt, model=setup.field_model)
    lines = ["# Dose", "", f"Set-up: {setup.describe()}", "",
             "| intensity | dI/dt (A/µs) | % MSO | E at target (V/m) | robust peak |E| (V/m) | half-value depth (mm) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        mso = "n/a" if r["mso"] is None else f"{r['mso']:.3g}"
        lines.append(f"| {r['intensity']} | {r['didt_aus']:.4g} | {mso} | {r['e_target_vm']:.4g} | "
                     f"{r['p999_vm']:.4g} | {r['half_max_depth_mm']:.2f} |")
    lines += ["", "## Assumptions", ""] + [f"- {a}" for a in dict.fromkeys(a for r in rows for a in r["assumptions"])]
    try:
        with staged_directory(out_dir, force=force) as tmp:
            (tmp / "dose.json").write_text(json_text({"rows": rows, "setup": setup.describe()}))
            (tmp / "dose.md").write_text("\n".join(lines) + "\n")
            with progress.task("pictures: the field in 3D (PNG, interactive HTML, ParaView scene)"):
                field_pictures(tmp, head, placed, result,
                               title=f"{setup.coil} on {setup.head} at {rows[0]['intensity']} "
                                     f"(dI/dt {didt / 1e6:.4g} A/µs)",
                               **({"volume": False} if result.info.get("precomputed") else {}))
            write_report(tmp, title=f"efield dose: {rows[0]['intensity']} with {setup.coil} on {setup.head}")
    except OSError as exc:
        fail(exc)




@click.command("translate")
@click.argument("table", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", default="human", show_default=True, help="Destination " + HEAD_HELP[0].lower() + HEAD_HELP[1:])
@_setup_options("", "Destination")
@click.option("--from", "source", default=None, help="Source species for one protocol (without TABLE).")
@click.option("--intensity", default=None, help="Source intensity for one protocol, e.g. 30%MSO.")
@click.option("--from-coil", default=None, help="Source coil (default: not reported → band over declared coils).")
@click.option("--from-stimulator", default=None, help="Source stimulator (default: not reported).")
@click.option("--from-rmt", type=THRESHOLD_MSO, default=None, help="Source motor threshold, % MSO.")
@click.option("--stimulators", "stim_table", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Extra stimulator CSV (same columns as efield/dose/data/stimulators.csv).")
@click.option("--rodent-head", type=click.Choice(["sphere", "mesh"]), default="sphere", show_default=True,
              help="Source rats and mice in sphere heads or in the built-in mesh heads (FEM, slower).")
@click.option("--out", "out_dir", default="efield-translate", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (translated.csv, translated.md, translated.png, assumptions.md).")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@long_running
def translate_cmd(table, to, coil, stimulator, rmt, source, intensity, from_coil, from_stimulator, from_rmt,
                  stim_table, rodent_head, out_dir, force):
    """Translate protocols to another species: one protocol (--from, --intensity) or a CSV TABLE."""
    from .._common.io import staged_directory
    from ..dose.batch import read_protocols, translate_rows, write_translation

    check_output(out_dir, force)
    load_head(to, "--to")

    if table is None:
        if not (source and intensity):
            raise click.UsageError("give a protocol TABLE, or --from SPECIES and --intensity for one protocol")
        fieldnames = ["species", "intensity", "intensity_unit", "coil", "stimulator"]
        rows = [{"species": source, "intensity": intensity, "intensity_unit": "",
                 "coil": from_coil or "not reported", "stimulator": from_stimulator or "not reported"}]
    else:
        try:
            fieldnames, rows = read_protocols(table)
        except ValueError as exc:
            fail(exc)
    if table is None and from_rmt is not None:
        rows[0]["rmt_mso"] = from_rmt
    from .._common import progress as _progress

    with _progress.task(f"translating {len(rows)} protocol row(s) to {to}", total=len(rows)) as step:
        def progress(done, total):
            step.advance(done - step.done)

        try:
            out_rows = translate_rows(rows, to, coil=coil, stimulator=stimulator, rmt=rmt,
                                      stimulator_table=stim_table, head_model=rodent_head, progress=progress)
        except ValueError as exc:
            fail(exc)
    try:
        with staged_directory(out_dir, force=force) as tmp:
            write_translation(tmp, fieldnames, out_rows, to)
    except OSError as exc:
        fail(exc)
    n_ok = sum(r["status"] == "translated" for r in out_rows)
    click.echo((Path(out_dir) / "translated.md").read_text())
    click.echo(f"{len(rows)} input rows -> {len(out_rows)} output rows: {n_ok} translated, "
               f"{len(out_rows) - n_ok} not translatable; wrote {out_dir}/translated.csv, translated.md, "
               "translated.png/.svg, assumptions.md, index.html (the report)")


