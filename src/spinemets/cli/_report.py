"""``spinemets report``: the tumour-board report of a case as PDF, HTML or text."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spinemets._atomic import OutputError, check_output, write_output
from spinemets.cli._case import CaseArgument, LocalModelOption, case_and_plan
from spinemets.cli._output import fail

__all__ = ["register"]


class ReportFormat(StrEnum):
    auto = "auto"
    pdf = "pdf"
    html = "html"
    text = "text"


_SUFFIX = {".pdf": ReportFormat.pdf, ".html": ReportFormat.html, ".htm": ReportFormat.html,
           ".txt": ReportFormat.text}


def _format_of(output: Path | None, fmt: ReportFormat) -> ReportFormat:
    if fmt is not ReportFormat.auto:
        return fmt
    if output is None:
        return ReportFormat.text
    found = _SUFFIX.get(output.suffix.lower())
    if found is None:
        fail(f"cannot tell the format from {output.name!r}: use .pdf, .html or .txt, or "
             "--format")
    return found


def report_command(  # noqa: PLR0917 - typer options are parameters
    case: CaseArgument,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Output file (.pdf, .html or .txt); text to standard output "
        "when left out.")] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="Output format (auto: from the output file's suffix).")] = (
        ReportFormat.auto),
    author: Annotated[str | None, typer.Option(
        "--author", help="Author shown in the report footer (\"author not given\" when left out).")]
    = None,
    version: Annotated[int | None, typer.Option(
        "--case-version", help="Case version shown in the footer, if the case is stored.")]
    = None,
    local_model: LocalModelOption = None,
) -> None:
    """Tumour-board report of a case: summary, spine diagram, lesions, prognosis, plan with
    basis, cautions and citations, work-up, medication, unknowns; footer with case reference,
    version, date, author, software version and the clinical tables' hash."""
    from spinemets.report import (  # noqa: PLC0415 - keeps the CLI start-up light
        PdfUnavailableError,
        build_report,
        default_meta,
        render_html,
        render_pdf,
        render_text,
    )

    kind = _format_of(output, fmt)
    if output is not None:
        try:
            check_output(output, (case,))
        except OutputError as exc:
            fail(exc)
    document, data = case_and_plan(case, local_model)
    meta = default_meta(str(document.get("id") or Path(case).stem), case_version=version,
                        author=author or "author not given",
                        plan_format=str(data.get("format")))
    report = build_report(data, document, meta=meta)
    if kind is ReportFormat.pdf:
        try:
            payload: bytes | str = render_pdf(report)
        except PdfUnavailableError as exc:
            fail(exc)
    elif kind is ReportFormat.html:
        payload = render_html(report)
    else:
        payload = render_text(report)
    if output is None:
        if isinstance(payload, bytes):
            sys.stdout.buffer.write(payload)
        else:
            sys.stdout.write(payload)
        return
    try:
        write_output(output, payload, inputs=(case,))
    except OutputError as exc:
        fail(exc)
    typer.echo(f"wrote {output} ({kind})", err=True)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report_command)
