"""Build the shipped rodent head meshes (layered ellipsoids in a bregma frame).

Run: ``python scripts/build_heads.py [--out meshes/data/heads] [--only rat mouse]`` (needs ``gmsh``).
The output is reproducible up to gmsh's mesher; every dimension and its source is stored in the
file's ``provenance`` entry and repeated below.

Bregma frame: x to the animal's right, y anterior, z dorsal, origin at bregma on the skull surface.
Dimensions (millimetres; R = commonly quoted, A = assumption, C = computed):

* rat: brain ellipsoid 15 (ML) × 22 (AP, olfactory bulbs excluded) × 11 (DV) mm — within the
  commonly quoted 14–15 × 20–25 × 10–12 mm (R); its volume, 1.90 cm³, matches MRI brain volumes
  of 1.77–1.97 cm³ (R, see meshes/data/sphere_heads.toml); brain centre 4 mm posterior of bregma
  (the brain spans about +6 to −15 mm AP in the Paxinos & Watson atlas, R); CSF 0.2 mm (A),
  skull 0.7 mm (R: 0.5–1 mm), scalp 1.0 mm (A), as in the rat sphere head.
* mouse: brain ellipsoid 10 × 12.5 × 6.5 mm: the commonly quoted 8–10 × 10–12 × 6 mm (R) at their upper
  ends, stretched slightly so that the volume, 0.43 cm³, matches the quoted MRI brain volumes of
  0.42–0.50 cm³ (R, see meshes/data/sphere_heads.toml); centre 2.5 mm posterior of
  bregma (brain spans about +4 to −8 mm AP in the Paxinos & Franklin atlas, R); CSF 0.1 mm (A),
  skull 0.25 mm (R), scalp 0.4 mm (R), as in the mouse sphere head.

Simplifications (said in the provenance): every layer is a full ellipsoid around the brain; jaw,
muscles, eyes and the ventral skull base are not modelled; the brain is one compartment
(grey-matter conductivity).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RODENTS = {
    "rat": dict(brain_mm=(7.5, 11.0, 5.5), center_mm=(0.0, -4.0, None), csf=0.2, skull=0.7, scalp=1.0, edge_mm=0.6),
    "mouse": dict(brain_mm=(5.0, 6.25, 3.25), center_mm=(0.0, -2.5, None), csf=0.1, skull=0.25, scalp=0.4, edge_mm=0.3),
}


def build_rodent(name: str, spec: dict):
    from meshes._gmsh_layers import nested_ellipsoids_mesh

    brain = np.array(spec["brain_mm"])
    csf = brain + spec["csf"]
    skull = csf + spec["skull"]
    scalp = skull + spec["scalp"]
    # bregma on the skull surface above the brain's top: z = 0 at the outer skull surface
    cz = -(skull[2])
    center = np.array([spec["center_mm"][0], spec["center_mm"][1], cz])
    nodes, tets, tags = nested_ellipsoids_mesh(center * 1e-3, [scalp * 1e-3, skull * 1e-3, csf * 1e-3, brain * 1e-3],
                                               [5, 4, 3, 11], spec["edge_mm"] * 1e-3)
    provenance = {
        "name": name, "frame": "bregma (x right, y anterior, z dorsal; origin at bregma on the skull surface)",
        "model": "nested ellipsoids: scalp (5), skull (4), CSF (3), brain (11, one compartment)",
        "semi_axes_mm": {"scalp": scalp.tolist(), "skull": skull.tolist(), "csf": csf.tolist(), "brain": brain.tolist()},
        "center_mm": center.tolist(), "edge_mm": spec["edge_mm"],
        "sources": "see scripts/build_heads.py docstring and meshes/data/sphere_heads.toml",
        "not_modelled": "jaw, muscles, eyes, ventral skull base; grey/white matter distinction",
    }
    return nodes, tets, tags, provenance


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "meshes" / "data" / "heads"))
    ap.add_argument("--only", nargs="+", default=list(RODENTS))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        nodes, tets, tags, prov = build_rodent(name, RODENTS[name])
        path = out / f"{name}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, nodes=nodes, tets=tets.astype(np.int32), tags=tags.astype(np.int16),
                            provenance=json.dumps(prov))
        tmp.replace(path)
        print(f"{name}: {len(nodes)} nodes, {len(tets)} tets -> {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
