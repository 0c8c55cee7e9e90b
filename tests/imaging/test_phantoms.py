"""Synthetic phantoms: planted collapse recovered, uniform crush found, safety flags raised."""

from __future__ import annotations

import pytest
from tests.imaging._phantoms import build

from spinemets.imaging import measure_volumes

LEVELS = ["T12", "L1", "L2", "L3", "L4"]


def _levels(phantom, **kwargs):
    run = measure_volumes(phantom.ct, phantom.labels, phantom.label_map, body=phantom.labels,
                          body_label_map=phantom.label_map, **kwargs)
    return {entry["level"]: entry for entry in run.document["levels"]}, run.document


@pytest.mark.parametrize(("kind", "planted", "grade", "category"), [
    ("crush", 0.20, 1, "under_50"),
    ("wedge", 0.35, 2, "under_50"),
    ("crush", 0.35, 2, "under_50"),
    ("wedge", 0.60, 3, "over_50"),
    ("crush", 0.60, 3, "over_50"),
])
def test_planted_collapse_recovered(kind, planted, grade, category):
    levels, _ = _levels(build(LEVELS, **{kind: {"L2": planted}}))
    l2 = levels["L2"]
    assert l2["status"] == "measured"
    assert abs(l2["height_loss_percent"] - 100 * planted) <= 5
    assert l2["genant_grade"] == grade
    collapse = l2["suggestions"]["collapse"]
    assert collapse["value"] == category
    assert collapse["confirm"] is True
    assert collapse["basis"]["expected_from"] == ["T12", "L1", "L3", "L4"]
    assert "Fisher" in collapse["basis"]["citation"]
    for other in ("L1", "L3"):
        assert levels[other]["genant_grade"] == 0


def test_wedge_at_the_grade_1_floor_is_within_five_points():
    levels, _ = _levels(build(LEVELS, wedge={"L2": 0.20}))
    assert abs(levels["L2"]["height_loss_percent"] - 20) <= 5


def test_uniform_crush_is_found_although_the_body_keeps_its_shape():
    levels, _ = _levels(build(LEVELS, crush={"L2": 0.35}))
    l2 = levels["L2"]
    assert l2["within_vertebra_loss_percent"] < 5  # the within-vertebra ratio misses it
    assert l2["height_loss_percent"] > 30
    assert l2["suggestions"]["collapse"]["value"] == "under_50"


def test_no_collapse_leaves_the_category_open_without_a_lesion_mask():
    levels, _ = _levels(build(LEVELS))
    collapse = levels["L2"]["suggestions"]["collapse"]
    assert levels["L2"]["genant_grade"] == 0
    assert collapse["value"] is None  # "none" vs ">50% involved" needs the lesion extent
    assert collapse["candidates"] == ["none", "no_collapse_over_50_involved"]


def test_clipped_level_is_not_measured_and_gets_no_collapse():
    levels, _ = _levels(build(LEVELS, clip_top=True))
    t12 = levels["T12"]
    assert t12["status"] == "clipped"
    assert t12["heights_mm"] is None
    assert t12["suggestions"]["collapse"]["value"] is None
    assert "edge of the field of view" in t12["suggestions"]["collapse"]["not_suggested"]
    assert levels["L1"]["suggestions"]["collapse"]["basis"]["expected_from"] == ["L2", "L3"]


def test_missing_middle_level_is_flagged():
    levels, document = _levels(build(["T12", "L1", "L3", "L4"]))
    assert levels["L2"]["status"] == "flagged"
    assert "missing" in levels["L2"]["flags"][0]
    assert any("L2 is missing" in w for w in document["warnings"])
    # L1 and L3 are not compared across the gap
    assert levels["L1"]["suggestions"]["collapse"]["basis"]["expected_from"] == ["T12"]
    assert levels["L3"]["suggestions"]["collapse"]["basis"]["expected_from"] == ["L4"]


def test_labels_out_of_order_are_flagged_and_get_no_collapse():
    phantom = build(LEVELS, crush={"L2": 0.6})
    names = dict(phantom.label_map)
    (i1,) = (k for k, v in names.items() if v == "vertebrae_L1")
    (i3,) = (k for k, v in names.items() if v == "vertebrae_L3")
    names[i1], names[i3] = "vertebrae_L3", "vertebrae_L1"  # swapped labels
    run = measure_volumes(phantom.ct, phantom.labels, names)
    levels = {e["level"]: e for e in run.document["levels"]}
    for level in ("L1", "L2", "L3"):
        assert levels[level]["status"] == "flagged", level
        assert levels[level]["suggestions"]["collapse"]["value"] is None
    assert any("out of anatomical order" in f for f in levels["L1"]["flags"])


def test_two_adjacent_collapses_are_both_found():
    levels, _ = _levels(build([*LEVELS, "L5"], crush={"L2": 0.35, "L3": 0.35}))
    for level in ("L2", "L3"):
        assert abs(levels[level]["height_loss_percent"] - 35) <= 5, level
        assert levels[level]["suggestions"]["collapse"]["value"] == "under_50"


def test_body_too_small_is_flagged():
    levels, _ = _levels(build(LEVELS, small=("L3",)))
    assert levels["L3"]["status"] == "flagged"
    assert any("too small" in f for f in levels["L3"]["flags"])
    assert levels["L3"]["suggestions"]["collapse"]["value"] is None


def test_body_derived_from_whole_vertebra_when_no_body_mask():
    phantom = build(LEVELS, crush={"L2": 0.35})
    run = measure_volumes(phantom.ct, phantom.labels, phantom.label_map)
    l2 = next(e for e in run.document["levels"] if e["level"] == "L2")
    assert l2["body_source"].startswith("derived")
    assert abs(l2["height_loss_percent"] - 35) <= 5
