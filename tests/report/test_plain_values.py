"""Every demo and golden plan's report: no "None" as a value, no raw ids in the text, and every
reference carries a DOI, PMID or URL or says why it has none (issue 20)."""

from __future__ import annotations

import re

import pytest
from tests.rules.conftest import section6, section6_case, vignettes

from spinemets.report import build_report, render_html, render_text
from spinemets.rules import plan
from spinemets.storage import demo_cases

CASES = ({str(c["id"]): c for c in demo_cases()} | {v["id"]: v["case"] for v in vignettes()}
         | {"s6-" + g["id"]: section6_case(g["change"]) for g in section6()["cases"]})
RAW = re.compile(r"\bNone\b(?! of the above)|\bmdt_review\b|\[Series not identified|placeholder")
#: An identifier in the text, or the plain reason there is none.
IDENTIFIED = re.compile(r"doi[:. ]\s*10\.|PMID|https?://|No DOI, PMID or URL verified|"
                        r"project's own clinical rules", re.IGNORECASE)


@pytest.mark.parametrize("ref", sorted(CASES))
def test_report_values_are_words_and_references_are_identified(ref: str) -> None:
    case = CASES[ref]
    report = build_report(plan(case).to_dict(), case)
    text = render_text(report)
    # ids are one click away on purpose: the rule and flag ids in <code> are not values
    visible = re.sub(r"<style.*?</style>|<code>.*?</code>|<[^>]+>", " ", render_html(report),
                     flags=re.DOTALL)
    for name, body in (("text", text), ("html", visible)):
        found = [body[max(0, m.start() - 40):m.end() + 20] for m in RAW.finditer(body)]
        assert found == [], (name, found[:5])
    for reference in report.references:
        assert reference.doi or reference.pmid or reference.url or IDENTIFIED.search(
            reference.text), reference.text
