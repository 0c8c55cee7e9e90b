"""``spinemets cohort``: batch scoring, survival validation and synthetic cohorts.

Heavy libraries (Arrow, numpy, lifelines, matplotlib, Spark) are imported inside the commands,
so the rest of the CLI starts fast and works without the ``[cohort]`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spinemets.cli._output import err_console, fail
from spinemets.errors import SpinemetsError

__all__ = ["register"]

cohort_app = typer.Typer(
    name="cohort",
    help="Cohort analytics: batch scoring, survival validation, synthetic cohorts.",
    no_args_is_help=True,
)


class Engine(StrEnum):
    local = "local"
    spark = "spark"


class ValidateEngine(StrEnum):
    duckdb = "duckdb"
    arrow = "arrow"
    spark = "spark"


class KeepColumns(StrEnum):
    extra = "extra"
    all = "all"
    none = "none"


class ReportFormat(StrEnum):
    json = "json"
    html = "html"


def _need_cohort_extra() -> None:
    try:
        import numpy  # noqa: F401, PLC0415
        import pyarrow  # noqa: F401, PLC0415
    except ModuleNotFoundError as exc:
        fail(f"{exc.name} is missing: install spinemets[cohort]")


@cohort_app.command("score")
def score_command(  # noqa: PLR0917  (typer: options are parameters)
    source: Annotated[Path, typer.Argument(help="Cohort file: .csv, .parquet or .jsonl.",
                                           exists=True, dir_okay=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet or .csv "
                                      "(a directory of Parquet files with --engine spark).")],
    problems: Annotated[Path | None, typer.Option(
        help="Sidecar CSV of bad cells; default <out>.problems.csv.")] = None,
    scores: Annotated[str | None, typer.Option(
        help="Comma-separated score slugs; default every score with an input column present.")
    ] = None,
    keep: Annotated[KeepColumns, typer.Option(
        help="Input columns copied to the output: extra (not score inputs: ids, survival), "
        "all, none.")] = KeepColumns.extra,
    engine: Annotated[Engine, typer.Option(help="local (Arrow, all cores) or spark.")] = (
        Engine.local),
    workers: Annotated[int | None, typer.Option(help="Scoring threads (local engine).")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per record batch.")] = 1 << 16,
    spark_remote: Annotated[str | None, typer.Option(
        help="Spark Connect URL (sc://host:15002); default a local Spark session.")] = None,
    master: Annotated[str | None, typer.Option(
        "--master", help="Spark master URL (spark://host:7077) for --engine spark; default "
        "local on every core.")] = None,
) -> None:
    """Score every row of a cohort file; bad cells go to a sidecar file, never silently."""
    _need_cohort_extra()
    from spinemets.cohort import score_file, score_file_spark  # noqa: PLC0415

    slugs = [s.strip() for s in scores.split(",") if s.strip()] if scores else None
    try:
        if engine is Engine.spark:
            summary = score_file_spark(source, out, problems_path=problems, slugs=slugs,
                                       keep=keep.value, remote=spark_remote, master=master)
        else:
            summary = score_file(source, out, problems_path=problems, slugs=slugs,
                                 keep=keep.value, workers=workers, batch_size=batch_size)
    except SpinemetsError as exc:
        fail(exc)
    print(json.dumps(summary.to_dict(), indent=2))
    if summary.problems:
        err_console().print(f"{summary.rows_with_problems} rows with problems: see "
                            f"{summary.problems_file}", highlight=False)


@cohort_app.command("validate")
def validate_command(  # noqa: PLR0917  (typer: options are parameters)
    scored: Annotated[Path, typer.Argument(help="Scored cohort (.parquet or .csv).",
                                           exists=True)],
    time: Annotated[str, typer.Option("--time", help="Survival time column (months).")] = (
        "time_months"),
    event: Annotated[str, typer.Option("--event", help="Event column (true/1 = death).")] = (
        "event"),
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = (
        ReportFormat.json),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here "
                                             "instead of standard output.")] = None,
    scores: Annotated[str | None, typer.Option(
        help="Comma-separated slugs; default every prognostic score in the file.")] = None,
    engine: Annotated[ValidateEngine, typer.Option(
        help="Counting pass: duckdb (one SQL query, all cores), arrow (record batches) or "
        "spark. The statistics are the same.")] = ValidateEngine.duckdb,
    time_resolution: Annotated[float | None, typer.Option(
        "--time-resolution",
        help="Round survival times down to a multiple of this many months (default: exact "
        "times). Only needed when nearly every time is distinct.")] = None,
    max_cells: Annotated[int, typer.Option(
        "--max-cells", min=1, help="Largest count table (distinct score value, time, event "
        "cells over all scores, about 50 bytes each).")] = 20_000_000,
    workers: Annotated[int | None, typer.Option(help="Threads (duckdb engine).", min=1)] = None,
    master: Annotated[str | None, typer.Option(
        "--master", help="Spark master URL for --engine spark (spark://host:7077); default "
        "local on every core.")] = None,
) -> None:
    """Survival validation per score: KM by band, log-rank, C-indices, td-AUC, calibration.

    One streaming pass counts (score value, band, time, event); every statistic is computed
    from those counts, so memory depends on the distinct times, not on the rows.
    """
    _need_cohort_extra()
    from spinemets.cohort import render_html, save_text, validate_file  # noqa: PLC0415
    from spinemets.cohort._files import check_targets  # noqa: PLC0415

    slugs = [s.strip() for s in scores.split(",") if s.strip()] if scores else None
    try:
        if out is not None:  # refuse a bad target before the (long) pass
            check_targets([scored], [("--out", out)])
        spark = None
        if engine is ValidateEngine.spark:
            from spinemets.cohort._spark import spark_session  # noqa: PLC0415

            spark = spark_session(master=master)
        with _progress(f"validating ({engine.value})") as progress:
            report = validate_file(scored, time_column=time, event_column=event, slugs=slugs,
                                   engine=engine.value, time_resolution=time_resolution,
                                   max_cells=max_cells, workers=workers, progress=progress,
                                   spark=spark)
    except SpinemetsError as exc:
        fail(exc)
    except Exception as exc:  # Spark and Java errors: one line, no traceback
        if engine is not ValidateEngine.spark:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        fail(f"Spark ({master or 'local'}) failed: {first}")
    text = render_html(report) if fmt is ReportFormat.html else json.dumps(
        report.to_dict(), indent=2)
    if out is not None:
        try:
            save_text(text, out, inputs=[scored])
        except SpinemetsError as exc:
            fail(exc)
    else:
        print(text)
    err_console().print(
        f"{report.rows} rows read, {report.rows_without_survival} without usable survival data;"
        " rows used: " + ", ".join(f"{s.slug} {s.complete}" for s in report.scores)
        + (f". Report written to {out}" if out is not None else ""), highlight=False)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress bar on standard error when it is a terminal (else no callback)."""
    if not err_console().is_terminal:
        yield None
        return
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(console=err_console(), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@cohort_app.command("synth")
def synth_command(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000_000, help="Number of rows.")],
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet or .csv.")],
) -> None:
    """Write a SYNTHETIC cohort (invented rows for testing, never patient data)."""
    _need_cohort_extra()
    from spinemets.cohort import SYNTHETIC_NOTE, synth_file  # noqa: PLC0415

    try:
        rows = synth_file(out, n, seed)
    except SpinemetsError as exc:
        fail(exc)
    err_console().print(f"{rows} rows written to {out}. {SYNTHETIC_NOTE}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``cohort`` command group to the CLI.

    Parameters
    ----------
    app : typer.Typer
        The root ``spinemets`` application.
    """
    from spinemets.cli._cohort_model import model_app  # noqa: PLC0415  (cohort model group)

    if not any(group.typer_instance is model_app for group in cohort_app.registered_groups):
        cohort_app.add_typer(model_app, name="model")  # once, however many apps are built
    app.add_typer(cohort_app, name="cohort")
