"""The rule book page ``/rules``: public, one anchor per rule id, citations resolve on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from spinemets.rules._book import rule_book


def test_rule_book_page_is_public_with_an_anchor_per_rule(client: TestClient) -> None:
    response = client.get("/rules", follow_redirects=False)
    assert response.status_code == 200
    page = response.text
    book = rule_book()
    for rule_id in book.rule_ids():
        assert f'id="{rule_id}"' in page, rule_id
    anchors = set(re.findall(r'id="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert links <= anchors, sorted(links - anchors)
    for ref in book.references:
        for link in (ref.reference.doi_url, ref.reference.pubmed_url, ref.reference.url):
            if link:
                assert f'href="{link}"' in page
    assert not re.search(r"pathway\.md|scores\.md|case-format\.md|\.\./shared", page)
