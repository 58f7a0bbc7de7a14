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

Human head (``--only human``; needs the ``build`` extra: nilearn, mne).  Writes
``meshes/data/heads/human_labels.npz``: a 1 mm label volume in MNI152 space (SimNIBS tags 1 WM,
2 GM, 3 CSF, 4 bone, 5 scalp, 0 outside) and the mid-cortical surface; ``meshes.builtin_head("human")``
meshes it at run time (``meshes/_voxel_head.py``).  Sources, all shipped inside the pip packages:

* brain, GM and WM masks and GM/WM probability maps: ``nilearn.datasets.load_mni152_{brain,gm,wm}_mask``
  and ``load_mni152_{gm,wm}_template`` (resolution=1)
  (ICBM152 2009 template as shipped by nilearn, 1 mm, 197 × 233 × 189);
* outer skin and inner skull: ``mne/data/fsaverage/fsaverage-head.fif`` and
  ``fsaverage-inner_skull-bem.fif`` (fsaverage surface RAS ≈ MNI305, metres);
* cortex: nilearn's fsaverage5 pial and white surfaces (10242 vertices per hemisphere).

fsaverage/MNI305 → MNI152: the 4 × 4 transform of the FreeSurfer wiki "CoordinateSystems"
(``MNI305_TO_MNI152`` below, millimetres).

Rules (1 mm grid of the template, voxel centres at integer MNI mm):

* intracranial = inside the transformed inner skull ∪ (brain ∪ GM ∪ WM masks dilated by one voxel,
  26 neighbours: faces, edges and corners), so brain never touches bone; inside it, from the
  probability templates ``load_mni152_{gm,wm}_template``: WM where P(WM) > 0.5, GM where the GM or
  brain mask is set and P(GM) + P(WM) ≥ 0.5 (not WM), CSF elsewhere (ventricles, sulcal CSF);
* head = inside the transformed skin ∪ intracranial.  Between them, with ``d_in`` the distance
  to the intracranial region and ``d_out`` the distance to the outside (scipy
  ``distance_transform_edt``, mm): bone where ``d_in ≤ 0.55 (d_in + d_out)``, ``d_in ≤ 7 mm`` and
  ``d_out > 2 mm`` (at least 2 mm of scalp), scalp elsewhere (face, orbits and neck soft tissue
  included: eyes, muscles, sinuses are not modelled);
* the distances are computed on a grid reaching 25 mm below the crop; then everything with voxel
  centre below MNI z = −68 mm is removed (the neck and lower face are not modelled; −68 mm keeps the
  whole cerebellum: its hemispheres reach down to about −67 mm in the brain mask);
* only the largest face-connected labelled component is kept; the grid is cropped to its bounding
  box + 2 voxels.
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


#: FreeSurfer wiki "CoordinateSystems": MNI305 (fsaverage) → MNI152, millimetres.
MNI305_TO_MNI152 = np.array([
    [0.9975, -0.0073, 0.0176, -0.0429],
    [0.0146, 1.0009, -0.0024, 1.5496],
    [-0.0130, -0.0093, 0.9971, 1.1840],
    [0.0, 0.0, 0.0, 1.0],
])

HUMAN = dict(crop_z_mm=-68.0, below_crop_mm=25, margin_vox=2, bone_fraction=0.55, bone_max_mm=7.0,
             scalp_min_mm=2.0)


def _mni305_to_mni152(points_mm: np.ndarray) -> np.ndarray:
    """(n, 3) MNI305/fsaverage mm → (n, 3) MNI152 mm."""
    return points_mm @ MNI305_TO_MNI152[:3, :3].T + MNI305_TO_MNI152[:3, 3]


def _paste(volume: np.ndarray, offset: np.ndarray, shape) -> np.ndarray:
    """``volume`` placed at index ``offset`` of a zero array of ``shape`` (parts outside dropped)."""
    out = np.zeros(shape, dtype=volume.dtype)
    src, dst = [], []
    for o, n_src, n_dst in zip(offset, volume.shape, shape):
        lo, hi = max(0, -o), min(n_src, n_dst - o)
        src.append(slice(lo, hi))
        dst.append(slice(lo + o, hi + o))
    out[tuple(dst)] = volume[tuple(src)]
    return out


def build_human(spec: dict):
    """Label volume (1 mm, MNI152) and mid-cortical surface of the human head; see the module docstring."""
    import os
    import warnings

    import mne
    from nilearn import datasets
    from scipy import ndimage

    from meshes._voxel_head import voxelize_surface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nilearn's resampling/deprecation notices
        imgs = {k: getattr(datasets, f"load_mni152_{k}_mask")(resolution=1) for k in ("brain", "gm", "wm")}
        probs = {k: np.asarray(getattr(datasets, f"load_mni152_{k}_template")(resolution=1).dataobj, dtype=float)
                 for k in ("gm", "wm")}
        fsavg = datasets.load_fsaverage("fsaverage5")
    affine = imgs["brain"].affine
    if not np.allclose(affine[:3, :3], np.eye(3)):
        raise RuntimeError(f"expected a 1 mm RAS template grid; got affine {affine.tolist()}")
    t_origin = np.rint(affine[:3, 3]).astype(int)  # MNI mm of template voxel [0, 0, 0]
    masks = {k: np.asarray(v.dataobj) > 0.5 for k, v in imgs.items()}

    fs_dir = os.path.join(os.path.dirname(mne.__file__), "data", "fsaverage")
    surf = {}
    for key, fname in (("skin", "fsaverage-head.fif"), ("inner_skull", "fsaverage-inner_skull-bem.fif")):
        s = mne.read_bem_surfaces(os.path.join(fs_dir, fname), verbose=False)[0]
        surf[key] = (_mni305_to_mni152(s["rr"] * 1e3), np.asarray(s["tris"], dtype=np.int64))

    # working grid: integer-mm voxel centres (the template's), the skin's box above crop − below_crop_mm
    crop = spec["crop_z_mm"]
    sv = surf["skin"][0]
    lo = np.floor(sv.min(axis=0)).astype(int) - 3
    hi = np.ceil(sv.max(axis=0)).astype(int) + 3
    lo[2] = int(np.floor(crop)) - spec["below_crop_mm"]
    shape = tuple(hi - lo + 1)
    origin = lo.astype(float)
    brain = _paste(masks["brain"], t_origin - lo, shape)
    gm = _paste(masks["gm"], t_origin - lo, shape)
    wm = _paste(masks["wm"], t_origin - lo, shape)
    p_gm = _paste(probs["gm"], t_origin - lo, shape)
    p_wm = _paste(probs["wm"], t_origin - lo, shape)
    inner = voxelize_surface(*surf["inner_skull"], origin, 1.0, shape)
    skin = voxelize_surface(*surf["skin"], origin, 1.0, shape)

    tissue = brain | gm | wm
    intracranial = inner | ndimage.binary_dilation(tissue, structure=np.ones((3, 3, 3), dtype=bool))
    head = skin | intracranial
    d_in = ndimage.distance_transform_edt(~intracranial)
    d_out = ndimage.distance_transform_edt(head)
    bone = (head & ~intracranial & (d_in <= spec["bone_fraction"] * (d_in + d_out))
            & (d_in <= spec["bone_max_mm"]) & (d_out > spec["scalp_min_mm"]))
    labels = np.zeros(shape, dtype=np.uint8)
    labels[head] = 5
    labels[bone] = 4
    labels[intracranial] = 3
    # tissue classes from the probability maps (the masks are thresholded at 0.2 and closed, so they
    # swallow the ventricles and overstate WM): WM where P(WM) > 0.5, GM where the brain/GM masks are
    # set and P(GM) + P(WM) ≥ 0.5, CSF elsewhere inside the skull (ventricles, sulcal CSF)
    labels[intracranial & (gm | brain) & (p_gm + p_wm >= 0.5)] = 2
    labels[intracranial & (p_wm > 0.5)] = 1

    z = origin[2] + np.arange(shape[2])
    above = z >= crop
    labels[:, :, ~above] = 0
    comp, n = ndimage.label(labels > 0)
    if n > 1:
        sizes = np.bincount(comp.ravel())
        sizes[0] = 0
        labels[comp != sizes.argmax()] = 0
    # crop to the bounding box + margin
    m = spec["margin_vox"]
    nz = np.argwhere(labels > 0)
    b_lo = nz.min(axis=0) - m
    b_hi = nz.max(axis=0) + m + 1
    labels = _paste(labels, -b_lo, tuple(b_hi - b_lo))
    origin_mm = origin + b_lo

    # diagnostics
    sel = brain[:, :, above]
    mismatch = float((sel & ~inner[:, :, above]).sum() / sel.sum())
    vols = {name: int((labels == t).sum()) for t, name in
            ((1, "white_matter"), (2, "grey_matter"), (3, "csf"), (4, "bone"), (5, "scalp"))}

    # mid-cortical surface: mean of pial and white, left then right hemisphere
    verts, faces = [], []
    for hemi in ("left", "right"):
        pial = fsavg["pial"].parts[hemi]
        white = fsavg["white_matter"].parts[hemi]
        if not np.array_equal(pial.faces, white.faces):
            raise RuntimeError(f"fsaverage5 pial and white {hemi} meshes differ in their triangles")
        faces.append(np.asarray(pial.faces, dtype=np.int64) + sum(len(v) for v in verts))
        mid = 0.5 * (np.asarray(pial.coordinates, dtype=float) + np.asarray(white.coordinates, dtype=float))
        verts.append(_mni305_to_mni152(mid))
    cortex_v = np.concatenate(verts)
    cortex_f = np.concatenate(faces)

    provenance = {
        "name": "human",
        "frame": "MNI152 (ICBM 2009 template space as shipped by nilearn); stored in mm, meshes in metres",
        "labels": "SimNIBS tags 1 white matter, 2 grey matter, 3 CSF, 4 bone, 5 scalp, 0 outside; 1 mm voxels",
        "sources": {
            "brain_gm_wm": "nilearn.datasets.load_mni152_brain_mask / _gm_mask / _wm_mask and _gm_template / _wm_template "
                           "(resolution=1; MNI ICBM152 2009 template shipped with nilearn)",
            "skin": "mne/data/fsaverage/fsaverage-head.fif (outer skin, fsaverage surface RAS = MNI305)",
            "inner_skull": "mne/data/fsaverage/fsaverage-inner_skull-bem.fif (fsaverage surface RAS = MNI305)",
            "cortex": "nilearn fsaverage5 pial and white surfaces, both hemispheres; mid-cortical = mean of pial "
                      "and white vertex positions",
        },
        "versions": {"nilearn": _version("nilearn"), "mne": _version("mne")},
        "transform_mni305_to_mni152_mm": MNI305_TO_MNI152.tolist(),
        "transform_source": "FreeSurfer wiki CoordinateSystems (MNI305 to MNI152)",
        "rules": {
            "intracranial": "inside the transformed inner skull, union the brain/GM/WM masks dilated by 1 voxel "
                            "(26 neighbours: faces, edges, corners): brain never touches bone",
            "brain": "WM where P(WM) > 0.5; GM where the GM or brain mask is set and P(GM) + P(WM) >= 0.5 (not WM); CSF elsewhere "
                     "in the intracranial region",
            "skull_scalp": f"between intracranial and skin: bone where d_in <= {spec['bone_fraction']} (d_in + d_out), "
                           f"d_in <= {spec['bone_max_mm']} mm and d_out > {spec['scalp_min_mm']} mm (d_in: distance "
                           "to the intracranial region, d_out: to the outside; scipy distance_transform_edt); "
                           "scalp elsewhere",
            "surfaces_to_voxels": "voxel centre inside a closed surface by ray parity along +z",
        },
        "crop": f"voxel centres below MNI z = {crop:g} mm removed (neck and lower face not modelled); "
                "the whole cerebellum is kept; largest face-connected component kept",
        "not_modelled": "neck and lower face (below the crop), eyes, muscles, sinuses and other air spaces "
                        "(face and neck soft tissue are scalp), compact/spongy bone distinction; skull thickness "
                        "comes from the distance rule, it is not imaged",
        "brain_mask_outside_inner_skull_fraction": round(mismatch, 5),
        "voxel_counts_1mm": vols,
        "cortex_vertices": int(len(cortex_v)),
        "license": "meshes/data/heads/HUMAN_TEMPLATE_LICENSE.txt",
    }
    arrays = dict(labels=labels, origin_mm=origin_mm, voxel_mm=np.float64(1.0),
                  cortex_vertices_mm=cortex_v.astype(np.float32), cortex_faces=cortex_f.astype(np.int32))
    return arrays, provenance


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _write_npz(path: Path, **arrays) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "meshes" / "data" / "heads"))
    ap.add_argument("--only", nargs="+", default=[*RODENTS, "human"], choices=[*RODENTS, "human"])
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        if name == "human":
            arrays, prov = build_human(HUMAN)
            path = out / "human_labels.npz"
            _write_npz(path, **arrays, provenance=json.dumps(prov, sort_keys=True))
            print(f"human: labels {arrays['labels'].shape} at 1 mm, origin {arrays['origin_mm'].tolist()} mm, "
                  f"brain mask outside the inner skull {prov['brain_mask_outside_inner_skull_fraction']:.3%}, "
                  f"voxels {prov['voxel_counts_1mm']} -> {path} ({path.stat().st_size / 1e6:.2f} MB)")
            continue
        nodes, tets, tags, prov = build_rodent(name, RODENTS[name])
        path = out / f"{name}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, nodes=nodes, tets=tets.astype(np.int32), tags=tags.astype(np.int16),
                            provenance=json.dumps(prov))
        tmp.replace(path)
        print(f"{name}: {len(nodes)} nodes, {len(tets)} tets -> {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
