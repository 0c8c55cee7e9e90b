"""Thin adapter from the web layer to the pure core (scores, case, rules).

The web layer calls only these functions, so HTML pages and JSON routes share one path into
the core. ``spinemets.case`` and ``spinemets.rules`` are imported on first use.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from spinemets.errors import SpinemetsError
from spinemets.scores import get_definition, registry, score

__all__ = [
    "CoreUnavailableError",
    "Option",
    "Question",
    "assess_case",
    "compute_score",
    "load_case",
    "plan_case",
    "score_detail",
    "score_summaries",
    "triage_answers",
    "triage_questions",
]


class CoreUnavailableError(SpinemetsError):
    """A part of the core this feature needs is not installed (a packaging problem)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer to a triage question: ``value`` goes to the rules, ``key`` into forms."""

    value: Any
    label: str

    @property
    def key(self) -> str:
        return json.dumps(self.value)


@dataclass(frozen=True, slots=True)
class Question:
    """One triage question, normalised from ``spinemets.rules.TRIAGE_QUESTIONS``."""

    id: str
    text: str
    options: tuple[Option, ...]
    hint: str | None = None

    def option_for(self, key: str) -> Option | None:
        for option in self.options:
            if option.key == key:
                return option
        return None


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise CoreUnavailableError(f"{name} is not available") from exc


def _to_dict(obj: Any) -> dict[str, Any]:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    if not isinstance(data, dict):  # pragma: no cover - contract violation
        raise TypeError(type(data).__name__)
    return data


# -- scores -------------------------------------------------------------------------------------


def score_summaries() -> list[dict[str, Any]]:
    """Every registered score (the registry listing)."""
    return [defn.summary() for defn in registry().values()]


def score_detail(slug: str) -> dict[str, Any]:
    """One score's registry entry with its components and options."""
    defn = get_definition(slug)
    out = defn.summary()
    out["components"] = [
        {
            "name": c.name,
            "label": c.label,
            "options": [{"id": o.id, "label": o.label, "points": o.points} for o in c.options],
            "inputs": sorted({n for s in c.sources for n in s.input_names()}),
        }
        for c in defn.components
    ]
    out["purpose"] = defn.purpose
    out["use"] = defn.use
    out["misuse"] = defn.misuse
    return out


def compute_score(slug: str, inputs: Mapping[str, Any], *, lesion: str | None = None) -> (
    dict[str, Any]
):
    """Compute one score (raises the core's errors unchanged)."""
    return score(slug, inputs, lesion=lesion).to_dict()


# -- case and rules -----------------------------------------------------------------------------


def load_case(data: Mapping[str, Any]) -> Any:
    """Parse a ``spinemets-case/1`` document (raises ``CaseFormatError``)."""
    return _module("spinemets.case").load_case(dict(data))


def assess_case(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every applicable score on a case."""
    case_mod = _module("spinemets.case")
    return _to_dict(case_mod.assess(case_mod.load_case(dict(data))))


def plan_case(data: Mapping[str, Any], *, local_model: Any = None,
              today: dt.date | None = None) -> dict[str, Any]:
    """The ``spinemets-plan/1`` document for a case (with the site's local model's prediction
    beside the scores when ``local_model``, the site's loaded model, is given), as of ``today``
    (default: today)."""
    case = load_case(data)
    return _to_dict(_module("spinemets.rules").plan(case, local_model=local_model, today=today))


def triage_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The triage result for symptom-checker answers (keys as in the case format)."""
    return _to_dict(_module("spinemets.rules").triage(dict(answers)))


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _option(raw: Any) -> Option:
    if isinstance(raw, tuple | list) and len(raw) == 2:
        return Option(value=raw[0], label=str(raw[1]))
    if isinstance(raw, str | bool | int) or raw is None:
        return Option(value=raw, label=str(raw))
    value = _attr(raw, "value", _attr(raw, "id"))
    return Option(value=value, label=str(_attr(raw, "label", _attr(raw, "text", value))))


def _question(raw: Any) -> Question:
    options: Sequence[Any] = _attr(raw, "options", ()) or ()
    if isinstance(options, Mapping):
        options = list(options.items())
    return Question(
        id=str(_attr(raw, "id")),
        text=str(_attr(raw, "text", _attr(raw, "question", ""))),
        options=tuple(_option(o) for o in options),
        hint=_attr(raw, "hint"),
    )


@cache
def triage_questions() -> tuple[Question, ...]:
    """The symptom checker's questions, in order."""
    raw = _module("spinemets.rules").TRIAGE_QUESTIONS
    return tuple(_question(q) for q in raw)
