"""Pictures: cortical fields with the coil, bar charts, profiles, orientation plots (:mod:`.plots`).

Takes plain arrays and writes files atomically; may import :mod:`efield.physics` and
:mod:`efield._common`, never :mod:`efield.dose` or :mod:`efield.targeting` (they hand it results).
"""
