"""Command line: ``efield coils``, ``efield field``, ``efield demo``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import numpy as np

from ._common.io import json_text

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


class _Number(click.ParamType):
    """A finite number (NaN and ±inf refused) within [low, high] (``open_low``: low itself refused)."""

    name = "number"

    def __init__(self, unit: str, low: float | None = None, high: float | None = None, open_low: bool = False):
        self.unit, self.low, self.high, self.open_low = unit, low, high, open_low

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(f"must be a number in {self.unit}; got {value!r}", param, ctx)
        allowed = self._allowed()
        if not np.isfinite(v):
            self.fail(f"must be a finite number in {self.unit}{allowed}; got {value!r}", param, ctx)
        if (self.low is not None and (v < self.low or (self.open_low and v == self.low))) or (
                self.high is not None and v > self.high):
            self.fail(f"must be {allowed.strip(' ,;')} ({self.unit}); got {v:g}", param, ctx)
        return v

    def _allowed(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.low is not None and self.high is not None:
            return (f", above {self.low:g} and at most {self.high:g}" if self.open_low
                    else f", between {self.low:g} and {self.high:g}")
        if self.low is not None:
            return f", > {self.low:g}" if self.open_low else f", >= {self.low:g}"
        return f", <= {self.high:g}"


#: option types: millimetres (any sign unless stated), % MSO, motor thresholds in % MSO, V/m
MM = _Number("mm")
MM_POSITIVE = _Number("mm", low=0.0)
MSO = _Number("% MSO", low=0.0, high=100.0)
THRESHOLD_MSO = _Number("% MSO", low=0.0, high=100.0, open_low=True)
VM_POSITIVE = _Number("V/m", low=0.0, open_low=True)


def _fail(exc: Exception):
    raise click.ClickException(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tms-efield")
def main():
    """TMS electric-field dosimetry: coils, fields in heads, dose and targeting."""
    _exit_cleanly_on_sigterm()


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so staged outputs and locks are cleaned up as on Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _compare_presets(folder, as_json):
    """Each preset with a validated twin in ``folder`` beside that twin (efield coils --compare)."""
    from coils import coil_info, list_coils, load_coil, read_coil

    from .physics.coil_compare import TOLERANCES, compare_coils

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
            _fail(exc)
        for c in compare_coils(load_coil(cid), ref):
            rows.append({"preset": cid, "validated_model": files[0].name, **c.as_dict(), "within_tolerance": c.within()})
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
                   f"{r['area_a_cm2']:7.1f} / {r['area_b_cm2']:7.1f}  {'yes' if r['within_tolerance'] else 'NO'}")
    for m in missing:
        click.echo(f"not compared: {m}")


@main.command("coils")
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


def _resolve_didt(coil, didt_text, mso):
    from .dose.intensity import parse_didt

    if didt_text and mso is not None:
        raise click.UsageError("give either --didt or --mso, not both")
    if didt_text:
        try:
            return parse_didt(didt_text, "--didt"), f"dI/dt {didt_text} (given)"
        except (TypeError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--didt") from None
    didt_max = coil.metadata.get("didt_max_a_per_s")
    if mso is None:
        mso = 100.0 if didt_max else None
    if mso is None or not didt_max:
        raise click.UsageError(
            f"coil {coil.name!r} has no known stimulator dI/dt at 100 % MSO; give --didt, e.g. --didt 100A/us"
        )
    if not 0 <= mso <= 100:
        raise click.BadParameter(f"must be between 0 and 100 %; got {mso}", param_hint="--mso")
    stim = coil.metadata.get("stimulator")
    return didt_max * mso / 100.0, f"{mso:g} % MSO of {stim} ({didt_max / 1e6:.2f} A/µs at 100 %)"


@main.command("field")
@click.option("--coil", "coil_id", required=True, help="Preset id (see `efield coils`) or a .ccd/.tcd file.")
@click.option("--head", "head_name", default="human", show_default=True,
              help="human, rat, mouse (spheres), human-mesh, rat-mesh, mouse-mesh (built-in meshes) or dish.")
@click.option("--didt", "didt_text", default=None, help="Rate of change of the coil current, e.g. 100A/us.")
@click.option("--mso", type=MSO, default=None, help="Intensity in % of the default stimulator's output.")
@click.option("--distance", "distance_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Extra gap between the coil bottom and the scalp (mm).")
@click.option("--out", "out_dir", default="efield-field", show_default=True, type=click.Path(file_okay=False),
              help="Output directory.")
@click.option("--format", "fmt", type=click.Choice(["vtu", "npz"]), default="vtu", show_default=True)
@click.option("--subdiv", type=click.IntRange(1, 7), default=5, show_default=True,
              help="Cortex icosphere subdivision (5: 10,242 points).")
@click.option("--force", is_flag=True, help="Replace an existing output directory written by efield.")
def field_cmd(coil_id, head_name, didt_text, mso, distance_mm, out_dir, fmt, subdiv, force):
    """Peak |E| on the cortex for a coil over the top of a sphere head; writes the field and a PNG."""
    from coils import load_coil
    from ._common.io import staged_directory
    from .physics.fields import standard_pose
    from .physics.fields import cortex_field
    from .physics.metrics import half_max_depth, surface_metrics

    from .dose.dosimetry import head_by_name

    try:
        coil = load_coil(coil_id)
        head = head_by_name(head_name)
    except (ValueError, OSError) as exc:
        _fail(exc)
    if distance_mm < 0:
        raise click.BadParameter(f"must be >= 0 mm; got {distance_mm}", param_hint="--distance")
    didt, intensity = _resolve_didt(coil, didt_text, mso)
    placed = coil.placed(standard_pose(head, distance=distance_mm * 1e-3, coil=coil))
    model = "sphere" if hasattr(head, "scalp_radius") else "mesh (FEM)"
    click.echo(f"coil {coil.name} ({coil.n_segments} segments, {coil.n_dipoles} dipoles) on the {head.name} {model}; "
               f"{intensity} = {didt / 1e6:.2f} A/µs", err=True)
    try:
        result = cortex_field(placed, head, didt, n_subdiv=subdiv)
    except ValueError as exc:
        _fail(exc)
    m = surface_metrics(result)
    depth = half_max_depth(placed, head, didt, m["peak_point_m"]) if hasattr(head, "scalp_radius") else float("nan")
    summary = {
        "coil": coil.name, "head": head.name, "intensity": intensity, "didt_a_per_s": didt,
        "headline": "p999_vm (99.9th percentile of |E| over the cortex, area-weighted; robust to single hot vertices)",
        "p999_vm": m["p999_vm"], "peak_vm": m["peak_vm"], "p99_vm": m["p99_vm"], "p95_vm": m["p95_vm"],
        "half_max_area_cm2": m["half_max_area_m2"] * 1e4, "half_max_depth_mm": depth * 1e3,
        "cortex_radius_mm": getattr(head, "cortex_radius", float("nan")) * 1e3,
        "scalp_radius_mm": getattr(head, "scalp_radius", float("nan")) * 1e3,
        "coil_scalp_extra_gap_mm": distance_mm, "pose_4x4_m": placed.metadata.get("pose"),
        "not_modelled": coil.metadata.get("not_modelled", ""),
    }
    try:
        with staged_directory(out_dir, force=force) as tmp:
            _write_field(result, tmp / f"field.{fmt}")
            from .views.plots import render_shell_field

            render_shell_field(result.points, result.faces, result.magnitude, tmp / "field.png",
                               segments=(placed.start, placed.end), dipoles=placed.dipole_position if placed.n_dipoles else None,
                               title=f"{coil.name} on {head.name} sphere, {intensity}", camera="oblique")
            (tmp / "summary.json").write_text(json_text(summary))
    except OSError as exc:
        _fail(exc)
    depth_txt = "—" if depth != depth else f"{depth * 1e3:.1f} mm"
    click.echo(f"robust peak |E| on the cortex (99.9th percentile): {m['p999_vm']:.2f} V/m  "
               f"(raw peak {m['peak_vm']:.2f}, 99th {m['p99_vm']:.2f}, 95th {m['p95_vm']:.2f} V/m; "
               f"area >= half peak {m['half_max_area_m2'] * 1e4:.2f} cm², half-peak depth {depth_txt})")
    click.echo(f"wrote {out_dir}/field.{fmt}, field.png, summary.json")


def _write_field(result, path: Path) -> None:
    if path.suffix == ".npz":
        np.savez_compressed(path, points_m=result.points, efield_vm=result.efield, faces=result.faces,
                            normals=result.normals, didt_a_per_s=result.didt, info=json.dumps(dict(result.info)))
        return
    import meshio

    mesh = meshio.Mesh(
        result.points * 1e3, [("triangle", result.faces)],
        point_data={"E_Vm": result.efield, "magnE_Vm": result.magnitude, "En_Vm": result.normal_component},
    )
    mesh.write(path)


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


@main.command("stimulators")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Extra stimulator CSV (same columns as efield/dose/data/stimulators.csv).")
@click.option("--thresholds", "show_thresholds", is_flag=True,
              help="Show published motor thresholds beside the RMT predicted on each pair by equal cortical E.")
@click.option("--json", "as_json", is_flag=True, help="With --thresholds: the table as JSON.")
def stimulators_cmd(table, show_thresholds, as_json):
    """List stimulator + coil pairs with dI/dt at 100 % MSO and their sources."""
    from .dose.stimulators import load_stimulator_table

    if show_thresholds:
        _threshold_table(as_json)
        return
    if as_json:
        raise click.UsageError("--json goes with --thresholds")

    for p in load_stimulator_table(table):
        per = f"{p.period * 1e6:.0f} µs" if p.period else "—"
        click.echo(f"{p.stimulator:24s} {p.coil:22s} {p.didt_max_aus:8.2f} A/µs  period {per:7s} {p.flag}: {p.source}")
    from .dose.stimulators import StimulatorError, estimated_pairs_in_use, stimulator_pair

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
    from .dose.dosimetry import threshold_e
    from .dose.thresholds import threshold_lines, threshold_table

    try:
        rows = threshold_table()
        e, lo, hi, how = threshold_e("human")
    except ValueError as exc:
        _fail(exc)
    if as_json:
        click.echo(json_text({"threshold_e_vm": [e, lo, hi], "threshold_e_source": how,
                              "rows": [r.as_dict() for r in rows]}))
        return
    click.echo(f"Human motor-threshold E {e:.1f} V/m (band {lo:.1f}-{hi:.1f}) at the cortex of the 85 mm sphere: {how}")
    click.echo("RMT on each pair predicted by equal cortical E (coil models checked against SimNIBS's validated ones):")
    for line in threshold_lines(rows):
        click.echo(line)


@main.command("dose")
@click.option("--species", "--head", "head", default="human", show_default=True,
              help="Head: human, rat, mouse (spheres), human-mesh, rat-mesh, mouse-mesh (built-in meshes), dish.")
@click.option("--intensity", required=True, help="e.g. 60%MSO, 120%RMT, 80%AMT, 155A/us, 1.2T, 80V/m, 23-25%MSO, 25;50%MSO.")
@click.option("--coil", default=None, help="Preset id (default: the species' default coil).")
@click.option("--stimulator", default=None, help="Stimulator name (default: the coil's own).")
@click.option("--rmt", type=THRESHOLD_MSO, default=None, help="Subject's resting motor threshold, % MSO.")
@click.option("--amt", type=THRESHOLD_MSO, default=None,
              help="Subject's active motor threshold, % MSO (default: RMT x the declared AMT/RMT ratio).")
@click.option("--gap", "gap_mm", type=MM_POSITIVE, default=0.0, show_default=True, help="Coil–scalp gap (mm).")
@click.option("--depth", "depth_mm", type=MM_POSITIVE, default=None, help="Target depth below the scalp (mm; default: cortex).")
@click.option("--stimulators", "table", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def dose_cmd(head, intensity, coil, stimulator, rmt, amt, gap_mm, depth_mm, table, as_json):
    """Cortical E of one protocol: E at the target, peak, percentiles, depth and area above half peak."""
    from .dose.dosimetry import dose
    from .dose.translation import destination_setup

    try:
        setup = destination_setup(head, coil, stimulator, rmt_mso=rmt, gap=gap_mm * 1e-3, stimulator_table=table,
                                  amt_mso=amt)
        if depth_mm is not None:
            from dataclasses import replace

            setup = replace(setup, target_depth=depth_mm * 1e-3)
        results = dose(setup, intensity)
    except ValueError as exc:
        _fail(exc)
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
    if as_json:
        click.echo(json_text(rows))
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
        depth = "—" if r["half_max_depth_mm"] != r["half_max_depth_mm"] else f"{r['half_max_depth_mm']:.2f} mm"
        click.echo(f"  half-peak depth {depth}, cortex area above half peak {r['half_max_area_cm2']:.3g} cm²")
        click.echo(f"  set-up: {r['setup']}")
        for a in r["assumptions"]:
            click.echo(f"  assumption: {a}")


@main.command("translate")
@click.argument("table", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", default="human", show_default=True,
              help="Destination: human, rat, mouse (spheres), human-mesh, rat-mesh, mouse-mesh (built-in meshes, FEM), dish.")
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
@click.option("--out", "out_dir", default="efield-translate", show_default=True, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing output directory written by efield.")
def translate_cmd(table, to, coil, stimulator, rmt, source, intensity, from_coil, from_stimulator, from_rmt,
                  stim_table, rodent_head, out_dir, force):
    """Translate protocols to another species: one protocol (--from, --intensity) or a CSV TABLE."""
    from ._common.io import staged_directory
    from .dose.batch import read_protocols, translate_rows, write_translation

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
            _fail(exc)
    if table is None and from_rmt is not None:
        rows[0]["rmt_mso"] = from_rmt
    click.echo(f"translating {len(rows)} protocol row(s) to {to}", err=True)
    with click.progressbar(length=len(rows), label="rows", file=sys.stderr) as bar:
        def progress(done, total):
            bar.update(done - bar.pos)

        try:
            out_rows = translate_rows(rows, to, coil=coil, stimulator=stimulator, rmt=rmt,
                                      stimulator_table=stim_table, head_model=rodent_head, progress=progress)
        except ValueError as exc:
            _fail(exc)
    try:
        with staged_directory(out_dir, force=force) as tmp:
            write_translation(tmp, fieldnames, out_rows, to)
    except OSError as exc:
        _fail(exc)
    n_ok = sum(r["status"] == "translated" for r in out_rows)
    click.echo((Path(out_dir) / "translated.md").read_text())
    click.echo(f"{len(rows)} input rows -> {len(out_rows)} output rows: {n_ok} translated, "
               f"{len(out_rows) - n_ok} not translatable; wrote {out_dir}/translated.csv, translated.md, "
               "translated.png, assumptions.md")


@main.command("target")
@click.option("--head", "head_name", default="human", show_default=True,
              help="human, rat, mouse (spheres), human-mesh, rat-mesh, mouse-mesh (built-in meshes).")
@click.option("--coil", "coil_id", default=None, help="Preset id (default: the species' default coil).")
@click.option("--target", "target_text", default=None,
              help="Named target (see --list), mni:x,y,z or bregma:x,y,z (mm). Default: DLPFC_left (human), "
                   "M1_forelimb_left (rodents).")
@click.option("--direction", default=None,
              help="Wanted field direction: normal, anterior, posterior, left, right, superior, inferior, or x,y,z. "
                   "Default: maximise |E|.")
@click.option("--radius", "radius_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Average over the cortex within this distance of the target (mm).")
@click.option("--didt", "didt_text", default=None, help="Intensity as dI/dt, e.g. 100A/us (default 1 A/µs).")
@click.option("--mso", type=MSO, default=None, help="Intensity in %% MSO of --stimulator (or the coil's own).")
@click.option("--stimulator", default=None, help="Stimulator for %%MSO (default: the coil's own).")
@click.option("--goal", "goal_e", type=VM_POSITIVE, default=None, help="Goal E at the target (V/m): report the %%MSO needed.")
@click.option("--distance", "distance_mm", type=MM_POSITIVE, default=0.0, show_default=True,
              help="Extra gap between the coil bottom and the scalp (mm).")
@click.option("--search-radius", "search_mm", type=MM_POSITIVE, default=None,
              help="Search positions within this distance of the target's scalp point (mm; default 25 %% of the "
                   "head radius).")
@click.option("--angles", "n_angles", type=click.IntRange(4, 720), default=72, show_default=True,
              help="Handle angles over 360° on the search grid.")
@click.option("--off-target-weight", type=_Number("1", low=0.0), default=0.0, show_default=True,
              help="Focality penalty: subtract this times the mean |E| on a cortical ring around the target.")
@click.option("--off-target-distance", "off_mm", type=_Number("mm", low=0.0, open_low=True), default=None,
              help="Radius of that ring (mm; default 25 %% of the head radius).")
@click.option("--list", "list_only", is_flag=True, help="List the named targets and exit.")
@click.option("--out", "out_dir", default="efield-target", show_default=True, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing output directory written by efield.")
def target_cmd(head_name, coil_id, target_text, direction, radius_mm, didt_text, mso, stimulator, goal_e,
               distance_mm, search_mm, n_angles, off_target_weight, off_mm, list_only, out_dir, force):
    """Best coil pose for a cortical target: pose files, E at the target, %MSO for a goal, focality, pictures."""
    from coils import load_coil

    from ._common.io import staged_directory
    from .dose.dosimetry import defaults, head_by_name, species_of
    from .targeting.results import write_targeting
    from .targeting.search import optimize_pose
    from .targeting.targets import list_targets

    if list_only:
        for species, table in list_targets().items():
            for name, entry in table.items():
                if "mni_mm" in entry:
                    coords, frame = entry["mni_mm"], "MNI"
                else:
                    coords = (f"ML/AP {entry['bregma_ml_ap_mm']}, {entry['depth_below_brain_surface_mm']} mm "
                              "below the brain surface")
                    frame = "bregma"
                click.echo(f"{species:6s} {name:18s} {frame:6s} {coords}  {entry['description']} "
                           f"[{entry['flag']}: {entry['source']}]")
        return
    species = species_of(head_name)
    try:
        head = head_by_name(head_name)
        coil_id = coil_id or defaults()["destination"][species]["coil"]
        coil = load_coil(coil_id)
        target = target_text or ("DLPFC_left" if species == "human" else "M1_forelimb_left")
        if direction and "," in direction:
            try:
                direction = [float(x) for x in direction.split(",")]
            except ValueError:
                raise click.BadParameter(f"must be a name (normal, anterior, ...) or three numbers x,y,z; "
                                         f"got {direction!r}", param_hint="--direction") from None
        didt = None
        if didt_text is not None and mso is not None:
            raise click.UsageError("give either --didt or --mso, not both")
        if didt_text is not None:
            from .dose.intensity import parse_didt

            didt = parse_didt(didt_text)
        elif mso is not None:
            from .dose.stimulators import stimulator_pair

            pair = stimulator_pair(coil.name, stimulator)
            didt = pair.didt_max * mso / 100.0
            click.echo(f"{mso:g} % MSO = {didt / 1e6:.4g} A/µs ({pair.describe()})", err=True)
        click.echo(f"targeting {target} on the {head.name} {'mesh' if hasattr(head, 'tets') else 'sphere'} "
                   f"with {coil.name}", err=True)
        result = optimize_pose(coil, head, target, didt, direction=direction, radius=radius_mm * 1e-3,
                               distance=distance_mm * 1e-3, search_radius=None if search_mm is None else search_mm * 1e-3,
                               n_angles=n_angles, goal_e=goal_e, stimulator=stimulator,
                               off_target_weight=off_target_weight,
                               off_target_distance=None if off_mm is None else off_mm * 1e-3)
    except ValueError as exc:
        _fail(exc)
    try:
        with staged_directory(out_dir, force=force) as tmp:
            names = write_targeting(result, coil, tmp)
    except OSError as exc:
        _fail(exc)
    click.echo(result.summary())
    for k, v in result.assumptions.items():
        click.echo(f"  assumption: {k}: {v}")
    t = result.timing
    click.echo(f"{result.n_poses} poses evaluated ({t['grid_poses_per_s']:.0f} poses/s on the grid, precompute "
               f"{t['precompute']:.1f} s, total {t['total']:.1f} s); wrote {out_dir}/: {', '.join(names)}")


@main.command("demo")
@click.option("--out", "out_dir", default="efield-demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing demo output directory.")
@click.option("--subdiv", type=click.IntRange(2, 7), default=5, show_default=True)
def demo_cmd(out_dir, force, subdiv):
    """Run the main job on built-in defaults and write a results folder."""
    from coils import list_coils

    from .demo import run_demo

    click.echo(f"efield demo: {len(list_coils())} preset coils on their default sphere heads -> {out_dir}/", err=True)
    try:
        rows = run_demo(out_dir, force=force, n_subdiv=subdiv, progress=lambda msg: click.echo(f"  {msg}", err=True))
    except OSError as exc:
        _fail(exc)
    click.echo((Path(out_dir) / "summary.md").read_text())
    click.echo("Published protocols translated to human-equivalent doses "
               f"({out_dir}/translation/translated.md, .csv, .png, assumptions.md):")
    click.echo((Path(out_dir) / "translation" / "translated.md").read_text())
    click.echo("Sphere vs built-in mesh heads (mesh_vs_sphere.md):")
    click.echo((Path(out_dir) / "mesh_vs_sphere.md").read_text())
    click.echo(f"Coil targeting (targeting/targeting.md; pose files and pictures in {out_dir}/targeting/*/):")
    click.echo((Path(out_dir) / "targeting" / "targeting.md").read_text())
    return rows


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
