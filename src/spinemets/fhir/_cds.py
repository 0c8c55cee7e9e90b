"""CDS Hooks 2.0: the service definition (from the registries) and cards from a plan.

Cards (none when nothing is actionable): triage when urgent (``warning``) or emergency
(``critical``); one ``warning`` per lesion with SINS 7 or more or ESCC 2-3; one ``info`` card on
what is unknown and would change the plan. Each summary is under 140 characters; the detail is
markdown with the basis and citations; ``source`` carries the citation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["PREFETCH", "SERVICE_ID", "SUMMARY_LIMIT", "cards", "notice_card",
           "service_definition", "with_record"]

SERVICE_ID = "spinemets-spine-metastases"
SUMMARY_LIMIT = 140
#: Prefetch templates (CDS Hooks: a query relative to the FHIR server, ``{{context.patientId}}``).
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}
_SOURCE = "spinemets (decision support: a clinician decides)"


def service_definition() -> dict[str, Any]:
    """The discovery entry of the service; its description names the registered scores."""
    from spinemets.scores import registry  # noqa: PLC0415

    names = ", ".join(defn.name for defn in registry().values() if defn.available)
    return {
        "hook": "patient-view", "id": SERVICE_ID, "title": "spinemets: metastatic spine",
        "description": "Triage, instability and cord-compression flags and the unknowns that "
        f"would change a NOMS-based plan, from the record. Scores: {names}.",
        "prefetch": dict(PREFETCH),
        "usageRequirements": "Decision support only: a clinician decides. Reads Patient, "
        "Condition, Observation and Procedure.",
    }


def _summary(text: str) -> str:
    return text if len(text) < SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 2] + "…"


def _markdown(lines: list[str], citations: list[str], extra: str = "") -> str:
    out = [extra] if extra else []
    if lines:
        out.append("**Basis**\n\n" + "\n".join(f"- {_escape(line)}" for line in lines))
    if citations:
        out.append("**Citations**\n\n" + "\n".join(f"- {_escape(c)}" for c in citations))
    out.append("_Decision support only: a clinician decides._")
    return "\n\n".join(out)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*_`[]<>#|" else ch for ch in text)


def _source(citations: list[str]) -> dict[str, Any]:
    from spinemets.fhir._codes import terminology  # noqa: PLC0415

    t = terminology()
    label = f"{_SOURCE}. {citations[0]}" if citations else _SOURCE
    return {"label": label, "topic": {"system": t.project, "code": t.cds_topic["code"],
                                      "display": t.cds_topic["display"]}}


def _card(summary: str, indicator: str, detail: str, citations: list[str],
          link: dict[str, Any] | None) -> dict[str, Any]:
    card: dict[str, Any] = {"uuid": str(uuid.uuid4()), "summary": _summary(summary),
                            "indicator": indicator, "detail": detail,
                            "source": _source(citations)}
    if link is not None:
        card["links"] = [link]
    return card


def _triage_card(plan: Mapping[str, Any], link: dict[str, Any] | None) -> dict[str, Any] | None:
    triage = plan["triage"]
    level = triage["level"]
    if level not in {"urgent", "emergency"}:
        return None
    indicator = "critical" if level == "emergency" else "warning"
    advice = triage["clinician_advice"].split(". ")[0]
    return _card(f"{level.upper()}: {advice}", indicator,
                 _markdown(triage["basis"], triage["citations"], triage["clinician_advice"]),
                 triage["citations"], link)


def _lesion_cards(plan: Mapping[str, Any], link: dict[str, Any] | None) -> list[dict[str, Any]]:
    by_lesion: dict[str, dict[str, Mapping[str, Any]]] = {}
    for score in plan["scores"]:
        if score.get("lesion") and score["score"] in {"sins", "bilsky_escc"}:
            by_lesion.setdefault(score["lesion"], {})[score["score"]] = score
    out = []
    for lesion, scores in by_lesion.items():
        sins, escc = scores.get("sins"), scores.get("bilsky_escc")
        parts = []
        if sins is not None and sins.get("total") is not None and sins["total"] >= 7:
            parts.append(f"SINS {sins['total']} ({sins['band']['label']})")
        if escc is not None and escc.get("grade") in {"2", "3"}:
            parts.append(f"ESCC {escc['grade']} (high-grade cord compression)")
        if not parts:
            continue
        used = [s for s in (sins, escc) if s is not None]
        lines = [f"{s['name']}: " + ", ".join(
            f"{c['label']} {c.get('category_label') or 'unknown'} ({c['points']} points)"
            if c.get("points") is not None else f"{c['label']} {c.get('category_label')}"
            for c in s["components"]) for s in used]
        citations = [s["citation"] for s in used]
        card = _card(f"{lesion}: " + "; ".join(parts) + ": spinal surgery / MDT review",
                     "warning", _markdown(lines, citations), citations, link)
        card["suggestions"] = [{"label": f"Discuss {lesion} at the spinal MDT",
                                "uuid": str(uuid.uuid4()), "isRecommended": True}]
        card["selectionBehavior"] = "at-most-one"
        out.append(card)
    return out


def _unknowns_card(plan: Mapping[str, Any], stale: list[str],
                   link: dict[str, Any] | None) -> dict[str, Any] | None:
    unknowns = list(plan["unknowns"])
    if not unknowns:
        return None
    lines = [f"unknown: {u}" for u in unknowns] + [f"not used: {s}" for s in stale]
    return _card(f"{len(unknowns)} unknown item(s) would change the spine plan: "
                 + ", ".join(unknowns[:3]), "info", _markdown(lines, []), [], link)


def cards(plan: Mapping[str, Any], *, has_lesions: bool, stale: list[str] | None = None,
          link: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The cards for a plan (``spinemets-plan/1`` as a dict); ``[]`` when nothing is actionable.

    The unknowns card is shown only with a spinal lesion or another card: without either the
    service has nothing to say about the spine.
    """
    out = [c for c in (_triage_card(plan, link),) if c is not None]
    out += _lesion_cards(plan, link)
    if out or has_lesions:
        unknowns = _unknowns_card(plan, stale or [], link)
        if unknowns is not None:
            out.append(unknowns)
    return out


def notice_card(summary: str, indicator: str, lines: list[str], *,
                link: dict[str, Any] | None = None) -> dict[str, Any]:
    """A card about the service itself (data it could not read, a record it will not assess)."""
    return _card(summary, indicator, _markdown(lines, []), [], link)


def with_record(found: list[dict[str, Any]], record: str) -> list[dict[str, Any]]:
    """The cards, each naming the EHR record it was computed from (Patient id, identifiers)."""
    for card in found:
        card["detail"] = f"{card.get('detail', '')}\n\nRecord: {_escape(record)}".strip()
    return found
