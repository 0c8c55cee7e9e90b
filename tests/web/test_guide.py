"""The condition guide (issue 21): warning signs in the text itself, no colour-only references,
links to the symptom checker and the clinics, a source for the most common primaries."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

_WARNING_SIGNS = {
    "en": ["new weakness in your arms or legs", "new trouble walking",
           "numbness or tingling", "problems controlling your bladder or bowels"],
    "es": ["debilidad nueva en los brazos o las piernas", "dificultad nueva para caminar",
           "adormecimiento u hormigueo", "problemas para controlar la orina o los intestinos"],
}
_COLOURS = {"en": r"\b(red|green|yellow|blue|orange)\b",
            "es": r"\b(roj[oa]s?|verdes?|amarill[oa]s?|azul(es)?|naranja)\b"}


def _main(html: str) -> str:
    return html.split('<main', 1)[1].split("</main>", 1)[0]


def _outside_the_emergency_box(html: str) -> str:
    main = _main(html)
    box = main.split('nhsuk-card--care--emergency', 1)
    if len(box) == 1:
        return main
    return box[0] + box[1].split("</div>\n</div>", 1)[1]


@pytest.mark.parametrize("language", ["en", "es"])
def test_warning_signs_are_in_the_text_not_only_in_the_box(client: TestClient,
                                                           language: str) -> None:
    html = client.get("/guide", params={"lang": language}).text
    text = _outside_the_emergency_box(html)
    missing = [sign for sign in _WARNING_SIGNS[language] if sign not in text.lower()]
    assert missing == []
    assert 'href="tel:911"' in text  # the emergency action next to the signs


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_colour_only_references(client: TestClient, language: str) -> None:
    """WCAG 1.3.3: the text names the box by its heading, never by its colour."""
    text = re.sub(r"<[^>]+>", " ", _main(client.get("/guide", params={"lang": language}).text))
    assert re.findall(_COLOURS[language], text, re.IGNORECASE) == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_links_to_the_checker_and_the_clinics_in_the_text(client: TestClient,
                                                         language: str) -> None:
    main = _main(client.get("/guide", params={"lang": language}).text)
    assert 'href="/check"' in main
    assert 'href="/clinics"' in main


def test_the_most_common_primaries_have_a_source(client: TestClient) -> None:
    main = _main(client.get("/guide").text)
    assert "in that order" not in main
    assert "breast, lung and prostate cancer" in main
    assert "https://www.ncbi.nlm.nih.gov/books/NBK441950/" in main
