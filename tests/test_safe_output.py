"""Outputs: atomic, never replacing what efield did not write, one run per folder, clean on signals."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from efield._common.io import MARKER, OutputError, OutputExistsError, json_text, staged_directory


def _write(out, name="a.txt", text="x"):
    with staged_directory(out, force=True) as tmp:
        (tmp / name).write_text(text)


def test_second_run_on_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    out = tmp_path / "res"
    with staged_directory(out) as tmp:
        (tmp / "first.txt").write_text("1")
        with pytest.raises(OutputExistsError, match=r"another efield run is writing .*res"):
            with staged_directory(out, force=True):
                pass
    assert (out / "first.txt").read_text() == "1"
    assert not (tmp_path / ".res.lock").exists()


def test_force_replaces_only_an_untouched_earlier_output(tmp_path):
    out = tmp_path / "res"
    _write(out, text="old")
    _write(out, text="new")
    assert (out / "a.txt").read_text() == "new"
    assert "a.txt" in (out / MARKER).read_text()
    (out / "my_notes.txt").write_text("the user's own file")
    with pytest.raises(OutputExistsError, match=r"holds files efield did not write \(my_notes.txt\)"):
        _write(out, text="newer")
    assert (out / "my_notes.txt").read_text() == "the user's own file" and (out / "a.txt").read_text() == "new"


def test_a_folder_efield_did_not_write_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "data.csv").write_text("1")
    with pytest.raises(OutputExistsError, match="was not written by efield"):
        _write(out)
    with pytest.raises(OutputExistsError, match="exists; pass --force"):
        with staged_directory(out):
            pass


def test_symlink_cwd_and_root_are_refused(tmp_path, monkeypatch):
    real = tmp_path / "real"
    _write(real)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputError, match=r"'.*link' is a symbolic link"):
        _write(link)
    monkeypatch.chdir(real)
    for out in (".", "..", "/"):
        with pytest.raises(OutputError, match="current folder, one of its parents or the file-system root"):
            _write(out)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="is a file"):
        _write(tmp_path / "file.txt")


def test_error_inside_the_run_leaves_the_old_output_and_no_staging(tmp_path):
    out = tmp_path / "res"
    _write(out, text="old")
    with pytest.raises(RuntimeError):
        with staged_directory(out, force=True) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def _run_and_signal(tmp_path, sig):
    script = textwrap.dedent(f"""
        import time
        from efield.cli import _exit_cleanly_on_sigterm
        from efield._common.io import staged_directory
        _exit_cleanly_on_sigterm()
        with staged_directory({str(tmp_path / 'res')!r}) as tmp:
            (tmp / "part.txt").write_text("x")
            print("ready", flush=True)
            time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        return proc.wait(timeout=30)


def test_sigterm_leaves_no_staging_folder_and_no_lock(tmp_path):
    rc = _run_and_signal(tmp_path, signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_staging_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    rc = _run_and_signal(tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert any(p.name.startswith(".res.") and p.is_dir() for p in tmp_path.iterdir())  # SIGKILL cannot be caught
    _write(tmp_path / "res")  # the kernel released the dead run's lock
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_unwritable_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=r"cannot write .*ro"):
            _write(ro / "res")
    finally:
        ro.chmod(0o755)


def test_json_text_has_no_nan_tokens():
    text = json_text({"a": math.nan, "b": [1.0, math.inf, np.float64("nan")], "c": np.array([1.0, np.nan])})
    assert json.loads(text) == {"a": None, "b": [1.0, None, None], "c": [1.0, None]}
    assert "NaN" not in text and "Infinity" not in text


def test_cli_refuses_a_second_concurrent_run_on_one_folder(tmp_path):
    # two processes race for one --out: exactly one succeeds, the other is refused without a traceback
    cmd = [sys.executable, "-m", "efield.cli", "field", "--coil", "magstim_70mm_fig8", "--head", "human",
           "--didt", "100A/us", "--format", "npz", "--out", str(tmp_path / "res")]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] != 0, outs
    loser = outs[[p.returncode for p in procs].index(codes[1])][1]
    assert "Traceback" not in loser and ("another efield run" in loser or "exists" in loser), loser
