"""``efield target``: the best coil pose for a cortical target, with pose files for neuronavigation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ._shared import (
    FORCE_HELP,
    HEAD_HELP,
    JSON_HELP,
    MM_POSITIVE,
    MSO,
    STIMULATORS_HELP,
    VM_POSITIVE,
    _Number,
    check_output,
    echo_json,
    fail,
    head_spec_text,
    load_coil,
    load_head,
    long_running,
    resolve_intensity,
    say,
)


@click.command("target")
@click.option("--head", "head_name", default="human", show_default=True, help=HEAD_HELP)
@click.option("--coil", "coil_id", default=None, help="Preset id (default: the species' default coil).")
@click.option("--target", "target_text", default=None,
              help="Named target (see --list), mni:x,y,z, bregma:x,y,z or head:x,y,z (mm). Default: DLPFC_left "
                   "(human), M1_forelimb_left (rodents).")
@click.option("--direction", default=None,
              help="Wanted field direction: normal, anterior, posterior, left, right, superior, inferior, x,y,z, "
                   "or magnitude (maximise |E|). Default: the target's conventional direction where it has one "
                   "(M1: posterior-anterior current), else magnitude.")
@click.option("--radius", "radius_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Average over the cortex within this distance of the target (mm).")
@click.option("--didt", "didt_text", default=None, help="Intensity as dI/dt, e.g. 100A/us (default 1 A/µs).")
@click.option("--mso", type=MSO, default=None, help="Intensity in % MSO of --stimulator (or the coil's own).")
@click.option("--stimulator", default=None, help="Stimulator for --mso and --goal (default: the coil's own).")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help=STIMULATORS_HELP)
@click.option("--goal", "goal_e", type=VM_POSITIVE, default=None, help="Goal E at the target (V/m): report the %MSO needed.")
@click.option("--distance", "distance_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Extra gap between the coil bottom and the scalp (mm).")
@click.option("--search-radius", "search_mm", type=MM_POSITIVE, default=None,
              help="Search positions within this distance of the target's scalp point (mm; default 25 % of the "
                   "head radius).")
@click.option("--angles", "n_angles", type=click.IntRange(4, 720), default=72, show_default=True,
              help="Handle angles over 360° on the search grid.")
@click.option("--off-target-weight", type=_Number("1", low=0.0), default=0.0, show_default=True,
              help="Focality penalty: subtract this times the mean |E| on a cortical ring around the target.")
@click.option("--off-target-distance", "off_mm", type=_Number("mm", low=0.0, open_low=True), default=None,
              help="Radius of that ring (mm; default 25 % of the head radius).")
@click.option("--list", "list_only", is_flag=True, help="List the named targets and exit.")
@click.option("--out", "out_dir", default="efield-target", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (pose.json, neuronavigation pose files, targeting.md, pictures).")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@long_running
def target_cmd(head_name, coil_id, target_text, direction, radius_mm, didt_text, mso, stimulator, table, goal_e,
               distance_mm, search_mm, n_angles, off_target_weight, off_mm, list_only, out_dir, force, as_json):
    """Best coil pose for a cortical target: pose files, E at the target, %MSO for a goal, focality, pictures."""
    from .._common.io import staged_directory
    from ..dose.dosimetry import defaults, species_of
    from ..physics.heads import head_label
    from ..targeting.results import write_targeting
    from ..targeting.search import optimize_pose
    from ..targeting.targets import list_targets

    if list_only:
        for species, entries in list_targets().items():
            for name, entry in entries.items():
                if "mni_mm" in entry:
                    coords, frame = entry["mni_mm"], "MNI"
                else:
                    coords = (f"ML/AP {entry['bregma_ml_ap_mm']}, {entry['depth_below_brain_surface_mm']} mm "
                              "below the brain surface")
                    frame = "bregma"
                click.echo(f"{species:6s} {name:18s} {frame:6s} {coords}  {entry['description']} "
                           f"[{entry['flag']}: {entry['source']}]")
        return
    check_output(out_dir, force)
    head = load_head(head_name)
    species = species_of(head_name)
    coil = load_coil(coil_id or defaults()["destination"][species]["coil"])
    target = target_text or ("DLPFC_left" if species == "human" else "M1_forelimb_left")
    direction = _direction(direction)
    didt, intensity = resolve_intensity(coil, didt_text, mso, stimulator, table, default_full=False)
    if intensity:
        say(f"intensity: {intensity} = {didt / 1e6:.4g} A/µs")
    say(f"targeting {target} on {head_label(head_name, head)} with {coil.name}")
    try:
        result = optimize_pose(coil, head, target, didt, direction=direction, radius=radius_mm * 1e-3,
                               distance=distance_mm * 1e-3, search_radius=None if search_mm is None else search_mm * 1e-3,
                               n_angles=n_angles, goal_e=goal_e, stimulator=stimulator,
                               off_target_weight=off_target_weight,
                               off_target_distance=None if off_mm is None else off_mm * 1e-3)
    except ValueError as exc:
        fail(exc)
    result = dataclasses.replace(result, head_spec=head_spec_text(head_name))
    try:
        with staged_directory(out_dir, force=force) as tmp:
            names = write_targeting(result, coil, tmp, head=head)
    except OSError as exc:
        fail(exc)
    if as_json:
        echo_json(json.loads((Path(out_dir) / "pose.json").read_text(encoding="utf-8")))
        return
    click.echo(result.summary())
    for k, v in result.assumptions.items():
        click.echo(f"  assumption: {k}: {v}")
    t = result.timing
    click.echo(f"{result.n_poses} poses evaluated ({t['grid_poses_per_s']:.0f} poses/s on the grid, precompute "
               f"{t['precompute']:.1f} s, total {t['total']:.1f} s); wrote {out_dir}/: {', '.join(names)}")




def _direction(text):
    """``--direction``: a name, ``magnitude``, or three numbers x,y,z."""
    if text and "," in text:
        try:
            values = [float(x) for x in text.split(",")]
        except ValueError:
            values = []
        if len(values) != 3:
            raise click.BadParameter(f"must be a name (normal, anterior, ..., magnitude) or three numbers x,y,z; "
                                     f"got {text!r}", param_hint="--direction")
        return values
    return text
