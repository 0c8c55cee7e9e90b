"""The ``spinemets-case/1`` exchange format as pydantic models (documented in ``docs/``).

Every field is optional: a missing field or ``null`` means *unknown*, never "absent" or
"normal". The string ``"unknown"`` is accepted wherever a field is a choice or a yes/no answer
and is read as unknown (for the few fields that list ``unknown`` as an answer of their own, such
as ``patient.sex``, it is kept). Impossible values are rejected: :func:`load_case` raises
:class:`~spinemets.errors.CaseFormatError` with one problem per bad field, each naming its path
(``performance.kps``, ``lesions[0].levels[0]``).

Fields added to the documented format (all optional, all documented here):

``cancer.histology_doubtful``
    Clinician flag: new lesion after a long remission, or two possible primaries
    (spinemets rule book: biopsy before definitive treatment).
``symptoms.weight_loss``, ``symptoms.fever``
    General red flags used by triage (spinemets rule book, "soon").
``symptoms.refractory_unilateral_pain``
    Unilateral cancer pain below the shoulder, refractory to optimal analgesia (cordotomy,
    spinemets rule book).
``neurology.rapidly_progressive``
    Documented already; also read by triage ("rapidly progressing leg weakness").
``lesions[].radiosensitivity``
    Clinician override of the NOMS "O" class for this lesion (e.g. after prior radiotherapy).
``lesions[].anterior_column_destroyed``, ``lesions[].hypervascular_on_imaging``
    Imaging findings used by the reconstruction and embolisation rules (spinemets rule book,
    spinemets rule book).
``fitness.diabetes``
    Dexamethasone caution (glucose monitoring, spinemets rule book).
``labs.alkaline_phosphatase``, ``labs.psa``
    Work-up blood tests (spinemets rule book).
``patient.preferred_language``, ``patient.interpreter_needed``
    The language the patient prefers (free text, e.g. "Spanish") and whether an interpreter is
    needed; shown on the first screen and in the report.
``lesions[].imaging_date``
    Date of the imaging the lesion's findings come from (shown with its age in days).
``lesions[].prior_radiotherapy_date``, ``lesions[].prior_radiotherapy_dose_gy``,
``lesions[].prior_radiotherapy_fractions``, ``lesions[].prior_radiotherapy_technique``
    The last course of radiotherapy at this level (``prior_radiotherapy: true``): date, total
    dose in Gy, number of fractions, technique (``conventional`` or ``sbrt``); pathway 6.2.

Cross-field rules of the format (the case is refused, with one problem per clash):

- A vertebral level belongs to one lesion. A level entered in two lesions is refused with a
  problem that names both entries (``lesions[1].levels[0]`` and ``lesions[0].levels[0]``): the
  format gives no way to merge two lesions, so the writer must say which lesion it belongs to.
- Hence a case has at most as many lesions as there are levels (:data:`MAX_LESIONS`, O to S5).
- ``lesions`` left out or ``null`` is unknown; an explicit empty list ``[]`` says that no spinal
  lesion was found (:attr:`Case.lesions_recorded` tells the two apart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from spinemets.domain import ANALYTES, LEVELS, parse_histology, parse_lab, parse_level
from spinemets.errors import ECHO_LIMIT, InputError

__all__ = [
    "CASE_FORMAT",
    "MAX_LESIONS",
    "Cancer",
    "Case",
    "Disease",
    "EhrIdentifier",
    "EhrSource",
    "Fitness",
    "Labs",
    "Lesion",
    "Neurology",
    "Overrides",
    "Patient",
    "Performance",
    "Preferences",
    "Symptoms",
]

CASE_FORMAT = "spinemets-case/1"
#: A level belongs to one lesion, so a case has at most one lesion per level (O, C1 ... S5).
MAX_LESIONS = len(LEVELS)


def _shown(value: object) -> str:
    """``repr(value)`` for a message, cut to the echo limit (the problem adds the note)."""
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


def _problem(message: str, *, allowed: tuple[str, ...] = (), subfield: str = "") -> (
    PydanticCustomError
):
    return PydanticCustomError("spinemets", message, {"allowed": allowed, "subfield": subfield})


def _is_unknown_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "unknown"


def _choice(literal: Any) -> BeforeValidator:
    """Validate a choice against ``literal``'s values; ``"unknown"`` is unknown unless listed."""
    allowed: tuple[str, ...] = get_args(literal)

    def check(value: object) -> object:
        if value is None:
            return None
        if _is_unknown_text(value) and "unknown" not in allowed:
            return None
        if isinstance(value, str) and value in allowed:
            return value
        raise _problem(f"{_shown(value)} is not one of the allowed values", allowed=allowed)

    return BeforeValidator(check)


def _yes_no(value: object) -> object:
    # YAML 1.1 reads an unquoted yes/no as a boolean: the writer meant the word.
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _flag(value: object) -> object:
    if value is None or _is_unknown_text(value):
        return None
    if isinstance(value, bool):
        return value
    raise _problem("must be true or false (or null / \"unknown\" when not known)",
                   allowed=("true", "false", "null"))


@dataclass(frozen=True)
class _Range:
    """The allowed range of a number, stated in the case format's JSON schema (``minimum``,
    ``maximum``, ``multipleOf``): the checks themselves are the validators beside it, and the
    schema lets a reader, and the ranking of unknowns, know the values a field takes."""

    low: float
    high: float | None
    step: int | None = None

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        if self.step is not None:
            schema["multipleOf"] = self.step
        return schema


def _integer(low: int, high: int | None, step: int = 1, what: str = "") -> BeforeValidator:
    domain = f"{low}-{high}" if high is not None else f">= {low}"
    if step != 1:
        domain += f" in steps of {step}"

    def check(value: object) -> object:
        if value is None or _is_unknown_text(value):
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _problem(f"must be a whole number ({what or domain})", allowed=(domain,))
        if value < low or (high is not None and value > high) or (value - low) % step:
            raise _problem(f"{value} is not allowed: {what or domain}", allowed=(domain,))
        return value

    return BeforeValidator(check)


def _number(low: float, high: float, what: str) -> BeforeValidator:
    def check(value: object) -> object:
        if value is None or _is_unknown_text(value):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _problem(f"must be a number ({what})", allowed=(f"{low}-{high}",))
        if not low <= value <= high:
            raise _problem(f"{value} is implausible ({what})", allowed=(f"{low}-{high}",))
        return float(value)

    return BeforeValidator(check)


def _domain(parse: Callable[..., Any]) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value is None:
            return None
        try:
            return parse(value)
        except InputError as exc:
            first = exc.problems[0]
            raise _problem(first.message, allowed=tuple(first.allowed)) from None

    return check


def _histology_id(value: object) -> str:
    return parse_histology(value).id


def _escc(value: object) -> object:
    # ESCC grades are strings; an unquoted YAML 0, 2 or 3 is read as that grade.
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 2, 3):
        return str(value)
    return value


def _date(value: object) -> object:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _problem("must be a date written YYYY-MM-DD", allowed=("YYYY-MM-DD",))


Flag = Annotated[StrictBool | None, BeforeValidator(_flag)]
SexT = Literal["female", "male", "other", "unknown"]
StatusT = Literal["known", "suspected", "none", "unknown"]
SystemicT = Literal["none", "planned", "ongoing", "completed"]
GrowthT = Literal["slow", "moderate", "rapid"]
RadioT = Literal["sensitive", "moderately_resistant", "resistant"]
GradeT = Literal["A", "B", "C", "D", "E"]
AmbulatoryT = Literal["independent", "with_aid", "non_ambulatory"]
RegionT = Literal["cervical", "thoracic", "lumbar", "sacral"]
VisceralT = Literal["none", "nodular", "disseminated"]
PainT = Literal["mechanical", "occasional", "none"]
BoneT = Literal["lytic", "mixed", "blastic"]
AlignmentT = Literal["subluxation", "deformity", "normal"]
CollapseT = Literal["over_50", "under_50", "no_collapse_over_50_involved", "none"]
PosterolateralT = Literal["bilateral", "unilateral", "none"]
EsccT = Literal["0", "1a", "1b", "1c", "2", "3"]
YesNoT = Literal["yes", "no", "unknown"]
RtTechniqueT = Literal["conventional", "sbrt"]
YesNo = Annotated[YesNoT | None, _choice(YesNoT), BeforeValidator(_yes_no)]
Count = Annotated[int | None, _integer(0, None, what="a count of 0 or more"), _Range(0, None, 1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Patient(_Section):
    """Age, sex and weight (Cockcroft-Gault inputs)."""

    age_years: Annotated[float | None, _number(0, 130, "age in years"), _Range(0, 130)] = None
    sex: Annotated[SexT | None, _choice(SexT)] = None
    weight_kg: Annotated[float | None, _number(1, 400, "weight in kg"), _Range(1, 400)] = None
    preferred_language: Annotated[str | None, Field(max_length=100)] = None
    interpreter_needed: Flag = None

    @field_validator("preferred_language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if value is not None and not isinstance(value, str):
            raise _problem("must be text naming a language, e.g. Spanish")
        return value.strip() if isinstance(value, str) else value


class Overrides(_Section):
    """Clinician choices where the catalogue says "ask", or to overrule it."""

    tomita_growth: Annotated[GrowthT | None, _choice(GrowthT)] = None
    tokuhashi_primary_points: Annotated[int | None, _integer(0, 5), _Range(0, 5, 1)] = None
    katagiri_group: Annotated[GrowthT | None, _choice(GrowthT)] = None
    radiosensitivity: Annotated[RadioT | None, _choice(RadioT)] = None


class Cancer(_Section):
    """The cancer: status, primary histology (catalogue id) and modifiers."""

    status: Annotated[StatusT | None, _choice(StatusT)] = None
    primary: Annotated[str | None, BeforeValidator(_domain(_histology_id))] = None
    hormone_dependent: Flag = None
    targeted_therapy: Flag = None
    diagnosis_date: Annotated[dt.date | None, BeforeValidator(_date)] = None
    previous_chemotherapy: Flag = None
    systemic_therapy: Annotated[SystemicT | None, _choice(SystemicT)] = None
    histology_doubtful: Flag = None
    overrides: Overrides = Field(default_factory=Overrides)


class Performance(_Section):
    """KPS and ECOG, each recorded as measured (never derived from the other)."""

    kps: Annotated[int | None, _integer(0, 100, 10, "KPS is 0-100 in steps of 10"),
                   _Range(0, 100, 10)] = None
    ecog: Annotated[int | None, _integer(0, 5, what="ECOG is a whole number 0-5"),
                    _Range(0, 5, 1)] = None


class Neurology(_Section):
    """Frankel / ASIA grade, ambulation and the tempo of any deficit."""

    frankel: Annotated[GradeT | None, _choice(GradeT)] = None
    asia: Annotated[GradeT | None, _choice(GradeT)] = None
    ambulatory: Annotated[AmbulatoryT | None, _choice(AmbulatoryT)] = None
    motor_deficit_days: Count = None
    rapidly_progressive: Flag = None


class Symptoms(_Section):
    """Symptom answers (the triage inputs)."""

    back_pain: Flag = None
    pain_onset_sudden: Flag = None
    pain_better_with_rest: Flag = None
    pain_location: Annotated[RegionT | None, _choice(RegionT)] = None
    pain_progressive: Flag = None
    pain_severe_unremitting: Flag = None
    pain_night: Flag = None
    pain_worse_on_straining: Flag = None
    spinal_tenderness: Flag = None
    pain_mechanical: Flag = None
    radicular_pain: Flag = None
    limb_weakness: Flag = None
    difficulty_walking: Flag = None
    numbness_or_tingling: Flag = None
    saddle_numbness: Flag = None
    bladder_or_bowel_dysfunction: Flag = None
    weight_loss: Flag = None
    fever: Flag = None
    refractory_unilateral_pain: Flag = None


class Disease(_Section):
    """Extent of disease outside the lesions."""

    visceral_metastases: Annotated[VisceralT | None, _choice(VisceralT)] = None
    visceral_treatable: Flag = None
    visceral_removable: Flag = None
    brain_metastases: Flag = None
    extraspinal_bone_metastases: Count = None
    vertebral_body_metastases: Count = None


class Lesion(_Section):
    """One spinal lesion (SINS and ESCC are per lesion)."""

    levels: tuple[str, ...] | None = None
    pain: Annotated[PainT | None, _choice(PainT)] = None
    bone_lesion: Annotated[BoneT | None, _choice(BoneT)] = None
    alignment: Annotated[AlignmentT | None, _choice(AlignmentT)] = None
    collapse: Annotated[CollapseT | None, _choice(CollapseT)] = None
    posterolateral: Annotated[PosterolateralT | None, _choice(PosterolateralT)] = None
    escc: Annotated[EsccT | None, _choice(EsccT), BeforeValidator(_escc)] = None
    posterior_wall_retropulsion: Flag = None
    pathological_fracture: Flag = None
    prior_radiotherapy: Flag = None
    prior_radiotherapy_date: Annotated[dt.date | None, BeforeValidator(_date)] = None
    prior_radiotherapy_dose_gy: Annotated[
        float | None, _number(0.1, 200, "total dose in Gy, 0.1-200"), _Range(0.1, 200)] = None
    prior_radiotherapy_fractions: Annotated[
        int | None, _integer(1, 100, what="number of fractions, 1-100"), _Range(1, 100, 1)] = None
    prior_radiotherapy_technique: Annotated[RtTechniqueT | None, _choice(RtTechniqueT)] = None
    imaging_date: Annotated[dt.date | None, BeforeValidator(_date)] = None
    radiosensitivity: Annotated[RadioT | None, _choice(RadioT)] = None
    anterior_column_destroyed: Flag = None
    hypervascular_on_imaging: Flag = None

    @field_validator("levels", mode="before")
    @classmethod
    def _levels(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise _problem("must be a list of vertebral levels, e.g. [T12]",
                           allowed=("O", "C1-C7", "T1-T12", "L1-L5", "S1-S5"))
        if not value:
            raise _problem("give at least one level, or leave levels out when unknown")
        problems = []
        out: list[str] = []
        for index, item in enumerate(value):
            try:
                out.append(parse_level(item))
            except InputError as exc:
                problems.append((index, exc.problems[0]))
        if problems:
            index, first = problems[0]
            raise PydanticCustomError("spinemets", first.message, {
                "allowed": tuple(first.allowed), "subfield": f"[{index}]",
                "item": first.value, "more": tuple((i, p.message) for i, p in problems[1:])})
        return tuple(dict.fromkeys(out))

    @property
    def label(self) -> str:
        """``T12``, ``T6-T7`` (first-last of the levels), or ``unknown level``."""
        if not self.levels:
            return "unknown level"
        if len(self.levels) == 1:
            return self.levels[0]
        return f"{self.levels[0]}-{self.levels[-1]}"


class LabInput(_Section):
    """A value with its UCUM unit, checked by :func:`spinemets.domain.parse_lab`."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=False)

    value: Any = None
    unit: Any = None


def _lab(analyte: str) -> BeforeValidator:
    def check(value: object) -> object:
        if value is None:
            return None
        try:
            parse_lab(analyte, value, field=analyte)
        except InputError as exc:
            first = exc.problems[0]
            sub = first.field[len(analyte):]
            raise _problem(first.message, allowed=tuple(first.allowed), subfield=sub) from None
        assert isinstance(value, dict)
        return LabInput(value=value["value"], unit=value["unit"])

    return BeforeValidator(check)


class Labs(_Section):
    """Laboratory values (value + UCUM unit); conversions are done by the software."""

    albumin: Annotated[LabInput | None, _lab("albumin")] = None
    calcium: Annotated[LabInput | None, _lab("calcium")] = None
    creatinine: Annotated[LabInput | None, _lab("creatinine")] = None
    platelets: Annotated[LabInput | None, _lab("platelets")] = None
    crp: Annotated[LabInput | None, _lab("crp")] = None
    ldh: Annotated[LabInput | None, _lab("ldh")] = None
    bilirubin: Annotated[LabInput | None, _lab("bilirubin")] = None
    inr: Annotated[LabInput | None, _lab("inr")] = None
    hemoglobin: Annotated[LabInput | None, _lab("hemoglobin")] = None
    alkaline_phosphatase: Annotated[LabInput | None, _lab("alkaline_phosphatase")] = None
    psa: Annotated[LabInput | None, _lab("psa")] = None

    def given(self, analyte: str) -> dict[str, Any] | None:
        """The ``{"value", "unit"}`` mapping for ``analyte``, or ``None`` when unknown."""
        entry: LabInput | None = getattr(self, analyte)
        return None if entry is None else {"value": entry.value, "unit": entry.unit}


assert set(Labs.model_fields) == set(ANALYTES), "labs must list every analyte of the domain"


class Fitness(_Section):
    """Fitness for procedures and their contraindications."""

    fit_for_open_surgery: YesNo = None
    anticoagulated: Flag = None
    coagulopathy_uncorrectable: Flag = None
    active_infection: Flag = None
    contrast_allergy: Flag = None
    pmma_allergy: Flag = None
    dental_review_done: Flag = None
    invasive_dental_procedure_planned: Flag = None
    diabetes: Flag = None


class Preferences(_Section):
    """The patient's stated preferences."""

    accepts_surgery: YesNo = None


def _observed_at(value: object) -> object:
    if not isinstance(value, dict):
        return value
    if len(value) > 500:
        raise _problem("at most 500 dated values")
    for key, when in value.items():
        if not isinstance(key, str) or len(key) > 200 or not isinstance(when, str):
            raise _problem("maps a case field path to an ISO 8601 date or date-time")
        try:
            dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise _problem(f"{when[:40]!r} is not an ISO 8601 date or date-time",
                           subfield=f".{key[:60]}") from None
    return value


class EhrIdentifier(_Section):
    """A business identifier of the EHR's Patient (``Patient.identifier``)."""

    system: Annotated[str, Field(max_length=500)] = ""
    value: Annotated[str, Field(min_length=1, max_length=200)]


class EhrSource(_Section):
    """The EHR record an imported case came from (FHIR import; never shown in pseudonymised
    exports): the EHR's Patient id and identifiers, and when each value was measured or
    assessed (case field path -> ISO 8601 date-time), so that an export keeps clinical time."""

    patient_id: Annotated[str | None, Field(max_length=64, pattern=r"^[A-Za-z0-9\-.]{1,64}$")] = (
        None)
    identifier: list[EhrIdentifier] = Field(default_factory=list, max_length=20)
    observed_at: Annotated[dict[str, str], BeforeValidator(_observed_at)] = Field(
        default_factory=dict)

    def __hash__(self) -> int:  # frozen like every section, so hashable too (dict field)
        return hash((self.patient_id, tuple((i.system, i.value) for i in self.identifier),
                     tuple(sorted(self.observed_at.items()))))


class Case(_Section):
    """One ``spinemets-case/1`` document. Sections default to all-unknown."""

    format: Literal["spinemets-case/1"] | None = None
    id: Annotated[str | None, Field(max_length=200)] = None
    patient: Patient = Field(default_factory=Patient)
    cancer: Cancer = Field(default_factory=Cancer)
    performance: Performance = Field(default_factory=Performance)
    neurology: Neurology = Field(default_factory=Neurology)
    symptoms: Symptoms = Field(default_factory=Symptoms)
    disease: Disease = Field(default_factory=Disease)
    lesions: tuple[Lesion, ...] = ()
    labs: Labs = Field(default_factory=Labs)
    fitness: Fitness = Field(default_factory=Fitness)
    preferences: Preferences = Field(default_factory=Preferences)
    ehr: EhrSource | None = None

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        if value is not None and value != CASE_FORMAT:
            raise _problem(f"{_shown(value)} is not a supported case format",
                           allowed=(CASE_FORMAT,))
        return value

    _lesions_recorded: bool = PrivateAttr(default=False)

    @property
    def lesions_recorded(self) -> bool:
        """Whether ``lesions`` was given as a list: ``[]`` then means "no spinal lesion".

        Left out or ``null``, the lesions are unknown (and ``lesions`` is empty).
        """
        return self._lesions_recorded or bool(self.lesions)

    @model_validator(mode="wrap")
    @classmethod
    def _record_lesions(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        case = handler(data)
        if isinstance(case, Case) and not isinstance(data, Case):
            case._lesions_recorded = isinstance(data, dict) and isinstance(
                data.get("lesions"), list | tuple)
        return case

    @field_validator("lesions", mode="before")
    @classmethod
    def _lesions(cls, value: object) -> object:
        if value is None:
            return ()
        if isinstance(value, list | tuple) and len(value) > MAX_LESIONS:
            raise _problem(
                f"{len(value)} lesions given: a case has at most {MAX_LESIONS} (a level belongs "
                f"to one lesion, and there are {MAX_LESIONS} levels, O to S5)",
                allowed=(f"0-{MAX_LESIONS} lesions",))
        return tuple(value) if isinstance(value, list) else value

    @field_validator("lesions", mode="after")
    @classmethod
    def _one_lesion_per_level(cls, value: tuple[Lesion, ...]) -> tuple[Lesion, ...]:
        first: dict[str, tuple[int, int]] = {}
        clashes: list[tuple[str, str, str]] = []
        for index, lesion in enumerate(value):
            for position, level in enumerate(lesion.levels or ()):
                if level not in first:
                    first[level] = (index, position)
                    continue
                where = "lesions[{}].levels[{}]".format(*first[level])
                clashes.append((f"[{index}].levels[{position}]", (
                    f"{level} is also entered in {where}: a level belongs to one lesion (the "
                    "case format gives no way to merge two lesions); enter it in one of them"),
                    level))
        if clashes:
            subfield, message, item = clashes[0]
            raise PydanticCustomError("spinemets", message, {
                "subfield": subfield, "item": item, "allowed": (),
                "extra": tuple(clashes[1:])})
        return value
