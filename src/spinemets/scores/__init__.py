"""Clinical scores: table-driven, explainable, never treating unknown as zero.

>>> from spinemets.scores import score
>>> score("sins", {"level": "T5", "pain": "none", "bone_lesion": "blastic",
...                "alignment": "normal", "collapse": "none", "posterolateral": "none"}).total
1

The public names are imported on first use (PEP 562): ``spinemets.scores._index`` (the
registry listing of ``spinemets scores``) loads without pydantic or the table models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spinemets.scores._evaluator import achievable_totals, evaluate
    from spinemets.scores._registry import available_scores, get_definition, registry, score
    from spinemets.scores._result import BandRef, ComponentResult, ScoreResult
    from spinemets.scores._schema import Band, Component, Option, ScoreDefinition, Source

__all__ = [
    "Band",
    "BandRef",
    "Component",
    "ComponentResult",
    "Option",
    "ScoreDefinition",
    "ScoreResult",
    "Source",
    "achievable_totals",
    "available_scores",
    "evaluate",
    "get_definition",
    "registry",
    "score",
]

_LAZY = {
    "achievable_totals": "_evaluator", "evaluate": "_evaluator",
    "available_scores": "_registry", "get_definition": "_registry", "registry": "_registry",
    "score": "_registry",
    "BandRef": "_result", "ComponentResult": "_result", "ScoreResult": "_result",
    "Band": "_schema", "Component": "_schema", "Option": "_schema",
    "ScoreDefinition": "_schema", "Source": "_schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
