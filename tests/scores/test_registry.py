"""Registry conformance: every score table is complete, cited, banded and has golden cases."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

import spinemets
import spinemets.scores
from spinemets.errors import ScoreUnavailableError, UnknownScoreError
from spinemets.scores import achievable_totals, get_definition, registry, score
from spinemets.scores._docs import reference_markdown

GOLDEN = Path(__file__).parents[1] / "cases"
EXPECTED = {
    "sins", "bilsky_escc", "tokuhashi_2005", "tomita_2001", "bauer_modified", "bauer_1995",
    "katagiri_2014", "van_der_linden_2005", "frankel", "asia_ais", "kps", "ecog",
}
UNAVAILABLE = {"nesms", "oswestry_risk_index", "rades_2008", "sorg"}


def test_registry_holds_the_issue_scores() -> None:
    reg = registry()
    assert {s for s, d in reg.items() if d.available} == EXPECTED
    assert {s for s, d in reg.items() if not d.available} == UNAVAILABLE
    assert reg["katagiri_2014"].status == "provisional"


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_available_score_conformance(slug: str) -> None:
    defn = get_definition(slug)
    assert defn.provenance.citation.strip()
    assert defn.provenance.source.strip()
    assert defn.provenance.references, "provenance.references: keys of the reference list"
    if defn.kind == "points":
        low, high = defn.total_range
        edges = [(b.min, b.max) for b in defn.bands]
        assert edges[0][0] == low
        assert edges[-1][1] == high
        for (_, prev_max), (next_min, _) in itertools.pairwise(edges):
            assert prev_max is not None and next_min == prev_max + 1
        reachable = achievable_totals([o.points for o in c.options if o.points is not None]
                                      for c in defn.components)
        assert {defn.band_for(t).id for t in reachable} == {b.id for b in defn.bands}
    golden = GOLDEN / f"{slug}.yaml"
    assert golden.exists(), f"no golden cases for {slug}"
    data = yaml.safe_load(golden.read_text(encoding="utf-8"))
    assert data["score"] == slug and data["source"] and data["cases"]


@pytest.mark.parametrize("slug", sorted(UNAVAILABLE))
def test_unavailable_scores_explain_why(slug: str) -> None:
    with pytest.raises(ScoreUnavailableError) as info:
        score(slug, {})
    assert "UNVERIFIED" in info.value.reason or "unavailable" in info.value.reason


def test_unknown_slug_lists_known_ones() -> None:
    with pytest.raises(UnknownScoreError) as info:
        score("tokuhashi", {})
    assert "tokuhashi_2005" in str(info.value)


def test_public_api_is_curated() -> None:
    assert sorted(spinemets.__all__) == sorted([
        "DefinitionError", "InputError", "ScoreResult", "ScoreUnavailableError",
        "SpinemetsError", "UnknownScoreError", "__version__", "assess", "available_scores",
        "plan", "registry", "score", "triage"])
    for name in spinemets.__all__:  # the lazy ones (PEP 562) resolve too
        assert getattr(spinemets, name) is not None
    assert set(spinemets.__all__) <= set(dir(spinemets))
    for name in spinemets.scores.__all__:
        assert hasattr(spinemets.scores, name)


DOCS = Path(__file__).parents[2] / "docs" / "scores"


@pytest.mark.parametrize("slug", sorted(EXPECTED | UNAVAILABLE))
def test_reference_page_is_generated_and_current(slug: str) -> None:
    page = DOCS / f"{slug}.md"
    assert page.exists(), "run: python -m spinemets.scores.gen_docs docs/scores"
    assert page.read_text(encoding="utf-8") == reference_markdown(get_definition(slug))
