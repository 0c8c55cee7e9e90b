"""Cohort analytics: batch scoring at scale, survival validation, synthetic cohorts.

The scoring kernel is compiled from the score tables (one source of truth with the single-case
path) and runs on Arrow record batches, locally on every core or on Apache Spark.
See ``docs/cohort.md`` for the cohort schema and how to run on a Spark cluster.
"""

from spinemets.cohort._columns import RENAMED_INPUTS, CohortColumn, cohort_columns, column_for
from spinemets.cohort._files import save_text
from spinemets.cohort._kernel import Kernel, KernelOutput, compile_kernel
from spinemets.cohort._local import ScoreSummary, score_file, sidecar_path
from spinemets.cohort._report import render_html
from spinemets.cohort._spark import score_file_spark, score_spark_dataframe
from spinemets.cohort._synth import SYNTHETIC_NOTE, synth_file, synth_table
from spinemets.cohort._validate import (
    C_INDEX_CONVENTION,
    ValidationReport,
    validate_file,
    validate_table,
)

__all__ = [
    "C_INDEX_CONVENTION",
    "RENAMED_INPUTS",
    "SYNTHETIC_NOTE",
    "CohortColumn",
    "Kernel",
    "KernelOutput",
    "ScoreSummary",
    "ValidationReport",
    "cohort_columns",
    "column_for",
    "compile_kernel",
    "render_html",
    "save_text",
    "score_file",
    "score_file_spark",
    "score_spark_dataframe",
    "sidecar_path",
    "synth_file",
    "synth_table",
    "validate_file",
    "validate_table",
]
