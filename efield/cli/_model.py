"""``efield model``: build (or show) the precomputed cortical field model of a mesh head."""

from __future__ import annotations

import click

from ._shared import HEAD_HELP, JSON_HELP, echo_json, fail, load_head, long_running


@click.command("model")
@click.option("--head", "head_name", default="rat-mesh", show_default=True, help=HEAD_HELP + " Mesh heads only.")
@click.option("--rebuild", is_flag=True, help="Build anew even if a model of this head is cached.")
@click.option("--check-only", is_flag=True, help="Only say whether a model of this head is cached; build nothing.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@long_running
def model_cmd(head_name, rebuild, check_only, as_json):
    """The cortical field model of a mesh head: built once (rat under a minute, human 10-15 min on 2 cores), cached
    on disk under the head's content, then used by `efield field`, `efield dose` and `efield view` for the
    whole cortex (and a sample of the brain, for the half-value depth) in milliseconds per coil pose."""
    from ..physics import cortex_model as cm
    from ..physics.placement import is_mesh_head

    head = load_head(head_name)
    if not is_mesh_head(head):
        raise click.BadParameter(f"{head_name!r} is a sphere head: its field is analytic and fast already; the "
                                 "model is for mesh heads (e.g. rat-mesh, human-mesh, a .msh file)",
                                 param_hint="--head")
    path = cm._cache_path(head)
    cached = cm.cached_model(head)
    if check_only:
        out = {"head": head.name, "cached": cached is not None, "path": str(path)}
        if as_json:
            echo_json(out)
        else:
            click.echo(f"{head.name}: {'cached' if cached is not None else 'no model cached'} ({path})")
        return
    if cached is None or rebuild:
        try:
            model = cm.CortexFieldModel.build(head)
            path = cm.save_to_cache(model, head)
        except (ValueError, OSError) as exc:
            fail(exc)
    else:
        model = cached
    info = dict(model.info)
    out = {"head": head.name, "path": str(path), "key": model.key, "n_modes": model.n_modes,
           "n_points": model.n_points, "n_fit_points": int(len(model.fit_points)),
           "size_mb": round(path.stat().st_size / 1e6, 1) if path.is_file() else None, "info": info}
    if as_json:
        echo_json(out)
        return
    t = info.get("timings_s", {})
    click.echo(f"{head.name}: cortical field model with {model.n_modes} modes over {model.n_points:,} cortical "
               f"points, fitted from the coil's field at {len(model.fit_points):,} mesh nodes")
    click.echo(f"  trained on {info.get('n_train')} random resting poses of {', '.join(info.get('training_coils', []))}")
    if info.get("brain_sample"):
        click.echo(f"  brain sample for the half-value depth: {info['brain_sample']}")
    click.echo(f"  last kept singular value {info.get('last_singular_value_rel', float('nan')):.2e} of the first; "
               f"built in {t.get('total_s', float('nan')):.0f} s")
    click.echo(f"  cached at {path} ({out['size_mb']} MB)")
