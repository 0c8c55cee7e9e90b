"""scripts/readability.py: syllables, sentences, the formulas, and the targets for every page."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

SCRIPT = Path(__file__).parents[2] / "scripts" / "readability.py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="source tree not available")


@pytest.fixture(scope="module")
def rb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spinemets_readability", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("word", "expected"), [
    ("the", 1), ("spine", 1), ("you", 1), ("yes", 1), ("caused", 1), ("makes", 1),
    ("cancer", 2), ("people", 2), ("table", 2), ("changes", 2), ("needed", 2), ("tumour", 2),
    ("surgery", 3), ("vertebra", 3), ("microscope", 3),
    ("radiation", 4), ("emergency", 4), ("metastatic", 4), ("sciatica", 4), ("paralysis", 4),
    ("911", 1),
])
def test_english_syllables(rb: ModuleType, word: str, expected: int) -> None:
    assert rb.count_syllables(word, "en") == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("y", 1), ("que", 1), ("huesos", 2), ("día", 2), ("leer", 2), ("país", 2), ("guía", 2),
    ("oír", 2), ("columna", 3), ("cuidado", 3), ("médula", 3), ("ciática", 3),
    ("hormigueo", 4), ("aéreo", 4), ("emergencia", 4), ("parálisis", 4),
    ("radioterapia", 5), ("quimioterapia", 5), ("adormecimiento", 6),
])
def test_spanish_syllables(rb: ModuleType, word: str, expected: int) -> None:
    assert rb.count_syllables(word, "es") == expected


def test_sentences(rb: ModuleType) -> None:
    assert rb.sentences("Llame al 911. ¿Tiene cáncer? Sí.") == ["Llame al 911.",
                                                                 "¿Tiene cáncer?", "Sí."]
    assert len(rb.sentences("De lunes a viernes, de 8 a. m. a 5 p. m.")) == 1
    assert rb.sentences("new weakness in your arms or legs") == [
        "new weakness in your arms or legs"]
    assert rb.sentences("Other signs include: pain; and more") == [
        "Other signs include: pain; and more"]
    assert rb.sentences("  ") == []
    assert rb.words("X-ray, 24 hours; don't") == ["X", "ray", "24", "hours", "don't"]


def test_visible_blocks_are_the_visible_text_of_main(rb: ModuleType) -> None:
    html = """<html><body><header><a>Skip</a></header>
    <main><h1>Title <span class="nhsuk-u-visually-hidden">hidden</span>here</h1>
    <p>One. Two.</p><ul><li>first</li><li>second<br>line</li></ul>
    <div hidden>not shown</div><script>var x = "no";</script><p>a &amp; b</p></main>
    <footer>Footer</footer></body></html>"""
    assert rb.visible_blocks(html) == ["Title here", "One. Two.", "first", "second", "line",
                                       "a & b"]


def test_formulas(rb: ModuleType) -> None:
    stats = rb.TextStats(words=100, sentences=10, syllables=150)
    assert rb.flesch_kincaid_grade(stats) == pytest.approx(0.39 * 10 + 11.8 * 1.5 - 15.59)
    assert rb.fernandez_huerta(stats) == pytest.approx(206.84 - 60 * 1.5 - 1.02 * 10)
    simple = rb.measure(["The cat sat on the mat."], "en")
    assert (simple.words, simple.sentences, simple.syllables) == (6, 1, 6)
    assert rb.flesch_kincaid_grade(simple) == pytest.approx(-1.45)
    spanish = rb.measure(["El gato se sentó. Está en casa."], "es")
    assert (spanish.words, spanish.sentences, spanish.syllables) == (7, 2, 11)


@pytest.fixture(scope="module")
def scores(rb: ModuleType) -> list[Any]:
    return list(rb.score_pages())


def test_every_patient_page_is_scored(scores: list[Any]) -> None:
    pages = {score.page for score in scores}
    assert {"/", "/guide", "/check", "/clinics", "/accessibility",
            "/check/q/saddle_numbness", "/check/result (emergency)"} <= pages
    assert {score.language for score in scores} == {"en", "es"}


def test_every_page_meets_its_readability_target(scores: list[Any]) -> None:
    """Flesch-Kincaid grade 6 or less in English, Fernández Huerta 80 or more in Spanish."""
    missed = [f"{s.page} [{s.language}] {s.score:.1f}" for s in scores if not s.meets_target]
    assert missed == []


MAX_WORDS = 25


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_sentence_is_too_long(rb: ModuleType, client: TestClient, language: str) -> None:
    long: set[str] = set()
    for _page, html in rb.page_html(client, language):
        for block in rb.visible_blocks(html):
            long.update(sentence for sentence in rb.sentences(block)
                        if len(rb.words(sentence)) > MAX_WORDS)
    assert sorted(long) == []
