"""``efield coils`` and ``efield stimulators``: the coil presets, stimulator pairs and motor thresholds."""

from __future__ import annotations

from pathlib import Path

import click

from .._common.io import json_text
from ._shared import fail


def _compare_presets(folder, as_json):
    """Each preset with a validated twin in ``folder`` beside that twin (efield coils --compare)."""
    from coils import coil_info, list_coils, load_coil, read_coil

    from ..physics.coil_compare import TOLERANCES, compare_coils

    folder = Path(folder)
    rows, missing = [], []
    for cid in list_coils():
        twin = (coil_info(cid).get("validation") or {}).get("simnibs")
        if not twin:
            continue
        files = [folder / (twin + ext) for ext in (".ccd", ".tcd") if (folder / (twin + ext)).is_file()]
        if not files:
            missing.append(f"{cid}: {twin}.ccd/.tcd not in {folder}")
            continue
        try:
            ref = read_coil(files[0])
        except (ValueError, OSError) as exc:
            fail(exc)
        known = (coil_info(cid).get("validation") or {}).get("known_deviations", {})
        for c in compare_coils(load_coil(cid), ref):
            rows.append({"preset": cid, "validated_model": files[0].name, **c.as_dict(),
                         "within_tolerance": c.within(known=known),
                         "known_deviation": {k: v for k, v in known.items() if k.startswith(c.pose_name + "_")}})
    if as_json:
        click.echo(json_text({"tolerances": TOLERANCES, "rows": rows, "not_found": missing}))
        return
    if not rows and not missing:
        click.echo("no preset names a validated model")
    click.echo("Presets beside their validated SimNIBS models, 85 mm human sphere, E per A/µs at the 70 mm cortex")
    click.echo(f"(pass: peak within {TOLERANCES['peak']:.0%}, correlation >= {TOLERANCES['correlation']}, "
               f"depth and area within {TOLERANCES['depth']:.0%})")
    click.echo(f"{'preset':20s} {'validated model':24s} {'pose':7s} {'peak V/m':>17s} {'ratio':>6s} {'corr':>7s} "
               f"{'half-value depth mm':>19s} {'half-max area cm2':>17s}  ok")
    for r in rows:
        click.echo(f"{r['preset']:20s} {r['validated_model']:24s} {r['pose']:7s} "
                   f"{r['peak_a_vm_per_aus']:7.3f} / {r['peak_b_vm_per_aus']:7.3f} {r['peak_ratio']:6.3f} "
                   f"{r['correlation']:7.4f} {r['depth_a_mm']:8.1f} / {r['depth_b_mm']:8.1f} "
                   f"{r['area_a_cm2']:7.1f} / {r['area_b_cm2']:7.1f}  {'yes' if r['within_tolerance'] else 'NO'}"
                   + (" (known deviation, see the preset's [validation])" if r["known_deviation"] else ""))
    for m in missing:
        click.echo(f"not compared: {m}")




@click.command("coils")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--compare", "compare_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Folder of SimNIBS coil files (.ccd/.tcd): print each preset beside its validated model "
                   "(peak E, half-value depth, half-max area, pattern correlation).")
def coils_cmd(as_json, compare_dir):
    """List the preset coils with their key numbers (or compare them with validated models)."""
    from coils import coil_info, list_coils, load_coil

    if compare_dir is not None:
        _compare_presets(compare_dir, as_json)
        return

    rows = []
    for cid in list_coils():
        info = dict(coil_info(cid))
        coil = load_coil(cid)
        didt = coil.metadata.get("didt_max_a_per_s")
        rows.append({
            "id": cid,
            "name": info.get("name", cid),
            "kind": info.get("kind", ""),
            "species": coil.metadata.get("species", ""),
            "segments": coil.n_segments,
            "lowest_wire_mm": round(float(coil.points[:, 2].min()) * 1e3, 2),
            "stimulator": coil.metadata.get("stimulator") or "",
            "didt_max_aus": didt / 1e6 if didt else None,
            "not_modelled": coil.metadata.get("not_modelled", ""),
        })
    if as_json:
        click.echo(json_text(rows))
        return
    click.echo(f"{'id':24s} {'kind':9s} {'species':8s} {'segments':>8s} {'wire gap':>9s}  stimulator (dI/dt at 100 % MSO)")
    for r in rows:
        stim = f"{r['stimulator']} ({r['didt_max_aus']:.2f} A/µs)" if r["didt_max_aus"] else "none known: give --didt"
        click.echo(f"{r['id']:24s} {r['kind']:9s} {r['species']:8s} {r['segments']:8d} {r['lowest_wire_mm']:7.2f}mm  {stim}")




@click.command("stimulators")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Extra stimulator CSV (same columns as efield/dose/data/stimulators.csv).")
@click.option("--thresholds", "show_thresholds", is_flag=True,
              help="Show published motor thresholds beside the RMT predicted on each pair by equal cortical E.")
@click.option("--json", "as_json", is_flag=True, help="With --thresholds: the table as JSON.")
def stimulators_cmd(table, show_thresholds, as_json):
    """List stimulator + coil pairs with dI/dt at 100 % MSO and their sources."""
    from ..dose.stimulators import load_stimulator_table

    if show_thresholds:
        _threshold_table(as_json)
        return
    if as_json:
        raise click.UsageError("--json goes with --thresholds")

    for p in load_stimulator_table(table):
        per = f"{p.period * 1e6:.0f} µs" if p.period else "—"
        click.echo(f"{p.stimulator:24s} {p.coil:22s} {p.didt_max_aus:8.2f} A/µs  period {per:7s} {p.flag}: {p.source}")
    from ..dose.stimulators import (
        StimulatorError,
        estimated_pairs_in_use,
        stimulator_pair,
    )

    click.echo("ESTIMATED pairs used by the translation defaults (inductance ratio vs second route from peak B):")
    for s, c in estimated_pairs_in_use():
        try:
            p = stimulator_pair(c, s, table_path=table)
        except StimulatorError as exc:
            click.echo(f"{s:24s} {c:22s} no estimate: {exc}")
            continue
        if p.crosscheck_didt is None:
            second = f"second route: none ({p.crosscheck_note})"
        else:
            second = (f"second route {p.crosscheck_didt / 1e6:8.2f} A/µs  ratio {p.crosscheck_ratio:.3g} "
                      f"({p.crosscheck_note}; {p.crosscheck_source})")
        click.echo(f"{s:24s} {c:22s} estimate {p.didt_max_aus:8.2f} A/µs  {second}")


def _threshold_table(as_json):
    from ..dose.dosimetry import threshold_e
    from ..dose.thresholds import threshold_lines, threshold_table

    try:
        rows = threshold_table()
        e, lo, hi, how = threshold_e("human")
    except ValueError as exc:
        fail(exc)
    if as_json:
        click.echo(json_text({"threshold_e_vm": [e, lo, hi], "threshold_e_source": how,
                              "rows": [r.as_dict() for r in rows]}))
        return
    click.echo(f"Human motor-threshold E {e:.1f} V/m (band {lo:.1f}-{hi:.1f}) at the cortex of the 85 mm sphere: {how}")
    click.echo("RMT on each pair predicted by equal cortical E (coil models checked against SimNIBS's validated ones):")
    for line in threshold_lines(rows):
        click.echo(line)


