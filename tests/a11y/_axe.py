"""axe-core in the page under test (vendored axe 4.14.1): violations, each with its rule id,
help text and up to five target selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ALL_TAGS = [*WCAG_TAGS, "best-practice"]


def _violations(page: Page, tags: list[str]) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags)
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def run_axe(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.2 A/AA and best-practice rules."""
    return _violations(page, ALL_TAGS)


def run_axe_wcag(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.2 A/AA rules only."""
    return _violations(page, WCAG_TAGS)
