"""``cohort model fit | predict``: a penalised Cox model fitted on a scored cohort.

The model's candidate predictors are input columns of the scores (keep them with
``cohort score --keep all``). Missing data are handled by complete-case analysis: a row with any
predictor, the time or the event missing is excluded, and the counts (in all, and per
predictor) are written to the model file and every report. Nothing is imputed.

Sample size: the fit is refused when there are fewer than 10 events per candidate predictor
parameter (each numeric or yes/no predictor is one parameter, a categorical one has one per
non-reference category), unless forced (Riley et al. give better criteria; 10 is the floor the
issue asks for and is stated in the model file).
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import ValidationError

from spinemets.analytics._model import (
    CoxFit,
    Predictor,
    bootstrap_optimism,
    design,
    fit_penalised_cox,
    flatten,
    performance,
    unseen,
)
from spinemets.cohort._columns import cohort_columns
from spinemets.cohort._files import check_source, check_targets, read_failure, replacing
from spinemets.cohort._io import file_format
from spinemets.errors import InputError
from spinemets.local_model._file import (
    MODEL_SCHEMA,
    MODEL_VERSION,
    ModelFile,
    model_label,
)

__all__ = [
    "DEFAULT_PREDICTORS",
    "HORIZONS",
    "MIN_EVENTS_PER_PARAMETER",
    "THRESHOLDS",
    "CohortData",
    "fit_model",
    "model_design",
    "predict_file",
    "read_cohort",
]

#: Default candidate predictors: input columns of the classic prognostic scores (a modelling
#: choice, not a clinical claim: general condition, spread, neurology, primary, laboratory).
DEFAULT_PREDICTORS = ("kps", "visceral_metastases", "extraspinal_bone_metastases",
                      "vertebral_body_metastases", "frankel", "primary", "albumin_g_per_dl",
                      "crp_mg_per_dl", "ldh_u_per_l", "previous_chemotherapy")
#: Numbers reported per this many units (hazard ratio per 10 KPS points...).
_PER = {"kps": 10.0, "ldh_u_per_l": 100.0, "platelets_10e3_per_ul": 100.0}
HORIZONS = (3.0, 6.0, 12.0)
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
MIN_EVENTS_PER_PARAMETER = 10.0
MIN_LEVEL_ROWS = 10
DEFAULT_PENALIZER = 0.01
INTENDED_USE = (
    "Research and audit at the fitting centre: estimated survival of patients like those it was "
    "fitted on. Internally validated only; not for other centres or for individual treatment "
    "decisions without external validation. Decision support, not a substitute for judgement.")


@dataclass
class CohortData:
    """Rows of a scored cohort read for modelling."""

    source: Path
    table: pa.Table
    time: npt.NDArray[np.float64]
    event: npt.NDArray[np.bool_]
    survival_ok: npt.NDArray[np.bool_]
    synthetic: str | None


def _event_array(arr: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(value, known) of a boolean, 0/1 number or true/false/1/0 text column."""
    if pa.types.is_boolean(arr.type):
        known, value = pc.is_valid(arr), arr.fill_null(False)
    elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        known = pc.is_in(arr, pa.array([0, 1], arr.type))
        value = pc.equal(arr, pa.scalar(1, arr.type)).fill_null(False)
    else:
        text = pc.utf8_lower(pc.utf8_trim_whitespace(arr.cast(pa.string())))
        known = pc.is_in(text, pa.array(["true", "false", "1", "0"]))
        value = pc.is_in(text, pa.array(["true", "1"]))
    return (np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.bool_),
            np.asarray(known.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_))


def read_cohort(path: Path, *, time_column: str, event_column: str) -> CohortData:
    """Read a scored cohort (Parquet or CSV) with its survival columns checked.

    Parameters
    ----------
    path : Path
        Scored cohort.
    time_column, event_column : str
        Survival time (months) and event (boolean, 0/1 or true/false).

    Returns
    -------
    CohortData
        The table, the survival arrays and which rows have usable survival data.

    Raises
    ------
    InputError
        Unreadable file or missing survival column (named).
    """
    check_source(path)
    fmt = file_format(path)
    if fmt not in {"parquet", "csv"}:
        raise InputError.single("input", f"{path}: a scored cohort must be Parquet or CSV")
    synthetic = None
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
            note = (table.schema.metadata or {}).get(b"spinemets.synthetic")
            synthetic = note.decode() if note else None
        else:
            table = pacsv.read_csv(path)
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise read_failure(path, fmt, exc) from exc
    for name in (time_column, event_column):
        if name not in table.column_names:
            raise InputError.single(name, "column not found in the scored cohort",
                                    allowed=tuple(table.column_names))
    try:
        t = table.column(time_column).cast(pa.float64()).fill_null(np.nan).to_numpy()
    except pa.ArrowInvalid as exc:
        raise InputError.single(time_column, "survival time must be a number of months"
                                ) from exc
    e, known = _event_array(table.column(event_column).combine_chunks())
    ok = np.isfinite(t) & (t >= 0) & known
    return CohortData(path, table, np.asarray(t, dtype=np.float64), e, ok, synthetic)


def _kind(table: pa.Table, column: str) -> str:
    spec = cohort_columns().get(column)
    arrow = table.schema.field(column).type
    if spec is not None:
        return {"string": "categorical", "boolean": "boolean"}.get(spec.kind, "numeric")
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_integer(arrow) or pa.types.is_floating(arrow):
        return "numeric"
    return "categorical"


def _values(table: pa.Table, column: str, kind: str) -> npt.NDArray[Any]:
    arr = table.column(column).combine_chunks()
    if kind == "categorical":
        text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    if kind == "boolean":
        value, known = _event_array(arr)
        bad = ~known & np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False))
        if bad.any() and not pa.types.is_boolean(arr.type):
            raise InputError.single(column, "a yes/no predictor must be true/false or 1/0",
                                    allowed=("true", "false", "1", "0"))
        return np.where(known, value.astype(np.float64), np.nan)
    try:
        return np.asarray(arr.cast(pa.float64()).fill_null(np.nan).to_numpy(), dtype=np.float64)
    except pa.ArrowInvalid as exc:
        raise InputError.single(column, "a numeric predictor must hold numbers") from exc


def _columns_for(data: CohortData, predictors: Sequence[str]) -> dict[str, npt.NDArray[Any]]:
    missing = [p for p in predictors if p not in data.table.column_names]
    if missing:
        raise InputError.single(
            missing[0], "predictor column not found in the scored cohort (score it with "
            "'spinemets cohort score --keep all' to keep the input columns)",
            allowed=tuple(c for c in data.table.column_names if not c.endswith(
                ("_total", "_band", "_status"))))
    return {p: _values(data.table, p, _kind(data.table, p)) for p in predictors}


def _build_predictor(column: str, kind: str, values: npt.NDArray[Any],
                     rows: npt.NDArray[np.bool_]) -> Predictor:
    if kind != "categorical":
        return Predictor(column, kind, per=_PER.get(column, 1.0))
    seen = values[rows & np.array([v is not None for v in values], dtype=np.bool_)]
    labels, counts = np.unique(seen.astype(str), return_counts=True)
    rare = tuple(sorted(str(lv) for lv, c in zip(labels, counts, strict=True)
                        if c < MIN_LEVEL_ROWS))
    kept = {str(lv): int(c) for lv, c in zip(labels, counts, strict=True) if c >= MIN_LEVEL_ROWS}
    if rare:
        kept["other"] = kept.get("other", 0) + int(sum(c for lv, c in zip(
            labels, counts, strict=True) if c < MIN_LEVEL_ROWS))
    levels = tuple(sorted(kept, key=lambda lv: (-kept[lv], lv)))
    return Predictor(column, kind, levels=levels, reference=levels[0] if levels else None,
                     pooled=rare)


def model_design(data: CohortData, predictors: Sequence[Predictor]
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], list[str]]:
    """Design matrix for fitted predictors, the usable rows, and why rows were left out.

    A category the model did not see makes its row unusable (counted in the reasons), never
    guessed and never an error for the whole file.
    """
    columns = _columns_for(data, [p.column for p in predictors])
    x, complete = design(columns, predictors, strict=False)
    reasons = []
    for p in predictors:
        new = unseen(columns[p.column], p)
        if new.any():
            values = sorted({str(v) for v in columns[p.column][new]})
            reasons.append(f"{int(new.sum())} rows left out: {p.column} value "
                           f"{', '.join(values[:5])}{' ...' if len(values) > 5 else ''} "
                           "was not seen when the model was fitted")
    return x, complete & data.survival_ok, reasons


def _row_reasons(columns: dict[str, npt.NDArray[Any]], predictors: Sequence[Predictor]
                 ) -> list[str]:
    n = len(next(iter(columns.values()))) if columns else 0
    parts: list[list[str]] = [[] for _ in range(n)]
    for p in predictors:
        new = unseen(columns[p.column], p)
        known = _known(columns[p.column], p.kind)
        for i in np.flatnonzero(~known):
            parts[i].append(f"missing {p.column}")
        for i in np.flatnonzero(new):
            parts[i].append(f"{p.column} value not seen at fitting")
    return ["; ".join(r) for r in parts]


def data_hash(time: npt.NDArray[np.float64], event: npt.NDArray[np.bool_],
              x: npt.NDArray[np.float64], terms: Sequence[str]) -> str:
    """SHA-256 of the rows a model is fitted on (time, event, design matrix, term names)."""
    h = hashlib.sha256()
    h.update("\x1f".join(terms).encode())
    for arr in (np.ascontiguousarray(time, dtype="<f8"), np.ascontiguousarray(event, dtype="u1"),
                np.ascontiguousarray(x, dtype="<f8")):
        h.update(arr.tobytes())
    return h.hexdigest()


def _software() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("spinemets", "lifelines", "numpy", "pandas", "scipy", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@dataclass(frozen=True)
class FitOptions:
    """Options of ``cohort model fit``."""

    predictors: tuple[str, ...] = DEFAULT_PREDICTORS
    time_column: str = "time_months"
    event_column: str = "event"
    seed: int = 0
    resamples: int = 200
    penalizer: float = DEFAULT_PENALIZER
    force: bool = False
    name: str | None = None


def _sample_size(events: int, parameters: int, predictors: int, force: bool) -> dict[str, Any]:
    epp = events / parameters if parameters else float("inf")
    if epp < MIN_EVENTS_PER_PARAMETER and not force:
        raise InputError.single(
            "events", f"{events} events, {epp:.1f} events per candidate predictor parameter "
            f"({parameters} parameters from {predictors} predictors); at least "
            f"{MIN_EVENTS_PER_PARAMETER:g} are needed: use fewer predictors or more patients, "
            "or pass --force")
    return {"events": events, "candidate_parameters": parameters,
            "events_per_parameter": round(epp, 3), "minimum": MIN_EVENTS_PER_PARAMETER,
            "forced": bool(force and epp < MIN_EVENTS_PER_PARAMETER)}


def _coefficients(fit: CoxFit) -> list[dict[str, Any]]:
    out = []
    for term, b, se, c in zip(fit.terms, fit.coef, fit.se, fit.center, strict=True):
        ok = bool(np.isfinite(se))
        out.append({"term": term, "coef": float(b), "se": float(se) if ok else None,
                    "lower": float(b - 1.959964 * se) if ok else None,
                    "upper": float(b + 1.959964 * se) if ok else None,
                    "hazard_ratio": float(np.exp(b)), "center": float(c)})
    return out


def _check_predictor_names(options: FitOptions) -> None:
    if not options.predictors:
        raise InputError.single("--predictors", "name at least one predictor column")
    seen: set[str] = set()
    for name in options.predictors:
        if name in seen:
            raise InputError.single("--predictors", f"{name} is named twice", value=name)
        if name in {options.time_column, options.event_column}:
            raise InputError.single("--predictors", f"{name} is the outcome, not a predictor",
                                    value=name)
        seen.add(name)


def fit_model(data: CohortData, options: FitOptions) -> ModelFile:
    """Fit, internally validate and describe a penalised Cox model.

    Parameters
    ----------
    data : CohortData
        The scored cohort.
    options : FitOptions
        Predictors, survival columns, seed, resamples, penalizer, force, name.

    Returns
    -------
    ModelFile
        The model, ready to be written as JSON.

    Raises
    ------
    InputError
        A predictor column is missing or malformed; no complete rows; too few events per
        candidate predictor parameter (unless forced).
    """
    _check_predictor_names(options)
    columns = _columns_for(data, options.predictors)
    kinds = {p: _kind(data.table, p) for p in options.predictors}
    usable = data.survival_ok.copy()
    for name, values in columns.items():
        usable &= np.array([v is not None for v in values]) if kinds[name] == "categorical" \
            else np.isfinite(values)
    predictors = [_build_predictor(p, kinds[p], columns[p], usable) for p in options.predictors]
    # levels are learnt from the complete rows, so only those rows are encoded
    x, _ = design({k: v[usable] for k, v in columns.items()}, predictors)
    n = int(usable.sum())
    if n == 0:
        raise InputError.single("input", f"{data.source}: no row has every predictor and "
                                "survival data; nothing to fit")
    t, e, xx = data.time[usable], data.event[usable], x
    terms = [name for p in predictors for name in p.term_names()]
    sample = _sample_size(int(e.sum()), len(terms), len(predictors), options.force)

    def fit(tt: npt.NDArray[np.float64], ee: npt.NDArray[np.bool_],
            xb: npt.NDArray[np.float64]) -> CoxFit:
        return fit_penalised_cox(tt, ee, xb, terms, penalizer=options.penalizer)

    if not e.any():
        raise InputError.single("events", f"no deaths among the {n} complete rows; a survival "
                                "model needs events")
    try:
        model = fit(t, e, xx)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError.single("model", f"the Cox model could not be fitted ({first[:160]}); "
                                "check for predictors that separate the deaths completely, "
                                "or use fewer predictors") from exc
    apparent = {k: v if v is not None and np.isfinite(v) else None for k, v in flatten(
        performance(t, e, model.predict(xx), HORIZONS, THRESHOLDS)).items()}
    optimism = bootstrap_optimism(t, e, xx, fit=fit, horizons=HORIZONS,
                                  thresholds=THRESHOLDS, resamples=options.resamples,
                                  seed=options.seed)
    fitted = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    name = options.name or data.source.stem
    missing_by = {p.column: int(np.sum(data.survival_ok & ~_known(columns[p.column], p.kind)))
                  for p in predictors}
    base_s = np.exp(-model.cumhaz)
    doc: dict[str, Any] = {
        "schema": MODEL_SCHEMA, "version": MODEL_VERSION, "name": name, "kind": "penalised_cox",
        "fitted": fitted, "label": model_label(name, fitted, n),
        "penalizer": options.penalizer,
        "missing_data": (f"complete-case analysis: {int(data.survival_ok.sum()) - n} of "
                         f"{int(data.survival_ok.sum())} rows with survival data excluded for "
                         "a missing predictor; nothing imputed"),
        "predictors": [{"column": p.column, "kind": p.kind, "per": p.per, "levels": p.levels,
                        "reference": p.reference, "pooled": p.pooled,
                        "terms": p.term_names(), "missing": missing_by[p.column]}
                       for p in predictors],
        "coefficients": _coefficients(model),
        "baseline": {"time": model.times.tolist(), "cumulative_hazard": model.cumhaz.tolist(),
                     "survival": base_s.tolist()},
        "data": {"source": data.source.name, "sha256": data_hash(t, e, xx, terms),
                 "rows": data.table.num_rows,
                 "rows_without_survival": int((~data.survival_ok).sum()),
                 "complete_cases": n, "excluded_missing": int(data.survival_ok.sum()) - n,
                 "events": int(e.sum()), "time_column": options.time_column,
                 "event_column": options.event_column, "synthetic": data.synthetic},
        "sample_size": sample,
        "validation": {"method": "bootstrap optimism correction (Harrell): refit on each "
                       "resample, optimism = mean(performance on resample - performance on "
                       "the original rows)", "resamples": optimism.resamples,
                       "seed": optimism.seed, "failed_resamples": optimism.failed,
                       "horizons": HORIZONS, "thresholds": THRESHOLDS,
                       "apparent": apparent, "optimism": optimism.optimism},
        "software": _software(),
        "intended_use": INTENDED_USE,
    }
    try:
        return ModelFile.model_validate(doc)
    except ValidationError as exc:  # e.g. a coefficient that is not finite
        raise InputError.single("model", "the fitted model is not usable (a value is not "
                                "finite); use fewer predictors or check the data") from exc


def _known(values: npt.NDArray[Any], kind: str) -> npt.NDArray[np.bool_]:
    if kind == "categorical":
        return np.array([v is not None for v in values], dtype=np.bool_)
    return np.isfinite(np.asarray(values, dtype=np.float64))


def predictors_of(model: ModelFile) -> list[Predictor]:
    """The encoding stored in a model file."""
    return [Predictor(p.column, p.kind, per=p.per, levels=p.levels, reference=p.reference,
                      pooled=p.pooled) for p in model.predictors]


def cox_of(model: ModelFile) -> CoxFit:
    """The coefficients and baseline of a model file as a :class:`CoxFit`."""
    return CoxFit(tuple(c.term for c in model.coefficients),
                  np.array([c.coef for c in model.coefficients]),
                  np.array([c.se if c.se is not None else np.nan for c in model.coefficients]),
                  np.array([c.center for c in model.coefficients]),
                  np.array(model.baseline.time), np.array(model.baseline.cumulative_hazard),
                  model.penalizer)


def predict_file(model: ModelFile, source: Path, out: Path, *, id_column: str | None = None
                 ) -> dict[str, Any]:
    """Write each row's predicted survival at 3, 6 and 12 months (or why there is none).

    Parameters
    ----------
    model : ModelFile
        A loaded model.
    source : Path
        A cohort (Parquet or CSV) with the model's predictor columns.
    out : Path
        Output .csv or .parquet (written whole or not at all).
    id_column : str, optional
        Column copied to the output to identify rows (default ``patient_id`` when present).

    Returns
    -------
    dict
        Summary: rows, rows predicted, rows with a missing predictor, the model label.
    """
    check_source(source)
    check_targets([source], [("--out", out)])
    fmt = file_format(out)
    if fmt not in {"csv", "parquet"}:
        raise InputError.single("--out", f"{out}: write predictions as .csv or .parquet")
    table = _read_any(source)
    data = CohortData(source, table, np.zeros(table.num_rows), np.zeros(table.num_rows, bool),
                      np.ones(table.num_rows, bool), None)
    predictors = predictors_of(model)
    columns = _columns_for(data, [p.column for p in predictors])
    x, complete = design(columns, predictors, strict=False)
    pred = cox_of(model).predict(x)
    arrays: dict[str, pa.Array] = {}
    ident = id_column or ("patient_id" if "patient_id" in table.column_names else None)
    if ident is not None:
        if ident not in table.column_names:
            raise InputError.single("--id", "column not found", value=ident,
                                    allowed=tuple(table.column_names))
        arrays[ident] = table.column(ident).combine_chunks()
    reasons = _row_reasons(columns, predictors)
    arrays["model_status"] = pa.array(["predicted" if c else "not predicted: " + r
                                       for c, r in zip(complete, reasons, strict=True)])
    arrays["linear_predictor"] = pa.array(pred.lp, mask=~complete)
    for h in HORIZONS:
        arrays[f"survival_{h:g}m"] = pa.array(1 - pred.risk_at(h), mask=~complete)
    result = pa.table(arrays).replace_schema_metadata({"spinemets.model": model.label})
    with replacing(out) as partial:
        if fmt == "parquet":
            pq.write_table(result, partial)
        else:
            pacsv.write_csv(result, partial)
    return {"input": str(source), "output": str(out), "rows": table.num_rows,
            "predicted": int(complete.sum()), "not_predicted": int((~complete).sum()),
            "model": model.label}


def _read_any(path: Path) -> pa.Table:
    fmt = file_format(path)
    if fmt not in {"parquet", "csv"}:
        raise InputError.single("input", f"{path}: give a Parquet or CSV cohort")
    try:
        return pq.read_table(path) if fmt == "parquet" else pacsv.read_csv(path)
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise read_failure(path, fmt, exc) from exc
