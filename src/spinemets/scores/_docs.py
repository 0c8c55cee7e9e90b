"""Score reference pages, generated from the table files (never hand-edited)."""

from __future__ import annotations

from spinemets.knowledge import Reference, reference_list
from spinemets.scores._schema import Component, ScoreDefinition, Source

__all__ = ["reference_item", "reference_markdown"]


def reference_item(ref: Reference) -> str:
    """One reference as Markdown: the bibliographic text, then links to find it."""
    links = []
    if ref.doi:
        links.append(f"[doi:{ref.doi}]({ref.doi_url})")
    if ref.pmid:
        links.append(f"[PMID: {ref.pmid}]({ref.pubmed_url})")
    if ref.pmcid:
        links.append(ref.pmcid)
    if ref.url:
        links.append(f"<{ref.url}>")
    text = ref.bibliographic() + (" " + ". ".join(links) + "." if links else "")
    if ref.no_identifier:
        text += f" *No DOI, PMID or URL:* {ref.no_identifier}"
    elif ref.identifiers:
        text += f" *Identifiers:* {ref.identifiers}"
    if ref.note:
        text += f" *Note:* {ref.note}"
    return text


def _references(defn: ScoreDefinition) -> list[str]:
    refs = reference_list()
    lines = ["", "## References", ""]
    for n, key in enumerate(defn.provenance.references, start=1):
        if key not in refs:
            raise KeyError(f"{defn.slug}: provenance reference {key!r} is not in the list")
        lines.append(f"{n}. {reference_item(refs[key])}")
    book = f"../clinical/rules.md#score-{defn.slug}"
    lines += ["", f"Rules that read this score: [rule book]({book})."]
    return lines


def _source_text(src: Source) -> str:
    role = "" if src.role == "primary" else f" ({src.role})"
    if src.kind == "lab_criteria":
        levels = "; ".join(
            f"{lv.option} if any of " + ", ".join(c.describe() for c in lv.any)
            for lv in src.levels)
        return f"lab values with units: {levels}; otherwise {src.default}{role}"
    if src.kind == "histology":
        return f"`{src.input}` (histology id; catalogue column `{src.attribute}`){role}"
    if src.kind == "integer_ranges":
        ranges = ", ".join(
            f"{r.min}{'+' if r.max is None else '' if r.max == r.min else f'-{r.max}'}"
            f" -> {r.option}" for r in src.ranges)
        return f"`{src.input}` ({ranges}){role}"
    return f"`{src.input}` ({src.kind}){role}"


def _component(comp: Component, kind: str) -> list[str]:
    flag = " (UNVERIFIED)" if comp.unverified else ""
    lines = [f"### {comp.label}{flag}", "", "| Category | " + (
        "Points |" if kind == "points" else "Band |"), "|---|---|"]
    for opt in comp.options:
        value = opt.points if kind == "points" else opt.band
        lines.append(f"| {opt.label} | {value} |")
    lines += ["", "Inputs: " + "; ".join(_source_text(s) for s in comp.sources), ""]
    return lines


def reference_markdown(defn: ScoreDefinition) -> str:
    """A Markdown reference page for one score, from its table."""
    p = defn.provenance
    lines = [
        f"# {defn.name} (`{defn.slug}`)", "",
        "<!-- generated from src/spinemets/scores/tables/"
        f"{defn.slug}.yaml by `python -m spinemets.scores.gen_docs`; do not edit -->", "",
        f"- Version: {defn.version}",
        f"- Status: {defn.status}",
        f"- Citation: {p.citation}",
        f"- How the table was checked: {p.source}",
        f"- Verification: {p.verification}",
    ]
    lines += [f"- Note: {n}" for n in p.notes]
    if defn.status_reason:
        lines += ["", f"**Unavailable:** {defn.status_reason}"]
    if defn.provisional_label:
        lines += ["", f"**Provisional:** {defn.provisional_label}"]
    for title, text in (("Purpose", defn.purpose), ("Use", defn.use), ("Misuse", defn.misuse)):
        if text:
            lines += ["", f"**{title}.** {text}"]
    if defn.available:
        lines += ["", "## Components", ""]
        for comp in defn.components:
            lines += _component(comp, defn.kind)
        lines += ["## Bands", "", "| Band | Range | Meaning |", "|---|---|---|"]
        for band in defn.bands:
            span = "" if band.min is None else f"{band.min}-{band.max}"
            meaning = band.detail or ""
            if band.unverified:
                meaning += " UNVERIFIED: " + "; ".join(band.unverified)
            lines.append(f"| {band.label} | {span} | {meaning.strip()} |")
    lines += _references(defn)
    return "\n".join(lines) + "\n"
