"""``cohort model report``: the model beside every classic score, on the same rows.

For the model and each classic prognostic score present in the data: Harrell's and Uno's C,
time-dependent AUC at 3, 6 and 12 months, calibration at those horizons and decision curves,
each with a 95% percentile-bootstrap interval. A classic score is *recalibrated*: a one-term Cox
model of its total (oriented so that higher = shorter survival) with its baseline survival
refitted on the same rows, which turns its points into predicted probabilities; its published
band figures (only those in ``data/published_survival.yaml``) are shown beside, never invented.

On the development data (same data hash as the model file) the model's values are given
apparent and optimism-corrected (apparent minus the bootstrap optimism stored in the model
file); on other data they are a validation on those rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from spinemets.analytics import calibrate, km_by_group
from spinemets.analytics._model import (
    Performance,
    Prediction,
    bootstrap_ci,
    flatten,
    performance,
)
from spinemets.analytics._performance import cox_small, grouped_calibration
from spinemets.cohort._model import (
    CohortData,
    cox_of,
    data_hash,
    model_design,
    predictors_of,
    read_cohort,
)
from spinemets.cohort._synth import published_survival
from spinemets.errors import InputError
from spinemets.local_model._file import ModelFile
from spinemets.scores import registry

__all__ = ["C_INDEX_NOTE", "TRIPOD_AI", "build_report"]

C_INDEX_NOTE = (
    "Risk is the model's linear predictor, or a score total oriented so that a higher value "
    "means a shorter published prognosis; C > 0.5 means patients who died earlier had the "
    "higher risk. Harrell's C counts every comparable pair; Uno's C weights pairs by the "
    "inverse probability of remaining uncensored.")
TRIPOD_AI = ("Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement. BMJ 2024;385:e078378. "
             "doi:10.1136/bmj-2023-078378, PMID 38626948.")
MIN_SCORE_SHARE = 0.5
MIN_ROWS = 20


@dataclass
class _Entity:
    key: str
    name: str
    label: str
    pred: Prediction
    refit: Callable[[npt.NDArray[np.intp]], Prediction]


def _interval(estimate: float | None, ci: tuple[float | None, float | None]) -> dict[str, Any]:
    return {"estimate": estimate, "lower": ci[0], "upper": ci[1]}


def _with_optimism(entry: dict[str, Any], optimism: float | None) -> dict[str, Any]:
    if optimism is None or entry["estimate"] is None:
        return entry
    shift = [None if v is None else v - optimism for v in (entry["lower"], entry["upper"])]
    return {**entry, "apparent": entry["estimate"], "optimism": optimism,
            "corrected": entry["estimate"] - optimism, "corrected_lower": shift[0],
            "corrected_upper": shift[1]}


def _measures(perf: Performance, ci: dict[str, tuple[float | None, float | None]],
              optimism: dict[str, float] | None, *, t: npt.NDArray[np.float64],
              e: npt.NDArray[np.bool_], pred: Prediction) -> dict[str, Any]:
    flat = flatten(perf)
    opt = optimism or {}

    def entry(key: str) -> dict[str, Any]:
        return _with_optimism(_interval(flat.get(key), ci.get(key, (None, None))),
                              opt.get(key) if optimism is not None else None)

    out: dict[str, Any] = {"harrell_c": entry("harrell_c"), "uno_c": entry("uno_c"),
                           "time_dependent_auc": {}, "calibration": {}, "decision_curve": {}}
    for h in perf.auc:
        out["time_dependent_auc"][f"{h:g}"] = entry(f"auc@{h:g}")
    for h, c in perf.calibration.items():
        groups = grouped_calibration(t, e, pred.risk_at(h), h)
        out["calibration"][f"{h:g}"] = {
            **{name: entry(f"{name}@{h:g}") for name in ("slope", "intercept", "ici", "e50",
                                                         "e90")},
            "observed_risk": c.observed_risk, "mean_predicted_risk": c.mean_predicted_risk,
            "curve": {"predicted": c.curve_predicted.tolist(),
                      "observed": [None if not np.isfinite(v) else float(v)
                                   for v in c.curve_observed]},
            "groups": [{"n": g.n, "predicted": g.predicted, "observed": g.observed,
                        "lower": g.lower, "upper": g.upper} for g in groups]}
    for h, d in perf.decision.items():
        ks = [f"@{h:g}@{pt:g}" for pt in d.thresholds]
        out["decision_curve"][f"{h:g}"] = {
            "thresholds": d.thresholds.tolist(), "net_benefit": d.model.tolist(),
            "lower": [ci.get("nb" + k, (None, None))[0] for k in ks],
            "upper": [ci.get("nb" + k, (None, None))[1] for k in ks],
            "treat_all": d.treat_all.tolist(),
            "treat_all_lower": [ci.get("all" + k, (None, None))[0] for k in ks],
            "treat_all_upper": [ci.get("all" + k, (None, None))[1] for k in ks],
            "treat_none": [0.0] * len(ks)}
    out["notes"] = perf.notes
    return out


def _recalibrated(total: npt.NDArray[np.float64], t: npt.NDArray[np.float64],
                  e: npt.NDArray[np.bool_]) -> tuple[Prediction, dict[str, Any]]:
    fit = cox_small(t, e, total)
    lp = fit.lp(total)
    se = float(np.sqrt(fit.variance[0, 0])) if np.isfinite(fit.variance[0, 0]) else None
    return Prediction(lp, fit.times, fit.cumhaz), {
        "coef_per_point": float(fit.coef[0]), "se": se, "center": float(fit.center[0]),
        "converged": fit.converged,
        "method": "Cox model of the oriented score total refitted on these rows (slope and "
                  "Breslow baseline survival): recalibration, not the published model"}


def _score_arrays(data: CohortData, slug: str) -> tuple[npt.NDArray[np.bool_],
                                                        npt.NDArray[np.float64],
                                                        npt.NDArray[Any]]:
    table = data.table
    status = np.asarray(table.column(f"{slug}_status").cast(pa.string()).to_numpy(
        zero_copy_only=False), dtype=object)
    total = np.asarray(table.column(f"{slug}_total").cast(pa.float64()).fill_null(
        np.nan).to_numpy(), dtype=np.float64)
    band = np.asarray(table.column(f"{slug}_band").cast(pa.string()).to_numpy(
        zero_copy_only=False), dtype=object)
    return (status == "complete") & np.isfinite(total), total, band


def _classic_scores(data: CohortData, usable: npt.NDArray[np.bool_], notes: list[str]
                    ) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[Any]]]:
    directions = published_survival()["directions"]
    out = {}
    for slug, direction in directions.items():
        if f"{slug}_status" not in data.table.column_names:
            continue
        ok, total, band = _score_arrays(data, slug)
        share = float((ok & usable).sum()) / max(int(usable.sum()), 1)
        if share < MIN_SCORE_SHARE:
            notes.append(f"{slug}: complete on only {share:.0%} of the model's rows; left out "
                         "so that the other scores are compared on enough rows")
            continue
        sign = 1.0 if direction == "higher_is_shorter" else -1.0
        out[slug] = (sign * total, band)
    return out


def _published(slug: str, t: npt.NDArray[np.float64], e: npt.NDArray[np.bool_],
               band: npt.NDArray[Any]) -> list[dict[str, Any]]:
    statements = published_survival().get(slug, [])
    if not statements:
        return []
    horizons = sorted({float(s["months"]) for s in statements if "months" in s} | {12.0})
    groups = km_by_group(t, e, band, order=[b.id for b in registry()[slug].bands],
                         horizons=horizons)
    return [row.to_dict() for row in calibrate(groups, statements)]


def build_report(model: ModelFile, source: Path, *, resamples: int = 200, seed: int = 0
                 ) -> dict[str, Any]:
    """The report of ``cohort model report`` as a JSON-ready dict.

    Parameters
    ----------
    model : ModelFile
        A loaded model.
    source : Path
        A scored cohort with the model's predictor columns and survival columns.
    resamples, seed : int
        Bootstrap resamples for the confidence intervals, and their seed.

    Returns
    -------
    dict
        ``model`` and ``classic_scores`` (each with ``harrell_c``, ``uno_c``,
        ``time_dependent_auc``, ``calibration``, ``decision_curve``; every measure with
        ``estimate``, ``lower``, ``upper``), the rows used, the model card.
    """
    data = read_cohort(source, time_column=model.data.time_column,
                       event_column=model.data.event_column)
    x, usable, notes = model_design(data, predictors_of(model))
    cox = cox_of(model)
    terms = [c.term for c in model.coefficients]
    development = data_hash(data.time[usable], data.event[usable], x[usable],
                            terms) == model.data.sha256
    scores = _classic_scores(data, usable, notes)
    rows = usable.copy()
    for slug in scores:
        rows &= _score_arrays(data, slug)[0]
    t, e = data.time[rows], data.event[rows]
    if len(t) < MIN_ROWS or int(e.sum()) < 2:
        raise InputError.single("input", f"{source}: only {len(t)} rows ({int(e.sum())} "
                                "deaths) have every predictor, every compared score and "
                                f"survival data; at least {MIN_ROWS} rows and 2 deaths are "
                                "needed for a report")
    horizons = list(model.validation.horizons)
    thresholds = list(model.validation.thresholds)
    model_pred = cox.predict(x[rows])
    entities = [_Entity("model", model.name, model.label, model_pred, model_pred.subset)]
    recal: dict[str, dict[str, Any]] = {}
    for slug, (risk, _band) in scores.items():
        r = risk[rows]
        pred, recal[slug] = _recalibrated(r, t, e)

        def refit(idx: npt.NDArray[np.intp], r: npt.NDArray[np.float64] = r) -> Prediction:
            return _recalibrated(r[idx], t[idx], e[idx])[0]

        entities.append(_Entity(slug, registry()[slug].name, f"{registry()[slug].name} "
                                "(recalibrated on these rows)", pred, refit))
    results: dict[str, dict[str, Any]] = {}
    for k, ent in enumerate(entities):
        perf = performance(t, e, ent.pred, horizons, thresholds)
        ci = bootstrap_ci(t, e, ent.refit, horizons, thresholds, resamples=resamples,
                          seed=seed + k)
        optimism = model.validation.optimism if (ent.key == "model" and development) else None
        results[ent.key] = {"name": ent.name, "label": ent.label,
                            **_measures(perf, ci, optimism, t=t, e=e, pred=ent.pred)}
    classic = []
    for slug, (_risk, band) in scores.items():
        classic.append({"score": slug, **results[slug], "direction":
                        published_survival()["directions"][slug],
                        "recalibration": recal[slug],
                        "published": _published(slug, t, e, band[rows])})
    report: dict[str, Any] = _finite({
        "title": f"Survival model report: {model.name}",
        "source": str(source), "synthetic": data.synthetic,
        "model_label": model.label, "development_data": development,
        "rows": data.table.num_rows, "rows_with_survival": int(data.survival_ok.sum()),
        "rows_model_complete": int(usable.sum()), "rows_compared": int(rows.sum()),
        "events_compared": int(e.sum()), "time_unit": "months", "horizons": horizons,
        "confidence_intervals": f"95% percentile bootstrap, {resamples} resamples of the "
                                f"compared rows, seed {seed}",
        "optimism": ("apparent and optimism-corrected values (optimism from "
                     f"{model.validation.resamples} bootstrap refits at fitting)"
                     if development else "not the development data: a validation, no "
                     "optimism correction"),
        "c_index_convention": C_INDEX_NOTE, "notes": notes,
        "model": results["model"], "classic_scores": classic,
        "coefficients": [c.model_dump() for c in model.coefficients],
        "model_card": model_card(model, development=development),
    })
    return report


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def model_card(model: ModelFile, *, development: bool) -> list[dict[str, str]]:
    """TRIPOD+AI items software can fill; the others are marked for the authors."""
    d, s = model.data, model.sample_size
    predictors = "; ".join(
        f"{p.column} ({p.kind}"
        + (f", per {p.per:g}" if p.per != 1 else "")
        + (f", reference {p.reference}" if p.reference else "")
        + (f", pooled into 'other': {', '.join(p.pooled)}" if p.pooled else "")
        + f", {p.missing} missing)" for p in model.predictors)
    authors = "FOR THE AUTHORS: not known to the software"
    filled = [
        ("Source of data", f"{d.source} ({d.rows} rows)"
         + (f"; {d.synthetic}" if d.synthetic else "")),
        ("Outcome", f"death from any cause; time column {d.time_column} (months), event "
         f"column {d.event_column}; horizons 3, 6 and 12 months"),
        ("Predictors", predictors),
        ("Sample size", f"{d.complete_cases} patients, {d.events} events; "
         f"{s.events_per_parameter:.1f} events per candidate predictor parameter "
         f"({s.candidate_parameters} parameters; minimum {s.minimum:g}"
         + ("; FORCED below the minimum" if s.forced else "") + ")"),
        ("Missing data", model.missing_data),
        ("Analytical methods", f"Cox proportional hazards model, ridge penalty "
         f"{model.penalizer:g} (lifelines {model.software.get('lifelines', '?')}), "
         "continuous predictors linear, no interactions; internal validation by "
         f"{model.validation.method}; {model.validation.resamples} resamples "
         f"({model.validation.failed_resamples} failed)"),
        ("Performance measures", "Harrell's and Uno's C, time-dependent AUC, calibration "
         "slope, calibration-in-the-large (log observed/expected), ICI, E50, E90, calibration "
         "plots and decision curves, each with a 95% bootstrap interval"
         + ("; apparent and optimism-corrected" if development else "")),
        ("Model specification", "coefficients, baseline survival and encoding are in the "
         "model file (JSON) and the coefficient table"),
        ("Software", ", ".join(f"{k} {v}" for k, v in sorted(model.software.items()))),
        ("Limitations", "internally validated only (one centre's data); complete-case "
         "analysis assumes values are missing at random; proportional hazards and linear "
         "effects are assumed, not tested here"),
        ("Intended use", model.intended_use),
    ]
    left = ["Title and abstract", "Background and objectives", "Setting, dates of data "
            "collection and eligibility", "Ethics approval and consent", "Outcome ascertainment "
            "and blinding", "Fairness: performance in subgroups", "Patient and public "
            "involvement", "Model updating and deployment", "Funding and conflicts of interest",
            "Data and code availability"]
    return ([{"item": i, "status": "filled", "text": txt} for i, txt in filled]
            + [{"item": i, "status": "for the authors", "text": authors} for i in left])
