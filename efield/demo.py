"""``efield demo``: every preset coil on its default sphere head(s), one table and pictures."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np

from ._common.io import json_text, staged_directory
from .physics.fields import standard_pose
from .dose.units import A_PER_US

__all__ = ["run_demo", "standard_pose", "coil_field_summary", "DEMO_HEADS"]

#: default heads per coil species
DEMO_HEADS = {"human": ("human",), "rodent": ("rat", "mouse")}

_COLUMNS = [
    ("coil", "coil"), ("head", "head"), ("segments", "wire segments"),
    ("stimulator", "stimulator"), ("didt_max_aus", "dI/dt at 100 % MSO (A/µs)"),
    ("didt_source", "dI/dt source"),
    ("p999_vm_per_aus", "99.9th pct |E| per A/µs (V/m)"), ("p999_vm_at_100mso", "99.9th pct |E| at 100 % MSO (V/m)"),
    ("peak_vm_per_aus", "raw peak |E| per A/µs (V/m)"), ("peak_vm_at_100mso", "raw peak |E| at 100 % MSO (V/m)"),
    ("half_max_area_cm2", "cortex area ≥ ½ peak (cm²)"), ("half_max_depth_mm", "depth of ½ peak (mm)"),
    ("casing_mm", "lowest wire above scalp (mm)"), ("cortex_depth_mm", "cortex depth (mm)"),
]


def coil_field_summary(coil_id: str, head_name: str, *, n_subdiv: int = 5, backend=None):
    """Field of preset ``coil_id`` over the top of sphere head ``head_name`` at 1 A/µs.

    Returns ``(row, result, placed_coil, head)``: the table row (V/m per A/µs and at 100 % MSO
    of the coil's default stimulator where one is known), the cortical FieldResult and the inputs.
    """
    from coils import load_coil
    from meshes import sphere_head

    from .physics.fields import cortex_field
    from .physics.metrics import half_max_depth, surface_metrics

    coil = load_coil(coil_id)
    head = sphere_head(head_name)
    placed = coil.placed(standard_pose(head, coil=coil))
    result = cortex_field(placed, head, A_PER_US, n_subdiv=n_subdiv, backend=backend)
    m = surface_metrics(result)
    depth = half_max_depth(placed, head, A_PER_US, m["peak_point_m"], backend=backend)
    didt_max = coil.metadata.get("didt_max_a_per_s")
    row = {
        "coil": coil_id,
        "head": head_name,
        "segments": coil.n_segments,
        "stimulator": coil.metadata.get("stimulator") or "unknown",
        "didt_max_aus": didt_max / A_PER_US if didt_max else None,
        "didt_source": coil.metadata.get("didt_source") or ("none: give --didt" if not didt_max else ""),
        "peak_vm_per_aus": m["peak_vm"],
        "peak_vm_at_100mso": m["peak_vm"] * didt_max / A_PER_US if didt_max else None,
        "p999_vm_per_aus": m["p999_vm"],
        "p999_vm_at_100mso": m["p999_vm"] * didt_max / A_PER_US if didt_max else None,
        "half_max_area_cm2": m["half_max_area_m2"] * 1e4,
        "half_max_depth_mm": depth * 1e3,
        "casing_mm": float(coil.points[:, 2].min()) * 1e3,
        "cortex_depth_mm": (head.scalp_radius - head.cortex_radius) * 1e3,
    }
    return row, result, placed, head


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.4g}"
    return str(v)


def write_table(rows, csv_path: Path, md_path: Path, notes: list[str]) -> None:
    keys = [k for k, _ in _COLUMNS]
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    lines = ["| " + " | ".join(h for _, h in _COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    lines += ["", "Assumptions:", "", *[f"- {n}" for n in notes], ""]
    md_path.write_text("\n".join(lines))


def _validation_note() -> str:
    """Which presets were checked against a validated coil model, and which could not be."""
    from coils import coil_info, list_coils

    checked = {c: coil_info(c)["validation"]["simnibs"] for c in list_coils() if "validation" in coil_info(c)}
    unchecked = [c for c in list_coils() if c not in checked]
    return ("coil models checked against SimNIBS's validated models of the same coils (Drakaki et al. 2022; "
            "peak |E| within 5 %, pattern r >= 0.99, depth and area within 10 %, tests/test_coil_validation.py): "
            + ", ".join(f"{c} ~ {t}" for c, t in checked.items())
            + "; no validated model was available for " + ", ".join(unchecked)
            + ": their fields rest on published winding dimensions only")


def _threshold_notes(md_path: Path) -> list[str]:
    """Write the threshold-chain table to ``md_path``; the assumptions it adds to the demo's notes."""
    from .dose.dosimetry import amt_ratio, defaults, threshold_e
    from .dose.thresholds import threshold_lines, threshold_table

    rows = threshold_table()
    e, lo, hi, how = threshold_e("human")
    text = ["# Motor-threshold chain", "", f"Human motor-threshold E {e:.1f} V/m (band {lo:.1f}-{hi:.1f}): {how}", "",
            "```", *threshold_lines(rows), "```", ""]
    md_path.write_text("\n".join(text))
    checks = [r for r in rows if r.status.startswith("check")]
    preds = "; ".join(f"{r.stimulator} + {r.coil} {r.predicted_mso:.1f} % MSO" for r in rows
                      if r.predicted_mso is not None and not r.status.startswith("calibration"))
    return [
        f"motor threshold: {how}; human threshold E {e:.1f} V/m (band {lo:.1f}-{hi:.1f})",
        f"RMT predicted by equal E on other pairs: {preds}; published thresholds that could be checked: "
        + (", ".join(f"{r.stimulator} + {r.coil} ({r.status})" for r in checks) if checks else
           "none (published rows on other pairs: " + ", ".join(f"{r.stimulator} + {r.coil} {r.waveform}" for r in rows
                                                           if r.published_mso is not None
                                                           and not r.status.startswith("calibration"))
           + ", could not be predicted: see thresholds.md)"),
        f"%AMT: {amt_ratio()[3]}",
        f"rodent motor threshold ({defaults()['threshold']['rat']['flag']}): "
        f"{defaults()['threshold']['rat']['source']}; band as for humans, {lo:.1f}-{hi:.1f} V/m",
    ]


def run_demo(out="efield-demo", *, force: bool = False, n_subdiv: int = 5, progress=None, pictures: bool = True,
             meshes: bool = True, targeting: bool = True):
    """Run the demo and write ``out/``: summary.csv, summary.md, one PNG per coil and head.

    ``progress`` is an optional callable taking a message per finished step.
    """
    from coils import list_coils, load_coil

    jobs = []
    for cid in list_coils():
        species = load_coil(cid).metadata.get("species", "human")
        for head in DEMO_HEADS.get(species, ("human",)):
            jobs.append((cid, head))
    rows = []
    notes = [
        "sphere heads: total E in a spherically symmetric conductor (independent of conductivities); "
        "coil centred over the top of the head, handle along +y, coil bottom surface on the scalp",
        "coils are wire models of the windings only: casings set the wire-to-scalp gap; iron cores, "
        "lead wires and eddy currents in the casing are not modelled (see `efield coils`)",
        "|E| at 100 % MSO uses the coil's default stimulator dI/dt where a measured value is published; "
        "— where none is known (give --didt to `efield field`)",
        _validation_note(),
    ]
    out = Path(out)
    with staged_directory(out, force=force) as tmp:
        for cid, head_name in jobs:
            row, result, placed, head = coil_field_summary(cid, head_name, n_subdiv=n_subdiv)
            rows.append(row)
            if pictures:
                from .views.field_scene import field_pictures

                field_pictures(tmp, head, placed, result.scaled(1e8), stem=f"{cid}_{head_name}", html=False,
                               vtm=False, window_size=(1200, 900),
                               title=f"{cid} on the {head_name} sphere head: |E| at dI/dt 100 A/µs")
            if progress:
                progress(f"{cid} on {head_name}: peak {row['peak_vm_per_aus']:.3g} V/m per A/µs")
        if pictures:
            from .views.plots import bar_chart

            bar_chart([f"{r['coil']}\n{r['head']}" for r in rows], [r["peak_vm_per_aus"] for r in rows],
                      tmp / "peak_e_per_aus.png", ylabel="peak cortical |E| (V/m per A/µs)",
                      title="Peak cortical |E| per A/µs, sphere heads")
        notes += _threshold_notes(tmp / "thresholds.md")
        write_table(rows, tmp / "summary.csv", tmp / "summary.md", notes)
        (tmp / "summary.json").write_text(json_text({"rows": rows, "assumptions": notes}))
        _demo_translation(tmp / "translation", progress)
        if meshes:
            _demo_mesh_vs_sphere(tmp, progress)
        if targeting:
            _demo_targeting(tmp / "targeting", progress, mesh=meshes)
            if meshes:
                _demo_subject(tmp / "subject", progress)
        if meshes:
            _demo_realtime(tmp / "realtime", progress, pictures=pictures)
        _demo_cohort(tmp / "cohort", progress)
        if meshes:
            _demo_labels(tmp / "labels", progress)
        from .views.report import write_report

        write_report(tmp, title="efield demo: every preset coil, dose translation, mesh heads, targeting")
    return rows


def _demo_realtime(out: Path, progress=None, pictures: bool = True) -> dict:
    """The rat mesh's cortical field model (built once, cached): its error against full FEM solves on
    random poses, and its speed, with a picture of one pose and how to open the live view."""
    import time

    from coils import load_coil
    from meshes import builtin_head

    from .physics.cortex_model import cortex_model, full_solve_at, random_poses
    from .physics.fields import FieldResult

    out.mkdir()
    head = builtin_head("rat")
    t = time.perf_counter()
    model = cortex_model(head)
    t_model = time.perf_counter() - t
    rng = np.random.default_rng(14)
    rows = []
    for cid in ("magstim_25mm_fig8", "rodent_8mm_round", "magstim_70mm_fig8"):
        coil = load_coil(cid)
        pose = random_poses(head, coil, 1, rng, max_gap=0.005)[0]
        t = time.perf_counter()
        ref = full_solve_at(head, coil, pose, model.points, tol=1e-3)  # the solver's own tolerance
        t_fem = time.perf_counter() - t
        t = time.perf_counter()
        got = model.field(coil, pose, 1.0)[0]
        t_fast = time.perf_counter() - t
        rows.append({"coil": cid, "relative_l2_error": float(np.linalg.norm(got - ref) / np.linalg.norm(ref)),
                     "peak_model_vm_per_aus": float(np.linalg.norm(got, axis=1).max() * A_PER_US),
                     "peak_fem_vm_per_aus": float(np.linalg.norm(ref, axis=1).max() * A_PER_US),
                     "fem_s": t_fem, "model_s": t_fast})
        if progress:
            progress(f"cortical field model, {cid}: {100 * rows[-1]['relative_l2_error']:.2f} % from the full FEM, "
                     f"{t_fem / t_fast:.0f}x faster")
    coil = load_coil("magstim_25mm_fig8")
    poses = random_poses(head, coil, 200, rng)
    model.field(coil, poses[:2], 1.0)
    t = time.perf_counter()
    model.field(coil, poses, 1.0)
    rate = 200 / (time.perf_counter() - t)
    lines = ["# The whole cortex in milliseconds: the rat mesh's cortical field model", "",
             f"Model: {model.info['model']}; {model.n_points:,} cortical points, {len(model.fit_points):,} fit "
             f"points (mesh nodes); trained on {model.info['n_train']} random resting poses of "
             f"{', '.join(model.info['training_coils'])} (built or read from the cache in {t_model:.0f} s).", "",
             "| coil (random pose) | relative L2 error over the cortex | peak model / FEM (V/m per A/µs) | "
             "full FEM (s) | model (ms) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['coil']} | {100 * r['relative_l2_error']:.2f} % | {r['peak_model_vm_per_aus']:.4g} / "
                     f"{r['peak_fem_vm_per_aus']:.4g} | {r['fem_s']:.2f} | {1e3 * r['model_s']:.1f} |")
    dose_rows = _model_dose_rows()
    if progress:
        f, m = dose_rows
        progress(f"dose from the model: E at target {m['e_target_vm']:.4g} V/m in {m['seconds']:.2f} s; full FEM "
                 f"{f['e_target_vm']:.4g} V/m in {f['seconds']:.2f} s")
    lines += ["", "## A dose from the model", "",
              "`efield dose --head rat-mesh --coil magstim_25mm_fig8 --stimulator 'Magstim Rapid' --intensity 50%MSO`, "
              "once with the full solve "
              "(`--model fem`) and once with the cached model (`--model auto`, the default, once a model is "
              "cached); the half-value depth comes from the model's brain sample "
              f"({model.info.get('brain_sample', '')}).", "",
              "| field from | E at target (V/m) | robust peak (V/m) | half-value depth (mm) | area above half peak (cm²) | time (s) |",
              "|---|---|---|---|---|---|"]
    for r in dose_rows:
        lines.append(f"| {r['model']} | {r['e_target_vm']:.4g} | {r['p999_vm']:.4g} | {r['half_max_depth_mm']:.2f} | "
                     f"{r['half_max_area_cm2']:.3g} | {r['seconds']:.2f} |")
    lines += ["", f"Batched: {rate:.0f} poses/s ({coil.name}, 200 random poses, 2 cores).", "",
              "Move the coil yourself and watch the field follow: `efield view --head rat-mesh` (a page on "
              "localhost; sliders for position, handle angle, tilt and gap; saves pose.json and the "
              "neuronavigation files).", ""]
    (out / "realtime.md").write_text("\n".join(lines))
    summary = {"rows": rows, "poses_per_s": rate, "model": dict(model.info), "dose": dose_rows}
    (out / "realtime.json").write_text(json_text(summary))
    if pictures:
        from .views.field_scene import field_pictures

        pose = poses[0]
        e = model.field(coil, pose, 1e8)[0]
        res = FieldResult(model.points, e, 1e8, model.normals, model.faces, {"model": model.info["model"]})
        field_pictures(out, head, coil.placed(pose), res, stem="model_pose", html=False, vtm=False,
                       window_size=(1200, 900), title="rat mesh, 25 mm figure-8 at a random pose: |E| at "
                                                       "100 A/µs from the precomputed model")
    from .views.report import write_report

    write_report(out, title="efield demo: the cortical field model (rat mesh)")
    return summary


def _model_dose_rows() -> list[dict]:
    """One rat-mesh protocol through :func:`efield.dose.dosimetry.dose` with the full solve and with the
    cached cortical field model: the numbers and the time of each."""
    import time

    from .dose.dosimetry import Setup, dose

    rows = []
    for how, label in (("fem", "full FEM solve"), ("precomputed", "cortical field model")):
        t = time.perf_counter()
        d = dose(Setup(head="rat-mesh", coil="magstim_25mm_fig8", stimulator="Magstim Rapid", field_model=how),
                 "50%MSO")[0]
        rows.append({"model": label, "e_target_vm": d.e_target, "p999_vm": d.p999,
                     "half_max_depth_mm": d.half_max_depth_m * 1e3, "half_max_area_cm2": d.half_max_area_m2 * 1e4,
                     "seconds": time.perf_counter() - t})
    return rows


#: the demo's study plan: three human subjects with their own motor thresholds, a target job, a rat
#: protocol and one row that cannot run (it is reported, the others are not held up)
DEMO_PLAN = [
    {"id": "s01", "subject": "s01", "job": "dose", "head": "human", "intensity": "110%RMT", "rmt_mso": "48"},
    {"id": "s02", "subject": "s02", "job": "dose", "head": "human", "intensity": "110%RMT", "rmt_mso": "55"},
    {"id": "s03", "subject": "s03", "job": "dose", "head": "human", "intensity": "110%RMT", "rmt_mso": "63"},
    {"id": "s01_targets", "subject": "s01", "job": "target", "head": "human", "targets": "M1_hand_left; DLPFC_left",
     "goal_e_vm": "100"},
    {"id": "rat_50", "subject": "r01", "job": "dose", "head": "rat", "intensity": "50%MSO"},
    {"id": "too_strong", "subject": "r02", "job": "dose", "head": "rat", "intensity": "150%MSO"},
]


def _demo_cohort(out: Path, progress=None):
    """A small study plan run as a cohort (in this process): results.csv with a row per plan row and
    target, and the report; ``efield cohort --example plan.csv`` writes a larger plan to run on Dask."""
    from .cohort import run_cohort

    result = run_cohort(DEMO_PLAN, out, workers=1)
    if progress:
        progress(f"cohort: {result.summary()}")
    return result


def _demo_labels(out: Path, progress=None) -> list[dict]:
    """A head from a labelled volume: a made-up rat volume (brain, skull, scalp; no CSF label) written as
    NIfTI with its label map, turned into a head mesh in the bregma frame, and a protocol's dose on it
    beside the built-in ellipsoid rat."""
    import nibabel as nib

    from meshes import head_from_labels, save_head
    from meshes._labels import EXAMPLE_RAT_LABELS, example_rat_volume

    from .dose.dosimetry import dose
    from .dose.translation import destination_setup

    out.mkdir()
    lab, aff, marks = example_rat_volume(0.5)
    nib.save(nib.Nifti1Image(lab, aff), str(out / "rat_labels.nii.gz"))
    (out / "labels.toml").write_text("".join(f'{k} = "{v}"\n' for k, v in EXAMPLE_RAT_LABELS.items()))
    head = head_from_labels(out / "rat_labels.nii.gz", EXAMPLE_RAT_LABELS, frame="bregma", species="rat",
                            landmarks=marks)
    msh = save_head(head, out / "rat_from_labels.msh", sidecar=True, msh_format="2.2-binary")
    rows = []
    for label, spec in (("from the labelled volume", str(msh)), ("built-in ellipsoids (rat-mesh)", "rat-mesh")):
        setup = destination_setup(spec, "magstim_25mm_fig8", "Magstim Rapid")
        d = dose(setup, "50%MSO")[0]
        rows.append({"head": label, "e_target_vm": d.e_target, "p999_vm": d.p999,
                     "half_max_depth_mm": d.half_max_depth_m * 1e3, "half_max_area_cm2": d.half_max_area_m2 * 1e4})
    prov = head.provenance
    lines = ["# A head from a labelled volume", "",
             "`rat_labels.nii.gz` is a made-up labelled rat head (brain with olfactory bulbs and cerebellum, skull, "
             "scalp; no CSF label), `labels.toml` its label map. The same as a command:", "",
             "```bash", "efield head build rat_labels.nii.gz --labels labels.toml --species rat --frame bregma "
             f"--bregma {','.join(map(str, marks['bregma']))} --lambda {','.join(map(str, marks['lambda']))} "
             "--out rat_from_labels.msh", "```", "",
             f"Result: `rat_from_labels.msh` ({len(head.tets):,} tets, {prov['voxel_mm']:g} mm voxels, bregma frame) "
             "and its provenance `rat_from_labels.msh.json`; added layers:", ""]
    lines += [f"- {k}: {v}" for k, v in prov["added_layers"].items()] if isinstance(prov["added_layers"], dict) else []
    lines += ["", "magstim_25mm_fig8 on Magstim Rapid at 50 % MSO, over the hot spot:", "",
              "| head | E at target (V/m) | robust peak (V/m) | half-value depth (mm) | area above half peak (cm²) |",
              "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['head']} | {r['e_target_vm']:.4g} | {r['p999_vm']:.4g} | {r['half_max_depth_mm']:.2f} | "
                     f"{r['half_max_area_cm2']:.3g} |")
    lines += ["", f"Reporting surface: {prov['cortex']} (two voxels, so that the staircase boundary does not distort "
              "it; the built-in rat reports 0.3 mm below its smooth brain surface), hence the lower E. A finer voxel "
              "(`--voxel`) moves it closer to the surface.", "",
              "Use it with any command: `--head rat_from_labels.msh`.", ""]
    (out / "labels.md").write_text("\n".join(lines))
    if progress:
        progress(f"head from labels: {len(head.tets):,} tets; 50 % MSO gives {rows[0]['p999_vm']:.3g} V/m robust peak "
                 f"(built-in ellipsoid rat {rows[1]['p999_vm']:.3g})")
    from .views.report import write_report

    write_report(out, title="efield demo: a head from a labelled volume")
    return rows


def _demo_subject(out: Path, progress=None) -> list[dict]:
    """The subject workflow end to end: a SimNIBS-style m2m folder (the example subject), the best pose
    for M1, its pose files for SimNIBS, Brainsight and Localite, and each file read back to the field it
    gives (subject.md)."""
    from coils import load_coil
    from meshes import example_subject_folder

    from .physics.fields import cortex_field
    from .physics.heads import head_label, load_any_head
    from .targeting.navigation import NAV_FILES, read_pose_file
    from .targeting.results import write_targeting
    from .targeting.search import optimize_pose

    out.mkdir()
    folder = example_subject_folder(out / "m2m_example")
    head = load_any_head(str(folder))
    coil = load_coil("magstim_70mm_fig8")
    res = optimize_pose(coil, head, "M1_hand_left", 1e8, goal_e=80.0)
    res = dataclasses.replace(res, head_spec="../m2m_example")  # the folder, seen from the pose files
    (out / "M1_hand_left").mkdir()
    write_targeting(res, coil, out / "M1_hand_left", head=head)
    e_best = float(np.linalg.norm(cortex_field(coil.placed(res.pose), head, 1e8).efield, axis=1).max())
    rows = [{"file": "pose.json", "system": "efield", "peak_vm": e_best, "difference_pct": 0.0}]
    for system, name in NAV_FILES.items():
        back = read_pose_file(out / "M1_hand_left" / name)
        e = float(np.linalg.norm(cortex_field(coil.placed(back.pose), head, 1e8).efield, axis=1).max())
        rows.append({"file": name, "system": system, "peak_vm": e, "difference_pct": 100.0 * (e / e_best - 1.0)})
    lines = [f"# The subject workflow: {head_label(str(folder), head)}", "",
             "`efield target --head m2m_example --target M1_hand_left` wrote the best pose and its files for "
             "neuronavigation; each file, read back with `efield field --pose FILE`, gives this peak cortical "
             "|E| at 100 A/µs:", "", "| file | system | peak |E| (V/m) | vs pose.json |", "|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['system']} | {r['peak_vm']:.2f} | {r['difference_pct']:+.4f} % |" for r in rows]
    lines += ["", res.summary(), "",
              "- The example subject is the built-in human head at 5 mm voxels moved into a made-up scanner frame "
              "(meshes.example_subject_folder); its toMNI/MNI2conform_12DOF.txt maps the MNI target into it.",
              "- Brainsight files carry 6 decimals, Localite 17: the rounding moves the field by far less than "
              "any physiological effect."]
    (out / "subject.md").write_text("\n".join(lines) + "\n")
    (out / "subject.json").write_text(json_text(rows))
    from .views.report import write_report

    write_report(out, title="efield demo: from a SimNIBS subject folder to neuronavigation pose files")
    if progress:
        progress(f"subject workflow: M1 on {head.name}, pose files for {', '.join(NAV_FILES)} read back within "
                 f"{max(abs(r['difference_pct']) for r in rows):.2g} %")
    return rows


#: (label, head, coil, target, direction) of the demo's targeting step
TARGETING_JOBS = [
    ("human_DLPFC_fig8", "human-mesh", "magstim_70mm_fig8", "DLPFC_left", None),
    ("rat_M1_25mm_fig8", "rat-mesh", "magstim_25mm_fig8", "M1_forelimb_left", None),
    ("rat_M1_8mm_round", "rat-mesh", "rodent_8mm_round", "M1_forelimb_left", None),
]


def _demo_targeting(out: Path, progress=None, mesh: bool = True) -> list[dict]:
    """Best poses for the demo targets (mesh heads; sphere heads with ``mesh=False``): pose files, pictures,
    and how much of the brain each coil covers (targeting.md)."""
    from coils import load_coil

    from .dose.dosimetry import head_by_name
    from .targeting.results import write_targeting
    from .targeting.search import optimize_pose
    from .views.report import write_report

    out.mkdir()
    rows = []
    lines = ["| target | head | coil | |E| at target (V/m per A/µs) | %MSO for 100 V/m | brain above half target E "
             "| brain above half max | cortex area above half max (cm²) | coil centre (mm) | handle |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, head_name, coil_id, target, direction in TARGETING_JOBS:
        head = head_by_name(head_name if mesh else head_name.replace("-mesh", ""))
        coil = load_coil(coil_id)
        res = optimize_pose(coil, head, target, 1e8, direction=direction, goal_e=100.0)
        (out / label).mkdir()
        write_targeting(res, coil, out / label, head=head)
        f = res.focality
        mso = "n/a" if res.mso_for_goal is None else f"{res.mso_for_goal:.0f} % ({res.stimulator})"
        c = res.center * 1e3
        lines.append(f"| {res.target_label} | {res.head_name} | {coil_id} | {res.target_e_per_aus:.3g} | {mso} | "
                     f"{100 * f['brain_fraction_above_half_target']:.1f} % | {100 * f['brain_fraction_above_half_max']:.1f} % "
                     f"| {f['area_half_max_cm2']:.3g} | ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) | "
                     f"({res.handle[0]:+.2f}, {res.handle[1]:+.2f}, {res.handle[2]:+.2f}) |")
        rows.append({"label": label, "head": res.head_name, "coil": coil_id, "target": res.target_label,
                     "e_per_aus": res.target_e_per_aus, "mso_for_100vm": res.mso_for_goal, **f,
                     "poses": res.n_poses, "timing": dict(res.timing)})
        if progress:
            progress(f"target {res.target_label} on {res.head_name} with {coil_id}: {res.target_e_per_aus:.3g} V/m per "
                     f"A/µs, {100 * f['brain_fraction_above_half_target']:.1f} % of the brain above half the target E "
                     f"({res.timing['grid_poses_per_s']:.0f} poses/s)")
    notes = ["Objective: |E| at the target; positions within 25 % of the head radius of the target's scalp point, "
             "handle every 5°, then Nelder–Mead; numbers at the best pose from the forward model (FEM on mesh heads).",
             "Coverage: the share of the brain volume where |E| is at least half of |E| at the target; in rodents it "
             "shows whether a coil reaches the target alone or a whole hemisphere."]
    (out / "targeting.md").write_text("\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n")
    (out / "targeting.json").write_text(json_text(rows))
    write_report(out, title="efield demo: coil targeting")
    return rows


#: (coil, sphere head, mesh head) pairs compared in the demo
MESH_COMPARISONS = [("magstim_70mm_fig8", "human", "human-mesh"), ("magstim_25mm_fig8", "rat", "rat-mesh"), ("rodent_8mm_round", "rat", "rat-mesh"),
                    ("magstim_25mm_fig8", "mouse", "mouse-mesh"), ("rodent_8mm_round", "mouse", "mouse-mesh")]


def _demo_mesh_vs_sphere(out: Path, progress=None) -> None:
    """Peak cortical |E| per A/µs on the sphere heads vs the built-in layered mesh heads (FEM)."""
    from .dose.dosimetry import Setup, unit_field

    lines = ["| coil | sphere head | mesh head | 99.9th pct |E| sphere (V/m per A/µs) | 99.9th pct |E| mesh "
             "(V/m per A/µs) | mesh / sphere − 1 | raw peak sphere / mesh (V/m per A/µs) "
             "| half-peak depth sphere / mesh (mm) |", "|---|---|---|---|---|---|---|---|"]
    rows = []
    for coil, sphere, mesh in MESH_COMPARISONS:
        us, um = unit_field(Setup(head=sphere, coil=coil)), unit_field(Setup(head=mesh, coil=coil))
        ps, pm = us.p999 * A_PER_US, um.p999 * A_PER_US
        rows.append({"coil": coil, "sphere": sphere, "mesh": mesh, "p999_sphere_vm_per_aus": ps,
                     "p999_mesh_vm_per_aus": pm, "relative_difference": pm / ps - 1,
                     "peak_sphere_vm_per_aus": us.peak * A_PER_US, "peak_mesh_vm_per_aus": um.peak * A_PER_US,
                     "half_max_depth_sphere_mm": us.half_max_depth_m * 1e3,
                     "half_max_depth_mesh_mm": um.half_max_depth_m * 1e3})
        lines.append(f"| {coil} | {sphere} | {mesh} | {ps:.4g} | {pm:.4g} | {100 * (pm / ps - 1):+.1f} % | "
                     f"{us.peak * A_PER_US:.4g} / {um.peak * A_PER_US:.4g} | "
                     f"{us.half_max_depth_m * 1e3:.2f} / {um.half_max_depth_m * 1e3:.2f} |")
        _depth_plot(out, coil, sphere, mesh)
        if progress:
            progress(f"{coil}: 99.9th pct {sphere} sphere {ps:.3g} vs {mesh} {pm:.3g} V/m per A/µs "
                     f"({100 * (pm / ps - 1):+.1f} %)")
    lines += ["", "The headline figure is the area-weighted 99.9th percentile of |E| over the cortex (as SimNIBS "
              "reports it): on the voxel head the raw peak is one hot vertex at a tissue step. Sphere: analytic, cortex at the brain surface. Rodent meshes: layered ellipsoids (scalp, skull, "
              "CSF, brain) in a bregma frame, E reported on a surface just inside the brain, coil over bregma. "
              "Human mesh: the MNI152 voxel head (WM, GM, CSF, bone, scalp), E on the mid-cortical surface, "
              "coil over the vertex. Second-order FEM, handle along +y, coil resting on the scalp. Half-value depth "
              "(Deng et al. 2013): how deep below the cortex the brain still sees half the peak cortical |E|; "
              "depth_<coil>_<head>.png shows |E| along the inward normal under each head's hot spot (on the "
              "human voxel head it steps at the GM/CSF/WM conductivity jumps).", ""]
    (out / "mesh_vs_sphere.md").write_text("\n".join(lines))
    (out / "mesh_vs_sphere.json").write_text(json_text(rows))


def _depth_profile(coil_id: str, head_name: str, depth: float, n: int = 60):
    """|E| (V/m per A/µs) at ``n`` depths (mm) from 0 to ``depth`` (m) along the inward cortical normal under the
    hot spot of ``coil_id`` at the standard pose on ``head_name``; points outside the head are left out."""
    from coils import load_coil

    from .dose.dosimetry import head_by_name
    from .physics.fields import cortex_field, standard_pose, total_efield

    head, coil = head_by_name(head_name), load_coil(coil_id)
    placed = coil.placed(standard_pose(head, coil=coil))
    res = cortex_field(placed, head, A_PER_US, n_subdiv=4)
    k = int(np.argmax(res.magnitude))
    d = np.linspace(0.0, depth, n)
    pts = res.points[k] - d[:, None] * res.normals[k]
    if hasattr(head, "find_tets"):
        inside = head.find_tets(pts) >= 0
        d, pts = d[inside], pts[inside]
    return d * 1e3, np.linalg.norm(total_efield(placed, head, pts, A_PER_US), axis=1)


def _depth_plot(out: Path, coil: str, sphere: str, mesh: str) -> None:
    """|E| against depth under the hot spot on the sphere and the mesh head, on one axis."""
    from .dose.dosimetry import head_by_name
    from .views.plots import plot_depth_profiles

    depth = 0.6 * float(head_by_name(sphere).cortex_radius)  # deep enough to pass the half-value depth
    curves = [(f"{name} ({'sphere' if name == sphere else 'mesh, FEM'})", *_depth_profile(coil, name, depth))
              for name in (sphere, mesh)]
    plot_depth_profiles(curves, out / f"depth_{coil}_{sphere}.png",
                        title=f"|E| under the hot spot of {coil}: {sphere} sphere vs {mesh} (dI/dt 1 A/µs)",
                        ylabel="|E| (V/m per A/µs)")


def _demo_translation(out: Path, progress=None) -> None:
    """Translate the bundled table of published protocols to human-equivalent doses."""
    from .dose.batch import BUNDLED_PROTOCOLS, read_protocols, translate_rows, write_translation

    out.mkdir()
    fieldnames, rows = read_protocols(BUNDLED_PROTOCOLS)
    out_rows = translate_rows(rows, "human")
    write_translation(out, fieldnames, out_rows, "human")
    if progress:
        n_ok = sum(r["status"] == "translated" for r in out_rows)
        progress(f"published protocols -> human: {len(rows)} rows, {n_ok} of {len(out_rows)} output rows translated "
                 "(translation/translated.md)")
