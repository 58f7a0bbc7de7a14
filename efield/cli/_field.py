"""``efield field``: the cortical field of one coil pose on any head."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ._shared import (
    FORCE_HELP,
    HEAD_HELP,
    JSON_HELP,
    MM_POSITIVE,
    MSO,
    STIMULATORS_HELP,
    check_output,
    echo_json,
    fail,
    load_coil,
    load_head,
    long_running,
    model_option,
    resolve_intensity,
    say,
)

METRIC_UNITS = {
    "p999_vm": "V/m, 99.9th percentile of |E| over the cortex (area-weighted): the robust peak",
    "peak_vm": "V/m, largest |E| at any cortex point",
    "p99_vm": "V/m, 99th percentile of |E| over the cortex",
    "p95_vm": "V/m, 95th percentile of |E| over the cortex",
    "half_max_area_cm2": "cm², cortex area where |E| >= half the peak",
    "half_max_depth_mm": "mm, half-value depth: how deep below the cortex the brain sees at least half the peak |E|",
}


def _read_pose(path, name):
    """The pose file (any system) or a usage error naming --pose."""
    from ..targeting.navigation import read_pose_file

    try:
        return read_pose_file(path, name=name)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--pose") from None


def _head_for_pose(pf, head_name):
    """--head, else the head the pose file records (efield's files record how the head was given)."""
    from ..physics.heads import is_builtin_head

    if head_name:
        if pf.head and Path(str(pf.head)).name != Path(str(head_name)).name and pf.head != head_name:
            say(f"note: {pf.path} was written for head {pf.head!r}; computing on --head {head_name!r} as asked")
        return head_name
    if pf.head and is_builtin_head(pf.head):
        say(f"head: {pf.head} (recorded in {pf.path}; give --head to use another)")
        return pf.head
    for where in ((Path(pf.head), Path(pf.path).parent / pf.head) if pf.head else ()):
        if where.exists():  # a path as recorded, or relative to the pose file's folder
            say(f"head: {where} (recorded in {pf.path}; give --head to use another)")
            return str(where)
    raise click.UsageError(f"--pose {pf.path} needs --head: the head the pose was made for (the pose is in its "
                           "frame)" + (f"; the file names head {pf.head!r}, which is not found here" if pf.head else ""))


def _pose_description(pf, coil_text) -> str:
    if coil_text and pf.coil and coil_text != pf.coil:
        say(f"note: {pf.path} was written for coil {pf.coil!r}; computing with --coil {coil_text!r} as asked")
    what = f"{pf.system} pose file {pf.path}" + (f", entry {pf.name!r}" if pf.name and pf.n_entries > 1 else "")
    notes = "; ".join(pf.notes)
    return what + (f" ({notes})" if notes else "")


def _best_pose(coil, head, target, direction, didt, stimulator):
    from ..targeting.search import optimize_pose

    try:
        result = optimize_pose(coil, head, target, didt, direction=direction, stimulator=stimulator)
    except ValueError as exc:
        fail(exc)
    return result.pose, f"best pose for target {target} ({result.quantity})", result.target_point


@click.command("field")
@click.option("--coil", "coil_id", default=None,
              help="Preset id (see `efield coils`) or a .ccd/.tcd coil file (default: the pose file's coil, "
                   "else magstim_70mm_fig8).")
@click.option("--head", "head_name", default=None, help=HEAD_HELP + " [default: the head a --pose file records, else human]")
@click.option("--stimulator", default=None, help="Stimulator for --mso (default: the coil's own; see `efield stimulators`).")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help=STIMULATORS_HELP)
@click.option("--didt", "didt_text", default=None, help="Rate of change of the coil current, e.g. 100A/us.")
@click.option("--mso", type=MSO, default=None, help="Intensity in % of the stimulator's maximum output.")
@click.option("--pose", "pose_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Coil pose file: pose.json from `efield target`, or a SimNIBS matsimnibs, Brainsight or "
                   "Localite file (default: over the top of the head).")
@click.option("--pose-name", default=None, help="Which entry of a pose file holding several (name or index).")
@click.option("--target", "target", default=None,
              help="Put the coil at the best pose for this target (a name from `efield target --list`, "
                   "mni:x,y,z, bregma:x,y,z or head:x,y,z in mm).")
@click.option("--direction", default=None, help="With --target: the wanted field direction (see `efield target`).")
@click.option("--distance", "distance_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Extra gap between the coil bottom and the scalp for the default pose (mm).")
@click.option("--out", "out_dir", default="efield-field", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (field file, picture, summary.json).")
@click.option("--format", "fmt", type=click.Choice(["vtu", "npz"]), default="vtu", show_default=True,
              help="Cortex field file: .vtu (ParaView) or .npz (numpy).")
@click.option("--subdiv", type=click.IntRange(1, 7), default=5, show_default=True,
              help="Cortex icosphere subdivision on sphere heads (5: 10,242 points).")
@model_option
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@long_running
def field_cmd(coil_id, head_name, stimulator, table, didt_text, mso, pose_file, pose_name, target, direction,
              distance_mm, out_dir, fmt, subdiv, model, force, as_json):
    """The cortical field of a coil on any head: at the default pose over the top, at a pose from a
    file (--pose) or at the best pose for a target (--target); writes the field, a picture and a summary."""
    if pose_file and target:
        raise click.UsageError("give either --pose or --target, not both")
    check_output(out_dir, force)
    pf = _read_pose(pose_file, pose_name) if pose_file else None
    head_name = _head_for_pose(pf, head_name) if pf else (head_name or "human")
    head = load_head(head_name)
    pose, pose_desc, didt_from_file = None, "over the top of the head (standard pose)", None
    if pf:
        pose, pose_desc, didt_from_file = pf.pose, _pose_description(pf, coil_id), pf.didt
        if coil_id is None and pf.coil is None:
            say(f"note: {pose_file} does not name a coil; using magstim_70mm_fig8 (give --coil)")
        coil_id = coil_id or pf.coil
    coil = load_coil(coil_id or "magstim_70mm_fig8")
    if didt_from_file and not didt_text and mso is None:
        didt, intensity = float(didt_from_file), f"dI/dt {didt_from_file / 1e6:.4g} A/µs (from {pose_file})"
    else:
        didt, intensity = resolve_intensity(coil, didt_text, mso, stimulator, table)
    target_point = None
    if target:
        pose, pose_desc, target_point = _best_pose(coil, head, target, direction, didt, stimulator)
    from ..physics.fields import cortex_field, standard_pose
    from ..targeting.navigation import check_pose_on_head

    try:
        if pf:
            check_pose_on_head(pose, head, coil, where=str(pose_file))
        if pose is None:
            pose = standard_pose(head, distance=distance_mm * 1e-3, coil=coil)
        placed = coil.placed(pose)
        result = cortex_field(placed, head, didt, n_subdiv=subdiv, model=model)
    except ValueError as exc:
        fail(exc)
    summary = _summary(coil, placed, head, head_name, result, intensity, didt, pose_desc, pose, distance_mm)
    _write(out_dir, force, fmt, coil, placed, head, result, summary, target=target_point)
    if as_json:
        echo_json(summary)
        return
    _print(summary, out_dir, fmt)


def _summary(coil, placed, head, head_name, result, intensity, didt, pose_desc, pose, distance_mm) -> dict:
    from ..physics.heads import head_label, head_species
    from ..physics.metrics import hot_spot_depth, surface_metrics

    m = surface_metrics(result)
    precomputed = bool(result.info.get("precomputed"))
    # with the precomputed model the depth is taken over its brain sample (result.brain): no full solve
    depth = hot_spot_depth(placed, head, result, didt)
    species, how = head_species(head_name, head)
    return {
        "coil": coil.name, "head": head_label(head_name, head), "head_spec": str(head_name),
        "species": species, "species_from": how, "intensity": intensity, "didt_a_per_s": didt,
        "pose": pose_desc, "pose_4x4_m": np.asarray(pose).tolist(),
        "p999_vm": m["p999_vm"], "peak_vm": m["peak_vm"], "p99_vm": m["p99_vm"], "p95_vm": m["p95_vm"],
        "half_max_area_cm2": m["half_max_area_m2"] * 1e4,
        "half_max_depth_mm": None if depth is None else depth * 1e3,
        "model": result.info.get("model", ""),
        **({"model_fit_residual": result.info["model_fit_residual"],
            "half_max_depth_note": result.info.get("depth_note", "")} if precomputed else {}),
        **({"model_warning": result.info["model_warning"]} if result.info.get("model_warning") else {}),
        **({"model_note": result.info["model_note"]} if result.info.get("model_note") else {}),
        "coil_scalp_extra_gap_mm": distance_mm, "units": METRIC_UNITS,
        "not_modelled": coil.metadata.get("not_modelled", ""),
    }


def _write(out_dir, force, fmt, coil, placed, head, result, summary, target=None) -> None:
    from .._common import progress
    from .._common.io import json_text, staged_directory
    from ..views.field_scene import field_pictures
    from ..views.report import write_report

    try:
        with staged_directory(out_dir, force=force) as tmp:
            _write_field(result, tmp / f"field.{fmt}")
            with progress.task("pictures: the field in 3D (PNG, interactive HTML, ParaView scene)"):
                field_pictures(tmp, head, placed, result, target=target,
                               title=f"{coil.name} on {summary['head']}; {summary['intensity']}",
                               **({"volume": False} if result.info.get("precomputed") else {}))
            (tmp / "summary.json").write_text(json_text(summary))
            write_report(tmp, title=f"efield field: {coil.name} on {summary['head']}")
    except OSError as exc:
        fail(exc)


def _print(s: dict, out_dir, fmt) -> None:
    depth = s["half_max_depth_mm"]
    depth = "not reached" if depth != depth else f"{depth:.1f} mm"
    click.echo(f"coil {s['coil']} on {s['head']}; {s['intensity']}; pose: {s['pose']}")
    if s.get("model"):
        click.echo(f"  field model: {s['model']}")
    for key in ("model_warning", "model_note"):
        if s.get(key):
            click.echo(f"  {'warning' if key == 'model_warning' else 'note'}: {s[key]}")
    click.echo(f"  robust peak |E| on the cortex (99.9th percentile): {s['p999_vm']:.2f} V/m")
    click.echo(f"  largest |E| {s['peak_vm']:.2f} V/m; 99th percentile {s['p99_vm']:.2f} V/m; "
               f"95th percentile {s['p95_vm']:.2f} V/m")
    click.echo(f"  cortex area with |E| >= half the peak: {s['half_max_area_cm2']:.2f} cm²; "
               f"half-value depth (how deep the brain sees at least half the peak cortical |E|): {depth}")
    click.echo(f"  species for thresholds: {s['species']} ({s['species_from']})")
    click.echo(f"wrote {out_dir}/: field.{fmt}, field.png, field.html (interactive), scene.vtm (ParaView), "
               "summary.json, index.html (the report: open it in a browser)")


def _write_field(result, path: Path) -> None:
    if path.suffix == ".npz":
        np.savez_compressed(path, points_m=result.points, efield_vm=result.efield, faces=result.faces,
                            normals=result.normals, didt_a_per_s=result.didt,
                            info=json.dumps(dict(result.info), default=str))
        return
    import meshio

    mesh = meshio.Mesh(
        result.points * 1e3, [("triangle", result.faces)],
        point_data={"E_Vm": result.efield, "magnE_Vm": result.magnitude, "En_Vm": result.normal_component},
    )
    mesh.write(path)
