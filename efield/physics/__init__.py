"""Forward models: the field a coil puts into a head.

* :mod:`.biot_savart` — primary field, B and A of wire and dipole coils (numba kernels in
  :mod:`._kernels`, NumPy twins in :mod:`._kernels_numpy`, wire layout in :mod:`._wires`);
* :mod:`.sphere` — the closed-form field in spherically symmetric heads;
* :mod:`.fem` — the finite-element solver of mesh heads (numba assembly in :mod:`._fem_numba`);
* :mod:`.fields` — ``total_efield``, ``cortex_field``, ``simulate`` and the :class:`FieldResult`;
* :mod:`.placement` — coils resting on heads (scalp contact, normals, lift), head-type checks;
* :mod:`.metrics` — peak, percentiles, area and depth (array-only parts in :mod:`._summary`);
* :mod:`.inductance` — self-inductance of wire models;
* :mod:`.coil_compare` — two coil models side by side in the same sphere and poses.

May import :mod:`efield._common`, ``coils`` and ``meshes``; never ``efield.dose``,
``efield.targeting``, ``efield.views`` or the command line (checked by tests/test_architecture.py).
"""
