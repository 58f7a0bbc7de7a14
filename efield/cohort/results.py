"""The results table of a cohort (``results.csv``, ``results.md``) and its report page (``index.html``).

One row per plan row × result (a dose job gives a row per listed intensity, a target job a row per
target; a failed or skipped plan row gives one row with its reason), in plan order.  Columns: the
plan's own columns first (as given), then :data:`RESULT_COLUMNS`, of which every assumption a number
rests on is one (``head_model``, ``species``, ``coil``, ``stimulator``, ``didt_max_aus`` and where it
comes from, ``motor_threshold``, ``assumptions``); a plan column that a job resolves (an empty ``coil``
→ the species' default coil, a list of intensities → one per row) shows the value used.  Nothing that
depends on the run (times, workers, whether a job was reused from an earlier run) is in this table, so
a rerun, a parallel run and a serial run give the same file; that is in ``timing.csv``.
Numbers are written with 10 significant digits; each job's folder has them in full (JSON).
"""

from __future__ import annotations

import csv
import html
import io

__all__ = ["RESULT_COLUMNS", "results_csv", "results_markdown", "report_html", "timing_csv"]

RESULT_COLUMNS = (
    "row", "id", "job", "status", "reason", "key",
    "head_model", "species", "species_from", "coil", "stimulator",
    "target", "target_point_mm", "objective", "intensity", "didt_aus", "mso", "rmt_pct",
    "e_target_vm", "e_target_low_vm", "e_target_high_vm", "e_target_vm_per_aus", "e_target_normal_vm",
    "peak_vm", "p99_vm", "p999_vm", "half_max_depth_mm", "half_max_area_cm2",
    "pose_center_mm", "pose_handle", "pose_normal", "angle_to_convention_deg", "current_direction",
    "goal_e_vm", "mso_for_goal", "goal_reachable",
    "model_head_key", "model_modes", "model_points", "model_training_coils", "model_from_cache",
    "didt_max_aus", "didt_max_from", "motor_threshold", "gap_mm", "set_up", "outputs", "assumptions",
    "toolkit_version",
)


def _cell(v, digits: int = 10) -> str:
    from ..dose.batch import safe_cell

    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        v = safe_cell(v)
        return v if v == "" else format(v, f".{digits}g")
    return str(safe_cell(str(v)))


def results_csv(plan_columns: list[str], rows: list[dict]) -> str:
    """The results table as CSV text (plan columns, then :data:`RESULT_COLUMNS`)."""
    cols = list(plan_columns) + [c for c in RESULT_COLUMNS if c not in plan_columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


_SHOWN = ("row", "id", "job", "head_model", "coil", "target", "intensity", "status", "e_target_vm", "mso",
          "mso_for_goal", "p999_vm", "reason")


def results_markdown(rows: list[dict], limit: int = 500) -> str:
    """A Markdown table of the main columns of the first ``limit`` result rows."""
    lines = ["| " + " | ".join(_SHOWN) + " |", "|" + "---|" * len(_SHOWN)]
    for r in rows[:limit]:
        lines.append("| " + " | ".join(" ".join(_cell(r.get(c), 4).split()).replace("|", "/") for c in _SHOWN) + " |")
    if len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows in results.csv)")
    return "\n".join(lines) + "\n"


def timing_csv(outcomes: list[dict]) -> str:
    """Per job: where it ran and where its time went (seconds) — not part of the results."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "id", "key", "status", "reused", "worker_pid", "head_loaded", "head_s", "compute_s",
                "total_s"])
    for o in outcomes:
        s = o.get("seconds", {})
        w.writerow([o["row"], o.get("id", ""), o["key"], o["status"], _cell(o.get("reused", False)),
                    o.get("worker", {}).get("pid", ""), _cell(o.get("worker", {}).get("head_loaded")),
                    *(_cell(s.get(k)) for k in ("head", "compute", "total"))])
    return buf.getvalue()


def report_html(title: str, summary_md: str) -> str:
    """The report page from its Markdown (tables rendered; no scripts, opens offline)."""
    import markdown

    body = markdown.markdown(summary_md, extensions=["tables"])
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            "<style>body{font-family:sans-serif;margin:2em;max-width:90em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")
