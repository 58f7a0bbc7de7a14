"""Running one checked job (:class:`efield.cohort.plan.Job`) where a worker is: in this process or on a
Dask worker.

:func:`run_job` never raises for a problem of the job itself: it returns an outcome with
``status="failed"`` and the error, so one bad job never stops the others (only the loss of the worker
process loses a job, and the scheduler then gives it to another worker).  The job's own files are made
in a private temporary folder and returned as bytes; the caller writes them (so workers need no shared
file system and a job's folder appears complete or not at all).

Heads are kept per worker process (:func:`worker_head`): a head is loaded, and its FEM set-up done, once
per worker, not once per job; at most :data:`HEADS_PER_WORKER` heads are kept (a job needing another
drops them all first), which bounds a worker's memory to that many heads' meshes and solvers (what
one costs is measured by ``scripts/bench.py --cohort``).
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections import OrderedDict
from pathlib import Path

__all__ = ["run_job", "worker_head", "HEADS_PER_WORKER", "error_text"]

#: heads kept per worker process
HEADS_PER_WORKER = 2

_HEADS: "OrderedDict[str, object]" = OrderedDict()


def worker_head(spec: str):
    """The head ``spec`` for this process, loaded once (returns (head, loaded_now))."""
    from ..physics.heads import load_any_head

    if spec in _HEADS:
        _HEADS.move_to_end(spec)
        return _HEADS[spec], False
    if len(_HEADS) >= HEADS_PER_WORKER:
        _drop_heads()
    head = load_any_head(spec)
    _HEADS[spec] = head
    return head, True


def _drop_heads() -> None:
    """Forget every head this process holds (and the per-process head caches below, which would keep
    them alive), so memory stays at ``HEADS_PER_WORKER`` heads; the jobs are sent head by head, so this
    happens about once per head per worker."""
    import gc

    from meshes._builtin import builtin_head

    from ..physics import heads

    _HEADS.clear()
    builtin_head.cache_clear()
    heads._load_file_head.cache_clear()
    gc.collect()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_job(job) -> dict:
    """Run ``job`` and return its outcome: ``status`` ("done" or "failed"), ``error``, ``rows`` (one dict
    per result row), ``files`` (relative path → bytes), ``seconds`` (where the time went) and
    ``worker`` (pid, whether the head was loaded for this job)."""
    t0 = time.perf_counter()
    seconds = {}
    out = {"key": job.key, "row": job.row, "job": job.kind, "head": job.head, "status": "done", "error": "", "rows": [], "files": {},
           "seconds": seconds, "worker": {"pid": os.getpid()}}
    try:
        t = time.perf_counter()
        head, loaded = worker_head(job.head)
        seconds["head"] = time.perf_counter() - t
        out["worker"]["head_loaded"] = loaded
        with tempfile.TemporaryDirectory(prefix="efield-job-") as tmp:
            folder = Path(tmp)
            runner = {"dose": _dose, "target": _target, "model": _model}[job.kind]
            t = time.perf_counter()
            out["rows"] = runner(job, head, folder)
            seconds["compute"] = time.perf_counter() - t
            out["files"] = _files(folder)
    except Exception as exc:  # the job's own error: reported in its row, the others go on
        out["status"] = "failed"
        out["error"] = error_text(exc)
        out["traceback"] = traceback.format_exc(limit=6)
        out["rows"], out["files"] = [], {}
    seconds["total"] = time.perf_counter() - t0
    return out


def error_text(exc) -> str:
    """One line saying what went wrong (the exception's type where it is not a plain input error)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    return text if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {text}"


def _head_columns(job, head) -> dict:
    from ..physics.heads import head_label, head_species

    species, how = head_species(job.head, head)
    return {"head_model": head_label(job.head, head), "species": species, "species_from": how}


def _didt_max(coil_id, stimulator):
    """(dI/dt at 100 % MSO in A/s, stimulator name, how it is known) or (None, stimulator, why not)."""
    from ..dose.stimulators import stimulator_pair

    try:
        pair = stimulator_pair(coil_id, stimulator)
    except (ValueError, KeyError) as exc:
        return None, stimulator or "", error_text(exc)
    return pair.didt_max, pair.stimulator, getattr(pair, "source", "") or ""


def _dose(job, head, folder: Path) -> list[dict]:
    from .._common.io import json_text
    from ..dose.dosimetry import dose, unit_field
    from ..dose.translation import destination_setup

    p = job.params
    species = _head_columns(job, head)["species"]
    setup = destination_setup(job.head, p["coil"],
                              p["stimulator"], rmt_mso=p["rmt_mso"], gap=p["gap"], amt_mso=p["amt_mso"])
    results = dose(setup, p["intensity"])
    didt_max, stim, stim_how = _didt_max(setup.coil, setup.stimulator)
    rows, record = [], []
    for d in results:
        assumptions = list(dict.fromkeys(d.assumptions))
        row = {
            **_head_columns(job, head), "coil": setup.coil, "stimulator": stim or (setup.stimulator or ""),
            "intensity": str(d.intensity), "didt_aus": d.didt / 1e6, "mso": d.mso, "rmt_pct": d.rmt_pct,
            "e_target_vm": d.e_target, "e_target_low_vm": d.e_target_band[0], "e_target_high_vm": d.e_target_band[1],
            "e_target_normal_vm": d.e_target_normal, "peak_vm": d.peak, "p99_vm": d.p99, "p999_vm": d.p999,
            "half_max_depth_mm": d.half_max_depth_m * 1e3, "half_max_area_cm2": d.half_max_area_m2 * 1e4,
            "target_point_mm": _mm(unit_field(setup).target_point),
            "didt_max_aus": None if didt_max is None else didt_max / 1e6, "didt_max_from": stim_how,
            "motor_threshold": _threshold_text(setup, species), "gap_mm": setup.gap * 1e3,
            "set_up": setup.describe(), "assumptions": "; ".join(assumptions),
        }
        rows.append(row)
        record.append({**row, "assumptions": assumptions})
    (folder / "dose.json").write_text(json_text({"job": job.id, "set_up": setup.describe(), "rows": record}))
    return rows


def _threshold_text(setup, species) -> str:
    from ..dose.dosimetry import setup_rmt_mso

    try:
        rmt, lo, hi, how = setup_rmt_mso(setup)
    except (ValueError, KeyError) as exc:
        return f"no motor threshold: {error_text(exc)}"
    return f"RMT {rmt:.4g} % MSO (band {lo:.4g}-{hi:.4g}): {how}"


def _mm(point) -> str:
    return "" if point is None else ",".join(f"{1e3 * float(v):.3f}" for v in point)


def _target_didt(p, coil) -> float:
    from ..dose.intensity import parse_intensity

    if not p["intensity"]:
        return 1e6
    inten = parse_intensity(p["intensity"])
    if inten.kind == "didt":
        return float(inten.points[0].nominal)
    didt_max, stim, how = _didt_max(p["coil"], p["stimulator"])
    if didt_max is None:
        raise ValueError(f"intensity {p['intensity']} is in % MSO but {how}")
    return didt_max * float(inten.points[0].nominal) / 100.0


def _target(job, head, folder: Path) -> list[dict]:
    import dataclasses

    from coils import load_coil

    from ..targeting.results import write_targeting
    from ..targeting.search import optimize_pose

    p = dict(job.params)
    coil = load_coil(p["coil"])
    stim_note = ""
    if p["stimulator"] is None and _didt_max(p["coil"], None)[0] is None:
        from ..dose.dosimetry import defaults

        species = _head_columns(job, head)["species"]
        p["stimulator"] = defaults()["destination"].get(species, {}).get("stimulator")
        stim_note = (f"stimulator: {p['stimulator']} (the declared default for {species}; coil {p['coil']} has no "
                     "stimulator of its own)")
    didt = _target_didt(p, coil)
    didt_max, stim, stim_how = _didt_max(p["coil"], p["stimulator"])
    rows = []
    for i, target in enumerate(p["targets"]):
        res = optimize_pose(coil, head, target, didt, direction=p["direction"], distance=p["gap"],
                            goal_e=p["goal_e"], stimulator=p["stimulator"])
        res = dataclasses.replace(res, head_spec=job.head)
        sub = folder / f"target{i + 1}"
        sub.mkdir()
        write_targeting(res, coil, sub, head=None, html=False)
        f = res.focality or {}
        rows.append({
            **_head_columns(job, head), "coil": coil.name, "stimulator": res.stimulator or stim or "",
            "target": res.target_label, "target_point_mm": _mm(res.target_point), "objective": res.objective,
            "intensity": p["intensity"] or "1A/us", "didt_aus": didt / 1e6,
            "mso": None if didt_max is None else 100.0 * didt / didt_max,
            "e_target_vm": res.target_e, "e_target_vm_per_aus": res.target_e_per_aus,
            "pose_center_mm": _mm(res.center), "pose_handle": ",".join(f"{v:.5f}" for v in res.handle),
            "pose_normal": ",".join(f"{v:.5f}" for v in res.normal),
            "angle_to_convention_deg": res.angle_to_convention_deg, "current_direction": res.current_direction or "",
            "goal_e_vm": res.goal_e, "mso_for_goal": res.mso_for_goal, "goal_reachable": res.goal_reachable,
            "half_max_area_cm2": f.get("area_half_max_cm2"), "half_max_depth_mm": f.get("depth_half_max_mm"),
            "didt_max_aus": None if didt_max is None else didt_max / 1e6, "didt_max_from": stim_how,
            "gap_mm": p["gap"] * 1e3, "outputs": f"target{i + 1}/",
            "assumptions": "; ".join([f"{k}: {v}" for k, v in res.assumptions.items()] + ([stim_note] if stim_note else [])),
        })
    return rows


def _model(job, head, folder: Path) -> list[dict]:
    from .._common.io import json_text
    from ..physics.cortex_model import cached_model, cortex_model, head_key

    reused = cached_model(head) is not None
    model = cortex_model(head)
    info = dict(model.info)
    (folder / "model.json").write_text(json_text({"job": job.id, "head_key": head_key(head), "info": info}))
    return [{
        **_head_columns(job, head), "model_head_key": head_key(head), "model_modes": model.n_modes,
        "model_points": model.n_points, "model_training_coils": " ".join(info.get("training_coils", [])),
        "model_from_cache": reused,
        "assumptions": f"cortical field model {info.get('model', '')}: {model.n_modes} modes, trained on "
                       f"{info.get('n_train')} random resting poses of {', '.join(info.get('training_coils', []))}",
    }]
