"""Case fields named by the plan: which are missing, and how to name them in words.

The plan's ``unknowns`` and every "would need" list name only inputs that are missing from the
case (left out, ``null`` or ``"unknown"``): a recorded value is never listed, even when the fact
derived from it is still undecided. Each name is a field path of ``spinemets-case/1``
(``symptoms.limb_weakness``, ``lesions[0].escc``); :func:`in_words` gives the plain words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from spinemets.case import Case

__all__ = ["in_words", "is_missing", "only_missing"]

_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")
_ABSENT: Final = object()

_WORDS: Final[dict[str, str]] = {
    "patient.age_years": "age",
    "symptoms.limb_weakness": "new limb weakness",
    "symptoms.difficulty_walking": "new difficulty walking or unsteadiness",
    "symptoms.numbness_or_tingling": "new numbness or tingling",
    "symptoms.saddle_numbness": "saddle numbness",
    "symptoms.bladder_or_bowel_dysfunction": "bladder or bowel control",
    "symptoms.radicular_pain": "radicular or band-like pain",
    "symptoms.back_pain": "back or neck pain",
    "patient.sex": "sex (female or male, for Cockcroft-Gault)",
    "patient.weight_kg": "weight",
    "cancer.status": "cancer status",
    "cancer.primary": "primary tumour (histology)",
    "cancer.histology_doubtful": "whether the histology is doubtful",
    "cancer.overrides.radiosensitivity": "a radiosensitivity choice for the patient "
                                         "(sensitive or resistant)",
    "cancer.overrides.tokuhashi_primary_points": "Tokuhashi primary-site points (clinician "
                                                 "choice)",
    "cancer.overrides.tomita_growth": "Tomita growth class (clinician choice)",
    "cancer.overrides.katagiri_group": "Katagiri primary group (clinician choice)",
    "performance.kps": "Karnofsky performance status (KPS)",
    "performance.ecog": "ECOG performance status",
    "neurology.frankel": "Frankel grade",
    "neurology.asia": "ASIA impairment grade",
    "neurology.rapidly_progressive": "whether the myelopathy is rapidly progressive",
    "disease.visceral_metastases": "visceral metastases",
    "disease.visceral_removable": "whether the visceral metastases are removable",
    "disease.visceral_treatable": "whether the visceral metastases are treatable",
    "disease.brain_metastases": "brain metastases",
    "disease.extraspinal_bone_metastases": "number of extraspinal bone metastases",
    "disease.vertebral_body_metastases": "number of vertebral body metastases",
    "fitness.fit_for_open_surgery": "fitness for open surgery",
    "preferences.accepts_surgery": "the patient's view on surgery",
    "labs.creatinine": "serum creatinine",
    "lesions": "the spinal lesions (none entered)",
}
_LESION_WORDS: Final[dict[str, str]] = {
    "levels": "vertebral level(s)",
    "pain": "lesion pain (mechanical, occasional or none)",
    "bone_lesion": "bone lesion type (lytic, mixed or blastic)",
    "alignment": "alignment",
    "collapse": "vertebral body collapse",
    "posterolateral": "posterolateral involvement",
    "escc": "ESCC grade",
    "posterior_wall_retropulsion": "posterior wall involvement or retropulsion",
    "pathological_fracture": "pathological fracture",
    "prior_radiotherapy": "prior radiotherapy to this level",
    "radiosensitivity": "a radiosensitivity choice for this lesion (sensitive or resistant)",
    "anterior_column_destroyed": "anterior column destruction",
    "hypervascular_on_imaging": "hypervascularity on imaging",
    "prior_radiotherapy_date": "date of the last radiotherapy course to this level",
    "prior_radiotherapy_dose_gy": "total dose of the last radiotherapy course (Gy)",
    "prior_radiotherapy_fractions": "number of fractions of the last radiotherapy course",
    "prior_radiotherapy_technique": "technique of the last radiotherapy course "
                                    "(conventional or SBRT)",
    "imaging_date": "date of the imaging",
}
_LESION_PATH = re.compile(r"lesions\[(\d+)\]\.(\w+)\Z")


def _value(case: Case, path: str) -> object:
    node: object = case
    for name, index in _TOKEN.findall(path):
        if name:
            node = getattr(node, name, _ABSENT)
        elif isinstance(node, tuple) and int(index) < len(node):
            node = node[int(index)]
        else:
            return _ABSENT
        if node is _ABSENT or node is None:
            return node
    return node


def is_missing(case: Case, path: str) -> bool:
    """Whether ``path`` is unknown in ``case`` (left out, ``null`` or ``"unknown"``).

    ``lesions`` is missing when it was left out (an explicit empty list is an answer).
    """
    if path == "lesions":
        return not case.lesions_recorded
    value = _value(case, path)
    return value is None or value is _ABSENT or value == "unknown"


def only_missing(case: Case, paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` without the fields recorded in ``case``, in order, without repeats."""
    return tuple(p for p in dict.fromkeys(paths) if is_missing(case, p))


def in_words(case: Case, path: str) -> str:
    """Plain words for a field path, then the path (``ESCC grade at T5 (lesions[0].escc)``)."""
    match = _LESION_PATH.match(path)
    if match:
        index, name = int(match.group(1)), match.group(2)
        where = case.lesions[index].label if index < len(case.lesions) else f"lesion {index}"
        words = _LESION_WORDS.get(name, name.replace("_", " "))
        return f"{words} at {where} ({path})"
    words = _WORDS.get(path)
    if words is None:
        last = path.rsplit(".", 1)[-1]
        words = ("serum " if path.startswith("labs.") else "") + last.replace("_", " ")
    return f"{words} ({path})"
