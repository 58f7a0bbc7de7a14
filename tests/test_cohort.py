"""Cohorts (efield.cohort): plans checked row by row, serial = Dask, resume, a killed worker's job retried."""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from efield.cli import main
from efield.cohort import PlanError, read_plan, run_cohort, write_example_plan
from efield.cohort.plan import plan_from_records

#: small jobs: sphere heads (analytic) and the rat mesh (FEM); the target job runs long enough to be killed
PLAN = """\
id,job,head,coil,intensity,targets,goal_e_vm,gap_mm,rmt_mso,note
h_dose,dose,human,magstim_70mm_fig8,100;120%RMT,,,,,kept as is
h_rmt,dose,human,magstim_70mm_fig8,110%RMT,,,,55,
rat_s,dose,rat,magstim_25mm_fig8,50%MSO,,,,,
mouse_s,dose,mouse,,40%MSO,,,,,default coil
rat_m,dose,rat-mesh,magstim_25mm_fig8,50%MSO,,,,,
rat_m_gap,dose,rat-mesh,magstim_25mm_fig8,50%MSO,,,2,,
rat_t,target,rat-mesh,magstim_25mm_fig8,,M1_forelimb_left,100,,,
bad_coil,dose,rat,no_such_coil,50%MSO,,,,,
bad_int,dose,rat,,50 furlongs,,,,,
"""


def _write_plan(folder: Path, text: str = PLAN) -> Path:
    p = folder / "plan.csv"
    p.write_text(text, encoding="utf-8")
    return p


def _table(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort_serial")
    plan = _write_plan(folder)
    result = run_cohort(plan, folder / "out", workers=1)
    return plan, folder / "out", result


def test_plan_rows_are_checked_before_anything_runs(tmp_path):
    rows = read_plan(_write_plan(tmp_path))
    assert [r.status for r in rows] == [""] * 7 + ["failed", "failed"]
    assert "no_such_coil" in rows[7].reason and "magstim_25mm_fig8" in rows[7].reason  # names the known ids
    assert "furlongs" in rows[8].reason
    assert rows[0].extra == {"note": "kept as is"}
    # content keys: same inputs, same key; another gap, another key
    assert rows[4].job.key != rows[5].job.key
    again = read_plan(_write_plan(tmp_path))
    assert [r.job.key for r in again[:7]] == [r.job.key for r in rows[:7]]

    recs = [{"job": "dose", "head": "rat", "intensity": "50%MSO"}, {"job": "dose", "head": "rat", "intensity": "50%MSO"},
            {"job": "model", "head": "rat"}, {"job": "dose", "head": "rat", "intensity": "50%MSO", "targets": "x"},
            {"job": "fly", "head": "rat"}, {"job": "dose", "head": "ratt", "intensity": "50%MSO"},
            {"job": "target", "head": "rat", "targets": "M1_hand_left"},
            {"job": "target", "head": "rat", "targets": "bregma:1,2"},
            {"job": "dose", "head": "rat", "intensity": "50%MSO", "gap_mm": "3000"},
            {"job": "dose", "head": "rat", "intensity": "50%MSO", "skip": "yes"},
            {"job": "dose", "head": "missing/head.msh", "intensity": "50%MSO"}]
    got = plan_from_records(recs, base=tmp_path)
    assert got[0].status == "" and got[0].job is not None
    assert got[1].status == "skipped" and "row 1" in got[1].reason
    assert got[2].status == "failed" and "sphere head" in got[2].reason
    assert got[3].status == "failed" and "does not use" in got[3].reason and "targets" in got[3].reason
    assert got[4].status == "failed" and "dose, target, model" in got[4].reason
    assert got[5].status == "failed" and "rat" in got[5].reason  # did you mean
    assert got[6].status == "failed" and "M1_forelimb_left" in got[6].reason
    assert got[7].status == "failed" and "three numbers" in got[7].reason
    assert got[8].status == "failed" and "gap_mm" in got[8].reason and "mm" in got[8].reason
    assert got[9].status == "skipped" and "skip" in got[9].reason
    assert got[10].status == "failed" and "does not exist" in got[10].reason


def test_unreadable_plans_are_refused_naming_the_file(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        read_plan(tmp_path / "nope.csv")
    bad = tmp_path / "plan.csv"
    bad.write_text("id,head\nx,rat\n")
    with pytest.raises(PlanError, match="'job'"):
        read_plan(bad)
    bad.write_text("job,head,status\ndose,rat,x\n")
    with pytest.raises(PlanError, match="status"):
        read_plan(bad)
    toml = tmp_path / "plan.toml"
    toml.write_text("[defaults]\nhead = 'rat'\nintensity = '50%MSO'\n[[job]]\njob = 'dose'\n[[job]]\njob = 'dose'\ngap_mm = 1\n")
    rows = read_plan(toml)
    assert [r.status for r in rows] == ["", ""] and rows[1].job.params["gap"] == pytest.approx(1e-3)
    toml.write_text("[[job]\n")
    with pytest.raises(PlanError, match="not valid TOML"):
        read_plan(toml)
    (tmp_path / "plan.xlsx").write_text("x")
    with pytest.raises(PlanError, match=r"\.csv or \.toml"):
        read_plan(tmp_path / "plan.xlsx")


def test_serial_run_accounts_for_every_row(serial):
    plan, out, result = serial
    rows = _table(out / "results.csv")
    ids = [r["id"] for r in rows]
    assert ids == ["h_dose", "h_dose", "h_rmt", "rat_s", "mouse_s", "rat_m", "rat_m_gap", "rat_t", "bad_coil", "bad_int"]
    assert [r["status"] for r in rows] == ["done"] * 8 + ["failed"] * 2
    assert result.counts == {"plan_rows": 9, "done": 7, "reused": 0, "skipped": 0, "failed": 2}
    by = {(r["id"], r["intensity"]): r for r in rows}
    lo, hi = float(by[("h_dose", "100 %RMT")]["e_target_vm"]), float(by[("h_dose", "120 %RMT")]["e_target_vm"])
    assert hi == pytest.approx(1.2 * lo, rel=1e-9)  # linear in the intensity
    # every assumption the numbers rest on is a column
    for r in rows[:8]:
        assert r["head_model"] and r["coil"] and r["assumptions"] and r["toolkit_version"]
    assert by[("h_rmt", "110 %RMT")]["motor_threshold"].startswith("RMT 55 % MSO")
    assert rows[0]["note"] == "kept as is" and by[("mouse_s", "40 %MSO")]["coil"] == "magstim_25mm_fig8"
    # a larger gap lowers the rat-mesh field; the target job wrote its pose files
    assert float(by[("rat_m_gap", "50 %MSO")]["e_target_vm"]) < float(by[("rat_m", "50 %MSO")]["e_target_vm"])
    t = next(r for r in rows if r["id"] == "rat_t")
    assert t["target"] == "M1_forelimb_left" and 0 < float(t["mso_for_goal"]) < 1000
    job = out / "jobs" / t["key"]
    assert (job / "outcome.json").is_file() and (job / "target1" / "pose.json").is_file()
    assert (job / "target1" / "pose_brainsight.txt").is_file()
    assert "no_such_coil" in (out / "errors.txt").read_text()
    assert (out / "index.html").is_file() and (out / "plan.csv").read_text() == plan.read_text()
    # the rat mesh was loaded once for its three jobs (one worker: this process)
    timing = _table(out / "timing.csv")
    assert sum(r["head_loaded"] == "yes" for r in timing if r["id"] in ("rat_m", "rat_m_gap", "rat_t")) == 1


def test_rerun_redoes_nothing_finished_and_gives_the_same_table(serial, tmp_path):
    plan, out, _ = serial
    before = (out / "results.csv").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "jobs").rglob("*")}
    again = run_cohort(plan, out, workers=1)
    assert again.counts["reused"] == 7 and again.counts["done"] == 7
    assert (out / "results.csv").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "jobs").rglob("*")} == mtimes
    assert all(r["reused"] == "yes" for r in _table(out / "timing.csv"))


def test_interrupted_job_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    from efield.cohort import runner

    plan = _write_plan(tmp_path, PLAN.split("rat_m,")[0])  # sphere jobs only
    calls = {"n": 0}
    real = runner.run_job

    def flaky(job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(runner, "run_job", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_cohort(plan, tmp_path / "out", workers=1)
    rows = _table(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows].count("done") >= 2
    assert any("interrupted" in r["reason"] for r in rows)
    finished = [d for d in (tmp_path / "out" / "jobs").iterdir()]
    assert all(not d.name.startswith(".") for d in finished) and len(finished) == 2  # no staging left behind
    monkeypatch.setattr(runner, "run_job", real)
    again = run_cohort(plan, tmp_path / "out", workers=1)
    assert again.counts["reused"] == 2 and again.counts["done"] == 4


def test_output_folder_rules(tmp_path):
    from efield._common.io import OutputExistsError, folder_lock

    plan = _write_plan(tmp_path, "job,head,intensity\ndose,rat,50%MSO\n")
    other = tmp_path / "theirs"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not an efield cohort folder"):
        run_cohort(plan, other, workers=1)
    out = tmp_path / "out"
    run_cohort(plan, out, workers=1)
    (out / "results.csv").write_text("edited by hand")
    with pytest.raises(OutputExistsError, match="changed or put there"):
        run_cohort(plan, out, workers=1)
    (out / "results.csv").unlink()
    with folder_lock(out), pytest.raises(OutputExistsError, match="another efield run"):
        run_cohort(plan, out, workers=1)


def test_cli_example_and_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["cohort", "--example", "plan.csv"])
    assert r.exit_code == 0, r.output
    rows = read_plan(tmp_path / "plan.csv")
    assert len(rows) >= 6 and {r.job.kind for r in rows if r.job} >= {"dose", "target"}
    assert any(r.status == "skipped" for r in rows)
    r = CliRunner().invoke(main, ["cohort", "--example", "plan.csv"])
    assert r.exit_code != 0 and "exists" in r.output
    small = tmp_path / "small.csv"
    small.write_text("id,job,head,intensity\na,dose,rat,50%MSO\nb,dose,rat,500%MSO\n")
    r = CliRunner().invoke(main, ["cohort", str(small), "--out", "res", "--workers", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert "1 done" in r.output and "1 failed" in r.output
    r = CliRunner().invoke(main, ["cohort", "missing.csv", "--out", "res2"])
    assert r.exit_code != 0 and "missing.csv" in r.output and "Traceback" not in r.output


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}, silence_logs=40)
    client = distributed.Client(lc)
    yield client
    client.close()
    lc.close()


def test_two_workers_give_the_serial_table(serial, cluster, tmp_path):
    plan, out, _ = serial
    res = run_cohort(plan, tmp_path / "par", client=cluster)
    assert (tmp_path / "par" / "results.csv").read_text() == (out / "results.csv").read_text()
    timing = _table(tmp_path / "par" / "timing.csv")
    assert len({r["worker_pid"] for r in timing if r["worker_pid"]}) == 2  # both workers ran jobs
    loads = sum(r["head_loaded"] == "yes" for r in timing)
    assert loads <= 2 * 4  # at most once per worker per head (4 heads), not once per job
    assert res.counts["done"] == 7


def test_a_killed_workers_job_is_retried(serial, cluster, tmp_path):
    plan, out, _ = serial
    target_key = next(r["key"] for r in _table(out / "results.csv") if r["id"] == "rat_t")
    box = {}

    def go():
        try:
            box["result"] = run_cohort(plan, tmp_path / "killed", client=cluster)
        except BaseException as exc:  # pragma: no cover - reported below
            box["error"] = exc

    th = threading.Thread(target=go)
    th.start()
    killed = None
    deadline = time.time() + 240
    while time.time() < deadline and killed is None and th.is_alive():
        for addr, keys in cluster.processing().items():
            if any(str(k) == f"efield-job-{target_key}" for k in keys):
                pid = cluster.run(os.getpid, workers=[addr])[addr]
                time.sleep(1.0)  # let it get into the job
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.05)
    th.join(timeout=600)
    assert killed is not None, "the target job was never seen running"
    assert "error" not in box, box.get("error")
    assert box["result"].counts["done"] == 7
    assert (tmp_path / "killed" / "results.csv").read_text() == (out / "results.csv").read_text()
    timing = {r["key"]: r for r in _table(tmp_path / "killed" / "timing.csv")}
    assert timing[target_key]["status"] == "done" and int(timing[target_key]["worker_pid"]) != killed


def test_example_plan_is_valid(tmp_path):
    path = write_example_plan(tmp_path / "p.csv")
    rows = read_plan(path)
    assert all(r.status in ("", "skipped") for r in rows), [(r.row, r.reason) for r in rows if r.status == "failed"]


_CELLS = ["dose", "target", "model", "rat", "human", "rat-mesh", "50%MSO", "120%RMT", "1e9", "-3", "", "nan",
          "M1_forelimb_left", "bregma:1,2,3", "magstim_25mm_fig8", "yes", "=cmd()", "a;b", "Magstim Rapid", "0"]


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_plans_account_for_every_row(tmp_path, seed):
    """Random plans: read_plan either refuses the file (PlanError) or returns one row per data row,
    each runnable or failed/skipped with a reason; never another exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cols = ["job", "head", "coil", "intensity", "targets", "gap_mm", "skip", "goal_e_vm"]

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.lists(st.sampled_from(_CELLS), min_size=len(cols), max_size=len(cols)), min_size=1,
                    max_size=6), st.integers(0, 2))
    def check(rows, drop):
        header = cols[drop:] if seed else cols
        text = ",".join(header) + "\n" + "\n".join(",".join(f'"{c}"' for c in r[:len(header)]) for r in rows) + "\n"
        path = tmp_path / "plan.csv"
        path.write_text(text)
        try:
            got = read_plan(path)
        except PlanError as exc:
            assert "plan" in str(exc)
            return
        assert len(got) == len(rows)
        for r in got:
            assert (r.job is not None and r.status == "") or (r.job is None and r.status in ("failed", "skipped")
                                                                and r.reason)

    check()
