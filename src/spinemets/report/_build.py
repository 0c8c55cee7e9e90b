"""Build the presentation model (:class:`~spinemets.report.Report`) from a plan and its case.

The one place that reads the ``spinemets-plan/1`` document: the web page, the PDF and the text
output all render the :class:`Report` made here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from spinemets.case import load_case
from spinemets.domain import LEVELS, catalogue
from spinemets.report._labels import (
    field_label,
    histology_label,
    item_label,
    labels,
    unit_label,
    value_label,
    words,
)
from spinemets.report._model import (
    Component,
    Flag,
    InputSection,
    Item,
    LesionRow,
    LocalModel,
    Meta,
    Reference,
    Report,
    ScoreRow,
    SpineLevel,
    Triage,
    Unknown,
)
from spinemets.scores import get_definition

__all__ = ["build_report", "default_meta"]

_RULE_SUFFIX = re.compile(r"\s*\(rule ([\w.]+)\)\Z")
_TRIAGE_BASIS = re.compile(r"(\w+): (.+?) \(([\w.]+)\)\Z")
LESION_SCORES = ("sins", "bilsky_escc")
FUNCTION_SCORES = ("kps", "ecog", "frankel", "asia_ais")
ACTIVE = ("recommended", "consider", "mdt_review")
_INPUT_SECTIONS = (("Patient", "patient"), ("Cancer", "cancer"),
                   ("Performance status", "performance"), ("Neurology", "neurology"),
                   ("Symptoms", "symptoms"), ("Disease extent", "disease"),
                   ("Laboratory", "labs"), ("Fitness", "fitness"),
                   ("Preferences", "preferences"))


class _References:
    """Numbered references in order of first use; a citation is a string or a mapping with
    ``text``/``citation``/``title`` and optional ``doi``, ``pmid`` and ``url``."""

    def __init__(self) -> None:
        self._by_text: dict[str, Reference] = {}

    def add(self, raw: Any) -> int | None:
        if isinstance(raw, Mapping):
            text = str(raw.get("text") or raw.get("citation") or raw.get("title")
                       or raw.get("label") or raw.get("id") or "")
            extra = {k: (str(raw[k]) if raw.get(k) else None) for k in ("doi", "pmid", "url")}
        else:
            text, extra = str(raw or ""), {}
        text = text.strip()
        if not text:
            return None
        known = self._by_text.get(text)
        if known is None:
            known = Reference(len(self._by_text) + 1, text, **extra)
            self._by_text[text] = known
        return known.number

    def many(self, raws: Iterable[Any]) -> tuple[int, ...]:
        numbers = (self.add(r) for r in raws)
        return tuple(dict.fromkeys(n for n in numbers if n is not None))

    def all(self) -> tuple[Reference, ...]:
        return tuple(self._by_text.values())


class _Context:
    def __init__(self, plan: Mapping[str, Any], case: Mapping[str, Any]) -> None:
        self.plan = plan
        self.case = case
        parsed = load_case(dict(case))
        self.lesion_labels = tuple(lesion.label for lesion in parsed.lesions)
        self.lesion_levels = tuple(tuple(lesion.levels or ()) for lesion in parsed.lesions)
        self.lesion_imaged = tuple(lesion.imaging_date for lesion in parsed.lesions)
        self.refs = _References()

    def field(self, path: str) -> str:
        return field_label(path, self.lesion_labels)

    def fields(self, paths: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.field(p) for p in paths))


# -- items ---------------------------------------------------------------------------------------


def _split_rule(basis: Sequence[str]) -> tuple[tuple[str, ...], str | None, str]:
    """Basis lines without their ``(rule id)`` suffix, the first rule id, and the last rule
    text (the rule that decided the item)."""
    out, rule, text = [], None, ""
    for raw in basis:
        line = raw
        match = _RULE_SUFFIX.search(raw)
        if match:
            rule = rule or match.group(1)
            line = text = raw[: match.start()]
        out.append(_histology_words(line))
    return tuple(dict.fromkeys(out)), rule, _histology_words(text)


_HISTOLOGY_ID = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _histology_words(text: str) -> str:
    """Histology ids in a basis line (``lung_nsclc: solid``) replaced by their labels."""
    return _HISTOLOGY_ID.sub(lambda m: histology_label(m.group(0))
                             if m.group(0) in catalogue() else m.group(0), text)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _number(value: Any, unit: str = "") -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def _version_label(name: str, version: str) -> str:
    """The score version without the name it repeats: "Modified Bauer score" with version
    "Modified Bauer (Leithner 2008)" is shown "(Leithner 2008)", not the name twice."""
    stem = name.removesuffix(" score").strip()
    rest = version[len(stem):].strip() if version.lower().startswith(stem.lower()) else ""
    if stem and rest.startswith("(") and rest.endswith(")") and len(rest) > 2:
        return rest[1:-1].strip()
    return version


def _crcl_inputs(inputs: Mapping[str, Any]) -> str:
    names = {"age_years": ("age", "years"), "sex": ("sex", ""), "weight_kg": ("weight", "kg"),
             "creatinine_mg_dl": ("creatinine", "mg/dL")}
    parts = []
    for key, value in inputs.items():
        name, unit = names.get(key, (words(key), ""))
        parts.append(f"{name} not recorded" if value is None else f"{name} {_number(value, unit)}")
    return ", ".join(parts)


def _dose_extra(raw: Mapping[str, Any], ctx: _Context) -> tuple[tuple[str, str], ...]:
    extra: list[tuple[str, str]] = []
    if raw.get("dose_mg") is not None:
        extra.append(("Dose", _number(raw["dose_mg"], "mg")))
    if raw.get("dose_label"):
        extra.append(("Renal dose band", str(raw["dose_label"])))
    if raw.get("crcl_ml_min") is not None:
        extra.append(("Creatinine clearance", _number(raw["crcl_ml_min"], "mL/min")))
    elif raw.get("crcl_missing"):
        extra.append(("Creatinine clearance", "not computable: needs "
                      + ", ".join(ctx.fields(raw["crcl_missing"])).lower()))
    if raw.get("crcl_inputs"):
        extra.append(("CrCl inputs", _crcl_inputs(raw["crcl_inputs"])))
    if raw.get("crcl_formula"):
        extra.append(("Formula", str(raw["crcl_formula"])))
    return tuple(extra)


def _headline(raw: Mapping[str, Any], entry: Mapping[str, Any], rule_text: str) -> str:
    if entry.get("when"):
        return str(entry["when"])
    if raw.get("id") == "zoledronic_acid":
        crcl = raw.get("crcl_ml_min")
        if raw.get("dose_band") and raw.get("dose_label"):
            return str(raw["dose_label"]) + (f" (CrCl {_number(crcl)} mL/min)" if crcl else "")
        return "No dose until the creatinine clearance is known"
    return rule_text


def _item(raw: Mapping[str, Any], ctx: _Context) -> Item:
    item_id = str(raw.get("id"))
    entry: Mapping[str, Any] = (labels().get("items") or {}).get(item_id) or {}
    status = str(raw.get("status"))
    lesion = raw.get("lesion")
    basis, rule, rule_text = _split_rule([str(b) for b in raw.get("basis") or []])
    cautions = tuple(str(c) for c in raw.get("cautions") or [])
    evidence = str(raw.get("evidence") or "")
    group = str(entry.get("group") or ("lesion" if lesion else "supportive"))
    return Item(
        key="item-" + _slug(item_id + ("-" + str(lesion) if lesion else "")),
        id=item_id, label=item_label(item_id), status=status,
        status_label=str((labels().get("statuses") or {}).get(status, words(status))),
        group=group, lesion=str(lesion) if lesion else None,
        headline=_headline(raw, entry, rule_text),
        unverified=evidence == "unverified" or any(c.startswith("UNVERIFIED") for c in cautions),
        evidence=evidence,
        evidence_label=str((labels().get("evidence") or {}).get(evidence, words(evidence))),
        rule=str(raw.get("rule") or rule or "") or None, basis=basis, cautions=cautions,
        references=ctx.refs.many(raw.get("citations") or []),
        missing=ctx.fields(raw.get("missing") or []), extra=_dose_extra(raw, ctx))


# -- scores --------------------------------------------------------------------------------------


def _band_labels(slug: str) -> dict[str, str]:
    try:
        return {b.id: b.label for b in get_definition(slug).bands}
    except (LookupError, ValueError):
        return {}


def _component(c: Mapping[str, Any], points_based: bool) -> Component:
    value = c.get("category_label")
    if value is None:
        value = "not recorded" if c.get("input") is None else value_label(
            str(c.get("source") or ""), c.get("input"))
    points: str | None = None
    if points_based:
        if c.get("points") is not None:
            points = str(c["points"])
        elif c.get("possible_points"):
            points = "one of " + "/".join(str(p) for p in c["possible_points"])
        else:
            points = "not known"
    text = str(value)
    if text == "None" or text.startswith("None ("):  # a category called "None": not a value
        text = "none" + text[4:]
    return Component(str(c.get("label") or c.get("name")), text, points,
                     str(c.get("basis") or ""))


def _total(s: Mapping[str, Any]) -> str:
    if s.get("status") == "complete":
        value = s.get("grade") if s.get("grade") is not None else s.get("total")
        return "not known" if value is None else str(value)
    possible = s.get("possible_totals")
    if possible:
        low, high = possible
        return str(low) if low == high else f"{low}-{high}"
    return "not known"


def _score(s: Mapping[str, Any], ctx: _Context) -> ScoreRow:
    slug = str(s.get("score"))
    bands = _band_labels(slug)
    band = s.get("band") or None
    if s.get("status") == "complete" and band:
        band_text, band_id = str(band.get("label")), str(band.get("id"))
    else:
        possible = [bands.get(b, words(str(b))) for b in s.get("possible_bands") or []]
        band_text, band_id = " or ".join(possible) or "not known", None
    components = s.get("components") or []
    points_based = any(c.get("points") is not None or c.get("possible_points")
                       for c in components)
    lesion = s.get("lesion")
    return ScoreRow(
        key="score-" + _slug(slug + ("-" + str(lesion) if lesion else "")), slug=slug,
        name=str(s.get("name") or slug),
        version=_version_label(str(s.get("name") or slug), str(s.get("version") or "")),
        lesion=str(lesion) if lesion else None, complete=s.get("status") == "complete",
        total=_total(s), band=band_text, band_id=band_id,
        provisional=bool(s.get("provisional")), verification=str(s.get("verification") or ""),
        components=tuple(_component(c, points_based) for c in components),
        missing=ctx.fields(str(m) for m in s.get("missing") or []),
        warnings=tuple(str(w) for w in s.get("warnings") or []),
        reference=ctx.refs.add(s.get("citation")) if s.get("citation") else None)


# -- flags ---------------------------------------------------------------------------------------


def _flag(raw: Mapping[str, Any], ctx: _Context) -> Flag:
    flag_id = str(raw.get("id"))
    if flag_id == "consistency":
        kind = "consistency"
    elif raw.get("urgency") == "urgent":
        kind = "urgent"
    elif flag_id == "no_recommendation":
        kind = "info"
    else:
        kind = "mdt"
    missing = tuple(str(m) for m in raw.get("missing") or [])
    reason = str(raw.get("reason") or "")
    if flag_id == "no_recommendation" and missing:
        reason = reason.split("; would need:", 1)[0]
        reason = reason[:1].upper() + reason[1:] + f"; {len(missing)} inputs not recorded"
    severity = raw.get("severity")
    return Flag(
        id=flag_id, kind=kind,
        title=str((labels().get("flags") or {}).get(flag_id, words(flag_id).capitalize())),
        reason=reason, lesion=str(raw["lesion"]) if raw.get("lesion") else None,
        severity=str((labels().get("severities") or {}).get(severity, severity))
        if severity else None,
        fields=ctx.fields(raw.get("fields") or []),
        field_paths=tuple(str(f) for f in raw.get("fields") or []) + missing,
        verify=str(raw["verify"]) if raw.get("verify") else None,
        rule=str(raw["rule"]) if raw.get("rule") else None, missing=ctx.fields(missing),
        references=ctx.refs.many(raw.get("citations") or []))


# -- triage --------------------------------------------------------------------------------------


def _triage(raw: Mapping[str, Any] | None, ctx: _Context) -> Triage:
    raw = raw or {}
    level = raw.get("level")
    facts: Mapping[str, Mapping[str, str]] = labels().get("triage_facts") or {}
    reasons: list[str] = []
    for line in raw.get("basis") or []:
        match = _TRIAGE_BASIS.match(str(line))
        if not match:
            reasons.append(str(line))
            continue
        fact, value = match.group(1), match.group(2)
        key = {"yes": "true", "no": "false"}.get(value, value)
        reasons.append((facts.get(fact) or {}).get(key) or f"{words(fact)}: {value}")
    advice = str(raw.get("clinician_advice") or "")
    first = re.split(r"(?<=[.)])\s+(?=[A-Z])", advice, maxsplit=1)[0]
    return Triage(
        level=str(level) if level else None,
        label=str((labels().get("triage_levels") or {}).get(level, "Not determined")),
        reasons=tuple(dict.fromkeys(reasons)), advice=first,
        rules=tuple(str(r) for r in raw.get("rules") or []),
        basis=(advice,) if advice != first else (),
        could_raise=ctx.fields(f"symptoms.{q}" for q in raw.get("unanswered_could_raise") or []),
        references=ctx.refs.many(raw.get("citations") or []))


# -- lesions -------------------------------------------------------------------------------------


def _radiosensitivity(ctx: _Context, index: int) -> str:
    table: Mapping[str, str] = labels().get("radiosensitivity") or {}
    lesions = ctx.case.get("lesions") or []
    lesion = lesions[index] if index < len(lesions) else {}
    cancer = ctx.case.get("cancer") or {}
    override = (lesion or {}).get("radiosensitivity") or (
        cancer.get("overrides") or {}).get("radiosensitivity")
    if override:
        return f"{table.get(override, words(override))} (clinician choice)"
    primary = cancer.get("primary")
    row = catalogue().get(primary) if primary else None
    if row is None or primary in ("unknown_primary", "other") or cancer.get("status") != "known":
        return "not known until the histology is established"
    cell = row.resolve("radiosensitivity")
    if not cell.known:
        return f"not settled for {row.label.lower()}: clinician to choose"
    text = f"{row.label}: {table.get(str(cell.value), words(str(cell.value)))}"
    return text + (" (UNVERIFIED in the catalogue)" if cell.unverified else "")


def _noms(sins: ScoreRow | None, escc: ScoreRow | None, radio: str) -> tuple[tuple[str, str],
                                                                          ...]:
    n = "ESCC not recorded"
    if escc is not None and escc.complete:
        n = f"ESCC {escc.total}: {escc.band.lower()}"
    m = "SINS not known"
    if sins is not None:
        m = f"SINS {sins.total}: {sins.band.lower()}" if sins.complete else (
            f"SINS incomplete ({sins.total}): {sins.band.lower()}")
    return (("Neurological", n), ("Oncological", radio), ("Mechanical", m))


def _lesion_rows(ctx: _Context, scores: list[ScoreRow], items: list[Item],
                 flags: list[Flag], today: date) -> tuple[LesionRow, ...]:
    rows = []
    for index, label in enumerate(ctx.lesion_labels):
        own = [s for s in scores if s.lesion == label]
        sins = next((s for s in own if s.slug == "sins"), None)
        escc = next((s for s in own if s.slug == "bilsky_escc"), None)
        radio = _radiosensitivity(ctx, index)
        mine = [i for i in items if i.lesion == label and i.group != "workup"]
        rows.append(LesionRow(
            index=index, label=label, levels=ctx.lesion_levels[index],
            sins=sins.total if sins else "not known",
            sins_band=sins.band if sins else "not known",
            sins_band_id=sins.band_id if sins else None,
            escc=escc.total if escc and escc.complete else "not recorded",
            escc_band=escc.band if escc else "not known",
            escc_band_id=escc.band_id if escc else None, radiosensitivity=radio,
            noms=_noms(sins, escc, radio), treatment=tuple(i for i in mine if i.active),
            other_items=tuple(i for i in mine if not i.active),
            flags=tuple(f for f in flags if f.lesion == label), scores=tuple(own),
            imaging=_imaged(ctx.lesion_imaged[index], today)))
    return tuple(rows)


def _imaged(day: date | None, today: date) -> str:
    """The imaging date of a lesion with its age in days ("2026-11-20, 17 days ago")."""
    if day is None:
        return "imaging date not recorded"
    age = (today - day).days
    if age < 0:
        return f"imaged {day.isoformat()} (date after today: check)"
    when = "today" if age == 0 else "1 day ago" if age == 1 else f"{age} days ago"
    return f"imaged {day.isoformat()}, {when}"


# -- inputs and patient summary ------------------------------------------------------------------


def _leaves(node: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and "value" not in value:
            yield from _leaves(value, path)
        elif value is not None and value != "unknown":
            yield path, value


def _inputs(ctx: _Context) -> tuple[InputSection, ...]:
    sections = []
    for title, key in _INPUT_SECTIONS:
        node = ctx.case.get(key)
        if isinstance(node, Mapping):
            rows = tuple((ctx.field(path), value_label(path, value))
                         for path, value in _leaves(node, key))
            if rows:
                sections.append(InputSection(title, rows))
    for index, lesion in enumerate(ctx.case.get("lesions") or []):
        if isinstance(lesion, Mapping):
            rows = tuple((field_label(f"lesions[0].{k}").removesuffix(" at lesion 1"),
                          value_label(k, v)) for k, v in lesion.items() if v is not None)
            label = ctx.lesion_labels[index] if index < len(ctx.lesion_labels) else str(index)
            sections.append(InputSection(f"Lesion {label}", rows))
    return tuple(sections)


def _get(case: Mapping[str, Any], path: str) -> Any:
    node: Any = case
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _patient(ctx: _Context, function: list[ScoreRow], meta: Meta) -> tuple[tuple[str, str], ...]:
    out = [("Case reference", meta.case_ref + (" (synthetic demo)" if meta.demo else ""))]
    for path in ("patient.age_years", "patient.sex"):
        value = _get(ctx.case, path)
        out.append((ctx.field(path), "not recorded" if value is None else value_label(path, value)
                    + (" years" if path == "patient.age_years" else "")))
    primary, status = _get(ctx.case, "cancer.primary"), _get(ctx.case, "cancer.status")
    text = histology_label(primary) if primary else "not recorded"
    if status and status != "known":
        text += f" (cancer {value_label('cancer.status', status)})"
    out.append(("Primary tumour", text))
    by_slug = {s.slug: s for s in function}
    perf = [by_slug[s].band for s in ("kps", "ecog") if s in by_slug]
    out.append(("Performance status", "; ".join(perf) or "not recorded"))
    neuro = [by_slug[s].band for s in ("frankel", "asia_ais") if s in by_slug]
    walking = _get(ctx.case, "neurology.ambulatory")
    if walking:
        neuro.append(value_label("neurology.ambulatory", walking))
    out.append(("Neurology", "; ".join(neuro) or "not recorded"))
    language = _get(ctx.case, "patient.preferred_language")
    interpreter = _get(ctx.case, "patient.interpreter_needed")
    need = {True: "interpreter needed", False: "no interpreter needed"}.get(
        interpreter, "interpreter need not recorded")
    out.append(("Language", f"{language or 'not recorded'}; {need}"))
    return tuple(out)


def _spine(rows: tuple[LesionRow, ...]) -> tuple[SpineLevel, ...]:
    at: dict[str, LesionRow] = {level: row for row in rows for level in row.levels}
    out = []
    for name in LEVELS:
        label = "O (occiput)" if name == "O" else name
        row = at.get(name)
        if row is None:
            out.append(SpineLevel(name, label))
            continue
        text = (f"{label} (lesion {row.label}): SINS {row.sins}, {row.sins_band.lower()}; "
                f"ESCC {row.escc}")
        out.append(SpineLevel(name, label, row.label, row.sins_band_id, text))
    return tuple(out)


# -- the report ----------------------------------------------------------------------------------


def default_meta(case_ref: str, *, case_version: int | None = None, author: str | None = None,
                 generated_at: datetime | None = None, demo: bool | None = None,
                 plan_format: str = "spinemets-plan/1") -> Meta:
    """Report metadata with this installation's software version and clinical tables' hash."""
    from spinemets.fhir import software_version, tables_hash  # noqa: PLC0415 - lazy, optional

    return Meta(case_ref=case_ref, case_version=case_version,
                generated_at=generated_at or datetime.now(UTC), author=author,
                software_version=software_version(), tables_hash=tables_hash(),
                plan_format=plan_format,
                demo=case_ref.startswith("demo-") if demo is None else demo)


def _crcl(items: Iterable[Item]) -> str | None:
    for item in items:
        extra = dict(item.extra)
        if "Creatinine clearance" in extra:
            return extra["Creatinine clearance"] + (
                " (Cockcroft-Gault)" if extra["Creatinine clearance"][0].isdigit() else "")
    return None


def build_report(plan: Mapping[str, Any], case: Mapping[str, Any], *,
                 meta: Meta | None = None) -> Report:
    """The presentation model of ``plan`` (``spinemets-plan/1``) for ``case``.

    Parameters
    ----------
    plan
        The plan document, as returned by ``spinemets.rules.plan(case).to_dict()``.
    case
        The ``spinemets-case/1`` document the plan was made from (for the inputs view).
    meta
        Who, when, which version; :func:`default_meta` when not given.
    """
    ctx = _Context(plan, case)
    meta = meta or default_meta(str(case.get("id") or "unnamed"),
                                plan_format=str(plan.get("format") or "spinemets-plan/1"))
    triage = _triage(plan.get("triage"), ctx)
    all_scores = [_score(s, ctx) for s in plan.get("scores") or []]
    flags = [_flag(f, ctx) for f in plan.get("flags") or []]
    recs = [_item(r, ctx) for r in plan.get("recommendations") or []]
    workup = [_item(w, ctx) for w in plan.get("workup") or []]
    lesions = _lesion_rows(ctx, all_scores, recs, flags, meta.generated_at.date())
    patient_recs = [i for i in recs if i.lesion is None]
    function = [s for s in all_scores if s.slug in FUNCTION_SCORES]
    prognosis = [s for s in all_scores if s.lesion is None and s.slug not in FUNCTION_SCORES]
    disagree = next((f.reason for f in flags if f.rule == "pt.prognosis_disagree"), None)
    return Report(
        meta=meta, triage=triage, patient=_patient(ctx, function, meta),
        alerts=tuple(f for f in flags if f.kind in ("consistency", "urgent")),
        flags=tuple(f for f in flags if f.kind not in ("consistency", "urgent")),
        lesions=lesions, prognosis=tuple(prognosis), prognosis_note=disagree,
        function=tuple(function), workup=tuple(workup),
        medication=tuple(i for i in patient_recs if i.group == "medication"),
        systemic=tuple(i for i in patient_recs if i.group == "systemic"),
        supportive=tuple(i for i in patient_recs if i.group not in ("medication", "systemic")),
        crcl=_crcl(recs), unknowns=_unknowns(plan, ctx),
        inputs=_inputs(ctx), references=ctx.refs.all(), spine=_spine(lesions),
        no_recommendation=not recs, local_model=_local_model(plan.get("local_model"), ctx))


def _percent(p: float) -> str:
    return f"{100 * p:.0f} %"


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "\u2212")


def _local_input(raw: Mapping[str, Any], ctx: _Context) -> tuple[str, str, str, str]:
    """(input in words, value, coefficient x value, contribution) of one predictor."""
    fields = raw.get("fields") or [raw["predictor"]]
    label = ctx.field(fields[0])
    value = raw["value"]
    if raw.get("unit"):
        shown = f"{value:.4g} {unit_label(str(raw['unit']))}"
    else:
        shown = value_label(fields[0], value)
    terms = raw.get("terms") or []
    if "reference" in raw:
        ref = value_label(fields[0], raw["reference"])
        active = [t for t in terms if t["x"] == 1.0]
        how = (f"{_signed(active[0]['coefficient'])} for {shown} against {ref}" if active
               else f"reference category ({ref})") + ", centred on the cohort's mix"
    else:
        term, per = terms[0], float(raw.get("per", 1.0))
        x, centre = term["x"] * per, term["centre"] * per
        how = (f"{_signed(term['coefficient'])} "
               f"\u00d7 ({x:.4g} \u2212 cohort mean {centre:.4g})"
               + (f" / {per:g}" if per != 1.0 else ""))
    return label, shown, how, _signed(raw["contribution"])


def _local_model(raw: Mapping[str, Any] | None, ctx: _Context) -> LocalModel | None:
    """The site's local model's prediction in words (None when the site configures none)."""
    if not raw:
        return None
    survival = tuple((f"{s['months']:g} months", _percent(s["probability"]))
                     for s in raw.get("survival") or [])
    not_computed = tuple(_not_computed_words(m, ctx) for m in raw.get("not_computed") or [])
    lp = raw.get("linear_predictor")
    basis = ("" if lp is None else
             f"Linear predictor {_signed(lp)} (the sum of the contributions; 0 is the "
             "development cohort's average patient); survival at t months = "
             "S0(t)^exp(linear predictor), S0 the cohort's baseline survival.")
    corrected, apparent = raw.get("harrell_c_corrected"), raw.get("harrell_c_apparent")
    performance = (f"Harrell's C {corrected:.2f} optimism-corrected (apparent {apparent:.2f}; "
                   f"{raw.get('validation', '')})" if corrected is not None and apparent
                   is not None else "No optimism-corrected C in the model file")
    return LocalModel(
        label=str(raw["label"]), computed=raw.get("status") == "computed", survival=survival,
        inputs=tuple(_local_input(i, ctx) for i in raw.get("inputs") or []),
        not_computed=not_computed, basis=basis, performance=performance,
        note=str(raw.get("note", "")), intended_use=str(raw.get("intended_use", "")))


_NOT_RECORDED = re.compile(r"^not computed: (.+) not recorded$")


def _not_computed_words(message: str, ctx: _Context) -> str:
    """"not computed: labs.albumin not recorded" -> "Not computed: Albumin (labs.albumin) not
    recorded" (the field in words, its path kept)."""
    match = _NOT_RECORDED.match(message)
    if match is None:
        return message[:1].upper() + message[1:]
    paths = match.group(1).split(" or ")
    named = " or ".join(f"{ctx.field(p)} ({p})" for p in paths)
    return f"Not computed: {named} not recorded"


def _unknowns(plan: Mapping[str, Any], ctx: _Context) -> tuple[Unknown, ...]:
    paths = [str(u) for u in plan.get("unknowns") or []]
    kinds = [str(k) for k in plan.get("unknown_consequences") or []]
    kinds += ["unlisted"] * (len(paths) - len(kinds))  # a plan from before the grouping
    return tuple(Unknown(ctx.field(path), path, kind) for path, kind in zip(paths, kinds,
                                                                            strict=True))
