"""The pictures and scene files of one computed field: what every command writes for it.

:func:`field_pictures` takes the physics objects (a head, the placed coil, a cortical
:class:`efield.physics.fields.FieldResult`) and writes, through :mod:`.scene`:

* ``<stem>.png`` — the cortex coloured by |E| (or E·n), the scalp translucent, the coil's wires thin
  and translucent, the target and the hot spot marked above them, orientation labels and a scale bar;
* ``<stem>.html`` — the same scene, interactive, self-contained (optional);
* ``scene.vtm`` — for ParaView: the cortex with E, |E| and E·n, the scalp, the coil wires and, on mesh
  heads, the volume mesh with E per tetrahedron (optional).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["field_pictures"]


def _frame(head) -> str:
    frame = str(getattr(head, "frame", "") or "sphere")
    return frame if frame in ("head", "MNI", "bregma", "sphere") else "head"


def _volume(head, placed, didt):
    """(nodes (N, 3) m, tets (T, 4), {"E_Vm": (T, 3), "magnE_Vm": (T,)}) of a mesh head, else None."""
    from ..physics.fields import _solution, mesh_solver
    from ..physics.placement import is_mesh_head

    if not is_mesh_head(head):
        return None
    e = _solution(mesh_solver(head), placed, didt).efield_tets  # the solve of this pose, kept from before
    tags = np.asarray(head.tags)
    return head.nodes, head.tets, {"E_Vm": e, "magnE_Vm": np.linalg.norm(e, axis=1), "tissue": tags}


def _dipole_outline(points) -> np.ndarray | None:
    """A closed outline (p, 3) m around a dipole coil model's dipoles (k, 3) m: the convex hull of their
    projection onto their best-fit plane, drawn where wires would be (dipole models have none)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.asarray(points, dtype=float)
    if len(pts) < 3:
        return None
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    uv = (pts - centre) @ vt[:2].T
    try:
        ring = ConvexHull(uv).vertices
    except QhullError:  # degenerate (collinear) dipoles: no outline
        return None
    ring = np.append(ring, ring[0])
    return centre + uv[ring] @ vt[:2]


def field_pictures(folder, head, placed, result, *, stem: str = "field", kind: str = "magnitude", target=None,
                   title: str = "", html: bool = True, vtm: bool = True, volume: bool = True,
                   window_size=(1600, 1200)) -> list[str]:
    """Write the picture, interactive scene and ParaView scene of a cortical field into ``folder``.

    Parameters
    ----------
    folder : str or Path — an existing (staged) output folder
    head : SphereHead or MeshHead — the head the field was computed on
    placed : coils.Coil — the coil in the head frame (``coil.placed(pose)``)
    result : FieldResult — the cortical field (``points`` (n, 3) m, ``faces``, ``efield`` (n, 3) V/m,
        ``normals``, ``magnitude`` (n,) V/m, ``normal_component`` (n,) V/m, ``didt`` A/s)
    stem : str — file name of the picture and the interactive scene (``<stem>.png``, ``<stem>.html``)
    kind : "magnitude" (|E|) or "normal" (E·n, signed, diverging colours)
    target : (3,) float array, metres, or None — marked above the coil
    title : str — the picture's title (coil, head, intensity)
    html, vtm : bool — also write ``<stem>.html`` and ``scene.vtm`` (with its ``scene/`` pieces)
    volume : bool — put the volume field of a mesh head into ``scene.vtm`` (about 50 B per tetrahedron: 60 MB
        for the built-in human head)
    window_size : (width, height) ints, pixels

    Returns
    -------
    list of the file names written.
    """
    from ..physics.heads import scalp_surface
    from .scene import render_scene, write_scene_vtm

    folder = Path(folder)
    values = result.normal_component if kind == "normal" else result.magnitude
    wires = (placed.start, placed.end) if placed.n_segments else None
    scalp = scalp_surface(head)
    hot = result.points[int(np.argmax(np.abs(values)))]
    label = "E·n (V/m), + outward" if kind == "normal" else "|E| (V/m)"
    casing = _dipole_outline(placed.dipole_position) if wires is None and placed.n_dipoles else None
    render_scene(folder / f"{stem}.png", cortex_vertices=result.points, cortex_faces=result.faces, values=values,
                 kind=kind, scalp=scalp, segments=wires, casing=casing, target=target, hot_spot=hot,
                 frame=_frame(head),
                 title=title, scalar_label=label, window_size=window_size,
                 html=folder / f"{stem}.html" if html else None)
    names = [f"{stem}.png"] + ([f"{stem}.html"] if html else [])
    if vtm:
        point_data = {"E_Vm": result.efield, "magnE_Vm": result.magnitude, "En_Vm": result.normal_component}
        write_scene_vtm(folder / "scene.vtm", cortex_vertices=result.points, cortex_faces=result.faces,
                        point_data=point_data, scalp=scalp, segments=wires,
                        volume=_volume(head, placed, float(result.didt)) if volume else None)
        names.append("scene.vtm")
    return names
