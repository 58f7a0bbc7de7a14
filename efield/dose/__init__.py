"""From an intensity as papers report it to the cortical E, and across species.

* :mod:`.units`, :mod:`.intensity` — %MSO, %RMT, %AMT, A/µs, T, V/m text into SI values;
* :mod:`.stimulators` — dI/dt at 100 % MSO per stimulator + coil pair (measured, or estimated and
  flagged), with the tables in ``data/``;
* :mod:`.dosimetry` — one protocol on one set-up: E at the target, percentiles, thresholds;
* :mod:`.thresholds` — the motor-threshold chain against published thresholds;
* :mod:`.translation`, :mod:`.batch` — equal-E and equal-threshold translation, protocol tables.

May import :mod:`efield.physics`, :mod:`efield.views` (pictures of its tables) and
:mod:`efield._common`; never :mod:`efield.targeting` or the command line.
"""
