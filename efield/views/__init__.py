"""What people look at: 3D scenes, figure-ready charts and the offline HTML report.

* :mod:`.scene` — 3D scenes (pyvista, off-screen): cortex coloured by |E| or E·n, translucent scalp and
  coil, target and hot spot marked above them, orientation labels, scale bar, round colour-bar ticks; an
  interactive self-contained HTML of the same scene (trame/vtk.js); a ParaView ``.vtm`` scene file;
* :mod:`.field_scene` — those three for a computed field (head, placed coil, cortical FieldResult);
* :mod:`.plots` — 2D charts (matplotlib): depth profiles, orientation polar plots, bar charts, the
  translation chart; PNG at 300 dpi and SVG;
* :mod:`.report` — ``index.html`` of a run folder: its tables, pictures, 3D views and assumptions.

Takes plain arrays (and, in :mod:`.field_scene`, physics objects) and writes files atomically; may import
:mod:`efield.physics` and :mod:`efield._common`, never :mod:`efield.dose` or :mod:`efield.targeting`
(they hand it results).
"""
