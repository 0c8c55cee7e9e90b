"""The clinician case form: fields follow the case format; form data <-> case document."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinemets.domain import ANALYTES, LEVELS, catalogue
from spinemets.errors import ProblemDetail
from spinemets.report import field_label

__all__ = ["LESION_FIELDS", "NEEDED", "SECTIONS", "Field", "case_to_form", "form_to_case",
           "input_id"]

TRI = ("true", "false")


@dataclass(frozen=True, slots=True)
class Field:
    """One form field: ``path`` is the case-format path (``performance.kps``)."""

    path: str
    label: str
    kind: str  # text | int | number | select | tri | levels | lab
    choices: tuple[str, ...] = ()
    hint: str | None = None
    needed: bool = False  # the plan needs it (left empty, rules stay blocked)


def input_id(path: str) -> str:
    """An HTML id for a field path (``lesions[0].escc`` -> ``f-lesions-0-escc``)."""
    return "f-" + re.sub(r"[^a-zA-Z0-9]+", "-", path).strip("-")


#: Inputs the plan needs: left empty, the rules that read them stay blocked (``unknowns``).
NEEDED = frozenset({
    "patient.age_years", "patient.sex", "patient.weight_kg", "cancer.status", "cancer.primary",
    "performance.kps", "neurology.frankel", "neurology.ambulatory",
    "disease.visceral_metastases", "disease.extraspinal_bone_metastases",
    "disease.vertebral_body_metastases", "labs.creatinine", "fitness.fit_for_open_surgery",
    "levels", "pain", "bone_lesion", "alignment", "collapse", "posterolateral", "escc",
})
LEVEL_WORDS = "O (occiput), C1-C7, T1-T12, L1-L5 or S1-S5"
RT_TECHNIQUES = ("conventional", "sbrt")


def _sel(path: str, label: str, choices: tuple[str, ...], hint: str | None = None) -> Field:
    return Field(path, label, "select", choices, hint, path in NEEDED)


def _tri(path: str, label: str) -> Field:
    return Field(path, label, "tri", TRI, needed=path in NEEDED)


def _num(path: str, label: str, kind: str, hint: str | None = None) -> Field:
    return Field(path, label, kind, hint=hint, needed=path in NEEDED)


#: Sections in the order a clinician fills them in (the lesions come right after the case
#: reference in the form; see ``case_form.html``).
SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Case", (Field("id", "Case reference (pseudonymous, never a real identifier)", "text"),)),
    ("Neurology", (
        _sel("neurology.frankel", "Frankel grade", ("A", "B", "C", "D", "E")),
        _sel("neurology.asia", "ASIA impairment scale", ("A", "B", "C", "D", "E")),
        _sel("neurology.ambulatory", "Walking", ("independent", "with_aid", "non_ambulatory")),
        Field("neurology.motor_deficit_days", "Days over which motor deficit developed", "int"),
        _tri("neurology.rapidly_progressive", "Rapidly progressive deficit"),
    )),
    ("Patient", (
        _num("patient.age_years", "Age (years)", "int"),
        _sel("patient.sex", "Sex", ("female", "male", "other", "unknown")),
        _num("patient.weight_kg", "Weight (kg)", "number", "A decimal comma is fine"),
        Field("patient.preferred_language", "Preferred language", "text",
              hint="For example: Spanish"),
        _tri("patient.interpreter_needed", "Interpreter needed"),
    )),
    ("Cancer", (
        _sel("cancer.status", "Cancer status", ("known", "suspected", "none", "unknown")),
        _sel("cancer.primary", "Primary histology", tuple(catalogue())),
        _tri("cancer.hormone_dependent", "Hormone dependent (breast or prostate)"),
        _tri("cancer.targeted_therapy", "On targeted therapy (lung)"),
        Field("cancer.diagnosis_date", "Date of cancer diagnosis", "text", hint="YYYY-MM-DD"),
        _tri("cancer.previous_chemotherapy", "Previous chemotherapy"),
        _sel("cancer.systemic_therapy", "Systemic therapy",
             ("none", "planned", "ongoing", "completed")),
        _sel("cancer.overrides.tomita_growth", "Override: Tomita growth",
             ("slow", "moderate", "rapid")),
        Field("cancer.overrides.tokuhashi_primary_points", "Override: Tokuhashi primary points",
              "int", hint="0 to 5"),
        _sel("cancer.overrides.katagiri_group", "Override: Katagiri group",
             ("slow", "moderate", "rapid")),
        _sel("cancer.overrides.radiosensitivity", "Override: radiosensitivity",
             ("sensitive", "moderately_resistant", "resistant")),
    )),
    ("Performance status", (
        _sel("performance.kps", "Karnofsky performance status",
             tuple(str(v) for v in range(100, -1, -10))),
        _sel("performance.ecog", "ECOG performance status", tuple(str(v) for v in range(6))),
    )),
    ("Fitness", (
        _sel("fitness.fit_for_open_surgery", "Fit for open surgery", ("yes", "no", "unknown")),
        _tri("fitness.anticoagulated", "Anticoagulated"),
        _tri("fitness.coagulopathy_uncorrectable", "Uncorrectable coagulopathy"),
        _tri("fitness.active_infection", "Active infection"),
        _tri("fitness.contrast_allergy", "Contrast allergy"),
        _tri("fitness.pmma_allergy", "PMMA (bone cement) allergy"),
        _tri("fitness.dental_review_done", "Dental review done"),
        _tri("fitness.invasive_dental_procedure_planned", "Invasive dental procedure planned"),
    )),
    ("Laboratory", tuple(
        Field(f"labs.{name}", field_label(f"labs.{name}"), "lab", tuple(a.factors),
              needed=f"labs.{name}" in NEEDED)
        for name, a in ANALYTES.items()
    )),
    ("Symptoms", (
        _tri("symptoms.back_pain", "Back or neck pain"),
        _tri("symptoms.pain_onset_sudden", "Sudden onset"),
        _tri("symptoms.pain_better_with_rest", "Better with rest"),
        _sel("symptoms.pain_location", "Pain location",
             ("cervical", "thoracic", "lumbar", "sacral")),
        _tri("symptoms.pain_progressive", "Progressive pain"),
        _tri("symptoms.pain_severe_unremitting", "Severe unremitting pain"),
        _tri("symptoms.pain_night", "Night pain preventing sleep"),
        _tri("symptoms.pain_worse_on_straining", "Worse on straining"),
        _tri("symptoms.spinal_tenderness", "Localised spinal tenderness"),
        _tri("symptoms.pain_mechanical", "Mechanical pain"),
        _tri("symptoms.radicular_pain", "Radicular or band-like pain"),
        _tri("symptoms.limb_weakness", "Limb weakness"),
        _tri("symptoms.difficulty_walking", "Difficulty walking"),
        _tri("symptoms.numbness_or_tingling", "Numbness or tingling"),
        _tri("symptoms.saddle_numbness", "Saddle numbness"),
        _tri("symptoms.bladder_or_bowel_dysfunction", "Bladder or bowel dysfunction"),
    )),
    ("Disease extent", (
        _sel("disease.visceral_metastases", "Visceral metastases",
             ("none", "nodular", "disseminated")),
        _tri("disease.visceral_treatable", "Visceral metastases treatable (Tomita)"),
        _tri("disease.visceral_removable", "Visceral metastases removable (Tokuhashi)"),
        _tri("disease.brain_metastases", "Brain metastases"),
        _num("disease.extraspinal_bone_metastases", "Extraspinal bone metastases (count)", "int"),
        _num("disease.vertebral_body_metastases", "Vertebrae involved (count)", "int"),
    )),
    ("Preferences", (
        _sel("preferences.accepts_surgery", "Accepts surgery", ("yes", "no", "unknown")),
    )),
)

LESION_FIELDS: tuple[Field, ...] = (
    Field("levels", "Vertebral levels", "levels", needed=True,
          hint="For example: T12 or T6, T7 (levels " + LEVEL_WORDS + ")"),
    _sel("pain", "Pain", ("mechanical", "occasional", "none")),
    _sel("bone_lesion", "Bone lesion", ("lytic", "mixed", "blastic")),
    _sel("alignment", "Alignment", ("subluxation", "deformity", "normal")),
    _sel("collapse", "Vertebral body collapse",
         ("over_50", "under_50", "no_collapse_over_50_involved", "none")),
    _sel("posterolateral", "Posterolateral involvement", ("bilateral", "unilateral", "none")),
    _sel("escc", "Bilsky ESCC grade", ("0", "1a", "1b", "1c", "2", "3")),
    _tri("posterior_wall_retropulsion", "Posterior wall retropulsion"),
    _tri("pathological_fracture", "Pathological fracture"),
    _tri("prior_radiotherapy", "Prior radiotherapy to this level"),
    Field("prior_radiotherapy_date", "Date of the last radiotherapy course to this level",
          "text", hint="YYYY-MM-DD"),
    _num("prior_radiotherapy_dose_gy", "Total dose of that course (Gy)", "number"),
    _num("prior_radiotherapy_fractions", "Number of fractions of that course", "int"),
    _sel("prior_radiotherapy_technique", "Technique of that course", RT_TECHNIQUES),
    Field("imaging_date", "Date of the imaging this lesion is described from", "text",
          hint="YYYY-MM-DD"),
)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(doc: Mapping[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _convert(field: Field, raw: str, path: str, problems: list[ProblemDetail]) -> Any:
    if field.kind == "tri":
        return raw == "true"
    if field.kind == "int" or (field.kind == "select" and raw.isdigit()
                               and field.path not in {"lesions.escc"} and field.path != "escc"):
        try:
            return int(raw)
        except ValueError:
            problems.append(ProblemDetail(path, "must be a whole number", raw))
            return None
    if field.kind == "number":
        try:
            return float(_decimal(raw))
        except ValueError:
            problems.append(ProblemDetail(path, "must be a number", raw))
            return None
    if field.kind == "levels":
        return _levels(raw, path, problems)
    return raw


def _decimal(raw: str) -> str:
    """A decimal comma accepted: ``3,2`` -> ``3.2`` (one comma, no point)."""
    return raw.replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw


def _levels(raw: str, path: str, problems: list[ProblemDetail]) -> list[str]:
    """Levels as typed (``t6, T7``); a name that is not a level is named in one problem that
    lists the real levels (O is the occiput)."""
    names = [p.strip().upper() for p in re.split(r"[,\s]+", raw) if p.strip()]
    wrong = [n for n in names if n not in LEVELS]
    if wrong:
        problems.append(ProblemDetail(
            path, f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not a vertebral "
            f"level: use {LEVEL_WORDS}", raw))
    return [n for n in names if n in LEVELS]


def _lab(form: Mapping[str, str], field: Field, problems: list[ProblemDetail]) -> Any:
    raw = form.get(field.path, "").strip()
    if not raw:
        return None
    try:
        value = float(_decimal(raw))
    except ValueError:
        problems.append(ProblemDetail(field.path, "must be a number", raw))
        return None
    unit = form.get(f"{field.path}__unit") or field.choices[0]
    return {"value": value, "unit": unit}


def form_to_case(form: Mapping[str, str], lesion_count: int) -> tuple[dict[str, Any],
                                                                        list[ProblemDetail]]:
    """Build a case document from form fields; empty fields are left out (unknown)."""
    doc: dict[str, Any] = {"format": "spinemets-case/1"}
    problems: list[ProblemDetail] = []
    for _title, fields in SECTIONS:
        for field in fields:
            if field.kind == "lab":
                value = _lab(form, field, problems)
            else:
                raw = form.get(field.path, "").strip()
                value = _convert(field, raw, field.path, problems) if raw else None
            if value is not None:
                _put(doc, field.path, value)
    lesions = [lesion for index in range(lesion_count)
               if (lesion := _form_lesion(form, index, problems))]
    if lesions:
        doc["lesions"] = lesions
    return doc, problems


def _form_lesion(form: Mapping[str, str], index: int, problems: list[ProblemDetail]) -> (
        dict[str, Any]):
    lesion: dict[str, Any] = {}
    for field in LESION_FIELDS:
        path = f"lesions[{index}].{field.path}"
        raw = form.get(path, "").strip()
        if raw:
            value = _convert(field, raw, path, problems)
            if value is not None:
                lesion[field.path] = value
    return lesion


def case_to_form(doc: Mapping[str, Any]) -> tuple[dict[str, str], int]:
    """Form values (strings) for a stored case, and its number of lesions."""
    values: dict[str, str] = {}
    for _title, fields in SECTIONS:
        for field in fields:
            value = _get(doc, field.path)
            if value is None:
                continue
            if field.kind == "lab" and isinstance(value, Mapping):
                values[field.path] = str(value.get("value", ""))
                values[f"{field.path}__unit"] = str(value.get("unit", ""))
            elif isinstance(value, bool):
                values[field.path] = "true" if value else "false"
            else:
                values[field.path] = str(value)
    lesions = doc.get("lesions") or []
    for index, lesion in enumerate(lesions):
        for field in LESION_FIELDS:
            value = lesion.get(field.path) if isinstance(lesion, Mapping) else None
            if value is not None:
                values[f"lesions[{index}].{field.path}"] = _form_text(value)
    return values, max(1, len(lesions))


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
