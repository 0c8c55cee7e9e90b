"""Write the rule book ``docs/clinical/rules.md`` from the decision tables.

``python -m spinemets.rules.gen_book [DIR]`` writes the page (default ``docs/clinical``);
``python -m spinemets.rules.gen_book --check [DIR]`` writes nothing and exits 1 when the page is
missing or differs from the tables. Both list the references that have no DOI, PMID or URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spinemets.rules._book import BookReference, BookRule, BookSection, RuleBook, rule_book
from spinemets.scores._docs import reference_item

__all__ = ["book_markdown", "main"]

PAGE = "rules.md"


def _cite(refs: tuple[BookReference, ...]) -> str:
    return "; ".join(f"[{r.number}](#ref-{r.reference.key}) {r.label}" for r in refs)


def _rule(rule: BookRule, names: dict[str, str]) -> list[str]:
    lines = [f'<a id="{rule.id}"></a>', "", f"#### {rule.id}", "", rule.statement, "",
             f"- Outcome: {rule.outcome}", "- When: " + "; ".join(rule.conditions),
             f"- Evidence: {rule.evidence}", f"- Citations: {_cite(rule.citations)}"]
    if rule.scores:
        lines.append("- Scores: " + ", ".join(
            f"[{names[s]}](../scores/{s}.md)" for s in rule.scores))
    lines += [f"- Caution: {c}" for c in rule.cautions]
    return [*lines, ""]


def _section(section: BookSection, names: dict[str, str]) -> list[str]:
    lines = [f'<a id="table-{section.id}"></a>', "", f"## {section.title}", "",
             f"Table `{section.source}`. {section.intro}".rstrip(), ""]
    for rule in section.rules:
        lines += _rule(rule, names)
    return lines


def book_markdown(book: RuleBook) -> str:
    """The rule book as one Markdown page."""
    names = {s.slug: s.name for s in book.scores}
    lines = [
        "# spinemets rule book", "",
        "<!-- generated from src/spinemets/rules/tables/*.yaml and "
        "src/spinemets/knowledge/references.yaml by `python -m spinemets.rules.gen_book`; "
        "do not edit -->", "",
        "Every triage, work-up, NOMS, mechanical, patient-level and medication rule and every "
        "consistency check of the plan engine, with its id, statement, evidence status and "
        "numbered citations. The anchor of each rule is its id (`rules.md#<rule id>`; the web "
        "application serves this book at `/rules#<rule id>`). Where a rule has no published "
        "source, it cites this rule book and its statement says what the basis is (standard "
        "practice, or a local or implementation decision). Decision support only: a clinician "
        "decides.", "",
        "Evidence status: " + "; ".join(
            f"**{k}**" for k in ("verified", "partial", "unverified", "standard practice")) + ".",
        "", "Contents: " + ", ".join(
            f"[{s.title}](#table-{s.id})" for s in book.sections)
        + ", [Medication parameters](#medication), [Scores](#scores), "
        "[References](#references).", ""]
    for section in book.sections:
        lines += _section(section, names)
    lines += ['<a id="medication"></a>', "", "## Medication parameters", "",
              "Table `rules/tables/medication.yaml`.", ""]
    lines += [f"- {text} ({_cite(refs)})" for text, refs in book.medication]
    lines += ["", '<a id="scores"></a>', "", "## Scores", ""]
    for score in book.scores:
        used = ", ".join(f"[{r}](#{r})" for r in score.rules) or "none (shown for reading only)"
        lines += [f'<a id="score-{score.slug}"></a>', "",
                  f"- [{score.name}]({score.page}) (`{score.slug}`): rules {used}", ""]
    lines += ['<a id="references"></a>', "", "## References", ""]
    for ref in book.references:
        lines += [f'<a id="ref-{ref.reference.key}"></a>', "",
                  f"{ref.number}. {reference_item(ref.reference)}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def without_identifier(book: RuleBook) -> list[str]:
    """References with neither DOI, PMID nor URL (the exceptions), with the reason."""
    return [f"{r.reference.key}: {r.reference.no_identifier}" for r in book.references
            if not r.reference.has_identifier and r.reference.kind != "project"]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    out = Path(args[0] if args else "docs/clinical")
    book = rule_book()
    text = book_markdown(book)
    for line in without_identifier(book):
        print(f"no DOI, PMID or URL: {line}")
    page = out / PAGE
    if check:
        if not page.is_file() or page.read_text(encoding="utf-8") != text:
            print(f"{page}: out of date; run python -m spinemets.rules.gen_book {out}")
            return 1
        return 0
    out.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
