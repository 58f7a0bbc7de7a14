"""Where to hold the coil: the pose that maximises the field at a cortical target.

* :mod:`.targets` — named targets (``data/targets.toml``), MNI and bregma coordinates, directions;
* :mod:`.evaluators` — E at the target for many poses without a solve per pose (sphere kernel,
  mesh reciprocity; numba kernels in :mod:`._kernels`);
* :mod:`.search` — the scalp grid, handle angles and refinement (:func:`optimize_pose`);
* :mod:`.results` — :class:`TargetResult`, focality, %MSO for a goal, the files written;
* :mod:`.pose_io` — pose files for neuronavigation (JSON and 4×4 matrices, read back and checked).

May import :mod:`efield.physics`, :mod:`efield.dose` (stimulators for %MSO), :mod:`efield.views`
and :mod:`efield._common`; never the command line.
"""
