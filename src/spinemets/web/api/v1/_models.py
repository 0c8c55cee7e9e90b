"""Request models at the API edge (separate from storage and core types)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

__all__ = ["CancerStatus", "PainLocation", "ScoreCompute", "TriageAnswers", "TriageRequest"]

CASE_EXAMPLE: dict[str, Any] = {
    "format": "spinemets-case/1",
    "id": "demo-api-001",
    "patient": {"age_years": 64, "sex": "female"},
    "cancer": {"status": "known", "primary": "breast", "hormone_dependent": True},
    "performance": {"kps": 70},
    "symptoms": {"back_pain": True, "pain_location": "thoracic", "limb_weakness": False},
    "lesions": [{"levels": ["T12"], "pain": "mechanical", "bone_lesion": "lytic",
                 "alignment": "normal", "collapse": "under_50",
                 "posterolateral": "unilateral", "escc": "1b"}],
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreCompute(_Strict):
    """Inputs for one score; names as listed by ``GET /api/v1/scores/{slug}``."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    lesion: str | None = Field(default=None, max_length=40)


class CancerStatus(StrEnum):
    known = "known"
    suspected = "suspected"
    none = "none"
    unknown = "unknown"


class PainLocation(StrEnum):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"
    sacral = "sacral"


class TriageAnswers(_Strict):
    """Symptom-checker answers; a missing field or ``null`` means not answered (unknown).

    The fields are the ids of ``spinemets.rules.TRIAGE_QUESTIONS`` plus the clinician-only
    ``neurological_signs`` (signs found on examination); a test keeps them in step.
    """

    cancer_status: CancerStatus | None = None
    limb_weakness: StrictBool | None = None
    difficulty_walking: StrictBool | None = None
    numbness_or_tingling: StrictBool | None = None
    saddle_numbness: StrictBool | None = None
    bladder_or_bowel_dysfunction: StrictBool | None = None
    rapidly_progressive: StrictBool | None = Field(
        default=None, description="Leg weakness getting worse quickly, over hours or days")
    radicular_pain: StrictBool | None = None
    back_pain: StrictBool | None = None
    pain_location: PainLocation | None = None
    pain_onset_sudden: StrictBool | None = None
    pain_better_with_rest: StrictBool | None = None
    pain_progressive: StrictBool | None = None
    pain_severe_unremitting: StrictBool | None = None
    pain_night: StrictBool | None = None
    pain_worse_on_straining: StrictBool | None = None
    spinal_tenderness: StrictBool | None = None
    weight_loss: StrictBool | None = None
    age_over_50: StrictBool | None = None
    fever: StrictBool | None = None
    neurological_signs: StrictBool | None = Field(
        default=None, description="Clinician only: new neurological signs on examination")


class TriageRequest(_Strict):
    """``{"answers": {...}}``."""

    answers: TriageAnswers = Field(default_factory=TriageAnswers)
