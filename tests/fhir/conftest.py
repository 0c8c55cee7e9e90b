"""Shared FHIR test helpers: the vendored R4 JSON schema and the synthetic fixture Bundles."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fhir"
BUNDLES = sorted((FIXTURES / "bundles").glob("*.json"))
MALFORMED = "synth-1-007"


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((FIXTURES / "schema" / "fhir.schema.json").read_text())
    schema.pop("oneOf")  # the root oneOf hides the real error: validate per resource type
    return schema


@cache
def _validator(kind: str) -> Draft6Validator:
    return Draft6Validator({**_schema(), "$ref": f"#/definitions/{kind}"})


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Errors of ``resource`` against the official R4 JSON schema (per resource type)."""
    validator = _validator(resource["resourceType"])
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(resource)]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def schema_check() -> Callable[[dict[str, Any]], list[str]]:
    return schema_errors
