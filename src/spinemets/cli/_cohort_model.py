"""``spinemets cohort model``: fit, report and apply a cohort-fitted survival model.

lifelines, numpy and matplotlib are imported inside the commands (heavy imports).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spinemets.cli._output import err_console, fail
from spinemets.errors import SpinemetsError

__all__ = ["model_app"]

model_app = typer.Typer(
    name="model",
    help="A penalised Cox model fitted on a scored cohort, reported beside the classic scores.",
    no_args_is_help=True,
)


class ModelReportFormat(StrEnum):
    json = "json"
    html = "html"


def _need_cohort_extra() -> None:
    try:
        import lifelines  # noqa: F401, PLC0415
        import numpy  # noqa: F401, PLC0415
        import pyarrow  # noqa: F401, PLC0415
    except ModuleNotFoundError as exc:
        fail(f"{exc.name} is missing: install spinemets[cohort]")


@model_app.command("fit")
def fit_command(  # noqa: PLR0917  (typer: options are parameters)
    scored: Annotated[Path, typer.Argument(help="Scored cohort (.parquet or .csv) with the "
                                           "predictor columns (cohort score --keep all).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.json).")],
    predictors: Annotated[str | None, typer.Option(
        help="Comma-separated predictor columns; default the documented set.")] = None,
    time: Annotated[str, typer.Option("--time", help="Survival time column (months).")] = (
        "time_months"),
    event: Annotated[str, typer.Option("--event", help="Event column (true/1 = death).")] = (
        "event"),
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=2**32 - 1, help="Seed of the bootstrap.")] = 0,
    resamples: Annotated[int, typer.Option(
        "--resamples", min=1, max=10000, help="Bootstrap resamples for optimism.")] = 200,
    penalizer: Annotated[float, typer.Option(
        "--penalizer", min=0.0, max=100.0, help="Ridge penalty (lifelines).")] = 0.01,
    name: Annotated[str | None, typer.Option(help="Model name (default: the file name).")] = (
        None),
    force: Annotated[bool, typer.Option(
        "--force", help="Fit even with fewer than 10 events per candidate parameter.")] = False,
) -> None:
    """Fit a penalised Cox model, validate it by bootstrap, write it as JSON."""
    _need_cohort_extra()
    from spinemets.cohort._files import check_targets, save_text  # noqa: PLC0415
    from spinemets.cohort._model import (  # noqa: PLC0415
        DEFAULT_PREDICTORS,
        FitOptions,
        fit_model,
        read_cohort,
    )

    chosen = tuple(p.strip() for p in predictors.split(",") if p.strip()) if predictors \
        else DEFAULT_PREDICTORS
    try:
        if out.suffix.lower() != ".json":
            fail(f"--out: {out}: a model file is JSON; name it .json")
        check_targets([scored], [("--out", out)])
        data = read_cohort(scored, time_column=time, event_column=event)
        model = fit_model(data, FitOptions(predictors=chosen, time_column=time,
                                           event_column=event, seed=seed, resamples=resamples,
                                           penalizer=penalizer, force=force, name=name))
        save_text(model.to_json(), out, inputs=[scored])
    except SpinemetsError as exc:
        fail(exc)
    d, s = model.data, model.sample_size
    err_console().print(
        f"{model.label}: {d.events} events, {s.events_per_parameter:.1f} per candidate "
        f"parameter; {d.excluded_missing} rows excluded for a missing predictor "
        f"(complete-case). Written to {out}.", highlight=False, markup=False)
    if s.forced:
        err_console().print("warning: fitted below 10 events per candidate parameter (--force)",
                            highlight=False, markup=False)


@model_app.command("report")
def report_command(  # noqa: PLR0917  (typer: options are parameters)
    model_file: Annotated[Path, typer.Argument(help="Model file (.json).")],
    data: Annotated[Path, typer.Argument(help="Scored cohort (.parquet or .csv).")],
    fmt: Annotated[ModelReportFormat, typer.Option("--format", "-f", help="Report format.")] = (
        ModelReportFormat.json),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here "
                                             "instead of standard output.")] = None,
    resamples: Annotated[int, typer.Option(
        "--resamples", min=1, max=10000, help="Bootstrap resamples for the 95% CIs.")] = 200,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=2**32 - 1, help="Seed of the bootstrap.")] = 0,
) -> None:
    """Model and classic scores on the same rows: C, td-AUC, calibration, decision curves."""
    _need_cohort_extra()
    from spinemets.cohort._files import check_targets, save_text  # noqa: PLC0415
    from spinemets.cohort._model_html import render_model_html  # noqa: PLC0415
    from spinemets.cohort._model_report import build_report  # noqa: PLC0415
    from spinemets.local_model._file import load_model  # noqa: PLC0415

    try:
        if out is not None:
            check_targets([model_file, data], [("--out", out)])
        model = load_model(model_file)
        report = build_report(model, data, resamples=resamples, seed=seed)
        text = render_model_html(report) if fmt is ModelReportFormat.html else json.dumps(
            report, indent=1, allow_nan=False)
        if out is None:
            print(text)
            return
        save_text(text, out, inputs=[model_file, data])
    except SpinemetsError as exc:
        fail(exc)
    err_console().print(f"report written to {out}", highlight=False, markup=False)


@model_app.command("predict")
def predict_command(
    model_file: Annotated[Path, typer.Argument(help="Model file (.json).")],
    data: Annotated[Path, typer.Argument(help="Cohort (.parquet or .csv) with the "
                                         "predictor columns.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Predictions (.csv or .parquet).")],
    id_column: Annotated[str | None, typer.Option(
        "--id", help="Column identifying rows (default patient_id when present).")] = None,
) -> None:
    """Predicted survival at 3, 6 and 12 months for each row (or which predictor is missing)."""
    _need_cohort_extra()
    from spinemets.cohort._model import predict_file  # noqa: PLC0415
    from spinemets.local_model._file import load_model  # noqa: PLC0415

    try:
        model = load_model(model_file)
        summary = predict_file(model, data, out, id_column=id_column)
    except SpinemetsError as exc:
        fail(exc)
    print(json.dumps(summary, indent=2))


@model_app.command("synth")
def synth_command(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000_000, help="Number of rows.")],
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet or .csv.")],
) -> None:
    """Write a SYNTHETIC cohort with survival from a known Cox hazard (for testing)."""
    _need_cohort_extra()
    from spinemets.cohort._model_synth import write_known_hazard  # noqa: PLC0415

    try:
        write_known_hazard(out, n, seed)
    except SpinemetsError as exc:
        fail(exc)
    err_console().print(f"{n} SYNTHETIC rows (known hazard, not patient data) written to {out}",
                        highlight=False, markup=False)
