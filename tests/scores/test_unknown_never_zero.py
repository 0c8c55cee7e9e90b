"""Unknown is never zero: dropping any subset of inputs keeps the truth inside what is reported."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets.domain import histology_ids
from spinemets.scores import score

LAB = {
    "crp": ("mg/dL", 0.0, 5.0), "ldh": ("U/L", 100, 600), "albumin": ("g/dL", 2.0, 5.0),
    "platelets": ("10*3/uL", 20, 500), "calcium": ("mg/dL", 7.0, 13.0),
    "bilirubin": ("mg/dL", 0.1, 3.0),
}


def _lab(name: str) -> st.SearchStrategy[dict[str, Any]]:
    unit, lo, hi = LAB[name]
    return st.floats(lo, hi, allow_nan=False).map(lambda v: {"value": round(v, 2), "unit": unit})


PLACED = [h for h in histology_ids() if h not in {"cervix", "unknown_primary"}]

STRATEGIES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "sins": {
        "location": st.sampled_from(["junctional", "mobile", "semi_rigid", "rigid"]),
        "pain": st.sampled_from(["mechanical", "occasional", "none"]),
        "bone_lesion": st.sampled_from(["lytic", "mixed", "blastic"]),
        "alignment": st.sampled_from(["subluxation", "deformity", "normal"]),
        "collapse": st.sampled_from(["over_50", "under_50", "no_collapse_over_50_involved",
                                     "none"]),
        "posterolateral": st.sampled_from(["bilateral", "unilateral", "none"]),
    },
    "tokuhashi_2005": {
        "kps": st.sampled_from(range(10, 101, 10)),
        "extraspinal_bone_metastases": st.integers(0, 20),
        "vertebral_body_metastases": st.integers(1, 20),
        "visceral_metastases": st.sampled_from(["none", "removable", "unremovable"]),
        "primary_points": st.integers(0, 5),
        "frankel": st.sampled_from("ABCDE"),
    },
    "tomita_2001": {
        "growth": st.sampled_from(["slow", "moderate", "rapid"]),
        "visceral_metastases": st.sampled_from(["none", "treatable", "untreatable"]),
        "bone_metastases": st.sampled_from(["solitary", "multiple"]),
    },
    "bauer_modified": {
        "primary": st.sampled_from(PLACED),
        "visceral_metastases": st.booleans(),
        "solitary_skeletal_metastasis": st.booleans(),
    },
    "bauer_1995": {
        "primary": st.sampled_from(PLACED),
        "visceral_metastases": st.booleans(),
        "solitary_skeletal_metastasis": st.booleans(),
        "pathological_fracture": st.booleans(),
    },
    "katagiri_2014": {
        "growth": st.sampled_from(["slow", "moderate", "rapid"]),
        "visceral_metastases": st.sampled_from(["none", "nodular", "disseminated"]),
        **{name: _lab(name) for name in LAB},
        "ecog": st.integers(0, 4),
        "previous_chemotherapy": st.booleans(),
        "multiple_skeletal_metastases": st.booleans(),
    },
    "van_der_linden_2005": {
        "kps": st.sampled_from(range(20, 101, 10)),
        "primary_group": st.sampled_from(["breast", "prostate", "lung", "other"]),
        "visceral_metastases": st.booleans(),
    },
}


@st.composite
def full_and_dropped(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str], bool]:
    slug = draw(st.sampled_from(sorted(STRATEGIES)))
    full = {name: draw(strategy) for name, strategy in STRATEGIES[slug].items()}
    dropped = draw(st.lists(st.sampled_from(sorted(full)), min_size=1, unique=True))
    as_unknown_string = draw(st.booleans())
    return slug, full, dropped, as_unknown_string


@settings(max_examples=600, deadline=None)
@given(full_and_dropped())
def test_truth_lies_within_possible_totals(case: tuple[str, dict[str, Any], list[str],
                                                       bool]) -> None:
    slug, full, dropped, as_unknown_string = case
    truth = score(slug, full)
    assert truth.status == "complete"
    assert truth.total is not None and truth.band is not None
    partial = dict(full)
    for name in dropped:
        if as_unknown_string:
            partial[name] = "unknown"
        else:
            del partial[name]
    result = score(slug, partial)
    lo, hi = result.possible_totals or (None, None)
    assert lo is not None and hi is not None
    assert lo <= truth.total <= hi
    assert truth.band.id in result.possible_bands
    if result.status == "complete":
        # Only a lab analyte that could not change the category may be dropped and stay complete.
        assert result.total == truth.total
        assert all(name in LAB for name in dropped)
    else:
        assert result.total is None
        assert result.band is None
        assert result.missing


def test_all_unknown_spans_the_whole_range() -> None:
    result = score("sins", {})
    assert result.status == "incomplete"
    assert result.possible_totals == (0, 18)
    assert result.possible_bands == ("stable", "indeterminate", "unstable")


def test_partial_sins_can_still_leave_one_band() -> None:
    result = score("sins", {"location": "junctional", "pain": "mechanical", "bone_lesion": "lytic",
                            "alignment": "subluxation", "collapse": "over_50"})
    assert result.status == "incomplete"
    assert result.possible_totals == (15, 18)
    assert result.possible_bands == ("unstable",)
    assert result.band is None
    assert result.missing == ("posterolateral",)
