"""``efield view``: a live page (local, 127.0.0.1 only) to move the coil over a mesh head and watch the field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import numpy as np

from ._shared import (
    FORCE_HELP,
    HEAD_HELP,
    STIMULATORS_HELP,
    VM_POSITIVE,
    check_output,
    fail,
    head_spec_text,
    load_coil,
    load_head,
    long_running,
    say,
)


@dataclasses.dataclass
class ViewPose:
    """What "Save pose" records (the attributes :func:`efield.targeting.pose_io.pose_record` reads)."""

    pose: np.ndarray
    coil_name: str
    head_name: str
    head_spec: str
    frame: str
    didt: float
    center: np.ndarray | None = None
    handle: np.ndarray | None = None
    normal: np.ndarray | None = None
    target_point: np.ndarray | None = None
    target_label: str | None = None
    quantity: str = "|E| at the cortical point nearest the target (cortical field model)"
    target_e: float | None = None
    target_e_per_aus: float | None = None
    goal_e: float | None = None
    mso_for_goal: float | None = None
    stimulator: str | None = None
    focality: dict = dataclasses.field(default_factory=dict)
    assumptions: dict = dataclasses.field(default_factory=dict)
    n_poses: int = 1


def saver(out_dir, *, coil, head, head_text: str, frame: str, didt: float, stimulator: str, target=None,
          assumptions=None, force: bool = False):
    """The "Save pose" callback: ``on_save(pose, numbers) -> file names`` writing ``pose.json`` and the
    neuronavigation files of ``efield target`` into ``out_dir`` (each save replaces the folder's files)."""
    from .._common.io import staged_directory
    from ..targeting.navigation import write_navigation_files
    from ..targeting.pose_io import write_pose_json

    out = Path(out_dir)
    saved = {"once": False}

    def on_save(pose, numbers) -> list[str]:
        pose = np.asarray(pose, dtype=float)
        record = ViewPose(
            pose=pose, coil_name=coil.name, head_name=getattr(head, "name", head_text), head_spec=head_text,
            frame=frame, didt=didt, center=pose[:3, 3], handle=pose[:3, 1], normal=pose[:3, 2],
            target_point=None if target is None else target.point, target_label=None if target is None else target.label,
            target_e=numbers.get("target_e"), target_e_per_aus=numbers.get("target_e_per_aus"),
            goal_e=numbers.get("goal_e"), mso_for_goal=numbers.get("mso_for_goal"), stimulator=stimulator,
            focality={"area_half_max_cm2": numbers.get("half_max_area_cm2"), "p999_vm": numbers.get("p999_vm"),
                      "peak_vm": numbers.get("peak_vm")},
            assumptions={**dict(assumptions or {}),
                         "sliders": ", ".join(f"{k} {v:g}" for k, v in dict(numbers.get("values", {})).items())})
        # the whole folder is staged and replaces the previous save (efield's output-folder rules)
        with staged_directory(out, force=force or saved["once"]) as tmp:
            write_pose_json(record, tmp / "pose.json")
            names = ["pose.json"] + write_navigation_files(
                pose, tmp, name="efield_view", coil=coil.name, didt=didt, head=head_text,
                target=None if target is None else target.label)
        saved["once"] = True
        return names

    return on_save


def _didt_at_full(coil, stimulator, table, species):
    """(dI/dt A/s at 100 % MSO, the stimulator's description): ``--stimulator``, else the coil's own, else
    the species' default stimulator (``efield/dose/data/translation_defaults.toml``)."""
    from ..dose.dosimetry import defaults
    from ._shared import _didt_max

    try:
        return _didt_max(coil, stimulator, table)
    except click.UsageError:
        if stimulator is not None:
            raise
        fallback = defaults()["destination"].get(species, {}).get("stimulator")
        if not fallback:
            raise
        didt, text = _didt_max(coil, fallback, table)
        return didt, f"{text} (the default stimulator for {species}; give --stimulator for another)"


def default_coil(species: str) -> str:
    from ..dose.dosimetry import defaults

    return defaults()["destination"].get(species, {}).get("coil", "magstim_70mm_fig8")


@click.command("view")
@click.option("--head", "head_name", default="rat-mesh", show_default=True,
              help=HEAD_HELP + " The live view needs a mesh head (sphere names are mapped to their -mesh head).")
@click.option("--coil", "coil_id", default=None,
              help="Preset id or coil file (default: the species' default coil, magstim_25mm_fig8 for rodents, "
                   "magstim_70mm_fig8 for humans).")
@click.option("--stimulator", default=None,
              help="Stimulator whose 100 % MSO sets the dI/dt (default: the coil's own, else the species' default).")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help=STIMULATORS_HELP)
@click.option("--target", "target_text", default=None,
              help="Target (a name from `efield target --list`, mni:x,y,z, bregma:x,y,z or head:x,y,z in mm). "
                   "Default: M1_forelimb_left (rodents), M1_hand_left (human).")
@click.option("--goal", "goal_e", type=VM_POSITIVE, default=None, help="Goal E at the target (V/m): show the %MSO needed.")
@click.option("--modes", "n_modes", type=click.IntRange(1, 5000), default=None,
              help="Modes of the cortical field model (default: the model's own choice; fewer: faster to build).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one). The URL is printed.")
@click.option("--out", "out_dir", default="efield-view", show_default=True, type=click.Path(file_okay=False),
              help="Folder where 'Save pose' writes pose.json and the neuronavigation pose files.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--no-browser", is_flag=True, help="Do not open the page in the system browser.")
@long_running
def view_cmd(head_name, coil_id, stimulator, table, target_text, goal_e, n_modes, port, out_dir, force, no_browser):
    """Live page: move the coil over the scalp with sliders; the cortical |E|, E at the target, %MSO for a goal
    and focality update as you go.  Served on 127.0.0.1 only; Ctrl-C stops it."""
    from ..physics.heads import SPHERE_HEADS, head_label, head_species
    from ..physics.placement import is_mesh_head

    check_output(out_dir, force)
    if isinstance(head_name, str) and head_name.strip().lower() in SPHERE_HEADS:
        mapped = f"{head_name.strip().lower()}-mesh"
        say(f"head: {mapped} (the live view needs a mesh head; {head_name!r} is the sphere model)")
        head_name = mapped
    head = load_head(head_name)
    if not is_mesh_head(head) or getattr(head, "cortex", None) is None or getattr(head, "scalp", None) is None:
        raise click.BadParameter(f"{head_name!r} is not a mesh head with cortex and scalp surfaces; the live view "
                                 "needs one (e.g. rat-mesh, mouse-mesh, human-mesh or a SimNIBS head)",
                                 param_hint="--head")
    species, species_why = head_species(head_name, head)
    if species not in ("human", "rat", "mouse"):
        raise click.BadParameter(f"{head_name!r} is not a head ({species}); give a rat, mouse or human mesh head",
                                 param_hint="--head")
    coil = load_coil(coil_id or default_coil(species))
    didt_max, stim_text = _didt_at_full(coil, stimulator, table, species)
    target = _target(head, target_text or ("M1_hand_left" if species == "human" else "M1_forelimb_left"))
    head_text = head_spec_text(head_name)
    frame = str(getattr(head, "frame", "head"))
    assumptions = {
        "head": f"{head_label(head_name, head)}, frame {frame} ({species_why})",
        "coil": f"{coil.name} ({coil.metadata.get('display_name', coil.name)})",
        "stimulator": stim_text,
        "dI/dt at 100 % MSO": f"{didt_max / 1e6:.2f} A/µs",
        "target": f"{target.label} at ({', '.join(f'{x:.1f}' for x in target.point * 1e3)}) mm"
                  + (f" [{target.source}]" if target.source else ""),
        "goal": f"{goal_e:g} V/m at the target" if goal_e else "none (give --goal for the %MSO needed)",
    }

    from .._common import progress
    from ..physics.cortex_model import cortex_model
    from ..views.live import LiveSession, build_app, serve

    settings = {} if n_modes is None else {"n_modes": n_modes}
    try:
        with progress.task(f"cortical field model of {getattr(head, 'name', head_name)} (built once, then cached)"):
            model = cortex_model(head, **settings)
    except (ValueError, TypeError) as exc:
        fail(exc)
    info = dict(getattr(model, "info", {}) or {})
    assumptions["model"] = (f"{info.get('model', type(model).__name__)}; {info.get('n_points', len(model.points))} "
                            f"cortical points; key {getattr(model, 'key', '?')[:12]}")
    session = LiveSession(head, coil, model, didt_max=didt_max, target_point=target.point, target_label=target.label,
                          goal_e=goal_e, assumptions=assumptions)
    on_save = saver(out_dir, coil=coil, head=head, head_text=head_text, frame=frame, didt=didt_max,
                    stimulator=stim_text, target=target, assumptions=assumptions, force=force)
    app = build_app(session, on_save=on_save, title=f"efield view: {coil.name} on {getattr(head, 'name', head_name)}")
    try:
        url = serve(app, port=port, open_browser=not no_browser)
    except RuntimeError as exc:
        app.stop()
        fail(exc)
    for k, v in assumptions.items():
        say(f"  {k}: {v}")
    click.echo(f"efield view: {url}  (Ctrl-C to stop)", err=True)
    click.echo(url)
    try:
        while app.thread.is_alive():
            app.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()


def _target(head, text):
    from ..targeting.targets import resolve_target

    try:
        return resolve_target(head, text, direction="magnitude")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--target") from None
