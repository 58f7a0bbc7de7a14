"""Cohorts: a study plan of many heads × targets × coils × protocols, run in this process or on a Dask
cluster, resumable, every row accounted for.

:func:`run_cohort` runs a plan (:mod:`.plan` for its columns) and writes ``results.csv`` and the report
(:mod:`.runner`, :mod:`.results`); :func:`write_example_plan` writes a small example.
"""

from __future__ import annotations

from pathlib import Path

from .plan import JOBS, PLAN_COLUMNS, PlanError, read_plan
from .runner import CohortResult, run_cohort

__all__ = ["run_cohort", "read_plan", "CohortResult", "PlanError", "write_example_plan", "EXAMPLE_PLAN", "JOBS",
           "PLAN_COLUMNS"]

#: the example plan: rodent and sphere jobs, about a minute on a laptop
EXAMPLE_PLAN = """\
# efield study plan: one job per row (dose, target or model); see `efield cohort --help` for the columns
id,subject,job,head,coil,stimulator,intensity,targets,direction,goal_e_vm,rmt_mso,gap_mm,skip
human_rmt,s01,dose,human,magstim_70mm_fig8,Magstim Rapid,100;120%RMT,,,,,,
human_given_rmt,s02,dose,human,magstim_70mm_fig8,Magstim Rapid,120%RMT,,,,52,,
human_targets,s01,target,human,magstim_70mm_fig8,,,M1_hand_left; DLPFC_left,,100,,,
rat_sphere,r01,dose,rat,magstim_25mm_fig8,,50%MSO,,,,,,
mouse_sphere,m01,dose,mouse,,,50%MSO,,,,,,
rat_mesh_dose,r01,dose,rat-mesh,magstim_25mm_fig8,,50%MSO,,,,,,
rat_mesh_target,r01,target,rat-mesh,magstim_25mm_fig8,,,M1_forelimb_left,,100,,,
rat_mesh_gap,r02,dose,rat-mesh,magstim_25mm_fig8,,50%MSO,,,,,2,
left_out,r03,dose,rat,,,40%MSO,,,,,,yes
"""


def write_example_plan(path) -> Path:
    """Write :data:`EXAMPLE_PLAN` to ``path`` (refused if it exists); return the path."""
    from .._common.io import atomic_target

    path = Path(path)
    with atomic_target(path, force=False) as tmp:
        tmp.write_text(EXAMPLE_PLAN, encoding="utf-8")
    return path
