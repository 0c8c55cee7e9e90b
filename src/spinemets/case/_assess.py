"""Every applicable score for a case: one SINS and one ESCC per lesion, the rest per patient.

Mapping rules from case fields to score inputs (each is stated in the output ``basis``):

- Unknown stays unknown: a case field that is ``None`` is left out of the score inputs.
- Tomita ``bone_metastases`` / Bauer ``solitary_skeletal_metastasis`` / Katagiri
  ``multiple_skeletal_metastases``: from ``disease.extraspinal_bone_metastases`` and
  ``disease.vertebral_body_metastases``. Extraspinal 0 and vertebral 1 -> solitary; any
  extraspinal count above 0 or vertebral count above 1 -> multiple (even if the other count is
  unknown); otherwise unknown.
- Tokuhashi ``visceral_metastases``: ``none`` -> none; present (nodular or disseminated) with
  ``visceral_removable`` true/false -> removable/unremovable; otherwise unknown.
- Tomita ``visceral_metastases``: the same with ``visceral_treatable`` -> treatable/untreatable.
- Bauer and van der Linden ``visceral_metastases`` (yes/no): none -> false; nodular or
  disseminated -> true.
- Katagiri ``visceral_metastases``: disseminated -> disseminated; nodular -> nodular; none with
  ``brain_metastases`` true -> nodular (the item is "visceral or cerebral"); none with brain
  metastases false -> none; otherwise unknown.
- ECOG only from ``performance.ecog``: never derived from KPS (``scores.md`` §11).
- Tokuhashi palsy from ``neurology.frankel``; ``neurology.asia`` is passed as the score's own
  flagged fallback.
- Bauer 1995 ``pathological_fracture``: true if any lesion has one; false only if every lesion
  records none and there are no extraspinal bone metastases; otherwise unknown.
- Clinician overrides (``cancer.overrides``) are passed as the scores' override inputs.
- SINS location for a lesion spanning several location categories: the higher-scoring category,
  with a review warning (``scores.md`` §1, an UNVERIFIED implementation choice).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spinemets._identity import IdentityMemo
from spinemets.case._load import load_case
from spinemets.case._model import Case, Lesion
from spinemets.domain import sins_location
from spinemets.errors import InputError
from spinemets.scores import ScoreResult, registry, score

__all__ = ["PATIENT_SCORES", "Assessment", "ScoreInputs", "assess", "score_inputs"]

PATIENT_SCORES = (
    "tokuhashi_2005",
    "tomita_2001",
    "bauer_modified",
    "bauer_1995",
    "katagiri_2014",
    "van_der_linden_2005",
)
SCALES = {"kps": "kps", "ecog": "ecog", "frankel": "frankel", "asia_ais": "asia"}
PROGNOSTIC = frozenset(PATIENT_SCORES)
_LOCATION_POINTS = {"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0}
_KATAGIRI_LABS = ("crp", "ldh", "albumin", "platelets", "calcium", "bilirubin")


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """The inputs of one score for one case (or lesion), with how each was derived."""

    slug: str
    inputs: Mapping[str, Any]
    basis: tuple[str, ...] = ()
    lesion: str | None = None
    lesion_index: int | None = None
    warnings: tuple[str, ...] = ()
    #: Score input name -> the case fields it is read from (for "which input is missing").
    fields: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def case_fields(self, names: Iterable[str]) -> tuple[str, ...]:
        """The case fields behind the score inputs ``names`` (e.g. a result's ``missing``)."""
        return tuple(dict.fromkeys(f for n in names for f in self.fields.get(n, ())))


def _drop_unknown(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _bone_extent(case: Case) -> tuple[str | None, str]:
    extra, vertebral = (case.disease.extraspinal_bone_metastases,
                        case.disease.vertebral_body_metastases)
    if (extra is not None and extra > 0) or (vertebral is not None and vertebral > 1):
        return "multiple", (f"bone metastases multiple (extraspinal {extra}, vertebral "
                            f"{vertebral})")
    if extra == 0 and vertebral == 1:
        return "solitary", "bone metastases solitary (extraspinal 0, vertebral 1)"
    return None, "bone metastases solitary/multiple unknown (counts not recorded)"


def _present(visceral: str | None) -> bool | None:
    return None if visceral is None else visceral != "none"


def _visceral_by(case: Case, flag: bool | None, yes: str, no: str) -> str | None:
    present = _present(case.disease.visceral_metastases)
    if present is False:
        return "none"
    if present and flag is not None:
        return yes if flag else no
    return None


def _katagiri_visceral(case: Case) -> str | None:
    visceral, brain = case.disease.visceral_metastases, case.disease.brain_metastases
    if visceral in ("disseminated", "nodular"):
        return visceral
    if visceral == "none" and brain is not None:
        return "nodular" if brain else "none"
    return None


def _fracture(case: Case) -> bool | None:
    flags = [lesion.pathological_fracture for lesion in case.lesions]
    if any(flags):
        return True
    if flags and all(f is False for f in flags) and case.disease.extraspinal_bone_metastases == 0:
        return False
    return None


def _patient_inputs(case: Case) -> dict[str, dict[str, Any]]:
    c, d, p, n = case.cancer, case.disease, case.performance, case.neurology
    extent, _ = _bone_extent(case)
    solitary = None if extent is None else extent == "solitary"
    visceral = _present(d.visceral_metastases)
    labs = {name: case.labs.given(name) for name in _KATAGIRI_LABS}
    return {
        "tokuhashi_2005": {
            "kps": p.kps, "extraspinal_bone_metastases": d.extraspinal_bone_metastases,
            "vertebral_body_metastases": d.vertebral_body_metastases,
            "visceral_metastases": _visceral_by(case, d.visceral_removable, "removable",
                                                "unremovable"),
            "primary": c.primary, "primary_points": c.overrides.tokuhashi_primary_points,
            "frankel": n.frankel, "asia": n.asia},
        "tomita_2001": {
            "primary": c.primary, "growth": c.overrides.tomita_growth,
            "visceral_metastases": _visceral_by(case, d.visceral_treatable, "treatable",
                                                "untreatable"),
            "bone_metastases": extent},
        "bauer_modified": {"primary": c.primary, "visceral_metastases": visceral,
                           "solitary_skeletal_metastasis": solitary},
        "bauer_1995": {"primary": c.primary, "visceral_metastases": visceral,
                       "solitary_skeletal_metastasis": solitary,
                       "pathological_fracture": _fracture(case)},
        "katagiri_2014": {
            "primary": c.primary, "growth": c.overrides.katagiri_group,
            "hormone_dependent": c.hormone_dependent, "targeted_therapy": c.targeted_therapy,
            "visceral_metastases": _katagiri_visceral(case), **labs, "ecog": p.ecog,
            "previous_chemotherapy": c.previous_chemotherapy,
            "multiple_skeletal_metastases": None if solitary is None else not solitary},
        "van_der_linden_2005": {"kps": p.kps, "primary": c.primary,
                                "visceral_metastases": visceral},
    }


_VISCERAL_FIELD = {"tokuhashi_2005": "disease.visceral_removable",
                   "tomita_2001": "disease.visceral_treatable",
                   "katagiri_2014": "disease.brain_metastases"}
_GROWTH_FIELD = {"tomita_2001": "cancer.overrides.tomita_growth",
                 "katagiri_2014": "cancer.overrides.katagiri_group"}
_BONE_COUNTS = ("disease.extraspinal_bone_metastases", "disease.vertebral_body_metastases")


def _patient_fields(slug: str, case: Case) -> dict[str, tuple[str, ...]]:
    """Score input name -> case fields, for the patient-level scores (see the docstring)."""
    visceral = ("disease.visceral_metastases", *(
        (_VISCERAL_FIELD[slug],) if slug in _VISCERAL_FIELD else ()))
    growth = ("cancer.primary", *((_GROWTH_FIELD[slug],) if slug in _GROWTH_FIELD else ()))
    fracture = (*(f"lesions[{i}].pathological_fracture" for i in range(len(case.lesions))),
                "disease.extraspinal_bone_metastases")
    fields: dict[str, tuple[str, ...]] = {
        "kps": ("performance.kps",), "ecog": ("performance.ecog",),
        "extraspinal_bone_metastases": (_BONE_COUNTS[0],),
        "vertebral_body_metastases": (_BONE_COUNTS[1],),
        "visceral_metastases": visceral, "primary": ("cancer.primary",),
        "primary_points": ("cancer.primary", "cancer.overrides.tokuhashi_primary_points"),
        "growth": growth, "frankel": ("neurology.frankel", "neurology.asia"),
        "asia": ("neurology.asia",), "bone_metastases": _BONE_COUNTS,
        "solitary_skeletal_metastasis": _BONE_COUNTS,
        "multiple_skeletal_metastases": _BONE_COUNTS, "pathological_fracture": fracture,
        "hormone_dependent": ("cancer.hormone_dependent",),
        "targeted_therapy": ("cancer.targeted_therapy",),
        "previous_chemotherapy": ("cancer.previous_chemotherapy",),
        "lab_status": tuple(f"labs.{name}" for name in _KATAGIRI_LABS),
    }
    fields |= {name: (f"labs.{name}",) for name in _KATAGIRI_LABS}
    return fields


def _lesion_fields(index: int) -> dict[str, tuple[str, ...]]:
    prefix = f"lesions[{index}]"
    out: dict[str, tuple[str, ...]] = {name: (f"{prefix}.{name}",) for name in (
        "pain", "bone_lesion", "alignment", "collapse", "posterolateral", "escc")}
    return out | {"level": (f"{prefix}.levels",), "location": (f"{prefix}.levels",)}


def _mapping_basis(case: Case) -> tuple[str, ...]:
    _, extent_text = _bone_extent(case)
    return (
        extent_text,
        "visceral (Tokuhashi) from disease.visceral_metastases + visceral_removable",
        "visceral (Tomita) from disease.visceral_metastases + visceral_treatable",
        "visceral (Katagiri): disseminated > nodular; brain metastases count as nodular",
        "ECOG only from performance.ecog (never derived from KPS)",
        "palsy from neurology.frankel (ASIA only as the score's flagged fallback)",
    )


def _sins_location(lesion: Lesion) -> tuple[dict[str, Any], tuple[str, ...]]:
    if not lesion.levels:
        return {}, ()
    locations = {sins_location(level).value for level in lesion.levels}
    if len(locations) == 1:
        return {"level": lesion.levels[0]}, ()
    best = max(locations, key=_LOCATION_POINTS.__getitem__)
    warning = (f"lesion {lesion.label} spans SINS location categories "
               f"({', '.join(sorted(locations))}); scored as the higher-scoring {best}: "
               "UNVERIFIED implementation choice (spinemets rule book), review")
    return {"location": best}, (warning,)


def lesion_inputs(lesion: Lesion, index: int) -> list[ScoreInputs]:
    """SINS and Bilsky ESCC inputs of one lesion."""
    location, warnings = _sins_location(lesion)
    sins = {**location, "pain": lesion.pain, "bone_lesion": lesion.bone_lesion,
            "alignment": lesion.alignment, "collapse": lesion.collapse,
            "posterolateral": lesion.posterolateral}
    prefix = f"lesions[{index}]"
    fields = _lesion_fields(index)
    return [
        ScoreInputs("sins", _drop_unknown(sins), (f"{prefix}: levels, pain, bone_lesion, "
                    "alignment, collapse, posterolateral",), lesion.label, index, warnings,
                    fields),
        ScoreInputs("bilsky_escc", _drop_unknown({"escc": lesion.escc}),
                    (f"{prefix}.escc",), lesion.label, index, fields=fields),
    ]


def score_inputs(case: Case) -> list[ScoreInputs]:
    """Map a case to the inputs of every applicable score (see the module docstring).

    Parameters
    ----------
    case
        A validated case.

    Returns
    -------
    list of ScoreInputs
        One SINS and one Bilsky ESCC per lesion, the prognostic scores, then the scales whose
        value is recorded (KPS, ECOG, Frankel, ASIA).
    """
    out: list[ScoreInputs] = []
    for index, lesion in enumerate(case.lesions):
        out.extend(lesion_inputs(lesion, index))
    return out + _patient_score_inputs(case)


def _patient_score_inputs(case: Case) -> list[ScoreInputs]:
    out: list[ScoreInputs] = []
    basis = _mapping_basis(case)
    for slug, inputs in _patient_inputs(case).items():
        out.append(ScoreInputs(slug, _drop_unknown(inputs), basis,
                               fields=_patient_fields(slug, case)))
    values = {"kps": case.performance.kps, "ecog": case.performance.ecog,
              "frankel": case.neurology.frankel, "asia": case.neurology.asia}
    for slug, name in SCALES.items():
        if values[name] is not None:
            out.append(ScoreInputs(slug, {name: values[name]}, (f"recorded {name}",)))
    return out


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every applicable score for one case.

    Attributes
    ----------
    case_id
        The case's pseudonymous id, if any.
    results
        Score results: per lesion (SINS, ESCC; ``lesion`` set) then per patient.
    inputs
        The score inputs each result was computed from, in the same order.
    unavailable
        Registered scores that are deliberately not computed, with the reason.
    """

    case_id: str | None
    results: tuple[ScoreResult, ...]
    inputs: tuple[ScoreInputs, ...]
    unavailable: tuple[tuple[str, str], ...] = ()
    _index: dict[tuple[str, int | None], int] = dataclasses.field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One look-up table, so that per-lesion look-ups cost O(1), not O(lesions).
        index = {(g.slug, g.lesion_index): i for i, g in reversed(list(enumerate(self.inputs)))}
        object.__setattr__(self, "_index", index)

    def get(self, slug: str, lesion_index: int | None = None) -> ScoreResult | None:
        """The result of ``slug`` (for lesion ``lesion_index`` when per lesion)."""
        position = self._index.get((slug, lesion_index))
        return None if position is None else self.results[position]

    def inputs_of(self, slug: str, lesion_index: int | None = None) -> ScoreInputs | None:
        """The inputs (and their case fields) the result of ``slug`` was computed from."""
        position = self._index.get((slug, lesion_index))
        return None if position is None else self.inputs[position]

    def prognostic(self) -> tuple[ScoreResult, ...]:
        """The patient-level prognostic scores, side by side."""
        return tuple(r for r in self.results if r.slug in PROGNOSTIC)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"format": "spinemets-assessment/1", "scores": [...], ...}``."""
        return {
            "format": "spinemets-assessment/1",
            "case_id": self.case_id,
            "scores": [_result_dict(r, i) for r, i in zip(self.results, self.inputs,
                                                           strict=True)],
            "unavailable": [{"score": s, "reason": r} for s, r in self.unavailable],
        }


def _result_dict(result: ScoreResult, given: ScoreInputs) -> dict[str, Any]:
    out = result.to_dict()
    out["mapping"] = list(given.basis)
    return out


@lru_cache(maxsize=4096)
def _score_of(slug: str, items: tuple[tuple[str, Any], ...], lesion: str | None) -> ScoreResult:
    """A score on hashable inputs, remembered: results are immutable and deterministic, and the
    plan's ranking of unknowns assesses many variants of one case that share most scores."""
    return score(slug, dict(items), lesion=lesion)


def _score(given: ScoreInputs) -> ScoreResult:
    items = tuple(sorted(given.inputs.items()))
    try:
        hash(items)
    except TypeError:  # an input that is a list or a mapping: computed, not remembered
        return score(given.slug, given.inputs, lesion=given.lesion)
    return _score_of(given.slug, items, given.lesion)


def _run(given: ScoreInputs) -> ScoreResult:
    try:
        result = _score(given)
    except InputError as exc:  # pragma: no cover - the case model already rejects these
        prefix = "" if given.lesion_index is None else f"lesions[{given.lesion_index}]."
        raise exc.prefixed(prefix) from None
    if given.warnings:
        result = dataclasses.replace(result, warnings=(*result.warnings, *given.warnings))
    return result


#: A lesion's score inputs and results, per lesion object (identity) and index: the ranking
#: of unknowns assesses many variants of a case that share its validated (frozen) lesion
#: objects, since only the section a value changes is validated again.
_BY_LESION: IdentityMemo[tuple[tuple[ScoreInputs, ...], tuple[ScoreResult, ...]]] = (
    IdentityMemo(1024))


def _lesion_scored(lesion: Lesion, index: int) -> tuple[tuple[ScoreInputs, ...],
                                                         tuple[ScoreResult, ...]]:
    """:func:`lesion_inputs` and their results, remembered per lesion object (see above)."""
    found = _BY_LESION.get((lesion,), index)
    if found is not None:
        return found
    given = tuple(lesion_inputs(lesion, index))
    return _BY_LESION.put((lesion,), index, (given, tuple(_run(g) for g in given)))


def clear_lesion_scores() -> None:
    """Forget remembered lesion scores (benchmarks time the cold path)."""
    _BY_LESION.clear()


def assess(case: Case | Mapping[str, Any] | str) -> Assessment:
    """Compute every applicable score for ``case``.

    Parameters
    ----------
    case
        A :class:`Case`, a ``spinemets-case/1`` mapping, or the path of a JSON/YAML file.

    Returns
    -------
    Assessment
        Complete or incomplete results; an incomplete one lists what is missing.

    References
    ----------
    Score tables and their citations: ``scores.md`` §1-§7, §11 and the van der Linden section.
    """
    case = load_case(case)
    given: list[ScoreInputs] = []
    results: list[ScoreResult] = []
    for index, lesion in enumerate(case.lesions):
        lesion_given, lesion_results = _lesion_scored(lesion, index)
        given.extend(lesion_given)
        results.extend(lesion_results)
    patient = _patient_score_inputs(case)
    given.extend(patient)
    results.extend(_run(g) for g in patient)
    unavailable = tuple((slug, defn.status_reason or "unavailable")
                        for slug, defn in registry().items() if not defn.available)
    return Assessment(case.id, tuple(results), tuple(given), unavailable)
