"""assess(): every applicable score, one SINS and one ESCC per lesion, mapping rules."""

from __future__ import annotations

from tests.rules.conftest import vignette_case

from spinemets.case import assess, load_case, score_inputs


def _inputs(case: dict[str, object], slug: str) -> dict[str, object]:
    (given,) = [g for g in score_inputs(load_case(case)) if g.slug == slug]
    return dict(given.inputs)


def test_one_sins_and_escc_per_lesion() -> None:
    case = {"lesions": [{"levels": ["T5"], "escc": "1a"}, {"levels": ["L2"], "escc": "3"}]}
    result = assess(case)
    sins = [r for r in result.results if r.slug == "sins"]
    assert [r.lesion for r in sins] == ["T5", "L2"]
    assert len([r for r in result.results if r.slug == "bilsky_escc"]) == 2
    assert result.to_dict()["format"] == "spinemets-assessment/1"


def test_vignette_scores() -> None:
    result = assess(vignette_case("v05"))
    assert result.get("sins", 0).total == 8  # type: ignore[union-attr]
    assert result.get("tokuhashi_2005").total == 7  # type: ignore[union-attr]
    assert result.get("tomita_2001").total == 9  # type: ignore[union-attr]


def test_bone_extent_mapping() -> None:
    solitary = {"disease": {"extraspinal_bone_metastases": 0, "vertebral_body_metastases": 1}}
    assert _inputs(solitary, "tomita_2001")["bone_metastases"] == "solitary"
    assert _inputs(solitary, "bauer_modified")["solitary_skeletal_metastasis"] is True
    multiple = {"disease": {"extraspinal_bone_metastases": 2}}
    assert _inputs(multiple, "tomita_2001")["bone_metastases"] == "multiple"
    assert "bone_metastases" not in _inputs({"disease": {"extraspinal_bone_metastases": 0}},
                                            "tomita_2001")


def test_visceral_mappings() -> None:
    disease = {"disease": {"visceral_metastases": "nodular", "visceral_removable": True}}
    assert _inputs(disease, "tokuhashi_2005")["visceral_metastases"] == "removable"
    assert "visceral_metastases" not in _inputs(disease, "tomita_2001")
    brain = {"disease": {"visceral_metastases": "none", "brain_metastases": True}}
    assert _inputs(brain, "katagiri_2014")["visceral_metastases"] == "nodular"
    unknown_brain = {"disease": {"visceral_metastases": "none"}}
    assert "visceral_metastases" not in _inputs(unknown_brain, "katagiri_2014")
    assert _inputs(unknown_brain, "van_der_linden_2005")["visceral_metastases"] is False


def test_ecog_never_derived_from_kps() -> None:
    assert "ecog" not in _inputs({"performance": {"kps": 70}}, "katagiri_2014")
    assert not [g for g in score_inputs(load_case({"performance": {"kps": 70}}))
                if g.slug == "ecog"]


def test_lesion_spanning_locations_warns() -> None:
    result = assess({"lesions": [{"levels": ["T2", "T3"], "pain": "none"}]})
    sins = result.get("sins", 0)
    assert sins is not None
    assert any("UNVERIFIED" in w for w in sins.warnings)


def test_lesion_scores_remembered_per_lesion_object_never_go_stale() -> None:
    """A lesion's scores are remembered per lesion object (by identity, for the ranking of
    unknowns): cases made and dropped one after another, whose objects may reuse the same
    memory, each get their own lesion's scores, as from the inputs alone."""
    from spinemets.rules import plan  # noqa: PLC0415
    from spinemets.scores import score  # noqa: PLC0415

    grades = ["0", "1a", "1b", "1c", "2", "3"]
    for turn in range(60):
        escc = grades[turn % len(grades)]
        pain = ("mechanical", "occasional", "none")[turn % 3]
        case = load_case({"lesions": [{"levels": ["T8"], "escc": escc, "pain": pain}]})
        result = assess(case)
        assert result.get("bilsky_escc", 0) == score("bilsky_escc", {"escc": escc}, lesion="T8")
        assert result.get("sins", 0) == score("sins", {"level": "T8", "pain": pain},
                                              lesion="T8")
        facts = plan(case).to_dict()["scores"]
        assert {s["score"]: s.get("grade", s.get("total")) for s in facts
                if s.get("lesion") == "T8"}["bilsky_escc"] == escc
        del case, result, facts
