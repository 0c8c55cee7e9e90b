"""One case's prediction by a site's local model (pure: a loaded model and the case's scores in).

A local model is a penalised Cox model fitted on the site's own cohort (``spinemets cohort model
fit``). Its predictors are cohort columns, i.e. score inputs under their flat names
(:func:`spinemets.scores._columns.column_for`), so a case gives them through the score inputs the
plan has already mapped (:attr:`spinemets.case.Assessment.inputs`): nothing is read twice.

The prediction is the same arithmetic as ``spinemets cohort model predict`` (numpy there, plain
Python here, so a plan needs no numpy): linear predictor ``lp = sum(coef * (x - centre))`` over
the model's terms, survival at ``h`` months ``exp(-H0(h) * exp(lp))`` with ``H0`` the stored
baseline cumulative hazard (a step function of the event times).

Unknown is never imputed: a predictor the case does not record, a category the model did not see
at fitting, or a per-lesion predictor for a case with several lesions gives "not computed" with
the field named. The prediction is information beside the classic scores; it changes no triage
level and no plan item.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinemets.case import Assessment, ScoreInputs
from spinemets.domain import ANALYTES, parse_lab
from spinemets.errors import InputError
from spinemets.local_model._file import ModelFile, PredictorSpec, model_label
from spinemets.scores import registry
from spinemets.scores._columns import column_for

__all__ = ["BESIDE_THE_SCORES", "Contribution", "LocalPrediction", "case_columns",
           "check_predictors", "predict"]

#: Said with every local model prediction (the plan engine never reads it).
BESIDE_THE_SCORES = ("Information beside the classic scores: it does not change the triage "
                     "level or any item of the plan")


@dataclass(frozen=True, slots=True)
class Contribution:
    """One predictor: the case's value and what it adds to the linear predictor.

    ``contribution`` is ``sum(coef * (x - centre))`` over the predictor's terms: positive means a
    higher hazard than the development cohort's average patient, negative a lower one.
    """

    column: str
    fields: tuple[str, ...]  # the case fields the value is read from
    value: Any  # as the case gives it (number, yes/no, category); labs in the canonical unit
    unit: str | None
    terms: tuple[tuple[str, float, float, float], ...]  # (term, coefficient, x, centre)
    contribution: float
    reference: str | None = None  # the reference category of a categorical predictor
    per: float = 1.0  # a numeric predictor's coefficient is per this many units (10 KPS points)

    def to_dict(self) -> dict[str, Any]:
        out = {"predictor": self.column, "fields": list(self.fields), "value": self.value,
               "unit": self.unit,
               "terms": [{"term": t, "coefficient": round(c, 6), "x": round(x, 6),
                          "centre": round(m, 6)} for t, c, x, m in self.terms],
               "contribution": round(self.contribution, 6)}
        if self.reference is not None:
            out["reference"] = self.reference
        if self.per != 1.0:
            out["per"] = self.per
        return out


@dataclass(frozen=True, slots=True)
class LocalPrediction:
    """A local model's prediction for one case, or why there is none (immutable)."""

    label: str  # "local model <name>, fitted <date> on N patients, internally validated only"
    name: str
    fitted: str  # date (YYYY-MM-DD)
    patients: int
    events: int
    computed: bool
    survival: tuple[tuple[float, float], ...]  # (horizon in months, probability of being alive)
    linear_predictor: float | None
    inputs: tuple[Contribution, ...]
    not_computed: tuple[str, ...]  # "not computed: <field> not recorded", one per problem
    harrell_c_corrected: float | None
    harrell_c_apparent: float | None
    validation: str
    intended_use: str

    def to_dict(self) -> dict[str, Any]:
        """The ``local_model`` entry of the plan (``spinemets-plan/1``)."""
        return {
            "label": self.label, "name": self.name, "fitted": self.fitted,
            "patients": self.patients, "events": self.events,
            "status": "computed" if self.computed else "not computed",
            "survival": [{"months": h, "probability": round(p, 6)} for h, p in self.survival],
            "linear_predictor": (None if self.linear_predictor is None
                                 else round(self.linear_predictor, 6)),
            "inputs": [c.to_dict() for c in self.inputs],
            "not_computed": list(self.not_computed),
            "harrell_c_corrected": _round(self.harrell_c_corrected),
            "harrell_c_apparent": _round(self.harrell_c_apparent),
            "validation": self.validation, "intended_use": self.intended_use,
            "note": BESIDE_THE_SCORES,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@cache
def _column_inputs() -> Mapping[str, tuple[tuple[str, str], ...]]:
    """Flat column -> the (score slug, input name) pairs that feed it, over the registry."""
    out: dict[str, list[tuple[str, str]]] = {}
    for slug, defn in registry().items():
        if not defn.available:
            continue
        for name in defn.input_names:
            out.setdefault(column_for(slug, name), []).append((slug, name))
    return {column: tuple(pairs) for column, pairs in out.items()}


def check_predictors(model: ModelFile) -> None:
    """Refuse a model whose predictors a case cannot give (checked when a site configures it).

    Raises
    ------
    InputError
        A predictor is not a score input of the single-case contract (named).
    """
    known = _column_inputs()
    for p in model.predictors:
        if p.column not in known:
            raise InputError.single(
                "local_model", f"predictor {p.column!r} of model {model.name!r} is not a score "
                "input a case records (a local model for plans may use score inputs only, "
                "e.g. kps, primary, albumin_g_per_dl)", value=p.column)


def _value(name: str, raw: Any) -> tuple[Any, str | None]:
    if name in ANALYTES and isinstance(raw, Mapping):
        lab = parse_lab(name, raw)
        return float(lab.canonical), lab.canonical_unit
    return raw, None


def case_columns(inputs: Iterable[ScoreInputs]
                 ) -> tuple[dict[str, tuple[Any, str | None]], dict[str, tuple[str, ...]],
                            set[str], int]:
    """The case's values under their flat column names.

    Returns
    -------
    tuple
        (column -> (value, unit) for the recorded values; column -> case fields for every
        column the score inputs can give; per-lesion columns; number of lesions).
    """
    values: dict[str, tuple[Any, str | None]] = {}
    fields: dict[str, tuple[str, ...]] = {}
    per_lesion: set[str] = set()
    lesions: set[int] = set()
    for given in inputs:
        if given.lesion_index is not None:
            lesions.add(given.lesion_index)
        for name, paths in given.fields.items():
            column = column_for(given.slug, name)
            fields.setdefault(column, paths)
            if given.lesion_index is not None:
                per_lesion.add(column)
        for name, raw in given.inputs.items():
            column = column_for(given.slug, name)
            if given.lesion_index is not None:
                per_lesion.add(column)
                fields.setdefault(column, (f"lesions[{given.lesion_index}].{name}",))
            if column not in values:
                values[column] = _value(name, raw)
    return values, fields, per_lesion, len(lesions)


def _encode(p: PredictorSpec, value: Any) -> list[float] | str:
    """The term values of predictor ``p`` for ``value``, or why it cannot be encoded."""
    if p.kind == "categorical":
        text = str(value)
        level = "other" if text in p.pooled else text
        if level not in p.levels:
            return f"{p.column} value {text!r} was not seen when the model was fitted"
        return [1.0 if level == lv else 0.0 for lv in p.levels if lv != p.reference]
    if p.kind == "boolean":
        if not isinstance(value, bool | int) or value not in (0, 1):
            return f"{p.column} value {value!r} is not yes/no"
        return [1.0 if value else 0.0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{p.column} value {value!r} is not a number"
    return [float(value) / p.per]


def _cumulative_hazard(model: ModelFile, months: float) -> float:
    b = model.baseline
    i = bisect.bisect_right(b.time, months) - 1
    return b.cumulative_hazard[i] if i >= 0 else 0.0


def _not_recorded(column: str, fields: Mapping[str, tuple[str, ...]]) -> str:
    paths = fields.get(column) or (column,)
    return f"not computed: {' or '.join(paths)} not recorded"


def predict(model: ModelFile, assessment: Assessment) -> LocalPrediction:
    """The local model's prediction for the case behind ``assessment``.

    Parameters
    ----------
    model : ModelFile
        A loaded, checked model file (:func:`spinemets.local_model.load_model`).
    assessment : Assessment
        The case's scores with the inputs they were computed from (the plan's own).

    Returns
    -------
    LocalPrediction
        Survival at the model's horizons with each predictor's contribution, or "not
        computed" naming each unrecorded field (never imputed).
    """
    values, fields, per_lesion, lesions = case_columns(assessment.inputs)
    coefs = {c.term: c for c in model.coefficients}
    inputs: list[Contribution] = []
    problems: list[str] = []
    for p in model.predictors:
        if p.column in per_lesion and lesions != 1:
            problems.append(f"not computed: {p.column} is recorded per lesion and the case has "
                            f"{lesions} lesions (the model was fitted on one lesion a patient)")
            continue
        if p.column not in values:
            problems.append(_not_recorded(p.column, fields))
            continue
        value, unit = values[p.column]
        encoded = _encode(p, value)
        if isinstance(encoded, str):
            problems.append("not computed: " + encoded)
            continue
        terms = tuple((t, coefs[t].coef, x, coefs[t].center)
                      for t, x in zip(p.terms, encoded, strict=True))
        part = math.fsum(c * (x - m) for _, c, x, m in terms)
        inputs.append(Contribution(p.column, fields.get(p.column, ()), value, unit, terms, part,
                                   p.reference if p.kind == "categorical" else None,
                                   p.per if p.kind == "numeric" else 1.0))
    computed = not problems
    lp = math.fsum(c.contribution for c in inputs) if computed else None
    survival: tuple[tuple[float, float], ...] = ()
    if lp is not None:
        survival = tuple((h, math.exp(-_cumulative_hazard(model, h) * math.exp(lp)))
                         for h in model.validation.horizons)
    apparent = model.validation.apparent.get("harrell_c")
    optimism = model.validation.optimism.get("harrell_c")
    corrected = None if apparent is None or optimism is None else apparent - optimism
    validation = (f"{model.validation.resamples} bootstrap resamples (optimism correction); "
                  f"{model.data.events} events among {model.data.complete_cases} patients")
    # the label from the file's own fields (never its free-text "label", which could disagree)
    return LocalPrediction(
        label=model_label(model.name, model.fitted, model.data.complete_cases),
        name=model.name, fitted=model.fitted[:10],
        patients=model.data.complete_cases, events=model.data.events, computed=computed,
        survival=survival, linear_predictor=lp, inputs=tuple(inputs),
        not_computed=tuple(problems), harrell_c_corrected=corrected,
        harrell_c_apparent=apparent, validation=validation,
        intended_use=model.intended_use)
