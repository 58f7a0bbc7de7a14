"""Run a study plan, in this process or on a Dask cluster, resumably, accounting for every row.

Output folder (``out``)::

    results.csv    one row per plan row × result, status done / failed / skipped (see .results)
    results.md     the main columns as a Markdown table
    timing.csv     per job: worker, whether the head was loaded for it, seconds (head, compute, total)
    errors.txt     the error (and where it arose) of every failed row
    cohort.md      the summary: counts, cluster, memory per worker, assumptions; index.html shows it
    plan.csv|toml  the plan as given
    jobs/<key>/    each finished job's own files (dose.json; pose.json and neuronavigation files per
                   target; model.json) and outcome.json, its result rows

Every job has a content key (:class:`efield.cohort.plan.Job`): the hash of its inputs, of every input
file's content and of the toolkit version.  A job whose ``jobs/<key>/outcome.json`` exists finished
before and is not run again (``reused = yes`` in ``timing.csv``); a job's folder is written under a temporary name and
renamed when complete, so an interrupted job leaves nothing that looks finished.  The folder is locked
while a run uses it (a second run on it is refused at once), and only files this toolkit wrote there
are ever replaced (their digests are kept in ``.efield-cohort``).

Scheduling: ``client=None`` and ``workers=1`` runs every job here, one after another; otherwise on Dask
(a given ``distributed.Client``, a scheduler address, or a ``LocalCluster`` of ``workers`` processes,
one thread each, the machine's memory split between them).  Jobs are sent grouped by head, and each
worker keeps the heads it loaded (:mod:`efield.cohort.jobs`).  A worker that dies (killed, out of
memory) loses only its running job, which the scheduler gives to another worker (up to Dask's
``distributed.scheduler.allowed-failures`` times, default 3; then the row fails saying so).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._common.io import OutputError, OutputExistsError, atomic_target, check_output_path, folder_lock, json_text
from .jobs import run_job
from .plan import PlanRow, file_digest, plan_from_records, read_plan
from .results import report_html, results_csv, results_markdown, timing_csv

__all__ = ["run_cohort", "CohortResult", "COHORT_MARKER"]

#: the file that marks a folder as a cohort output of this toolkit (and lists the digests of its files)
COHORT_MARKER = ".efield-cohort"
_MARKER_HEAD = "efield cohort output; files below were written by efield (sha256), the rest is not ours"

_TOP_FILES = ("results.csv", "results.md", "timing.csv", "errors.txt", "cohort.md", "index.html")


@dataclass
class CohortResult:
    """What a cohort run did: result rows (dicts, the columns of ``results.csv``), counts per status,
    the output folder, the scheduler used and the wall time (s)."""

    rows: list[dict]
    counts: dict
    out: Path
    scheduler: str
    seconds: float
    outcomes: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (f"{c['plan_rows']} plan rows: {c['done']} done ({c['reused']} reused from an earlier run), "
                f"{c['failed']} failed, {c['skipped']} skipped; {len(self.rows)} result rows in "
                f"{self.out}/results.csv ({self.seconds:.1f} s, {self.scheduler})")


# -- the output folder ---------------------------------------------------------------------------------

def _read_marker(out: Path) -> dict[str, str]:
    lines = (out / COHORT_MARKER).read_text(encoding="utf-8", errors="replace").splitlines()
    entries = {}
    for ln in lines[1:]:
        name, _, digest = ln.partition("  ")
        if name and digest:
            entries[name] = digest
    return entries


def _check_out(out: Path) -> dict[str, str]:
    """Refuse an output folder this toolkit may not use; return the digests of its own files there."""
    check_output_path(out)
    if not out.exists() or not any(out.iterdir()):
        return {}
    if not (out / COHORT_MARKER).is_file():
        raise OutputExistsError(f"output folder '{out}' exists and is not an efield cohort folder (no {COHORT_MARKER}); "
                                "refusing to write into it — choose another --out")
    ours = _read_marker(out)
    for name in _TOP_FILES:
        p = out / name
        if p.exists() and (not p.is_file() or ours.get(name) != file_digest(p)):
            raise OutputExistsError(f"'{p}' was changed or put there by someone else since efield wrote this folder; "
                                    "refusing to replace it — move it away or choose another --out")
    return ours


def _write_top(out: Path, name: str, text: str, ours: dict) -> None:
    with atomic_target(out / name, force=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    ours[name] = file_digest(out / name)


def _write_marker(out: Path, ours: dict) -> None:
    with atomic_target(out / COHORT_MARKER, force=True) as tmp:
        tmp.write_text("\n".join([_MARKER_HEAD, *(f"{k}  {v}" for k, v in sorted(ours.items()))]) + "\n",
                       encoding="utf-8")


def _finished(out: Path, key: str) -> dict | None:
    """The outcome of a job finished by an earlier run, or None."""
    p = out / "jobs" / key / "outcome.json"
    if not p.is_file():
        return None
    try:
        o = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return o if o.get("key") == key and o.get("status") == "done" else None


def _save_job(out: Path, outcome: dict) -> None:
    """Write a finished job's files and outcome.json as one folder, renamed into place when complete."""
    jobs = out / "jobs"
    jobs.mkdir(exist_ok=True)
    final = jobs / outcome["key"]
    if final.exists():
        raise OutputExistsError(f"'{final}' exists but holds no finished job of this plan; move it away and rerun")
    tmp = Path(tempfile.mkdtemp(prefix=f".{outcome['key']}.", dir=jobs))
    try:
        for rel, data in outcome["files"].items():
            p = (tmp / rel).resolve()
            if tmp.resolve() not in p.parents:
                raise OutputError(f"job {outcome['key']} returned a file outside its folder: {rel!r}")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        record = {k: v for k, v in outcome.items() if k not in ("files", "traceback")}
        record["files"] = sorted(outcome["files"])
        (tmp / "outcome.json").write_text(json_text(record), encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# -- scheduling ----------------------------------------------------------------------------------------

def _total_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@contextlib.contextmanager
def _scheduler(client, workers: int | None, scheduler: str | None):
    """Yield (client or None, description, memory limit per worker in bytes or None)."""
    if client is not None:
        yield client, f"Dask client {client.scheduler.address}", None
        return
    if scheduler:
        from distributed import Client

        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise OutputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        try:
            yield c, f"Dask scheduler {scheduler}", None
        finally:
            c.close()
        return
    n = workers if workers is not None else max(1, os.cpu_count() or 1)
    if n == 1:
        yield None, "in-process (1 worker)", None
        return
    from distributed import Client, LocalCluster

    cores = os.cpu_count() or 1
    limit = _total_memory() // n
    threads = max(1, cores // n)
    env = {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=limit,
                           dashboard_address=None, env=env, silence_logs=40)
    c = Client(cluster)
    try:
        yield c, f"Dask LocalCluster, {n} workers × 1 thread ({threads} numba threads each)", limit
    finally:
        c.close()
        cluster.close()


def _check_workers(client) -> None:
    """All workers must run this toolkit's version (a job's key includes it)."""
    from .. import __version__

    def version():
        import efield

        return efield.__version__

    got = client.run(version)
    bad = {w: v for w, v in got.items() if v != __version__}
    if bad:
        raise OutputError(f"Dask workers run other efield versions than this one ({__version__}): "
                          + ", ".join(f"{w}: {v}" for w, v in bad.items()) + "; install the same version on every worker")
    if not got:
        raise OutputError("the Dask cluster has no workers; start some (dask worker ADDRESS) or use --workers N")


def _run_here(jobs, on_done):
    for job in jobs:
        on_done(job, run_job(job))


def _run_dask(client, jobs, on_done):
    from distributed import as_completed

    futures = {}
    for job in jobs:
        fut = client.submit(run_job, job, key=f"efield-job-{job.key}", pure=False, retries=0)
        futures[fut] = job
    try:
        for fut in as_completed(list(futures)):
            job = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # the scheduler gave up on it (worker died too often) or it was lost
                outcome = {"key": job.key, "row": job.row, "status": "failed", "rows": [], "files": {},
                           "error": _lost_text(exc), "seconds": {}, "worker": {}}
            on_done(job, outcome)
    finally:
        for fut in futures:
            fut.cancel()


def _lost_text(exc) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("the worker running this job died each time it was tried (killed, or over its memory limit); "
                f"Dask gave up: {exc}")
    return f"{name}: {' '.join(str(exc).split())}"


# -- the run -------------------------------------------------------------------------------------------

def _plan_rows(plan) -> tuple[list[PlanRow], list[str], Path | None]:
    if isinstance(plan, (str, os.PathLike)):
        path = Path(plan)
        rows = read_plan(path)
        return rows, _plan_columns(rows), path
    if isinstance(plan, list) and plan and isinstance(plan[0], PlanRow):
        return plan, _plan_columns(plan), None
    if isinstance(plan, list):
        rows = plan_from_records(plan)
        return rows, _plan_columns(rows), None
    raise TypeError(f"plan must be a plan file path, a list of row dicts or read_plan's rows; got {type(plan).__name__}")


def _plan_columns(rows: list[PlanRow]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r.cells))
    return list(cols)


def _result_rows(prow: PlanRow, outcome: dict | None, version: str) -> list[dict]:
    base = {**prow.cells, "row": prow.row, "id": prow.cells.get("id", "") or f"row{prow.row}",
            "job": prow.cells.get("job", ""), "toolkit_version": version}
    if prow.job is None:
        return [{**base, "status": prow.status, "reason": prow.reason}]
    base["key"] = prow.job.key
    if outcome is None:
        return [{**base, "status": "failed", "reason": "interrupted before this job finished; rerun to resume"}]
    if outcome["status"] != "done":
        return [{**base, "status": "failed", "reason": outcome.get("error", "")}]
    return [{**base, **r, "status": "done", "reason": ""} for r in outcome["rows"]]


def run_cohort(plan, out="efield-cohort", *, client=None, workers: int | None = None,
               scheduler: str | None = None) -> CohortResult:
    """Run a study plan and write ``out`` (see the module docstring); return a :class:`CohortResult`.

    Parameters
    ----------
    plan : path of a ``.csv``/``.toml`` plan, a list of row dicts (column → text), or :func:`read_plan`'s rows
    out : path — the output folder (new, empty, or an earlier cohort folder to resume)
    client : ``distributed.Client``, optional — run on this Dask cluster
    workers : int, optional — processes of a local Dask cluster (default: the machine's cores; 1 runs here)
    scheduler : str, optional — address of a running Dask scheduler to join (e.g. ``tcp://host:8786``)

    Every plan row and output check runs before any job; a bad row is reported failed and the rest run.
    """
    from .. import __version__
    from .._common import progress

    t0 = time.perf_counter()
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1; got {workers!r}")
    out = Path(out)
    ours = _check_out(out)
    with progress.task("cohort: checking the plan"):
        prows, plan_cols, plan_path = _plan_rows(plan)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder '{out}': {exc.strerror or exc}") from None
    with folder_lock(out):
        ours = _check_out(out)
        _write_marker(out, ours)
        if plan_path is not None:
            name = "plan" + plan_path.suffix.lower()
            if (out / name).exists() and ours.get(name) != file_digest(out / name):
                raise OutputExistsError(f"'{out / name}' was not written by efield; move it away or choose another --out")
            _write_top(out, name, plan_path.read_text(encoding="utf-8-sig"), ours)
        outcomes: dict[int, dict] = {}
        todo = []
        for r in prows:
            if r.job is None:
                continue
            done = _finished(out, r.job.key)
            if done is not None:
                outcomes[r.row] = {**done, "reused": True, "id": r.job.id}
            else:
                todo.append(r.job)
        todo.sort(key=lambda j: (j.head, j.row))  # grouped by head: each worker loads a head once
        desc, limit = "nothing to run", None
        with progress.task(f"cohort: {len(todo)} jobs ({len(outcomes)} finished earlier)", total=len(todo)) as task:
            def on_done(job, outcome):
                outcome["id"] = job.id
                if outcome["status"] == "done":
                    _save_job(out, outcome)
                outcomes[job.row] = outcome
                task.advance()

            interrupted = None
            if todo:
                try:
                    with _scheduler(client, workers, scheduler) as (c, desc, limit):
                        if c is None:
                            _run_here(todo, on_done)
                        else:
                            _check_workers(c)
                            _run_dask(c, todo, on_done)
                except KeyboardInterrupt as exc:
                    interrupted = exc
        rows = [x for r in prows for x in _result_rows(r, outcomes.get(r.row), __version__)]
        counts = {"plan_rows": len(prows),
                  "done": sum(1 for r in prows if r.job is not None and outcomes.get(r.row, {}).get("status") == "done"),
                  "reused": sum(1 for o in outcomes.values() if o.get("reused")),
                  "skipped": sum(1 for r in prows if r.status == "skipped")}
        counts["failed"] = counts["plan_rows"] - counts["done"] - counts["skipped"]
        seconds = time.perf_counter() - t0
        ordered = [outcomes[r.row] for r in prows if r.row in outcomes]
        _write_top(out, "results.csv", results_csv(plan_cols, rows), ours)
        _write_top(out, "results.md", results_markdown(rows), ours)
        _write_top(out, "timing.csv", timing_csv(ordered), ours)
        _write_top(out, "errors.txt", _errors_text(prows, outcomes), ours)
        md = _summary_md(prows, rows, counts, desc, limit, seconds, ordered)
        _write_top(out, "cohort.md", md, ours)
        _write_top(out, "index.html", report_html("efield cohort", md), ours)
        _write_marker(out, ours)
    if interrupted is not None:
        raise interrupted
    return CohortResult(rows=rows, counts=counts, out=out, scheduler=desc, seconds=seconds, outcomes=ordered)


def _errors_text(prows, outcomes) -> str:
    lines = []
    for r in prows:
        o = outcomes.get(r.row)
        if r.status == "failed":
            lines.append(f"row {r.row} ({r.cells.get('id', '') or 'row' + str(r.row)}): plan check: {r.reason}")
        elif r.job is not None and o is not None and o["status"] != "done":
            lines.append(f"row {r.row} ({r.job.id}): {o.get('error', '')}")
            if o.get("traceback"):
                lines += ["    " + ln for ln in o["traceback"].rstrip().splitlines()]
        elif r.job is not None and o is None:
            lines.append(f"row {r.row} ({r.job.id}): interrupted before it finished")
    return ("\n".join(lines) + "\n") if lines else "no errors\n"


def _summary_md(prows, rows, counts, desc, limit, seconds, outcomes) -> str:
    from .. import __version__

    loads = sum(1 for o in outcomes if not o.get("reused") and o.get("worker", {}).get("head_loaded"))
    ran = [o for o in outcomes if not o.get("reused") and o.get("seconds")]
    busy = sum(o["seconds"].get("total", 0.0) for o in ran)
    assumptions = dict.fromkeys(a.strip() for r in rows for a in str(r.get("assumptions", "")).split("; ") if a.strip())
    lines = [
        "# efield cohort", "",
        f"- plan rows: {counts['plan_rows']}; done {counts['done']} ({counts['reused']} reused from an earlier run), "
        f"failed {counts['failed']}, skipped {counts['skipped']}; result rows: {len(rows)}",
        f"- run on: {desc}" + (f"; memory limit per worker {limit / 2**30:.1f} GiB (a worker above it is restarted and "
                                 "its job retried)" if limit else ""),
        f"- wall time {seconds:.1f} s; job time {busy:.1f} s over {len(ran)} jobs run now; heads loaded {loads} times",
        f"- toolkit version {__version__}; a job is redone only if its inputs, an input file or the version change",
        "", "Files: `results.csv` (every row, every assumption as columns), `timing.csv`, `errors.txt`, `jobs/<key>/` "
        "(each job's own outputs).", "", "## Results", "", results_markdown(rows, limit=200),
        "## Assumptions the numbers rest on", "",
    ]
    lines += [f"- {a}" for a in list(assumptions)[:200]] or ["- none recorded"]
    return "\n".join(lines) + "\n"
