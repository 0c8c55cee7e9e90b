"""Lesion-mask findings per level: body involvement, bone lesion quality, posterolateral hints.

Only when a lesion mask is given. The rules below are implementation choices, not clinical
facts from the SINS source, and every output says so (UNVERIFIED):

- bone lesion quality: lesion HU compared with the bodies of the nearest levels without lesion
  (their 5th and 95th HU percentiles); lytic when at least half the lesion voxels are below the
  5th percentile and under a fifth above the 95th, blastic the other way round, mixed when at
  least a fifth is on each side; otherwise left open;
- posterolateral involvement: lesion voxels in the posterior elements (the vertebra mask minus
  its body), counted on each side of the body's mid-sagittal plane; a side counts when it holds
  at least 0.1 mL of lesion.
"""

from __future__ import annotations

from typing import Any

from spinemets.imaging._labels import rank_of
from spinemets.imaging._measure import BodyMeasurement
from spinemets.imaging._suggest import SINS_CITATION
from spinemets.imaging._volume import Volume

__all__ = ["lesion_findings"]

RULE_STATUS = "UNVERIFIED implementation rule (not from the SINS source); confirm on the images"
_SIDE_FLOOR_ML = 0.1


def _quality(values: Any, reference: Any) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    if reference is None or reference.size < 50 or values.size == 0:
        return {"value": None, "confidence": None, "confirm": True,
                "not_suggested": "no adjacent level without lesion to compare HU with"}
    low, high = (float(v) for v in np.percentile(reference, [5, 95]))
    lytic = float(np.mean(values < low))
    blastic = float(np.mean(values > high))
    if lytic >= 0.5 and blastic < 0.2:
        value: str | None = "lytic"
    elif blastic >= 0.5 and lytic < 0.2:
        value = "blastic"
    elif lytic >= 0.2 and blastic >= 0.2:
        value = "mixed"
    else:
        value = None
    return {"value": value, "confidence": "low", "confirm": True, "basis": {
        "lesion_hu_median": round(float(np.median(values)), 1),
        "reference_hu_p5_p95": [round(low, 1), round(high, 1)],
        "fraction_below_p5": round(lytic, 3), "fraction_above_p95": round(blastic, 3),
        "rule": RULE_STATUS, "citation": SINS_CITATION}}


def _posterolateral(lesion_pe: Any, pe: Any, cx: float, voxel_ml: float) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    if not pe.any():
        return {"value": None, "confidence": None, "confirm": True,
                "not_suggested": "the mask holds no posterior elements for this level"}
    xs = np.nonzero(lesion_pe)[0]
    right = float(np.sum(xs > cx)) * voxel_ml
    left = float(np.sum(xs < cx)) * voxel_ml
    sides = [s for s, v in (("right", right), ("left", left)) if v >= _SIDE_FLOOR_ML]
    value = {0: "none", 1: "unilateral", 2: "bilateral"}[len(sides)]
    return {"value": value, "confidence": "low", "confirm": True, "basis": {
        "lesion_in_posterior_elements_ml": {"right": round(right, 2), "left": round(left, 2)},
        "side_floor_ml": _SIDE_FLOOR_ML, "rule": RULE_STATUS, "citation": SINS_CITATION}}


def lesion_findings(ct: Volume, labels: Volume, vertebrae: dict[str, int],
                    geometry: BodyMeasurement, lesion: Volume, **_: Any) -> dict[str, Any]:
    """``{level: {"body_fraction", "suggestions": {...}}}`` for levels the lesion touches."""
    import numpy as np  # noqa: PLC0415
    from scipy import ndimage  # noqa: PLC0415

    from spinemets.errors import InputError  # noqa: PLC0415

    if lesion.shape != ct.shape:
        raise InputError.single("lesion_mask", f"is not on the CT's voxel grid (lesion "
                                               f"{lesion.shape}, CT {ct.shape})")
    crops: dict[str, Any] = geometry.extras.get("crops", {})
    sp = ct.spacing_mm
    voxel_ml = sp[0] * sp[1] * sp[2] / 1000.0
    touched, clean = {}, {}
    for level, (offset, body, vertebra) in crops.items():
        box = tuple(slice(o, o + n) for o, n in zip(offset, body.shape, strict=True))
        hit = np.asarray(lesion.data[box]) & (vertebra | body)
        ct_crop = np.asarray(ct.data[box], dtype=np.float32)
        if hit.any():
            touched[level] = (box, body, vertebra, hit, ct_crop)
        elif body.any():
            core = ndimage.binary_erosion(body, iterations=1)
            clean[level] = ct_crop[core if core.any() else body]
    out: dict[str, Any] = {}
    for level, (_box, body, vertebra, hit, ct_crop) in touched.items():
        near = sorted(clean, key=lambda other: abs(rank_of(other) - rank_of(level)))[:2]
        reference = np.concatenate([clean[n] for n in near]) if near else None
        body_count = int(body.sum())
        fraction = float((hit & body).sum()) / body_count if body_count else None
        pe = vertebra & ~body
        cx = float(np.nonzero(body)[0].mean()) if body_count else body.shape[0] / 2
        out[level] = {"body_fraction": fraction, "suggestions": {
            "bone_lesion": _quality(ct_crop[hit], reference),
            "posterolateral": _posterolateral(hit & pe, pe, cx, voxel_ml)}}
    return out
