"""The report as plain text: summary first, details after, numbered references at the end.

Fits ``width`` columns (100 by default): no table is split into narrow wrapped columns; long
values wrap under their own label instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from spinemets.report._model import Flag, Item, LocalModel, Report, ScoreRow
from spinemets.report._svg import spine_facts

__all__ = ["render_text"]


class _Out:
    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[str] = []

    def line(self, text: str = "", indent: int = 0, hang: int = 2) -> None:
        if not text:
            self.lines.append("")
            return
        self.lines.extend(textwrap.wrap(
            text, self.width, initial_indent=" " * indent,
            subsequent_indent=" " * (indent + hang), break_on_hyphens=False,
            break_long_words=True) or [""])

    def heading(self, text: str) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")
        self.lines.extend([text.upper(), "=" * min(len(text), self.width)])

    def labelled(self, label: str, values: Iterable[str], indent: int = 4) -> None:
        values = [v for v in values if v]
        if values:
            self.line(f"{label}: " + "; ".join(values), indent, hang=len(label) + 2)


def _refs(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _flag(flag: Flag) -> str:
    where = f" at {flag.lesion}" if flag.lesion else ""
    marks = [m for m in (flag.severity, "urgent" if flag.kind == "urgent" else None) if m]
    text = f"{flag.title}{where}" + (f" ({', '.join(marks)})" if marks else "")
    text += f": {flag.reason}"
    if flag.fields:
        text += f" Check: {', '.join(flag.fields)}."
    if flag.verify:
        text += f" Verify: {flag.verify}"
    return text


def _item_line(item: Item) -> str:
    where = f" at {item.lesion}" if item.lesion else ""
    text = f"{item.label}{where} - {item.status_label.upper()}"
    if item.unverified:
        text += " - UNVERIFIED"
    if item.headline:
        text += f": {item.headline}"
    return text + (f" {_refs(item.references)}" if item.references else "")


def _score_table(out: _Out, rows: Iterable[ScoreRow]) -> None:
    rows = list(rows)
    name_w = max([len(r.name) for r in rows] + [5]) + 2
    tot_w = max([len(r.total) for r in rows] + [5]) + 2
    head = f"  {'Score':<{name_w}}{'Total':<{tot_w}}Band in words (score version) [reference]"
    out.lines.append(head[: out.width])
    start = 2 + name_w + tot_w
    for r in rows:
        band = r.band if r.complete else f"incomplete - possible: {r.band}"
        if r.provisional:
            band += " - PROVISIONAL"
        band += f" ({r.version})" + (f" [{r.reference}]" if r.reference else "")
        lead = f"  {r.name:<{name_w}}{r.total:<{tot_w}}"
        wrapped = textwrap.wrap(band, out.width - start) or [""]
        out.lines.append(lead + wrapped[0])
        out.lines.extend(" " * start + w for w in wrapped[1:])


def _summary(out: _Out, r: Report) -> None:
    out.heading(f"Triage: {r.triage.label}")
    out.labelled("Reasons", [", ".join(r.triage.reasons)], indent=2)
    out.line(r.triage.advice, 2)
    if r.alerts:
        out.heading("Alerts")
        for flag in r.alerts:
            out.line("! " + _flag(flag), 2)
    out.heading("Patient")
    for label, value in r.patient:
        out.line(f"{label}: {value}", 2, hang=len(label) + 2)
    out.heading("Lesions (NOMS)")
    if not r.lesions:
        out.line("No lesions recorded.", 2)
    for row in r.lesions:
        out.line(f"{row.label} ({row.imaging})", 2)
        out.labelled("Mechanical (SINS)", [f"{row.sins}: {row.sins_band}"])
        out.labelled("Neurological (ESCC)", [f"{row.escc}: {row.escc_band}"])
        out.labelled("Oncological (radiosensitivity)", [row.radiosensitivity])
        out.labelled("Treatment", [f"{i.label} ({i.status_label.lower()})"
                                   + (" UNVERIFIED" if i.unverified else "")
                                   for i in row.treatment] or ["no treatment proposed"])
        out.labelled("MDT / flags", [f"{f.title}: {f.reason}" for f in row.flags])
    if r.uncertain:
        out.heading("What is uncertain: missing inputs, most consequential first")
        for label, group in r.uncertain:
            out.labelled(label, ["; ".join(u.label for u in group)], indent=2)
    facts = spine_facts(r)
    if facts:
        out.labelled("Spine diagram (text)", facts, indent=2)


def _local_model(out: _Out, m: LocalModel) -> None:
    """The site's local model beside the scores (only when the site configures one)."""
    out.heading("Local model, beside the scores")
    out.line(m.label, 2)
    if m.computed:
        out.line("Predicted probability of being alive: " + "; ".join(
            f"at {h} {p}" for h, p in m.survival), 2)
    for text in m.not_computed:
        out.line(text, 2)
    for label, value, how, part in m.inputs:
        out.line(f"{label}: {value}; contribution {part} = {how}", 4, hang=4)
    for text in (m.basis, m.performance, m.note, m.intended_use):
        if text:
            out.line(text, 2, hang=2)


def _prognosis(out: _Out, r: Report) -> None:
    if r.prognosis:
        out.heading("Prognosis (scores side by side)")
        _score_table(out, r.prognosis)
        if r.prognosis_note:
            out.line("Disagreement: " + r.prognosis_note, 2)
    if r.local_model is not None:
        _local_model(out, r.local_model)


def _patient_level(out: _Out, r: Report) -> None:
    _prognosis(out, r)
    groups = (("Medication", r.medication), ("Systemic therapy", r.systemic),
              ("Supportive care", r.supportive), ("Work-up", r.workup))
    for title, items in groups:
        if not items:
            continue
        out.heading(title)
        if title == "Medication" and r.crcl:
            out.line(f"Creatinine clearance: {r.crcl}", 2)
        for item in items:
            out.line(_item_line(item), 2, hang=4)
    if r.no_recommendation:
        out.line("No patient-level treatment rule applies on the information given.", 2)
    if r.flags:
        out.heading("Flags")
        for flag in r.flags:
            out.line("- " + _flag(flag), 2, hang=4)


def _item_details(out: _Out, item: Item) -> None:
    out.line(_item_line(item), 2, hang=4)
    for label, value in item.extra:
        out.labelled(label, [value])
    out.labelled("Basis", item.basis)
    out.labelled("Cautions", item.cautions or ("none found",))
    out.labelled("Not recorded", item.missing)
    out.labelled("Rule", [f"{item.rule or 'none'} (item {item.id}; evidence: "
                          f"{item.evidence_label})"])
    out.labelled("Citations", [_refs(item.references)])


def _details(out: _Out, r: Report) -> None:
    out.heading("Details: plan items")
    for row in r.lesions:
        for item in (*row.treatment, *row.other_items):
            _item_details(out, item)
    for item in (*r.medication, *r.systemic, *r.supportive, *r.workup):
        _item_details(out, item)
    _score_details(out, r)
    _unknowns_and_inputs(out, r)


def _score_details(out: _Out, r: Report) -> None:
    out.heading("Details: scores")
    for s in (*(s for row in r.lesions for s in row.scores), *r.prognosis, *r.function):
        where = f" at {s.lesion}" if s.lesion else ""
        out.line(f"{s.name}{where} ({s.version}): {s.summary}"
                 + (" - PROVISIONAL" if s.provisional else "")
                 + (f" [{s.reference}]" if s.reference else ""), 2, hang=4)
        for c in s.components:
            points = "" if c.points is None else (
                f" = {c.points} point" + ("" if c.points == "1" else "s"))
            out.line(f"{c.label}: {c.value}{points}", 4, hang=4)
        out.labelled("Missing", s.missing)
        out.labelled("Warnings", s.warnings)
    if r.triage.rules:
        out.line(f"Triage rules: {', '.join(r.triage.rules)}", 2, hang=4)


def _unknowns_and_inputs(out: _Out, r: Report) -> None:
    if r.unknowns:
        out.heading("Inputs that would change the plan if known")
        for u in r.unknowns:
            out.line(f"- {u.label} ({u.path}): {u.consequence_label.lower()}", 2, hang=4)
    if r.inputs:
        out.heading("Inputs")
        for section in r.inputs:
            out.labelled(section.title, [f"{k} {v}" for k, v in section.rows], indent=2)


def render_text(report: Report, *, width: int = 100) -> str:
    """The report as plain text at most ``width`` columns wide (ends with a newline)."""
    out = _Out(width)
    meta = report.meta
    out.line(f"spinemets tumour-board report: case {meta.case_ref}"
             + (" (synthetic demo data)" if meta.demo else ""))
    out.line("Decision support only: every proposal shows its basis; a clinician decides. "
             "Items marked UNVERIFIED or for MDT review need specialist sign-off.")
    _summary(out, report)
    _patient_level(out, report)
    _details(out, report)
    out.heading("References")
    for ref in report.references:
        ids = [f"{k} {v}" for k, v in (("doi", ref.doi), ("PMID", ref.pmid), ("", ref.url)) if v]
        out.line(f"[{ref.number}] {ref.text}" + (f" ({'; '.join(i.strip() for i in ids)})"
                                                 if ids else ""), 2, hang=len(str(ref.number)) + 3)
    out.line()
    version = "not stored" if meta.case_version is None else str(meta.case_version)
    out.line(f"Case {meta.case_ref}, version {version}; generated "
             f"{meta.generated_at.strftime('%Y-%m-%d %H:%M %Z').strip()}; author "
             f"{meta.author or 'not recorded'}; spinemets {meta.software_version}; clinical "
             f"tables sha256 {meta.tables_hash[:16]}; plan format {meta.plan_format}.")
    return "\n".join(line.rstrip() for line in out.lines) + "\n"
