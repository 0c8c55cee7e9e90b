"""``spinemets fhir import|export|synth``: FHIR R4 Bundles in and out (the ``fhir`` extra)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from spinemets._atomic import OutputError, check_output, write_output
from spinemets.cli._output import dump_json, err_console, fail, read_text
from spinemets.errors import InputError

__all__ = ["register"]

fhir_app = typer.Typer(name="fhir", help="FHIR R4: import a Bundle as a case, export scores and "
                       "plan as a Bundle, make synthetic FHIR patients.", no_args_is_help=True)

OutOption = Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write here instead of standard output.")]


def _read_json(source: str) -> Any:
    try:
        return json.loads(read_text(source))
    except json.JSONDecodeError as exc:
        fail(f"{source} is not valid JSON: {exc.msg} (line {exc.lineno})")


def _write(data: Any, output: Path | None, *, inputs: tuple[str, ...]) -> None:
    text = dump_json(data)
    if output is None:
        print(text)
        return
    try:
        write_output(output, text + "\n", inputs=inputs)
    except OutputError as exc:
        fail(exc)


def _check(outputs: list[Path | None], inputs: tuple[str, ...]) -> None:
    """Refuse before any work: an output that is an input, or two outputs that are one file."""
    given = [o for o in outputs if o is not None]
    try:
        for index, output in enumerate(given):
            check_output(output, (*inputs, *given[:index]))
    except OutputError as exc:
        fail(exc)


def _as_of(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(InputError.single("--as-of", "must be an ISO date or date-time", value=text))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@fhir_app.command("import")
def import_command(  # noqa: PLR0917 - typer options are parameters
    bundle: Annotated[str, typer.Argument(help="FHIR R4 Bundle (JSON file, or - for stdin).")],
    output: OutOption = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the import report (provenance of each value, everything not "
        "used and why) here.")] = None,
    accept_stale: Annotated[list[str] | None, typer.Option(
        "--accept", help="Use this stale observation anyway (Observation/ID; repeatable), or "
        "'all'.")] = None,
    labs_days: Annotated[int, typer.Option(min=0, max=36_500,
                                           help="Labs older than this are stale.")] = 30,
    performance_days: Annotated[int, typer.Option(min=0, max=36_500,
        help="ECOG/KPS older than this are stale.")] = 14,
    as_of: Annotated[str | None, typer.Option(
        help="Reference date for ages and staleness (ISO; default now).")] = None,
) -> None:
    """Read a FHIR Bundle into a spinemets-case/1 document; report what was not used."""
    from spinemets.fhir import Windows, import_bundle  # noqa: PLC0415 - heavy imports

    _check([output, report], (bundle,))
    accepted: list[str] | bool = list(accept_stale or [])
    if accepted == ["all"]:
        accepted = True
    try:
        result = import_bundle(_read_json(bundle), as_of=_as_of(as_of), accept_stale=accepted,
                               windows=Windows(labs_days=labs_days,
                                               performance_days=performance_days))
    except InputError as exc:
        fail(exc)
    _write(result.document, output, inputs=(bundle,))
    if report is not None:
        _write(result.to_dict(), report, inputs=(bundle,) + ((str(output),) if output else ()))
    for unused in result.unused:
        err_console().print(f"not used: {unused.source} {unused.element} ({unused.reason}): "
                            f"{unused.detail}", markup=False, highlight=False)


@fhir_app.command("export")
def export_command(
    case: Annotated[str, typer.Argument(help="Case file (spinemets-case/1, JSON or YAML).")],
    output: OutOption = None,
    author: Annotated[str | None, typer.Option(help="Author named in the Provenance.")] = None,
) -> None:
    """Scores, plan and provenance of a case as a FHIR R4 collection Bundle."""
    from spinemets.fhir import export_case  # noqa: PLC0415

    _check([output], (case,))
    try:
        bundle = export_case(_load(case), author=author)
    except InputError as exc:
        fail(exc)
    _write(bundle, output, inputs=(case,))


def _load(case: str) -> Any:
    from spinemets.case import load_case  # noqa: PLC0415

    return load_case(Path(case)) if case != "-" else load_case(_read_json(case))


@fhir_app.command("synth")
def synth_command(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000, help="How many patients.")] = 20,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1,
                                      help="Random seed (same seed, same Bundles).")] = 1,
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", help="Write one Bundle per file here (default: JSON lines on stdout).")
    ] = None,
) -> None:
    """Synthetic FHIR patients (Bundles) from the synthetic cohort, with awkward cases."""
    from spinemets.fhir import synth_bundles  # noqa: PLC0415

    bundles = synth_bundles(n, seed=seed)
    if out_dir is None:
        for item in bundles:
            print(dump_json(item.bundle, compact=True))
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in bundles:
            write_output(out_dir / f"{item.name}.json", dump_json(item.bundle) + "\n")
    except OSError as exc:
        fail(f"cannot write to {out_dir}: {exc.strerror or exc}")
    except OutputError as exc:
        fail(exc)


def register(app: typer.Typer) -> None:
    """Add ``fhir import``, ``fhir export`` and ``fhir synth`` (needs the ``fhir`` extra)."""
    app.add_typer(fhir_app)
