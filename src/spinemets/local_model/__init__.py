"""A site's local survival model beside the classic prognostic scores.

A centre fits a model on its own cohort (``spinemets cohort model fit``) and may configure it
(``SPINEMETS_LOCAL_MODEL`` for the web application, ``--local-model`` for ``spinemets plan`` and
``spinemets report``). Only then do plans and reports show its prediction, labelled "local model
<name>, fitted <date> on N patients, internally validated only", with its inputs, each
predictor's contribution and the optimism-corrected C. It never changes triage or the plan.

Loading and predicting need only the core install (no numpy): the model file is JSON, checked
against its schema and version (:func:`load_model`), never a pickle.
"""

import os
from pathlib import Path

from spinemets.local_model._file import MODEL_SCHEMA, MODEL_VERSION, ModelFile, load_model
from spinemets.local_model._predict import (
    BESIDE_THE_SCORES,
    Contribution,
    LocalPrediction,
    check_predictors,
    predict,
)

__all__ = [
    "BESIDE_THE_SCORES",
    "MODEL_SCHEMA",
    "MODEL_VERSION",
    "Contribution",
    "LocalPrediction",
    "ModelFile",
    "check_predictors",
    "load_local_model",
    "load_model",
    "predict",
]


def load_local_model(path: str | os.PathLike[str]) -> ModelFile:
    """Load a model file for a site and check that a case can give its predictors.

    Raises
    ------
    InputError
        The file is missing, not JSON, of another schema or version, malformed (field named),
        or a predictor is not a score input (named).
    """
    model = load_model(Path(path))
    check_predictors(model)
    return model
