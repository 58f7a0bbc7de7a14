"""``efield view``: the live coil-placement page.

Without a browser: slider values -> pose (on the scalp) -> numbers; saving writes pose.json and the
neuronavigation files, read back to the same pose; the update rate of the non-browser path (printed,
not asserted: timings belong in scripts/bench.py).  With headless Chromium (skipped when absent),
driven through the DevTools protocol: the page loads, a slider moves, the E text and the picture change.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

COIL = "magstim_25mm_fig8"
DIDT_MAX = 114.73e6  # A/s, a Magstim Rapid at 100 % MSO (the value does not matter here)
GOAL = 50.0  # V/m


@pytest.fixture(scope="module")
def head():
    from meshes import builtin_head

    return builtin_head("rat")


MODEL_SETTINGS = {"n_modes": 20, "n_train": 40, "n_fit": 600}  # small and quick; not for accuracy


@pytest.fixture(scope="module")
def model(head):
    """A small real cortical field model of the rat (about 10 s to build)."""
    from efield.physics.cortex_model import CortexFieldModel

    start = time.perf_counter()
    m = CortexFieldModel.build(head, **MODEL_SETTINGS)
    print(f"\nrat cortical field model, {m.n_modes} modes: built in {time.perf_counter() - start:.1f} s")
    return m


@pytest.fixture(scope="module")
def coil():
    import coils

    return coils.load_coil(COIL)


@pytest.fixture(scope="module")
def target(head):
    from efield.targeting.targets import resolve_target

    return resolve_target(head, "M1_forelimb_left", direction="magnitude")


@pytest.fixture(scope="module")
def session(head, coil, model, target):
    from efield.views.live import LiveSession

    return LiveSession(head, coil, model, didt_max=DIDT_MAX, target_point=target.point, target_label=target.label,
                       goal_e=GOAL, assumptions={"head": "rat-mesh (test)", "coil": COIL})


# ----------------------------------------------------------------------------- no browser
def test_update_moves_the_coil_and_changes_the_field(session):
    a = session.update(None)
    b = session.update({"azimuth_deg": a["values"]["azimuth_deg"] + 40, "handle_deg": 60.0})
    assert np.abs(a["pose"] - b["pose"]).max() > 1e-3
    assert a["target_e"] > 0 and b["target_e"] > 0
    assert abs(a["target_e"] - b["target_e"]) > 1e-3 * a["target_e"]
    assert a["mso_for_goal"] == pytest.approx(100.0 * GOAL / a["target_e"])
    for n in (a, b):
        assert n["peak_vm"] >= n["p999_vm"] > 0
        assert 0 < n["half_max_area_cm2"] < session.areas.sum() * 1e4


def test_every_pose_is_on_or_outside_the_scalp(session, head, coil):
    from efield.physics.placement import scalp_gap
    from efield.views.live import SLIDERS

    rng = np.random.default_rng(1)
    cases = [{}, {"elevation_deg": 90.0}, {"elevation_deg": -30.0, "azimuth_deg": 180.0},
             {"tilt_deg": 30.0, "handle_deg": 90.0}, {"tilt_deg": -30.0, "gap_mm": 20.0}, {"gap_mm": 5.0}]
    cases += [{k: rng.uniform(s[2], s[3]) for k, s in SLIDERS.items()} for _ in range(10)]
    for values in cases:
        pose = session.pose(values)
        assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-9)
        gap = scalp_gap(pose, head, coil)
        assert gap >= -1e-6, f"coil {gap * 1e3:.2f} mm inside the scalp at {values}"
        if values.get("gap_mm") and not values.get("tilt_deg"):  # a tilted coil rests on its low edge
            assert gap >= 0.95 * values["gap_mm"] * 1e-3  # the smoothed normal is not quite the local one
    # the coil normal follows the tilt: the angle between untilted and tilted normals is the tilt
    flat, tilted = session.pose({"tilt_deg": 0.0}), session.pose({"tilt_deg": 20.0})
    assert np.degrees(np.arccos(np.clip(flat[:3, 2] @ tilted[:3, 2], -1, 1))) == pytest.approx(20.0, abs=0.5)


def test_save_writes_pose_files_that_read_back(session, head, coil, target, tmp_path):
    from efield.cli._view import saver
    from efield.targeting.navigation import NAV_FILES, read_pose_file

    out = tmp_path / "saved"
    numbers = session.update({"azimuth_deg": 10.0, "handle_deg": 30.0, "tilt_deg": 5.0, "gap_mm": 1.0})
    on_save = saver(out, coil=coil, head=head, head_text="rat-mesh", frame=head.frame, didt=DIDT_MAX,
                    stimulator="Magstim Rapid (test)", target=target, assumptions={"test": "yes"})
    names = on_save(numbers["pose"], numbers)
    assert set(names) == {"pose.json", *NAV_FILES.values()} and len(NAV_FILES) == 3
    for name in names:
        pf = read_pose_file(out / name)
        assert np.abs(pf.pose[:3, 3] - numbers["pose"][:3, 3]).max() < 1e-6, name
        assert np.abs(pf.pose[:3, :3] - numbers["pose"][:3, :3]).max() < 1e-5, name
    record = json.loads((out / "pose.json").read_text(encoding="utf-8"))
    assert record["coil"] == COIL and record["target_e"] == pytest.approx(numbers["target_e"])
    assert record["mso_for_goal"] == pytest.approx(numbers["mso_for_goal"])
    # a second save replaces the first (the folder is efield's own output)
    numbers2 = session.update({"azimuth_deg": -20.0})
    on_save(numbers2["pose"], numbers2)
    assert np.allclose(read_pose_file(out / "pose.json").pose, numbers2["pose"], atol=1e-9)


def test_update_rate(session):
    from efield.views.live import LiveScene, update_rate

    bare = update_rate(session, n=20)
    scene = LiveScene(session)
    try:
        scene.render()
        drawn = update_rate(session, scene, n=20)
    finally:
        scene.close()
    print(f"\nlive view update rate (rat, {session.model.n_modes} modes, {len(session.points)} points, {COIL}): "
          f"numbers only {bare['updates_per_s']:.1f}/s (pose {bare['pose_ms']:.1f} ms, model.field "
          f"{bare['field_ms']:.1f} ms, metrics {bare['metrics_ms']:.2f} ms); with the scene update and an "
          f"800x600 render {drawn['updates_per_s']:.1f}/s (render {drawn['render_ms']:.1f} ms)")
    assert bare["updates_per_s"] > 0 and drawn["render_ms"] > 0


# ----------------------------------------------------------------------------- command line
def test_cli_help():
    from efield.cli import main

    res = CliRunner().invoke(main, ["view", "--help"])
    assert res.exit_code == 0, res.output
    for word in ("--head", "--coil", "--stimulator", "--target", "--goal", "--port", "--out", "--no-browser"):
        assert word in res.output


@pytest.mark.parametrize("args, option", [(["--coil", "no_such_coil"], "--coil"),
                                          (["--head", "no_such_head"], "--head"),
                                          (["--head", "dish"], "--head"),
                                          (["--target", "nowhere"], "--target")])
def test_cli_refuses_bad_options_cleanly(args, option, tmp_path):
    from efield.cli import main

    res = CliRunner().invoke(main, ["view", "--no-browser", "--quiet", "--out", str(tmp_path / "v"), *args])
    assert res.exit_code == 2, res.output
    assert option in res.output and "Traceback" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)


def test_cli_refuses_a_foreign_out_folder(tmp_path):
    from efield.cli import main

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious", encoding="utf-8")
    res = CliRunner().invoke(main, ["view", "--no-browser", "--quiet", "--out", str(foreign), "--force"])
    assert res.exit_code == 2 and "--out" in res.output, res.output
    assert (foreign / "thesis.docx").read_text(encoding="utf-8") == "precious"


def test_cli_serves_the_page_on_localhost(head, model, tmp_path):
    """``efield view --no-browser --port 0`` prints a 127.0.0.1 URL that serves the page; SIGTERM stops it.
    The model comes from a fresh cache folder holding the small test model where ``--modes 20`` looks for it."""
    import signal
    import urllib.request

    from efield.physics import cortex_model as cm

    cache = tmp_path / "cache"
    env = {**os.environ, "EFIELD_CACHE": str(cache)}
    old = os.environ.get("EFIELD_CACHE")
    os.environ["EFIELD_CACHE"] = str(cache)
    try:
        path = cm._cache_path(head, n_modes=MODEL_SETTINGS["n_modes"])  # where `--modes N` looks
    finally:
        os.environ.pop("EFIELD_CACHE") if old is None else os.environ.__setitem__("EFIELD_CACHE", old)
    path.parent.mkdir(parents=True)
    model.save(path)
    out = tmp_path / "view-out"
    args = ["view", "--no-browser", "--port", "0", "--quiet", "--out", str(out), "--goal", "50",
            "--modes", str(MODEL_SETTINGS["n_modes"])]
    proc = subprocess.Popen([sys.executable, "-m", "efield.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"<" in r.read()
        time.sleep(1.0)  # let the server finish the request before stopping it
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert "Traceback" not in err, err[-3000:]
    assert not out.exists()  # nothing saved, nothing written


# ----------------------------------------------------------------------------- browser
from .test_browser import _chromium  # noqa: E402  (one way to find the browser, and to skip without it)

BROWSER_TIMEOUT_S = 40


class _DevTools:
    """The smallest Chrome DevTools protocol client (aiohttp websockets): evaluate JS, take screenshots."""

    def __init__(self, ws_url: str):
        self.ws_url, self._id = ws_url, 0

    async def __aenter__(self):
        import aiohttp

        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(self.ws_url, max_msg_size=0)
        except BaseException:
            await self._session.close()
            raise
        return self

    async def __aexit__(self, *exc):
        await self._ws.close()
        await self._session.close()

    async def call(self, method: str, **params):
        self._id += 1
        my_id = self._id
        await self._ws.send_json({"id": my_id, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self._ws.receive_json(), timeout=20)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    async def js(self, expression: str):
        res = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    async def shot(self) -> np.ndarray:
        from PIL import Image

        data = (await self.call("Page.captureScreenshot", format="png"))["data"]
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            return np.asarray(img.convert("RGB")).astype(int)


async def _wait_for(dt: _DevTools, expression: str, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = await dt.js(expression)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} ({expression})")


def _page_ws(port_file: Path, timeout: float) -> str:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_file.is_file() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
            except OSError:
                pages = []
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise AssertionError("chromium did not open its DevTools port")


def _coloured(rgb: np.ndarray) -> np.ndarray:
    return (rgb.max(axis=-1) - rgb.min(axis=-1)) >= 40


async def _drive(ws_url: str) -> dict:
    async with _DevTools(ws_url) as dt:
        await dt.call("Page.enable")
        await dt.call("Runtime.enable")
        await _wait_for(dt, "(() => { const e = document.getElementById('e-target'); "
                            "return e && /V\\/m/.test(e.textContent) && e.textContent; })()", BROWSER_TIMEOUT_S,
                        "the E-at-target read-out")
        # the server-rendered picture: an <img> (or canvas) of the remote view with a real size
        await _wait_for(dt, "(() => { const v = document.getElementById('view'); if (!v) return false; "
                            "const i = v.querySelector('img, canvas'); return i && i.clientWidth > 100 && "
                            "(i.tagName !== 'IMG' || (i.complete && i.naturalWidth > 100)); })()",
                        BROWSER_TIMEOUT_S, "the 3D view's image")
        await asyncio.sleep(1.5)
        before_e = await dt.js("document.getElementById('e-target').textContent")
        shot1 = await dt.shot()
        moved = await dt.js("(() => { const s = document.getElementById('slider-azimuth_deg'); "
                            "s.value = String(Number(s.value) + 60); s.dispatchEvent(new Event('input', "
                            "{bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); "
                            "return s.value; })()")
        t = time.monotonic()
        after_e = await _wait_for(dt, f"(() => {{ const t = document.getElementById('e-target').textContent; "
                                      f"return t !== {json.dumps(before_e)} && t; }})()", BROWSER_TIMEOUT_S,
                                  "the E text to change after moving the slider")
        e_latency = time.monotonic() - t
        await asyncio.sleep(1.5)  # the new picture follows the numbers
        shot2 = await dt.shot()
        # end to end: 20 slider steps 50 ms apart; the server draws the latest value when it is free
        count = "Number(document.getElementById('update-ms').textContent.match(/\\((\\d+) updates/)[1])"
        n0, t0 = await dt.js(count), time.monotonic()
        for _ in range(20):
            await dt.js("(() => { const s = document.getElementById('slider-handle_deg'); s.value = String(Number("
                        "s.value) + 3); s.dispatchEvent(new Event('input', {bubbles: true})); })()")
            await asyncio.sleep(0.05)
        await _wait_for(dt, "document.getElementById('slider-handle_deg').value === '60' && "
                            "/\\b60 °/.test(document.body.textContent)", BROWSER_TIMEOUT_S, "the last handle angle")
        last, settled = await dt.js(count), time.monotonic()
        while time.monotonic() - settled < 1.0:
            await asyncio.sleep(0.2)
            now = await dt.js(count)
            if now != last:
                last, settled = now, time.monotonic()
        stream = {"updates": last - n0, "seconds": settled - t0}
        await dt.js("document.getElementById('save').click()")
        saved = await _wait_for(dt, "(() => { const t = document.getElementById('save-text').textContent; "
                                    "return /saved|not saved/.test(t) && t; })()", BROWSER_TIMEOUT_S, "the save")
        updates = await dt.js("document.getElementById('update-ms').textContent")
    return {"stream": stream, "saved": saved, "before": before_e, "after": after_e, "moved": moved, "shot1": shot1, "shot2": shot2,
            "e_latency": e_latency, "updates": updates}


def test_browser_moves_the_coil(session, head, coil, target, tmp_path):
    from efield.cli._view import saver
    from efield.targeting.navigation import read_pose_file
    from efield.views.live import build_app, serve

    browser = _chromium()
    out = tmp_path / "saved"
    on_save = saver(out, coil=coil, head=head, head_text="rat-mesh", frame=head.frame, didt=DIDT_MAX,
                    stimulator="test", target=target)
    app = build_app(session, on_save=on_save, title="efield view (test)")
    proc = None
    profile = Path(tempfile.mkdtemp(prefix="efield-view-chromium-", dir=tmp_path))
    try:
        url = serve(app, port=0, open_browser=False, timeout=20)
        assert url.startswith("http://127.0.0.1:")
        proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu",
                                 "--disable-background-networking", "--use-angle=swiftshader",
                                 "--enable-unsafe-swiftshader", f"--user-data-dir={profile}",
                                 "--window-size=1300,800", "--remote-debugging-port=0", url],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ws_url = _page_ws(profile / "DevToolsActivePort", 20)
        start = time.perf_counter()
        res = asyncio.run(asyncio.wait_for(_drive(ws_url), 3 * BROWSER_TIMEOUT_S))
        print(f"\nbrowser: E {res['before']} -> {res['after']} (slider azimuth -> {res['moved']}), text updated "
              f"{res['e_latency']:.2f} s after the move; {res['updates']}; 20 slider steps in 1 s drew "
              f"{res['stream']['updates']} updates in {res['stream']['seconds']:.2f} s; {res['saved']}; "
              f"drive {time.perf_counter() - start:.1f} s")
        assert res["saved"].startswith("saved: pose.json"), res["saved"]
        assert np.allclose(read_pose_file(out / "pose.json").pose, app.stats["last"]["pose"], atol=1e-6)
        assert app.stats["last"]["values"]["handle_deg"] == 60.0
        from PIL import Image

        s1, s2 = res["shot1"], res["shot2"]
        for name, rgb in (("shot1.png", s1), ("shot2.png", s2)):  # kept in tmp_path to look at on failure
            Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / name)
        assert s1.shape == s2.shape
        view = slice(None), slice(400, None)  # right of the 380 px control panel
        mask = _coloured(s1[view]) | _coloured(s2[view])  # the cortex (viridis) and the coil (orange)
        assert mask.mean() > 0.01, f"the 3D view shows no coloured cortex ({mask.mean():.1%} coloured pixels)"
        diff = np.abs(s1[view] - s2[view]).sum(axis=-1)[mask]
        assert (diff > 30).mean() > 0.02, (f"the picture did not change in the cortex region after moving the "
                                           f"coil ({(diff > 30).mean():.1%} of its pixels changed)")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        app.stop()
        shutil.rmtree(profile, ignore_errors=True)
