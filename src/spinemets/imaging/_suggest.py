"""From measurements to SINS suggestions for a clinician to confirm (pure: no I/O).

Clinical facts used here, with their sources:

- SINS "Vertebral body collapse" categories (>50 % collapse, <50 % collapse, no collapse with
  >50 % of the body involved, none of the above) and "Bone lesion" / "Posterolateral
  involvement" categories: Fisher et al., Spine 2010 (the SINS table). Exactly 50 % is undefined
  in the source, so a loss within measurement uncertainty of 50 % is left for the clinician.
- Genant semi-quantitative grades from the height loss (0: < 20 %, 1: 20-25 %, 2: 25-40 %,
  3: > 40 %): thresholds as the project's imaging specification states them. No Genant citation
  is in the clinical references yet, so the grade is labelled UNVERIFIED in every output.

Implementation choices (not clinical facts), labelled in the outputs:

- Height loss is measured against the expected height from the nearby measured levels (the
  median of the same position, posterior / middle / anterior, of up to two levels above and two
  below), the largest loss of the three positions; a uniform crush is found, normal lordotic
  wedging is not mistaken for a fracture. The within-vertebra ratio (shortest / tallest) is
  also reported.
- A collapse is suggested from a loss of 20 % or more (the Genant grade 1 floor).
- Lesion quality and posterolateral involvement rules below are labelled UNVERIFIED.
"""

from __future__ import annotations

import statistics
from typing import Any

from spinemets.imaging._labels import rank_of
from spinemets.imaging._measure import BodyMeasurement, LevelGeometry

__all__ = ["GENANT_STATUS", "genant_grade", "sins_collapse", "suggest_levels"]

SINS_CITATION = ("Fisher CG, DiPaola CP, Ryken TC, et al. A novel classification system for "
                 "spinal instability in neoplastic disease. Spine 2010;35(22):E1221-E1229. "
                 "doi:10.1097/BRS.0b013e3181e16ae2")
GENANT_STATUS = ("UNVERIFIED: Genant grade thresholds as stated in the spinemets imaging "
                 "specification; no Genant citation in the clinical references")
COLLAPSE_LABELS = {
    "over_50": ">50% collapse",
    "under_50": "<50% collapse",
    "no_collapse_over_50_involved": "No collapse with >50% of body involved",
    "none": "None of the above",
}
#: Smallest loss read as a collapse: the Genant grade 1 floor (implementation choice).
COLLAPSE_FLOOR_PERCENT = 20.0


def genant_grade(loss_percent: float) -> int:
    """Genant grade of a height loss: 0 below 20 %, 1 from 20 % below 25 %, 2 from 25 % up to
    40 %, 3 above 40 % (exactly 25 % is read as grade 2, the higher of the two bands naming it)."""
    if loss_percent < 20.0:
        return 0
    if loss_percent < 25.0:
        return 1
    if loss_percent <= 40.0:
        return 2
    return 3


def sins_collapse(loss_percent: float, uncertainty: float, *,
                  involved_over_half: bool | None) -> dict[str, Any]:
    """SINS collapse category suggested by a height loss (percent) and, when known, whether a
    tumour involves more than half of the body."""
    if loss_percent >= COLLAPSE_FLOOR_PERCENT:
        value: str | None = "over_50" if loss_percent > 50.0 else "under_50"
        if loss_percent == 50.0:
            value = None
    elif involved_over_half is None:
        value = None
    else:
        value = "no_collapse_over_50_involved" if involved_over_half else "none"
    margin = min(abs(loss_percent - COLLAPSE_FLOOR_PERCENT), abs(loss_percent - 50.0))
    confidence = ("high" if margin >= 2 * uncertainty else "moderate" if margin >= uncertainty
                  else "low")
    out: dict[str, Any] = {"value": value, "label": COLLAPSE_LABELS.get(value or ""),
                           "confidence": confidence}
    if value is None and loss_percent < COLLAPSE_FLOOR_PERCENT:
        out["candidates"] = ["none", "no_collapse_over_50_involved"]
        out["why_open"] = ("no collapse measured; whether tumour involves more than half of the "
                           "body needs a lesion mask or the clinician")
    elif value is None:
        out["candidates"] = ["under_50", "over_50"]
        out["why_open"] = "exactly 50%: undefined in the source, the clinician chooses"
    if abs(loss_percent - 50.0) < uncertainty:
        out["near_boundary"] = ("within measurement uncertainty of 50%: check <50% vs >50% on "
                                "the images")
    return out


def _expected(levels: dict[str, LevelGeometry], level: str) -> tuple[dict[str, float], list[str]]:
    """Expected heights: per position, the median of up to two measured levels on each side
    (walking outward, stopping at a level that is absent, clipped or flagged); one collapsed
    neighbour among four then does not hide a collapse."""
    from spinemets.imaging._labels import VERTEBRA_ORDER  # noqa: PLC0415

    rank = rank_of(level)
    used: list[LevelGeometry] = []
    for step in (-1, 1):
        for k in (1, 2):
            r = rank + step * k
            near = levels.get(VERTEBRA_ORDER[r]) if 0 <= r < len(VERTEBRA_ORDER) else None
            if near is None or near.status != "measured" or not near.heights_mm or (
                    near.level == "S1"):
                break
            used.append(near)
    if not used:
        return {}, []
    used.sort(key=lambda u: rank_of(u.level))
    expected = {p: statistics.median(u.heights_mm[p] for u in used if u.heights_mm)
                for p in ("posterior", "middle", "anterior")}
    return expected, [u.level for u in used]


def _collapse_entry(level: LevelGeometry, levels: dict[str, LevelGeometry],
                    spacing: tuple[float, float, float],
                    involvement: float | None) -> dict[str, Any]:
    """Height loss, Genant grade and the collapse suggestion of one measured level."""
    heights = level.heights_mm or {}
    out: dict[str, Any] = {"height_loss_percent": None, "genant_grade": None}
    if level.status != "measured" or not heights:
        reason = {"clipped": "the body touches the edge of the field of view",
                  "flagged": "the level is flagged: " + "; ".join(level.flags)}.get(
            level.status, "no heights")
        out["collapse"] = {"value": None, "confidence": None, "confirm": True,
                           "not_suggested": f"no collapse suggested: {reason}"}
        return out
    tallest = max(heights.values())
    within = 100.0 * (1.0 - min(heights.values()) / tallest) if tallest > 0 else None
    out["within_vertebra_loss_percent"] = None if within is None else round(within, 1)
    if level.level == "S1":
        out["collapse"] = {"value": None, "confidence": None, "confirm": True,
                           "not_suggested": "S1 is not compared (no level below it)"}
        return out
    expected, used = _expected(levels, level.level)
    if not expected:
        out["collapse"] = {"value": None, "confidence": None, "confirm": True,
                           "not_suggested": "no nearby measured level to compare with"}
        return out
    losses = {p: 100.0 * (1.0 - heights[p] / expected[p]) for p in expected if expected[p] > 0}
    position = max(losses, key=lambda p: losses[p])
    loss = round(losses[position], 1)  # grade and category follow the value shown
    along_height = spacing[2]
    uncertainty = 100.0 * along_height / expected[position]
    if len(used) == 1:
        uncertainty *= 1.5
    used_note = ("one adjacent level only" if len(used) == 1
                 else f"median of {len(used)} nearby levels")
    out["height_loss_percent"] = loss
    out["genant_grade"] = genant_grade(loss)
    suggestion = sins_collapse(loss, uncertainty, involved_over_half=(
        None if involvement is None else involvement > 0.5))
    if level.body_source.startswith("derived") and suggestion["confidence"] == "high":
        suggestion["confidence"] = "moderate"
    suggestion["confirm"] = True
    suggestion["basis"] = {
        "heights_mm": heights,
        "expected_heights_mm": {p: round(v, 2) for p, v in expected.items()},
        "expected_from": used,
        "expected_note": used_note,
        "loss_by_position_percent": {p: round(v, 1) for p, v in losses.items()},
        "largest_loss_at": position,
        "uncertainty_points": round(uncertainty, 1),
        "body_involvement_by_lesion": None if involvement is None else round(involvement, 3),
        "rule": ("height loss = largest of 1 - height / expected height over the posterior, "
                 "middle and anterior positions; expected = median of the same position on up "
                 "to two measured levels above and two below; >= 20% (Genant grade 1 floor) "
                 "read as collapse; >50% vs <50% per SINS"),
        "genant": GENANT_STATUS,
        "citation": SINS_CITATION,
    }
    out["collapse"] = suggestion
    return out


def _alignment(level: LevelGeometry, levels: dict[str, LevelGeometry]) -> dict[str, Any]:
    """Translation and deformity hints: measurements only (the source gives no thresholds)."""
    from spinemets.imaging._labels import VERTEBRA_ORDER  # noqa: PLC0415

    rank = rank_of(level.level)
    above = levels.get(VERTEBRA_ORDER[rank - 1]) if rank > 0 else None
    below = levels.get(VERTEBRA_ORDER[rank + 1]) if rank + 1 < len(VERTEBRA_ORDER) else None
    basis: dict[str, Any] = {}
    if (above and below and above.centroid_mm and below.centroid_mm and level.centroid_mm
            and above.centroid_mm[2] != below.centroid_mm[2]):
        a, b, c = above.centroid_mm, below.centroid_mm, level.centroid_mm
        f = (c[2] - b[2]) / (a[2] - b[2])
        basis["offset_from_neighbour_line_mm"] = {
            "right": round(c[0] - (b[0] + f * (a[0] - b[0])), 1),
            "anterior": round(c[1] - (b[1] + f * (a[1] - b[1])), 1)}
    if level.superior_endplate_deg is not None and level.inferior_endplate_deg is not None:
        basis["body_wedge_deg"] = round(level.superior_endplate_deg
                                        - level.inferior_endplate_deg, 1)
    if (above and above.inferior_endplate_deg is not None
            and level.superior_endplate_deg is not None):
        basis["angle_to_level_above_deg"] = round(above.inferior_endplate_deg
                                                  - level.superior_endplate_deg, 1)
    basis["sign"] = ("angles in the sagittal plane; positive = opening anteriorly (lordotic), "
                     "negative = kyphotic; offsets of the body centroid from the line joining "
                     "the adjacent centroids")
    return {"value": None, "confidence": None, "confirm": True, "basis": basis,
            "not_suggested": ("measurements only: the SINS source gives no measurement "
                              "thresholds for translation or de novo deformity; the clinician "
                              "reads alignment on the images")}


def suggest_levels(measurement: BodyMeasurement, *,
                   lesions: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The ``levels`` list of the output document: measurements plus suggestions."""
    by_level = {g.level: g for g in measurement.levels}
    out = []
    for g in measurement.levels:
        lesion = (lesions or {}).get(g.level)
        involvement = None if lesion is None else lesion.get("body_fraction")
        entry = _collapse_entry(g, by_level, measurement.spacing_mm, involvement)
        suggestions: dict[str, Any] = {"collapse": entry.pop("collapse")}
        if g.status == "measured":
            suggestions["alignment"] = _alignment(g, by_level)
        if lesion is not None:
            suggestions.update(lesion.get("suggestions", {}))
        out.append({
            "level": g.level,
            "status": g.status,
            "flags": list(g.flags),
            "heights_mm": g.heights_mm,
            **entry,
            "depth_mm": g.depth_mm,
            "volume_ml": g.volume_ml,
            "hu": {"mean": g.hu_mean, "median": g.hu_median},
            "centroid_ras_mm": list(g.centroid_mm) if g.centroid_mm else None,
            "endplates_deg": {"superior": g.superior_endplate_deg,
                              "inferior": g.inferior_endplate_deg},
            "sagittal_sections": g.sections,
            "body_source": g.body_source,
            "notes": list(g.notes),
            "suggestions": suggestions,
        })
    return out
