"""spinemets: explainable decision support for metastatic tumours of the spine.

Decision support only. Every result shows its inputs, the points per component, the rule that
fired and its citation; unknown inputs are never counted as zero. A clinician decides.

>>> import spinemets
>>> spinemets.score("bilsky_escc", {"escc": "1c"}).band.id
'intermediate'
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from spinemets.errors import (
    DefinitionError,
    InputError,
    ScoreUnavailableError,
    SpinemetsError,
    UnknownScoreError,
)

if TYPE_CHECKING:
    from spinemets.case import Assessment
    from spinemets.rules import Plan, TriageResult
    from spinemets.scores import ScoreResult, available_scores, registry, score

__all__ = [
    "DefinitionError",
    "InputError",
    "ScoreResult",
    "ScoreUnavailableError",
    "SpinemetsError",
    "UnknownScoreError",
    "__version__",
    "assess",
    "available_scores",
    "plan",
    "registry",
    "score",
    "triage",
]

__version__ = "0.1.0"

#: Public names imported on first use (PEP 562), so that ``import spinemets`` (and every
#: ``spinemets`` command) does not pay for the score tables' models until a score is needed.
_LAZY = {"ScoreResult": "spinemets.scores", "available_scores": "spinemets.scores",
         "registry": "spinemets.scores", "score": "spinemets.scores"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'spinemets' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def assess(case: Any) -> Assessment:
    """Every applicable score for a case (``spinemets-case/1`` mapping, path or ``Case``)."""
    from spinemets.case import assess as _assess  # noqa: PLC0415 - keeps `import spinemets` light

    return _assess(case)


def plan(case: Any) -> Plan:
    """Triage, work-up and NOMS-based plan for a case, with basis, citations and cautions."""
    from spinemets.rules import plan as _plan  # noqa: PLC0415

    return _plan(case)


def triage(answers: Mapping[str, Any]) -> TriageResult:
    """Triage level (emergency, urgent, soon, routine) from symptom answers."""
    from spinemets.rules import triage as _triage  # noqa: PLC0415

    return _triage(answers)
