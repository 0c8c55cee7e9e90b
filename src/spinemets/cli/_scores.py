"""``spinemets scores`` and ``spinemets score``: the registry and single or batch scoring."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spinemets.cli._light import print_scores
from spinemets.cli._output import (
    console,
    dump_json,
    err_console,
    fail,
    iter_json_lines,
    read_text,
    render_score,
)
from spinemets.errors import InputError, ScoreUnavailableError, UnknownScoreError
from spinemets.scores._index import summaries

if TYPE_CHECKING:
    from spinemets.scores import ScoreDefinition

__all__ = ["register"]


class OutputFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    text = "text"


def list_scores(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = (
        OutputFormat.text
    ),
) -> None:
    """List the registered scores: slug, name, version and status."""
    print_scores(fmt.value, summaries(), console())


def _error_record(slug: str, line: int, problems: list[dict[str, Any]]) -> dict[str, Any]:
    return {"line": line, "score": slug, "status": "error", "total": None, "band": None,
            "possible_totals": None, "possible_bands": [], "components": [], "warnings": [],
            "errors": problems}


def _score_record(defn: ScoreDefinition, data: Any, line: int | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError.single("input", "each input must be a JSON object", value=type(
            data).__name__)
    from spinemets.scores import score  # noqa: PLC0415 - keeps `spinemets scores` light

    inputs = {k: v for k, v in data.items() if k != "id"}
    record = score(defn.slug, inputs).to_dict()
    if "id" in data:
        record = {"id": data["id"], **record}
    if line is not None:
        record = {"line": line, **record}
    return record


def _batch(defn: ScoreDefinition, text: str, fmt: OutputFormat) -> None:
    records: list[dict[str, Any]] = []
    errors = 0
    for number, data in iter_json_lines(text):
        try:
            if isinstance(data, InputError):
                raise data
            record = _score_record(defn, data, number)
        except InputError as exc:
            errors += 1
            record = _error_record(defn.slug, number, exc.to_list())
            if isinstance(data, dict) and "id" in data:
                record = {"id": data["id"], **record}
        if fmt is OutputFormat.jsonl:
            print(dump_json(record, compact=True))
        else:
            records.append(record)
    if fmt is OutputFormat.json:
        print(dump_json(records))
    elif fmt is OutputFormat.text:
        _batch_table(records)
    err_console().print(f"{defn.slug}: {len(records) if fmt is not OutputFormat.jsonl else 'all'} "
                        f"lines scored, {errors} with errors", highlight=False)


def _batch_table(records: list[dict[str, Any]]) -> None:
    from rich.table import Table  # noqa: PLC0415 - text output only

    table = Table(title_justify="left")
    for column in ("line", "status", "total", "band", "errors"):
        table.add_column(column)
    for r in records:
        band = r["band"]["id"] if r["band"] else ", ".join(r["possible_bands"])
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in r["errors"])
        table.add_row(str(r["line"]), r["status"], str(r["total"]), band, problems)
    console().print(table)


def _looks_like_batch(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return True
    return False


def score_command(
    slug: Annotated[str, typer.Argument(help="Score slug (see `spinemets scores`).")],
    source: Annotated[str, typer.Option("--input", "-i", help="JSON object or JSON Lines file; "
                                        "- for standard input.")] = "-",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = (
        OutputFormat.json
    ),
    lesion: Annotated[
        str | None, typer.Option(help="Lesion label to attach to the result.")
    ] = None,
) -> None:
    """Score one JSON object, or a JSON Lines file one result per line in the same order."""
    from spinemets.scores import get_definition, score  # noqa: PLC0415 - see list_scores

    try:
        defn = get_definition(slug)
        if not defn.available:
            raise ScoreUnavailableError(slug, defn.status_reason or "unavailable")
    except (UnknownScoreError, ScoreUnavailableError) as exc:
        fail(exc)
    text = read_text(source)
    if fmt is OutputFormat.jsonl or _looks_like_batch(text):
        _batch(defn, text, fmt)
        return
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InputError.single("input", "must be one JSON object", value=type(data).__name__)
        inputs = {k: v for k, v in data.items() if k != "id"}
        result = score(slug, inputs, lesion=lesion)
    except InputError as exc:
        fail(exc)
    if fmt is OutputFormat.text:
        render_score(result)
    else:
        print(dump_json(result.to_dict()))


def register(app: typer.Typer) -> None:
    """Add ``scores`` and ``score`` to the CLI."""
    app.command("scores")(list_scores)
    app.command("score")(score_command)
