"""The ``spinemets-case/1`` case format and the assessment of every applicable score.

>>> from spinemets.case import assess
>>> a = assess({"format": "spinemets-case/1",
...             "lesions": [{"levels": ["T5"], "pain": "none", "bone_lesion": "blastic",
...                          "alignment": "normal", "collapse": "none",
...                          "posterolateral": "none", "escc": "1a"}]})
>>> a.get("sins", 0).total
1
"""

from spinemets.case._assess import Assessment, ScoreInputs, assess, score_inputs
from spinemets.case._load import load_case
from spinemets.case._model import (
    CASE_FORMAT,
    MAX_LESIONS,
    Cancer,
    Case,
    Disease,
    Fitness,
    Labs,
    Lesion,
    Neurology,
    Overrides,
    Patient,
    Performance,
    Preferences,
    Symptoms,
)

__all__ = [
    "CASE_FORMAT",
    "MAX_LESIONS",
    "Assessment",
    "Cancer",
    "Case",
    "Disease",
    "Fitness",
    "Labs",
    "Lesion",
    "Neurology",
    "Overrides",
    "Patient",
    "Performance",
    "Preferences",
    "ScoreInputs",
    "Symptoms",
    "assess",
    "load_case",
    "score_inputs",
]
