"""Facts for the decision tables, derived from a case and its assessment.

Every fact keeps the case fields it came from (for the plan's ``unknowns``) and a short text (for
the ``basis``). Derivations never fill a gap with a default: an unknown input gives an unknown
fact, or a set of still-possible values.

Derivations stated here (each also appears in the basis text):

- ``neuro``: true if any neurological symptom (limb weakness, difficulty walking, numbness or
  tingling, saddle numbness, bladder/bowel dysfunction, radicular pain) is true or Frankel/ASIA
  is A-D; false only if all six symptoms are false and Frankel or ASIA is E; else unknown.
- ``histology_established``: false if a spinal lesion is recorded with no known active
  cancer (status ``none``), the cancer is suspected, the primary is unknown
  (``unknown_primary``) or ``histology_doubtful`` is true; true if the cancer is known with a
  catalogued primary; else unknown.
- ``o_class``: from the lesion's radiosensitivity override, else ``cancer.overrides``, else the
  catalogue, and only once histology is established; moderately radioresistant is grouped with
  radioresistant (NOMS radiosensitive vs radioresistant).
- ``prognosis_strategy``: the treatment strategy each of revised Tokuhashi, Tomita and modified
  Bauer attaches to its band (``rules/tables/prognosis.yaml``); incomplete scores count when
  every band still possible has the same strategy.
- ``motor_deficit``: true if limb weakness is answered yes or Frankel/ASIA is A-D (each of
  those grades has a motor deficit by its definition); false if limb weakness is answered no
  and every recorded grade is E; else unknown.
- ``radiosensitivity_unsettled`` (per lesion): the catalogue cell is "ask" for the primary
  (pathway: the clinician must choose), histology is established and no override is recorded.

Sources: an unknown fact names only the case fields whose value would decide it (field paths of
``spinemets-case/1``); the plan drops any of them that the case records (``_fields.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from spinemets._identity import IdentityMemo
from spinemets.case import Assessment, Case, Lesion
from spinemets.domain import parse_histology, parse_lab
from spinemets.rules._engine import Fact, read_table
from spinemets.rules._medication import CrCl, ZoledronicDose, cockcroft_gault, zoledronic_dose
from spinemets.rules._triage import SAME_DAY_RULE, TriageResult
from spinemets.scores import ScoreResult

__all__ = ["ADULT_AGE_YEARS", "PatientFacts", "add_months", "case_crcl", "lesions_own_facts",
           "lesions_wide_facts", "patient_facts", "prior_rt_course", "prognosis_table"]

NEURO_SYMPTOMS = ("limb_weakness", "difficulty_walking", "numbness_or_tingling",
                  "saddle_numbness", "bladder_or_bowel_dysfunction", "radicular_pain")
_SINS_ORDER = ("stable", "indeterminate", "unstable")
_SINS_CT_ITEMS = ("bone_lesion", "alignment", "collapse", "posterolateral")
STRATEGY_SCORES = ("tokuhashi_2005", "tomita_2001", "bauer_modified")
HORIZON_ONLY_PROVISIONAL = ("katagiri_2014", "bauer_1995")


@cache
def prognosis_table() -> Mapping[str, Any]:
    """Score band -> strategy and survival horizon (``rules/tables/prognosis.yaml``)."""
    data: Mapping[str, Any] = read_table("prognosis.yaml")
    return data


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Patient-level facts plus the CrCl and zoledronic acid dose they rest on."""

    facts: dict[str, Fact]
    crcl: CrCl
    zoledronic: ZoledronicDose


def _bool(value: bool | None, source: str, label: str) -> Fact:
    if value is None:
        return Fact.unknown((source,), f"{label}: unknown")
    return Fact.known(value, (source,), f"{label}: {'yes' if value else 'no'}")


def _neuro(case: Case) -> Fact:
    sources = (*(f"symptoms.{n}" for n in NEURO_SYMPTOMS), "neurology.frankel", "neurology.asia")
    answers = {n: getattr(case.symptoms, n) for n in NEURO_SYMPTOMS}
    grades = [g for g in (case.neurology.frankel, case.neurology.asia) if g is not None]
    present = [n.replace("_", " ") for n, v in answers.items() if v]
    present += [f"Frankel/ASIA {g}" for g in grades if g != "E"]
    if present:
        return Fact.known(True, sources, "neurological symptoms or signs: " + ", ".join(present))
    if all(v is False for v in answers.values()) and "E" in grades:
        return Fact.known(False, sources, "no neurological symptoms; Frankel/ASIA E")
    return Fact.unknown(sources, "neurological symptoms or signs: not fully recorded")


def _status(case: Case) -> Fact:
    status = case.cancer.status
    if status in (None, "unknown"):
        return Fact.unknown(("cancer.status",), "cancer status unknown")
    return Fact.known(status, ("cancer.status",), f"cancer status: {status}")


_TISSUE_SOURCES = ("cancer.status", "cancer.primary", "cancer.histology_doubtful")


def _established(case: Case) -> Fact:
    c = case.cancer
    untissued = _untissued(case)
    if untissued:
        why = ("histology doubtful" if c.histology_doubtful else
               "primary unknown" if c.primary == "unknown_primary" else
               "no known active cancer: a spinal lesion needs a tissue diagnosis"
               if c.status == "none" else "cancer suspected")
        return Fact.known(False, _TISSUE_SOURCES, f"histology not established ({why})")
    if untissued is False:
        return Fact.known(True, _TISSUE_SOURCES, f"known cancer: {c.primary}")
    return Fact.unknown(_TISSUE_SOURCES, "whether histology is established is unknown")


def _group(case: Case, established: Fact) -> Fact:
    primary = case.cancer.primary
    if established.value is not True or primary is None:
        return Fact.unknown(established.sources if established.possible is None else (),
                            "histology group unknown")
    group = primary if primary in ("lymphoma", "myeloma") else "solid"
    return Fact.known(group, ("cancer.primary",), f"{primary}: {group}")


def _untissued(case: Case) -> bool | None:
    """True when the spinal disease has no tissue diagnosis it can rest on, None if unknown.

    A spinal lesion with no known active cancer (new, or after long remission), suspected
    cancer, an unknown primary or a doubtful histology: histology is not established and
    myeloma and lymphoma stay possible (pathway.md §3).
    """
    c = case.cancer
    if c.status == "suspected" or (c.status == "none" and case.lesions) or \
            c.primary == "unknown_primary" or c.histology_doubtful:
        return True
    if c.status == "known" and c.primary is not None:
        return False
    return None


def _without_tissue(case: Case, possible: str, what: str) -> Fact:
    """``possible`` (true) while there is no tissue diagnosis, false once there is one."""
    untissued = _untissued(case)
    if untissued:
        return Fact.known(True, _TISSUE_SOURCES, possible)
    if untissued is False:
        return Fact.known(False, _TISSUE_SOURCES, f"tissue diagnosis: {case.cancer.primary}")
    return Fact.unknown(_TISSUE_SOURCES, f"whether {what} is possible is unknown")


def _haem_possible(case: Case) -> Fact:
    return _without_tissue(case, "myeloma or lymphoma possible (no tissue diagnosis)",
                           "myeloma or lymphoma")


def _lymphoma_possible(case: Case) -> Fact:
    return _without_tissue(case, "lymphoma possible without a tissue diagnosis", "lymphoma")


def _missing_fields(assessment: Assessment, result: ScoreResult | None,
                    lesion: int | None = None) -> tuple[str, ...]:
    """The case fields behind a result's missing inputs (score input names -> case paths)."""
    if result is None:
        return ()
    given = assessment.inputs_of(result.slug, lesion)
    return () if given is None else given.case_fields(result.missing)


def _strategy(assessment: Assessment) -> tuple[Fact, Fact]:
    table = prognosis_table()["scores"]
    strategies: dict[str, str] = {}
    horizons: dict[str, str] = {}
    results = assessment.prognostic()
    strategy_sources = tuple(dict.fromkeys(
        f for r in results if r.slug in STRATEGY_SCORES for f in _missing_fields(assessment, r)))
    # The survival horizon of the provisional or UNVERIFIED tables (Katagiri, Bauer 1995) is
    # shown, but their missing inputs are not asked for: the S decision rests on the others.
    horizon_sources = tuple(dict.fromkeys(
        f for r in results if r.slug not in HORIZON_ONLY_PROVISIONAL
        for f in _missing_fields(assessment, r)))
    for result in results:
        spec = table.get(result.slug)
        if spec is None:
            continue
        bands = {result.band.id} if result.band else set(result.possible_bands)
        label = _result_label(result)
        kinds = {spec["bands"][b]["strategy"] for b in bands if spec["bands"][b].get("strategy")}
        if len(kinds) == 1 and bands:
            strategies[label] = kinds.pop()
        horizon = {spec["bands"][b]["horizon"] for b in bands}
        if len(horizon) == 1 and bands:
            horizons[label] = horizon.pop()
    return (_agreement(strategies, strategy_sources, "strategy"),
            _agreement(horizons, horizon_sources, "survival"))


def _result_label(result: ScoreResult) -> str:
    band = result.band.label if result.band else "/".join(result.possible_bands)
    total = "" if result.total is None else f" {result.total}"
    return f"{result.name}{total}: {band}"


def _agreement(values: Mapping[str, str], sources: tuple[str, ...], what: str) -> Fact:
    """Strategy: supportive / surgical / discordant; survival: concordant / discordant.

    Until every strategy score is decided, agreement so far still allows ``discordant``.
    """
    if not values:
        return Fact.unknown(sources, f"prognostic {what}: no score decides it yet")
    text = "; ".join(f"{k} -> {v}" for k, v in values.items())
    if what == "survival":
        kinds = set(values.values())
        agree = "concordant" if len(kinds) == 1 else "discordant"
        return Fact.known(agree, sources, f"prognostic scores ({agree}): {text}")
    kinds = {"supportive" if v == "supportive" else "surgical" for v in values.values()}
    if len(kinds) > 1:
        return Fact.known("discordant", sources, f"prognostic strategies disagree: {text}")
    decided = len(values) == len(STRATEGY_SCORES)
    kind = kinds.pop()
    possible = frozenset({kind} if decided else {kind, "discordant"})
    return Fact(possible, sources, f"prognostic strategy ({kind}): {text}")


def case_crcl(case: Case) -> CrCl:
    """The Cockcroft-Gault CrCl from the case's age, sex, weight and creatinine."""
    given = case.labs.given("creatinine")
    creatinine = None if given is None else parse_lab("creatinine", given).canonical
    p = case.patient
    return cockcroft_gault(age_years=p.age_years, weight_kg=p.weight_kg, sex=p.sex,
                           creatinine_mg_dl=creatinine)


def _bone_present(case: Case) -> Fact:
    d = case.disease
    sources = ("lesions", "disease.extraspinal_bone_metastases",
               "disease.vertebral_body_metastases")
    counts = (d.extraspinal_bone_metastases, d.vertebral_body_metastases)
    if case.lesions or any(c for c in counts if c):
        return Fact.known(True, sources, "bone metastases present")
    if counts == (0, 0):
        return Fact.known(False, sources, "no bone metastases recorded (counts 0)")
    return Fact.unknown(sources, "bone metastases: unknown")


def _pain(case: Case) -> Fact:
    sources = ("symptoms.back_pain", *(f"lesions[{i}].pain" for i in range(len(case.lesions))))
    lesion_pain = [lesion.pain for lesion in case.lesions]
    if case.symptoms.back_pain or any(p in ("mechanical", "occasional") for p in lesion_pain):
        return Fact.known(True, sources, "pain present")
    if case.symptoms.back_pain is False and all(p == "none" for p in lesion_pain):
        return Fact.known(False, sources, "no pain")
    return Fact.unknown(sources, "pain: unknown")


def _worst_sins(sins: list[ScoreResult | None], assessment: Assessment) -> Fact:
    """The worst SINS band over the lesions: the values still possible, never a guess."""
    sources = ("lesions", *(f for i, s in enumerate(sins)
                            for f in _missing_fields(assessment, s, i)))
    if not sins or any(s is None or not s.possible_bands for s in sins):
        return Fact.unknown(sources, "SINS: no lesion recorded")
    possibles = [[_SINS_ORDER.index(b) for b in s.possible_bands] for s in sins if s]
    floor = max(min(p) for p in possibles)
    candidates = frozenset(_SINS_ORDER[i] for p in possibles for i in p if i >= floor)
    if len(candidates) == 1:
        (band,) = candidates
        return Fact.known(band, sources, f"worst SINS band over the lesions: {band}")
    return Fact(candidates, sources, "worst SINS band not decided")


def _crcl_band(dose: ZoledronicDose) -> Fact:
    sources = ("patient.age_years", "patient.sex", "patient.weight_kg", "labs.creatinine")
    if dose.band is None:  # missing inputs, or an implausible CrCl (nothing is missing then)
        return Fact.unknown(dose.crcl.missing, dose.describe())
    return Fact.known(dose.band, sources, dose.describe())


def patient_facts(case: Case, assessment: Assessment, triage: TriageResult) -> PatientFacts:
    """Every patient-level fact the tables read."""
    s, f = case.symptoms, case.fitness
    established = _established(case)
    strategy, agreement = _strategy(assessment)
    crcl = case_crcl(case)
    dose = zoledronic_dose(crcl)
    sins = [assessment.get("sins", i) for i in range(len(case.lesions))]
    facts = {
        "triage_level": Fact.known(triage.level, _answer_sources(triage),
                                   f"triage: {triage.level}"),
        "triage_same_day_deficit": Fact.known(
            SAME_DAY_RULE in triage.rules, _answer_sources(triage),
            "triage: new neurological deficit without cancer (urgent, same day)"
            if SAME_DAY_RULE in triage.rules else ""),
        "cancer_status": _status(case),
        "neuro": _neuro(case),
        "histology_established": established,
        "histology_group": _group(case, established),
        "haem_possible": _haem_possible(case),
        "lymphoma_possible": _lymphoma_possible(case),
        "prognosis_strategy": strategy,
        "prognosis_agreement": agreement,
        "fit_for_open_surgery": _yes_no(f.fit_for_open_surgery, "fitness.fit_for_open_surgery",
                                        "fit for open surgery"),
        "accepts_surgery": _yes_no(case.preferences.accepts_surgery,
                                   "preferences.accepts_surgery", "accepts surgery"),
        "pain_present": _pain(case),
        "radicular": _bool(s.radicular_pain, "symptoms.radicular_pain", "radicular pain"),
        "refractory_unilateral_pain": _bool(s.refractory_unilateral_pain,
                                            "symptoms.refractory_unilateral_pain",
                                            "refractory unilateral pain"),
        "rapidly_progressive": _bool(case.neurology.rapidly_progressive,
                                     "neurology.rapidly_progressive",
                                     "rapidly progressive myelopathy"),
        "bone_metastases_present": _bone_present(case),
        "crcl_band": _crcl_band(dose),
        "calcium_recorded": _calcium_recorded(case),
        "worst_sins": _worst_sins(sins, assessment),
        "motor_deficit": _motor_deficit(case),
        "histology_label": _histology_label(case),
        "adult": _adult(case),
        **_fitness_flags(case),
    }
    return PatientFacts(facts, crcl, dose)


#: Age from which the scores, the NOMS plan and the drug doses apply (care pathway 6.4: they were
#: derived and validated in adults; NICE NG234 covers adults).
ADULT_AGE_YEARS = 18


def _adult(case: Case) -> Fact:
    age = case.patient.age_years
    if age is None:
        return Fact.unknown(("patient.age_years",), "age not recorded (adult or under 18)")
    adult = age >= ADULT_AGE_YEARS
    return Fact.known(adult, ("patient.age_years",),
                      f"age {age:g}: " + ("adult" if adult else "under 18"))


def _motor_deficit(case: Case) -> Fact:
    sources = ("symptoms.limb_weakness", "neurology.frankel", "neurology.asia")
    weakness = case.symptoms.limb_weakness
    grades = [g for g in (case.neurology.frankel, case.neurology.asia) if g is not None]
    deficit = [f"Frankel/ASIA {g}" for g in grades if g != "E"]
    if weakness:
        deficit.insert(0, "limb weakness")
    if deficit:
        return Fact.known(True, sources, "motor deficit: " + ", ".join(deficit))
    if weakness is False and grades:
        return Fact.known(False, sources, "no motor deficit (no limb weakness; Frankel/ASIA E)")
    return Fact.unknown(sources, "motor deficit: not recorded")


def _histology_label(case: Case) -> Fact:
    primary = case.cancer.primary
    if primary is None:
        return Fact.unknown(("cancer.primary",), "primary unknown")
    return Fact.known(parse_histology(primary).label.lower(), ("cancer.primary",),
                      f"primary: {parse_histology(primary).label}")


def _calcium_recorded(case: Case) -> Fact:
    """Whether a serum calcium is recorded (no hypocalcaemia threshold is in the spec, so the
    value is shown for the clinician to read, never classified here)."""
    calcium = case.labs.calcium
    if calcium is None:
        return Fact.unknown(("labs.calcium",), "serum calcium not recorded")
    return Fact.known(True, ("labs.calcium",),
                      f"serum calcium recorded: {calcium.value} {calcium.unit}")


_ANSWER_FIELDS = {"cancer_status": ("cancer.status",), "age_over_50": ("patient.age_years",),
                  "rapidly_progressive": ("neurology.rapidly_progressive",),
                  "neurological_signs": ("neurology.frankel", "neurology.asia")}


def _answer_sources(triage: TriageResult) -> tuple[str, ...]:
    """Case fields behind the answers that produced the triage level."""
    return tuple(f for key in triage.answers_used
                 for f in _ANSWER_FIELDS.get(key, (f"symptoms.{key}",)))


def _fitness_flags(case: Case) -> dict[str, Fact]:
    f = case.fitness
    pairs = {
        "anticoagulated": (f.anticoagulated, "fitness.anticoagulated", "anticoagulated"),
        "coagulopathy": (f.coagulopathy_uncorrectable, "fitness.coagulopathy_uncorrectable",
                         "uncorrectable coagulopathy"),
        "infection": (f.active_infection, "fitness.active_infection", "active infection"),
        "pmma_allergy": (f.pmma_allergy, "fitness.pmma_allergy", "PMMA allergy"),
        "contrast_allergy": (f.contrast_allergy, "fitness.contrast_allergy", "contrast allergy"),
        "diabetes": (f.diabetes, "fitness.diabetes", "diabetes"),
        "dental_review_done": (f.dental_review_done, "fitness.dental_review_done",
                               "dental review done"),
        "invasive_dental_planned": (f.invasive_dental_procedure_planned,
                                    "fitness.invasive_dental_procedure_planned",
                                    "invasive dental procedure planned"),
    }
    return {name: _bool(v, src, label) for name, (v, src, label) in pairs.items()}


def _yes_no(value: str | None, source: str, label: str) -> Fact:
    if value in (None, "unknown"):
        return Fact.unknown((source,), f"{label}: unknown")
    return Fact.known(value, (source,), f"{label}: {value}")


# -- per lesion ----------------------------------------------------------------------------------


def _band_fact(result: ScoreResult | None, sources: tuple[str, ...], name: str) -> Fact:
    if result is None:
        return Fact.unknown(sources, f"{name}: unknown")
    if result.band is not None:
        shown = result.grade if result.total is None else result.total
        return Fact.known(result.band.id, sources, f"{name} {shown} ({result.band.label})")
    possible = frozenset(result.possible_bands)
    if len(possible) == 1:
        return Fact(possible, sources, f"{name} incomplete but only {result.possible_bands[0]} "
                    f"is possible (totals {result.possible_totals})")
    return Fact(possible or None, sources, f"{name} incomplete")


def _radiosensitivity(case: Case, lesion: Lesion, index: int, established: Fact) -> Fact:
    overrides = (f"lesions[{index}].radiosensitivity", "cancer.overrides.radiosensitivity")
    sources = (*overrides, "cancer.primary")
    override = lesion.radiosensitivity or case.cancer.overrides.radiosensitivity
    if established.value is False:  # pathway.md §4: no radiotherapy plan before tissue
        note = f" (override {override} kept for after it)" if override is not None else ""
        return Fact.unknown((), "radiosensitivity not used until a tissue diagnosis" + note)
    if override is not None:
        return Fact.known(override, sources, f"radiosensitivity {override} (clinician override)")
    if established.value is not True or case.cancer.primary is None:
        return Fact.unknown((*established.sources, *overrides),
                            "radiosensitivity unknown until the histology is established")
    row = parse_histology(case.cancer.primary)
    cell = row.resolve("radiosensitivity")
    if not cell.known:  # "ask": only a clinician's choice (an override) can decide it
        return Fact.unknown(overrides, f"radiosensitivity of {row.label.lower()}: clinician "
                            f"choice needed ({cell.ask})")
    tag = " (UNVERIFIED in the catalogue)" if cell.unverified else ""
    return Fact.known(cell.value, sources, f"{row.label}: {cell.value}{tag}",
                      unverified=cell.unverified)


def _o_class(radio: Fact) -> Fact:
    value = radio.value
    if value is None:
        return Fact(None, radio.sources, radio.text)
    cls = "sensitive" if value == "sensitive" else "resistant"
    text = radio.text
    if value == "moderately_resistant":
        text += " - grouped with radioresistant (NOMS radiosensitive vs radioresistant)"
    return Fact.known(cls, radio.sources, text, unverified=radio.unverified)


def _hypervascular(case: Case) -> Fact:
    sources = ("cancer.primary",)
    if case.cancer.primary is None:
        return Fact.unknown(sources, "hypervascular histology: unknown")
    row = parse_histology(case.cancer.primary)
    cell = row.resolve("hypervascular")
    if not cell.known:  # not catalogued: only imaging can tell (hypervascular_on_imaging)
        return Fact.unknown((), f"hypervascular histology: {cell.ask}")
    yes = str(cell.value).lower() == "yes"
    tag = " (UNVERIFIED)" if cell.unverified else ""
    return Fact.known(yes, sources, f"{row.label}: hypervascular {cell.value}{tag}",
                      unverified=cell.unverified)


def _fracture(lesion: Lesion, prefix: str) -> Fact:
    sources = (f"{prefix}.pathological_fracture", f"{prefix}.collapse")
    if lesion.pathological_fracture is not None:
        return _bool(lesion.pathological_fracture, sources[0], "pathological fracture")
    if lesion.collapse in ("over_50", "under_50"):
        return Fact.known(True, sources, f"vertebral body collapse ({lesion.collapse})")
    return Fact.unknown(sources, "pathological fracture: unknown")


def _choice_fact(value: str | None, source: str, label: str) -> Fact:
    return Fact.of(value, (source,), f"{label}: {value}")


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months (the last day of a shorter month when needed)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has 28 days


#: Re-irradiation by SBRT was safe in a pooled series when given at least 5 months after
#: conventional palliative radiotherapy (Sahgal 2012; care pathway 6.2).
REIRRADIATION_MONTHS = 5


def prior_rt_course(lesion: Lesion, today: dt.date) -> str:
    """The last course in words: date with the interval, dose, fractions, technique."""
    parts = []
    if lesion.prior_radiotherapy_date is not None:
        days = (today - lesion.prior_radiotherapy_date).days
        parts.append(f"last course {lesion.prior_radiotherapy_date.isoformat()}, "
                     f"{days} days ago")
    else:
        parts.append("date of the last course not recorded")
    dose, fractions = lesion.prior_radiotherapy_dose_gy, lesion.prior_radiotherapy_fractions
    if dose is not None or fractions is not None:
        parts.append(("dose not recorded" if dose is None else f"{dose:g} Gy") + " in "
                     + ("fractions not recorded" if fractions is None else
                        f"{fractions} fraction{'s' if fractions != 1 else ''}"))
    else:
        parts.append("dose and fractions not recorded")
    technique = lesion.prior_radiotherapy_technique
    parts.append({"sbrt": "SBRT", "conventional": "conventional"}.get(
        technique or "", "technique not recorded"))
    return "; ".join(parts)


def _prior_rt(lesion: Lesion, prefix: str, today: dt.date) -> tuple[Fact, Fact]:
    """(course in words, interval under 5 months) for a lesion with prior radiotherapy."""
    date_field = f"{prefix}.prior_radiotherapy_date"
    if lesion.prior_radiotherapy is False:
        return (Fact.known("none", (), "no prior radiotherapy at this level"),
                Fact.known(False, (), "no prior radiotherapy at this level"))
    if lesion.prior_radiotherapy is None:
        return (Fact.unknown((f"{prefix}.prior_radiotherapy",), "prior radiotherapy unknown"),
                Fact.unknown((f"{prefix}.prior_radiotherapy",), "prior radiotherapy unknown"))
    course = prior_rt_course(lesion, today)
    course_fact = Fact.known(course, (), f"prior radiotherapy at this level: {course}")
    if lesion.prior_radiotherapy_date is None:
        return course_fact, Fact.unknown((date_field,), "interval since the last course: "
                                         "date not recorded")
    limit = add_months(lesion.prior_radiotherapy_date, REIRRADIATION_MONTHS)
    short = today < limit
    return course_fact, Fact.known(short, (date_field,), (
        f"interval since the last course under {REIRRADIATION_MONTHS} months" if short else
        f"interval since the last course {REIRRADIATION_MONTHS} months or more"))


def lesions_wide_facts(case: Case, assessment: Assessment) -> dict[str, Fact]:
    """The facts every lesion's rules read that are the same for every lesion: the primary's
    vascularity, solitary or multiple metastases, and the Tomita and Tokuhashi bands. A lesion's
    scope merges them, then its own facts (:func:`lesions_own_facts`), over the patient-level
    facts."""
    tomita, tokuhashi = assessment.get("tomita_2001"), assessment.get("tokuhashi_2005")
    return {
        "hypervascular_histology": _hypervascular(case),
        "solitary": _solitary(case),
        "tomita_band": _band_fact(tomita, _missing_fields(assessment, tomita), "Tomita"),
        "tokuhashi_band": _band_fact(tokuhashi, _missing_fields(assessment, tokuhashi),
                                     "Tokuhashi"),
    }


def lesions_own_facts(case: Case, assessment: Assessment, patient: Mapping[str, Fact],
                      today: dt.date) -> list[Mapping[str, Fact]]:
    """The facts of each lesion alone, in order (see :func:`lesions_wide_facts`). ``today`` is
    the date intervals are counted to (prior radiotherapy).

    Remembered per what they are computed from: the lesion object, its ESCC and SINS results
    and the cancer section, by identity (:class:`~spinemets._identity.IdentityMemo`), and the
    lesion's index, the date and whether histology is established, by value. The ranking of
    unknowns computes these facts for many variants of a case that share its objects and,
    through ``assess``, the lesions' results: a value tried for a patient-level field computes
    no lesion's facts again.
    """
    established = patient["histology_established"]
    out: list[Mapping[str, Fact]] = []
    for index, lesion in enumerate(case.lesions):
        escc, sins = assessment.get("bilsky_escc", index), assessment.get("sins", index)
        objects, value = (lesion, escc, sins, case.cancer), (index, today, established)
        own = _OWN_FACTS.get(objects, value)
        if own is None:
            own = _OWN_FACTS.put(objects, value, _lesion_own_facts(
                case, index, established, today, escc=escc, sins=sins,
                sins_missing=_missing_fields(assessment, sins, index)))
        out.append(own)
    return out


#: Lesion facts remembered per :func:`lesions_own_facts` key (bounded).
_OWN_FACTS: IdentityMemo[Mapping[str, Fact]] = IdentityMemo(1024)


def clear_lesion_facts() -> None:
    """Forget remembered lesion facts (benchmarks time the cold path)."""
    _OWN_FACTS.clear()


def _lesion_own_facts(case: Case, index: int, established: Fact, today: dt.date, *,
                      escc: ScoreResult | None, sins: ScoreResult | None,
                      sins_missing: tuple[str, ...]) -> Mapping[str, Fact]:
    """The facts of lesion ``index`` alone (see :func:`lesions_own_facts`): they read the
    lesion, its scores, the date, whether histology is established and the cancer section."""
    lesion = case.lesions[index]
    course, interval_short = _prior_rt(lesion, f"lesions[{index}]", today)
    prefix = f"lesions[{index}]"
    radio = _radiosensitivity(case, lesion, index, established)
    return MappingProxyType({
        "escc_class": _band_fact(escc, (f"{prefix}.escc",), "ESCC"),
        "escc_grade": _choice_fact(lesion.escc, f"{prefix}.escc", "ESCC grade"),
        "sins_band": _band_fact(sins, sins_missing, "SINS"),
        "sins_ct_inputs_missing": Fact.known(
            any(getattr(lesion, n) is None for n in _SINS_CT_ITEMS), (prefix,),
            "SINS imaging items not all recorded"),
        "radiosensitivity": radio,
        "o_class": _o_class(radio),
        "lesion_pain": _choice_fact(lesion.pain, f"{prefix}.pain", "lesion pain"),
        "fracture": _fracture(lesion, prefix),
        "alignment": _choice_fact(lesion.alignment, f"{prefix}.alignment", "alignment"),
        "posterolateral": _choice_fact(lesion.posterolateral, f"{prefix}.posterolateral",
                                       "posterolateral involvement"),
        "collapse": _choice_fact(lesion.collapse, f"{prefix}.collapse", "collapse"),
        "retropulsion": _bool(lesion.posterior_wall_retropulsion,
                              f"{prefix}.posterior_wall_retropulsion", "retropulsion"),
        "prior_radiotherapy": _bool(lesion.prior_radiotherapy, f"{prefix}.prior_radiotherapy",
                                    "prior radiotherapy"),
        "prior_rt_course": course,
        "prior_rt_interval_short": interval_short,
        "anterior_column_destroyed": _bool(lesion.anterior_column_destroyed,
                                           f"{prefix}.anterior_column_destroyed",
                                           "anterior column destroyed"),
        "hypervascular_imaging": _bool(lesion.hypervascular_on_imaging,
                                       f"{prefix}.hypervascular_on_imaging",
                                       "hypervascular on imaging"),
        "radiosensitivity_unsettled": _unsettled(case, lesion, index, established),
    })


def _unsettled(case: Case, lesion: Lesion, index: int, established: Fact) -> Fact:
    """True when only a clinician's choice can give the NOMS "O" (catalogue cell "ask")."""
    sources = (f"lesions[{index}].radiosensitivity", "cancer.overrides.radiosensitivity")
    override = lesion.radiosensitivity or case.cancer.overrides.radiosensitivity
    primary = case.cancer.primary
    if override is not None or established.value is False:
        return Fact.known(False, sources, "radiosensitivity decided or not yet needed")
    if established.value is not True or primary is None:
        return Fact.unknown(established.sources, "whether radiosensitivity is settled: unknown")
    row = parse_histology(primary)
    unsettled = not row.resolve("radiosensitivity").known
    text = (f"radiosensitivity of {row.label.lower()} is not settled in the sources"
            if unsettled else f"radiosensitivity of {row.label.lower()} is catalogued")
    return Fact.known(unsettled, sources, text)


def _solitary(case: Case) -> Fact:
    d = case.disease
    sources = ("disease.extraspinal_bone_metastases", "disease.vertebral_body_metastases")
    if d.extraspinal_bone_metastases == 0 and d.vertebral_body_metastases == 1 and len(
            case.lesions) <= 1:
        return Fact.known(True, sources, "solitary metastasis")
    if (d.extraspinal_bone_metastases or 0) > 0 or (d.vertebral_body_metastases or 0) > 1 or len(
            case.lesions) > 1:
        return Fact.known(False, sources, "multiple metastases")
    return Fact.unknown(sources, "solitary or multiple: unknown")
