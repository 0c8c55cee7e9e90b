"""The flat name of a score input: the cohort column and the local model's predictor name.

One name per score input, shared by the cohort table (:mod:`spinemets.cohort`) and a local
model's predictors (:mod:`spinemets.local_model`); see ``spinemets.cohort._columns`` for the
rules. Kept here, outside the cohort package, so that naming a column imports no numpy.
"""

from __future__ import annotations

from collections.abc import Mapping

from spinemets.domain import ANALYTES

__all__ = ["RENAMED_INPUTS", "column_for", "lab_column"]

#: (score slug, input name) -> cohort column, for inputs whose vocabulary differs between scores.
RENAMED_INPUTS: Mapping[tuple[str, str], str] = {
    ("tokuhashi_2005", "visceral_metastases"): "tokuhashi_visceral",
    ("tomita_2001", "visceral_metastases"): "tomita_visceral",
    ("katagiri_2014", "visceral_metastases"): "katagiri_visceral",
    ("tomita_2001", "growth"): "tomita_growth",
    ("katagiri_2014", "growth"): "katagiri_growth",
}

_UNIT_NAMES: Mapping[str, str] = {
    "g/dL": "g_per_dl",
    "mg/dL": "mg_per_dl",
    "U/L": "u_per_l",
    "10*3/uL": "10e3_per_ul",
    "ng/mL": "ng_per_ml",
    "1": "ratio",
}


def lab_column(analyte: str) -> str:
    """Cohort column of a laboratory analyte, in its canonical unit (``albumin_g_per_dl``).

    Parameters
    ----------
    analyte : str
        Analyte name as used by the scores (``albumin``).

    Returns
    -------
    str
        The column name.
    """
    unit = ANALYTES[analyte].canonical_unit
    return f"{analyte}_{_UNIT_NAMES[unit]}"


def column_for(slug: str, input_name: str) -> str:
    """The cohort column that feeds ``input_name`` of score ``slug``.

    Parameters
    ----------
    slug : str
        Score slug.
    input_name : str
        Input name of the single-case contract (``visceral_metastases``, ``albumin``).

    Returns
    -------
    str
        The cohort column name.
    """
    if (slug, input_name) in RENAMED_INPUTS:
        return RENAMED_INPUTS[slug, input_name]
    if input_name in ANALYTES:
        return lab_column(input_name)
    return input_name
