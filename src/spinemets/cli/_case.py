"""``spinemets assess``, ``spinemets plan`` and ``spinemets triage``: the case commands."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spinemets.cli._output import console, dump_json, fail
from spinemets.errors import InputError

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["register"]


class CaseFormat(StrEnum):
    json = "json"
    text = "text"


FormatOption = Annotated[CaseFormat, typer.Option("--format", "-f", help="Output format.")]
CaseArgument = Annotated[str, typer.Argument(help="Case file (spinemets-case/1, JSON or YAML).")]
LocalModelOption = Annotated[Path | None, typer.Option(
    "--local-model", envvar="SPINEMETS_LOCAL_MODEL", show_envvar=True,
    help="The site's local survival model (JSON from 'spinemets cohort model fit'): its "
    "prediction is shown beside the prognostic scores, labelled as internally validated only. "
    "Left out: no local model appears.")]


def _scores_table(scores: list[dict[str, Any]], title: str) -> Table:
    from rich.table import Table  # noqa: PLC0415 - text output only

    table = Table(title=title, title_justify="left")
    for column in ("Score", "Lesion", "Status", "Total", "Band", "Missing / notes"):
        table.add_column(column, overflow="fold")
    for s in scores:
        band = s["band"]["label"] if s["band"] else "possible: " + ", ".join(s["possible_bands"])
        total = s.get("grade") or ("" if s["total"] is None else str(s["total"]))
        if s["total"] is None and s.get("possible_totals"):
            total = "{}-{}".format(*s["possible_totals"])
        notes = ", ".join(s["missing"]) + ("; PROVISIONAL" if s.get("provisional") else "")
        table.add_row(s["name"], s.get("lesion") or "", s["status"], total, band, notes)
    return table


def assess_command(case: CaseArgument, fmt: FormatOption = CaseFormat.json) -> None:
    """Every applicable score for a case: one SINS and one ESCC per lesion, then the patient."""
    from spinemets.case import assess  # noqa: PLC0415 - keeps the CLI start-up light

    try:
        result = assess(case).to_dict()
    except InputError as exc:
        fail(exc)
    if fmt is CaseFormat.json:
        print(dump_json(result))
        return
    console().print(_scores_table(result["scores"], "Scores"))
    for s in result["scores"]:
        for warning in s["warnings"]:
            console().print(f"Warning ({s['score']}): {warning}", markup=False, highlight=False)
    for u in result["unavailable"]:
        console().print(f"Not computed: {u['score']} ({u['reason']})", markup=False,
                        highlight=False)


def _print_lines(header: str, lines: list[str]) -> None:
    if lines:
        console().print(f"[bold]{header}[/bold]")
        for line in lines:
            console().print(f"  - {line}", markup=False, highlight=False)


def case_and_plan(case: str, local_model: Path | None = None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case document (as loaded and validated) and its plan; exits 2 on a bad case or a
    bad local model file (one line naming the file and the problem)."""
    from spinemets.case import load_case  # noqa: PLC0415 - keeps the CLI start-up light
    from spinemets.rules import plan  # noqa: PLC0415

    model = None
    if local_model is not None:
        from spinemets.local_model import load_local_model  # noqa: PLC0415

        try:
            model = load_local_model(local_model)
        except InputError as exc:
            fail(exc)
    try:
        loaded = load_case(case)
        data = plan(loaded, local_model=model).to_dict()
    except InputError as exc:
        fail(exc)
    return loaded.model_dump(mode="json", exclude_none=True), data


def plan_command(case: CaseArgument, fmt: FormatOption = CaseFormat.json,
                 local_model: LocalModelOption = None) -> None:
    """Triage, scores, work-up and the NOMS-based plan for a case.

    ``--format text`` prints the tumour-board report as text (summary first, details after,
    numbered references at the end; 100 columns).
    """
    document, data = case_and_plan(case, local_model)
    if fmt is CaseFormat.json:
        print(dump_json(data))
        return
    from spinemets.report import build_report, render_text  # noqa: PLC0415

    sys.stdout.write(render_text(build_report(data, document)))


def _parse_answer(text: str) -> Any:
    lowered = text.strip().lower()
    mapping = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False,
               "": None, "not sure": None, "null": None}
    return mapping.get(lowered, text.strip())


def _ask_all(given: dict[str, Any]) -> dict[str, Any]:
    """Ask the questions not in ``given`` one by one, in order, until an emergency.

    A question is skipped when no answer to it can change the result
    (``spinemets.rules.open_questions``, read from the rule table).
    """
    from spinemets.rules import TRIAGE_QUESTIONS, triage  # noqa: PLC0415

    answers: dict[str, Any] = dict(given)
    for question in TRIAGE_QUESTIONS:
        if question.id in given or question.id not in triage(answers).open_questions:
            continue
        choices = {str(i): o.value for i, o in enumerate(question.options, start=1)}
        shown = ", ".join(f"{i}={o.label}" for i, o in enumerate(question.options, start=1))
        reply = typer.prompt(f"{question.text} [{shown}]", default=str(len(choices)))
        answers[question.id] = choices.get(reply.strip(), _parse_answer(reply))
        if triage(answers).level == "emergency":
            break
    return answers


def triage_command(
    answer: Annotated[list[str] | None, typer.Option(
        "--answer", "-a", help="QUESTION=VALUE, e.g. limb_weakness=yes (repeatable).")] = None,
    interactive: Annotated[bool, typer.Option(
        "--interactive", "-i", help="Ask the questions one by one.")] = False,
    fmt: FormatOption = CaseFormat.text,
) -> None:
    """Triage level (emergency, urgent, soon, routine) from symptom answers."""
    from spinemets.rules import triage  # noqa: PLC0415

    answers: dict[str, Any] = {}
    for raw in answer or []:
        key, sep, value = raw.partition("=")
        if not sep:
            fail(InputError.single(raw, "an answer is written QUESTION=VALUE"))
        answers[key.strip()] = _parse_answer(value)
    if interactive:
        try:
            answers = _ask_all(answers)
        except InputError as exc:
            fail(exc)
    try:
        result = triage(answers).to_dict()
    except InputError as exc:
        fail(exc)
    if fmt is CaseFormat.json:
        print(dump_json(result))
        return
    console().print(f"[bold]{result['level'].upper()}[/bold]: {result['patient_advice']}",
                    highlight=False)
    console().print(f"Clinician: {result['clinician_advice']}", markup=False, highlight=False)
    _print_lines("Because", result["basis"])
    _print_lines("Unanswered questions that could raise the level",
                 result["unanswered_could_raise"])


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``plan`` and ``triage`` to the CLI."""
    app.command("assess")(assess_command)
    app.command("plan")(plan_command)
    app.command("triage")(triage_command)
