"""The registry: every score table in ``scores/tables``, loaded and checked once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from spinemets._yaml import safe_load
from spinemets.domain import catalogue
from spinemets.errors import DefinitionError, ScoreUnavailableError, UnknownScoreError
from spinemets.scores._evaluator import evaluate
from spinemets.scores._result import ScoreResult
from spinemets.scores._schema import ScoreDefinition

__all__ = ["available_scores", "get_definition", "registry", "score"]


def _check_histology_maps(defn: ScoreDefinition) -> None:
    rows = catalogue()
    for comp in defn.components:
        for src in comp.sources:
            if src.kind != "histology":
                continue
            assert src.attribute is not None
            assert src.values is not None
            for row in rows.values():
                cell = row.cells[src.attribute]
                values = [cell.value] if cell.ask is None and cell.when is None else [
                    cell.if_true, cell.if_false] if cell.when else list(cell.options)
                for value in values:
                    if value is not None and str(value).lower() not in src.values:
                        msg = (f"{defn.slug}.{comp.name}: catalogue value {value!r} of "
                               f"{row.id} is not mapped")
                        raise DefinitionError(msg)


def _load(name: str, text: str) -> ScoreDefinition:
    try:
        defn = ScoreDefinition.model_validate(safe_load(text))
    except ValidationError as exc:
        msg = f"score table {name}: {exc}"
        raise DefinitionError(msg) from exc
    if f"{defn.slug}.yaml" != name:
        msg = f"score table {name} declares slug {defn.slug!r}"
        raise DefinitionError(msg)
    _check_histology_maps(defn)
    return defn


@cache
def _table(name: str) -> ScoreDefinition:
    """The definition in ``tables/<name>`` (each table loaded once, shared by the registry)."""
    entry = resources.files("spinemets.scores").joinpath("tables").joinpath(name)
    return _load(name, entry.read_text("utf-8"))


@cache
def registry() -> Mapping[str, ScoreDefinition]:
    """Every registered score by slug (available, provisional and unavailable)."""
    tables = resources.files("spinemets.scores").joinpath("tables")
    out: dict[str, ScoreDefinition] = {}
    for entry in sorted(tables.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            defn = _table(entry.name)
            out[defn.slug] = defn
    return out


def get_definition(slug: str) -> ScoreDefinition:
    """The definition of ``slug``; :class:`UnknownScoreError` if none is registered.

    Only that score's table is read (``spinemets score <slug>`` starts faster) unless the
    registry is needed to say which scores exist.
    """
    if _SLUG.fullmatch(slug):
        with suppress(FileNotFoundError):  # not a table: the registry says which scores exist
            return _table(f"{slug}.yaml")
    try:
        return registry()[slug]
    except KeyError:
        raise UnknownScoreError(slug, tuple(registry())) from None


#: A slug that can name a table file (anything else is looked up in the registry only).
_SLUG = re.compile(r"[a-z0-9_]{1,64}")


def available_scores() -> tuple[str, ...]:
    """Slugs of the scores that can be computed (available or provisional)."""
    return tuple(s for s, d in registry().items() if d.available)


def score(slug: str, inputs: Mapping[str, Any], *, lesion: str | None = None) -> ScoreResult:
    """Compute score ``slug`` on ``inputs``.

    Raises
    ------
    UnknownScoreError
        No score has that slug.
    ScoreUnavailableError
        The score is registered but its table is unverified or unpublished.
    InputError
        An input is impossible (every problem listed, each naming its field).
    """
    defn = get_definition(slug)
    if not defn.available:
        raise ScoreUnavailableError(slug, defn.status_reason or "unavailable")
    return evaluate(defn, inputs, lesion=lesion)
