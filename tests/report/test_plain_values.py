"""Every demo and golden plan's report: no "None" as a value, no raw ids in the text, and every
reference carries a DOI, PMID or URL or says why it has none (issue 20)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.rules.conftest import vignettes

from spinemets.report import build_report, render_html, render_text
from spinemets.rules import plan
from spinemets.storage import demo_cases

SECTION6 = yaml.safe_load((Path(__file__).parents[1] / "cases" / "plan" / "section6.yaml")
                          .read_text(encoding="utf-8"))


def _section6() -> dict[str, dict[str, Any]]:
    out = {}
    for golden in SECTION6["cases"]:
        case = copy.deepcopy(SECTION6["base"])
        for section, values in golden["change"].items():
            if section == "lesion":
                case["lesions"][0].update(values)
            else:
                case[section] = {**case.get(section, {}), **values}
        out["s6-" + golden["id"]] = case
    return out


CASES = ({str(c["id"]): c for c in demo_cases()} | {v["id"]: v["case"] for v in vignettes()}
         | _section6())
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
