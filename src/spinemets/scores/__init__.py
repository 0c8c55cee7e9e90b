"""Clinical scores: table-driven, explainable, never treating unknown as zero.

>>> from spinemets.scores import score
>>> score("sins", {"level": "T5", "pain": "none", "bone_lesion": "blastic",
...                "alignment": "normal", "collapse": "none", "posterolateral": "none"}).total
1
"""

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
