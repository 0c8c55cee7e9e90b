"""The model file of ``cohort model fit``: JSON only, schema-checked and versioned on load.

A model file holds everything needed to predict and to report how the model was made:
coefficients per term, the baseline survival, the predictors and their encoding (the
preprocessing), the missing-data handling, a hash of the development data, the software
versions and the internal validation. It is never a pickle: loading a model runs no code.

It lives outside :mod:`spinemets.cohort` and imports neither numpy nor pyarrow, so a site that
configures a local model (``spinemets plan --local-model``, ``SPINEMETS_LOCAL_MODEL``) needs only
the core install to load it and predict for one case (:mod:`spinemets.local_model`).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spinemets.errors import InputError

__all__ = ["MODEL_SCHEMA", "MODEL_VERSION", "Coefficient", "ModelFile", "load_model",
           "model_label"]

MODEL_SCHEMA = "spinemets-survival-model"
MODEL_VERSION = 1
_MAX_BYTES = 64 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PredictorSpec(_Strict):
    column: str
    kind: Literal["numeric", "boolean", "categorical"]
    per: float = 1.0
    levels: tuple[str, ...] = ()
    reference: str | None = None
    pooled: tuple[str, ...] = ()
    terms: tuple[str, ...]
    missing: int = Field(ge=0)  # development rows with this predictor missing


class Coefficient(_Strict):
    term: str
    coef: float
    se: float | None
    lower: float | None
    upper: float | None
    hazard_ratio: float
    center: float


class Baseline(_Strict):
    time: tuple[float, ...]
    cumulative_hazard: tuple[float, ...]
    survival: tuple[float, ...]

    @field_validator("time")
    @classmethod
    def _sorted(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not math.isfinite(x) for x in v) or any(
                b < a for a, b in itertools.pairwise(v)):
            msg = "baseline times must be finite and increasing"
            raise ValueError(msg)
        return v


class DataInfo(_Strict):
    source: str
    sha256: str
    rows: int
    rows_without_survival: int
    complete_cases: int
    excluded_missing: int
    events: int
    time_column: str
    event_column: str
    time_unit: Literal["months"] = "months"
    synthetic: str | None = None


class SampleSize(_Strict):
    events: int
    candidate_parameters: int
    events_per_parameter: float
    minimum: float
    forced: bool


class Validation(_Strict):
    method: str
    resamples: int
    seed: int
    failed_resamples: int
    horizons: tuple[float, ...]
    thresholds: tuple[float, ...]
    apparent: dict[str, float | None]
    optimism: dict[str, float]


class ModelFile(_Strict):
    """The whole model file (``schema`` and ``version`` are checked first on load)."""

    schema_: Literal["spinemets-survival-model"] = Field(alias="schema")
    version: Literal[1]
    name: str
    kind: Literal["penalised_cox"]
    fitted: str  # ISO 8601 UTC
    label: str
    penalizer: float = Field(ge=0)
    missing_data: str
    predictors: tuple[PredictorSpec, ...]
    coefficients: tuple[Coefficient, ...]
    baseline: Baseline
    data: DataInfo
    sample_size: SampleSize
    validation: Validation
    software: dict[str, str]
    intended_use: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), indent=1,
                          allow_nan=False)


def model_label(name: str, fitted: str, patients: int) -> str:
    """How a local model's prediction is labelled wherever it is shown."""
    return (f"local model {name}, fitted {fitted[:10]} on {patients} patients, internally "
            "validated only")


def _check_consistent(model: ModelFile) -> None:
    terms = [t for p in model.predictors for t in p.terms]
    if terms != [c.term for c in model.coefficients]:
        msg = "the coefficients do not match the predictors' terms"
        raise ValueError(msg)
    b = model.baseline
    if not len(b.time) == len(b.cumulative_hazard) == len(b.survival) or not b.time:
        msg = "the baseline time, cumulative hazard and survival differ in length"
        raise ValueError(msg)


def load_model(path: Path) -> ModelFile:
    """Read and check a model file.

    Parameters
    ----------
    path : Path
        A JSON file written by ``spinemets cohort model fit``.

    Returns
    -------
    ModelFile
        The validated model.

    Raises
    ------
    InputError
        Not readable, not JSON, another schema or version, or a malformed field (named).
    """
    def bad(message: str) -> InputError:
        return InputError.single("model", f"{path}: {message}")

    try:
        # read at most one byte past the limit: a device or pipe (/dev/zero) reports size 0
        with path.open("rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
        if len(raw) > _MAX_BYTES:
            raise bad(f"larger than {_MAX_BYTES >> 20} MB; not a spinemets model file")
        text = raw.decode("utf-8")
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise bad("is not UTF-8 JSON text (a model file is JSON, never a pickle)") from exc
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"is not JSON ({exc.msg} at line {exc.lineno}); a model file is JSON "
                  "written by spinemets cohort model fit") from exc
    if not isinstance(data, dict) or data.get("schema") != MODEL_SCHEMA:
        raise bad(f"is not a spinemets model file (expected \"schema\": \"{MODEL_SCHEMA}\")")
    if data.get("version") != MODEL_VERSION:
        raise bad(f"has model file version {data.get('version')!r}; this spinemets reads "
                  f"version {MODEL_VERSION}: refit the model or use a matching spinemets")
    try:
        model = ModelFile.model_validate(data)
        _check_consistent(model)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad(f"field {where}: {first['msg']}") from exc
    except ValueError as exc:
        raise bad(str(exc)) from exc
    return model
