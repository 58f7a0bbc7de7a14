"""``efield head build``: a head mesh from a labelled volume (an atlas or a lab's own segmentation)."""

from __future__ import annotations

from pathlib import Path

import click

from ._shared import JSON_HELP, echo_json, fail, long_running, say


def _point(text, option):
    if text is None:
        return None
    try:
        vals = [float(t) for t in text.replace(";", ",").split(",")]
    except ValueError:
        vals = []
    if len(vals) != 3:
        raise click.BadParameter(f"must be three numbers x,y,z in mm; got {text!r}", param_hint=option)
    return vals


def _layers(items):
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            mm = float(value)
        except ValueError:
            raise click.BadParameter(f"must be LAYER=MM, e.g. bone=0.7; got {item!r}", param_hint="--layer") from None
        out[name.strip()] = mm * 1e-3
    return out


@click.group("head")
def head_group():
    """Head meshes: build one from a labelled volume (``efield head build``)."""


@head_group.command("build")
@click.argument("volume", type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", "label_map", required=True, type=click.Path(exists=True, dir_okay=False),
              help='TOML label map: one line per label value, e.g. 1 = "grey_matter", 2 = "csf", 3 = "bone", '
                   '4 = "scalp", 0 or "background" to drop one. Every value in the volume must be mapped.')
@click.option("--species", type=click.Choice(["human", "rat", "mouse"]), default=None,
              help="For the thickness of added layers and the reporting depth (default: from the brain's size).")
@click.option("--frame", type=click.Choice(["volume", "bregma"]), default="volume", show_default=True,
              help="Coordinates of the head: the volume's own, or bregma (needs --bregma and --lambda).")
@click.option("--bregma", default=None, help="Bregma on the skull, x,y,z in the volume's world mm.")
@click.option("--lambda", "lambda_", default=None, help="Lambda on the skull, x,y,z in the volume's world mm.")
@click.option("--voxel", "voxel_mm", type=float, default=None,
              help="Mesh voxel edge (mm; default the volume's smallest voxel edge).")
@click.option("--smooth", type=click.IntRange(0, 50), default=0, show_default=True,
              help="Rounds of Taubin smoothing of the staircase tissue boundaries.")
@click.option("--layer", "layers", multiple=True,
              help="Thickness of an added layer, LAYER=MM (csf, bone, scalp; 0 leaves it out); repeatable. "
                   "Default: the species' sphere-head layers.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The head mesh to write (.msh, SimNIBS convention, mm; or .vtu); its provenance goes beside it "
                   "as <out>.json.")
@click.option("--force", is_flag=True, help="Replace an existing --out (and its .json).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@long_running
def build_cmd(volume, label_map, species, frame, bregma, lambda_, voxel_mm, smooth, layers, out, force, as_json):
    """Build a tetrahedral head from the labelled VOLUME (NIfTI) for every command's --head."""
    from meshes import save_head
    from meshes._formats import sidecar_path
    from meshes._labels import LabelHeadError, head_from_labels, read_label_map

    from .._common import progress

    out_path = Path(out)
    if out_path.suffix.lower() not in (".msh", ".vtu"):
        raise click.BadParameter(f"must end in .msh or .vtu; got {out!r}", param_hint="--out")
    for p in (out_path, sidecar_path(out_path)):
        if p.exists() and not force:
            raise click.BadParameter(f"'{p}' exists; pass --force to replace it", param_hint="--out")
    if not out_path.parent.is_dir():
        raise click.BadParameter(f"the folder '{out_path.parent}' does not exist", param_hint="--out")
    landmarks = None
    if frame == "bregma":
        b, lam = _point(bregma, "--bregma"), _point(lambda_, "--lambda")
        if b is None or lam is None:
            raise click.UsageError("--frame bregma needs --bregma x,y,z and --lambda x,y,z (mm, on the skull)")
        landmarks = {"bregma": b, "lambda": lam}
    try:
        lmap = read_label_map(label_map)
        with progress.task(f"head from labels: {Path(volume).name}"):
            head = head_from_labels(volume, lmap, frame=frame, species=species, layers=_layers(layers) or None,
                                    voxel=None if voxel_mm is None else voxel_mm * 1e-3, landmarks=landmarks,
                                    smooth=smooth)
        prov = dict(head.provenance)
        prov["label_map_file"] = str(Path(label_map).resolve())
        prov["source_path"] = str(Path(volume).resolve())
        from dataclasses import replace

        head = replace(head, provenance=prov)
        with progress.task(f"writing {out_path.name}"):
            save_head(head, out_path, force=force, sidecar=True, msh_format="2.2-binary"
                      if out_path.suffix.lower() == ".msh" else "2.2")
    except (LabelHeadError, ValueError, OSError) as exc:
        fail(exc)
    summary = {"out": str(out_path), "sidecar": str(sidecar_path(out_path)), "frame": head.frame,
               "species": prov["species"], "n_nodes": int(len(head.nodes)), "n_tets": int(len(head.tets)),
               "voxel_mm": prov["voxel_mm"], "added_layers": prov["added_layers"], "smoothing": prov["smoothing"]}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"wrote {out_path} ({summary['n_tets']:,} tets, {summary['n_nodes']:,} nodes, {summary['voxel_mm']:g} mm "
               f"voxels, frame {head.frame}, species {summary['species']} ({prov['species_from']})) and its provenance "
               f"{summary['sidecar']}")
    added = prov["added_layers"]
    for k, v in (added.items() if isinstance(added, dict) else []):
        say(f"  added {k}: {v}")
    click.echo(f"use it with any command: --head {out_path}")
