"""The HTML report of a real run in a headless browser: the page renders, and the interactive 3D scene
(vtk.js, WebGL in software through SwiftShader) draws the coloured cortex."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from efield.views.report import write_report

BROWSER_TIMEOUT_S = 120
EXPORT_TIMEOUT_S = 180

def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless browser: chromium is not installed (CI installs it with apt-get where it can)")


def _screenshot(browser: str, page: Path, png: Path, tmp: Path) -> float:
    """Render ``page`` (file URL) headless into ``png`` (1200 x 900 px); the seconds it took."""
    profile = tmp / f"profile-{png.stem}"
    profile.mkdir()
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           # WebGL without a GPU: SwiftShader through ANGLE (the silent fallback is deprecated in Chromium)
           "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
           f"--user-data-dir={profile}", "--window-size=1200,900", "--virtual-time-budget=15000",
           f"--screenshot={png}", page.resolve().as_uri()]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    took = time.perf_counter() - start
    assert proc.returncode == 0 and png.is_file(), f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return took


def _pixels(png: Path) -> np.ndarray:
    """The screenshot as an (height, width, 3) uint8 RGB array."""
    from PIL import Image

    with Image.open(png) as img:
        return np.asarray(img.convert("RGB"))


def _coloured(rgb: np.ndarray) -> np.ndarray:
    """Mask of pixels that are neither background white nor grey text: channel spread >= 40 (0..255)."""
    rgb = rgb.astype(int)
    return (rgb.max(axis=-1) - rgb.min(axis=-1)) >= 40


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real run: ``efield field`` on the rat sphere with the 8 mm coil (field.png, field.html, summary.json,
    index.html), plus a Markdown note and a picture added by hand and the report rewritten."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from click.testing import CliRunner

    from efield.cli import main

    run = tmp_path_factory.mktemp("run") / "field"
    start = time.perf_counter()
    res = CliRunner().invoke(main, ["field", "--head", "rat", "--coil", "rodent_8mm_round", "--didt", "50A/us",
                                    "--subdiv", "4", "--quiet", "--out", str(run)])
    assert res.exit_code == 0, res.output
    print(f"\nefield field with its scene export: {time.perf_counter() - start:.1f} s")
    assert (run / "index.html").is_file() and (run / "field.html").is_file()
    plt.imsave(run / "a_field.png", np.tile(np.linspace(0.0, 1.0, 400), (80, 1)), cmap="plasma")
    (run / "notes.md").write_text("# Result\n\n| coil | peak (V/m) |\n|---|---|\n| fig8 | 142.0 |\n",
                                  encoding="utf-8")
    write_report(run, title="Browser check")
    return run


def _shot(page: Path, tmp_path: Path) -> np.ndarray:
    """``page`` rendered in headless Chromium: its (height, width, 3) RGB screenshot."""
    png = tmp_path / f"{page.stem}.png"
    took = _screenshot(_chromium(), page, png, tmp_path)
    print(f"\n{page.name} screenshot: {took:.1f} s")
    return _pixels(png)


def test_report_page_renders(run_dir, tmp_path):
    rgb = _shot(run_dir / "index.html", tmp_path)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 200, f"the page looks blank: only {len(colours)} distinct colours"
    assert _coloured(rgb).mean() > 0.02, "the picture (a colour gradient) is not on the page"
    frame = rgb[320:].astype(int)  # below the picture and the scene's link: the embedded scene's frame
    sphere = _coloured(frame) & (frame[..., 1] > frame[..., 0]) & (frame[..., 1] > 60)  # viridis greens
    # the head fills a small part of the frame (vtk.js frames the whole scene): measured 4 % of it green
    assert sphere.mean() > 0.015, f"the embedded 3D scene did not draw: {sphere.mean():.1%} green pixels in its frame"


def test_scene_renders_the_field(run_dir, tmp_path):
    rgb = _shot(run_dir / "field.html", tmp_path)
    h, w, _ = rgb.shape
    centre = rgb[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    mask = _coloured(centre)
    # the cortex and the coil fill the middle of the view: measured 24 % coloured (the grey scalp is not counted)
    assert mask.mean() > 0.12, f"the 3D view did not draw the head: {mask.mean():.0%} coloured pixels in the centre"
    px = centre[mask].astype(int)
    yellowish = (px[:, 0] > 120) & (px[:, 1] > 120) & (px[:, 2] < 110)  # the top of viridis
    bluish = (px[:, 2] > px[:, 0] + 20)  # its lower, blue-green half
    assert yellowish.mean() > 0.05 and bluish.mean() > 0.05, (
        f"the sphere is not coloured by its scalars (yellow {yellowish.mean():.0%}, blue {bluish.mean():.0%})")
