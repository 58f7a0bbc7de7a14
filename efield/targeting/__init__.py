"""Where to hold the coil: the pose that maximises the field at a cortical target.

* :mod:`.targets` — named targets (``data/targets.toml``), MNI and bregma coordinates, directions;
* :mod:`.evaluators` — E at the target for many poses without a solve per pose (sphere kernel,
  mesh reciprocity; numba kernels in :mod:`._kernels`);
* :mod:`.search` — the scalp grid, handle angles and refinement (:func:`optimize_pose`);
* :mod:`.results` — :class:`TargetResult`, focality, %MSO for a goal, the files written;
* :mod:`.pose_io` — the pose record (``pose.json``) and efield's own 4×4 matrix, read back and checked;
* :mod:`.navigation` — the pose for SimNIBS, Brainsight and Localite (each system's axes), and a reader
  for any of their files.

May import :mod:`efield.physics`, :mod:`efield.dose` (stimulators for %MSO), :mod:`efield.views`
and :mod:`efield._common`; never the command line.
"""
