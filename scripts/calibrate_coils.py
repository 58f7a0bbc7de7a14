"""Re-derive the calibrated (flag K) preset quantities from SimNIBS's validated coil models.

    python scripts/calibrate_coils.py /path/to/simnibs_coils     # folder with the Drakaki .ccd files

Prints the fitted values; the presets (coils/presets/*.toml) hold them rounded to 0.1 mm / 0.5 deg
with the before/after numbers.  Deterministic (no random start).

* Magstim 70 mm figure-8 (D70) and MagVenture C-B60: winding geometry from Deng et al. 2013 and
  Thielscher & Kammer 2004; one unknown, the winding bottom above the casing surface, solved so
  that the peak cortical |E| at the top of the 85 mm sphere equals the validated model's.
* MagVenture MC-B70: OD/ID, turns and conductor from Deng et al. 2013; wing spacing, bend angle,
  fold-line offset, casing and wing stacking fitted (Nelder-Mead from the geometry read off the
  Thielscher & Kammer X-ray model) to peak, half-value depth, half-max area and pattern correlation
  at the two poses of :func:`efield.physics.coil_compare.comparison_poses`; then the casing is re-solved for
  the peak at the top pose with the other four rounded.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from scipy.optimize import brentq, minimize

from coils import figure8_coil, read_ccd
from efield.physics.coil_compare import compare_coils, comparison_poses
from meshes import sphere_head


def _peak_root(build, ref, lo, hi):
    top = {"top": comparison_poses(sphere_head("human"))["top"]}
    return brentq(lambda z: compare_coils(build(z), ref, poses=top)[0].peak_ratio - 1.0, lo, hi, xtol=1e-6)


def _mcb70(spacing, bend_deg, fold, z_bottom, stack):
    return figure8_coil("mcb70", 0.024, 0.108, 10, wing_spacing=spacing, bend_angle=math.radians(bend_deg),
                        fold_offset=fold, wing_stack=stack, top_wing=-1, z_bottom=z_bottom,
                        conductor_height=6e-3, conductor_width=3.5e-3, sense=1)


def _misfit(coil, ref) -> float:
    s = 0.0
    for c in compare_coils(coil, ref, n_subdiv=4):
        s += math.log(c.peak_ratio) ** 2 + math.log(c.depth_ratio) ** 2 + math.log(c.area_ratio) ** 2
        s += 5.0 * (1.0 - c.correlation)
    return s


def main(folder: Path) -> None:
    d70 = read_ccd(folder / "MagStim_D70.ccd")
    z = _peak_root(lambda zb: figure8_coil("d70", 0.056, 0.087, 9, wing_spacing=0.09, z_bottom=zb,
                                           conductor_height=5e-3, conductor_width=1.75e-3, sense=-1), d70, 4e-3, 9e-3)
    print(f"magstim_70mm_fig8: casing_thickness_mm = {z * 1e3:.2f}")
    cb60 = read_ccd(folder / "MagVenture_C-B60.ccd")
    z = _peak_root(lambda zb: figure8_coil("cb60", 0.035, 0.075, 5, 2, z_bottom=zb, conductor_height=5.5e-3,
                                           sense=1), cb60, 3e-3, 8e-3)
    print(f"magventure_cb60: casing_thickness_mm = {z * 1e3:.2f}")
    mc = read_ccd(folder / "MagVenture_MC-B70.ccd")

    def f(u):
        sp, bd, fo, zb, st = u[0] * 1e-3, u[1], u[2] * 1e-3, u[3] * 1e-3, u[4] * 1e-3
        if zb <= 0.2e-3 or st < 6e-3 or fo < 0 or sp < 0.03:
            return 10.0
        try:
            return _misfit(_mcb70(sp, bd, fo, zb, st), mc)
        except ValueError:
            return 10.0

    r = minimize(f, [59.0, -17.0, 24.0, 2.0, 6.1], method="Nelder-Mead",
                 options=dict(maxfev=90, xatol=0.2, fatol=1e-4))
    sp, bd, fo, _, st = r.x
    print(f"magventure_mcb70 fit: wing_spacing_mm = {sp:.2f}, bend_angle_deg = {bd:.2f}, "
          f"fold_offset_mm = {fo:.2f}, wing_stack_mm = {st:.2f} (misfit {r.fun:.4f})")
    sp, bd, fo, st = round(sp * 2) / 2, round(bd * 2) / 2, round(fo * 2) / 2, round(st * 2) / 2
    z = _peak_root(lambda zb: _mcb70(sp * 1e-3, bd, fo * 1e-3, zb, st * 1e-3), mc, 0.3e-3, 8e-3)
    print(f"magventure_mcb70 rounded: {sp}, {bd}, {fo}, {st}; casing_thickness_mm = {z * 1e3:.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: python scripts/calibrate_coils.py FOLDER_WITH_SIMNIBS_CCD_FILES")
    main(Path(sys.argv[1]))
