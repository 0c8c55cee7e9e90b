"""Words for ids, field paths and values (``labels.yaml``), with plain fallbacks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from spinemets._yaml import safe_load
from spinemets.domain import catalogue

__all__ = ["field_label", "histology_label", "item_label", "labels", "value_label", "words"]

_LESION_PATH = re.compile(r"lesions\[(\d+)\]\.(\w+)(?:\[\d+\])?\Z")


@cache
def labels() -> Mapping[str, Any]:
    """The parsed ``labels.yaml`` (read once)."""
    text = resources.files("spinemets.report").joinpath("labels.yaml").read_text("utf-8")
    data: Mapping[str, Any] = safe_load(text)
    return data


def words(identifier: str) -> str:
    """An id in words: ``lung_nsclc`` -> ``lung nsclc`` (the last resort)."""
    return identifier.replace("_", " ")


def _table(name: str) -> Mapping[str, Any]:
    table: Mapping[str, Any] = labels().get(name) or {}
    return table


def item_label(item_id: str) -> str:
    entry = _table("items").get(item_id) or {}
    return str(entry.get("label") or words(item_id).capitalize())


def histology_label(histology_id: str) -> str:
    row = catalogue().get(histology_id)
    return row.label if row is not None else words(histology_id)


def field_label(path: str, lesion_labels: tuple[str, ...] = ()) -> str:
    """A case field path in words: ``lesions[0].escc`` -> ``ESCC grade at T12``."""
    match = _LESION_PATH.match(path)
    if match:
        index, name = int(match.group(1)), match.group(2)
        text = _table("lesion_fields").get(name) or words(name).capitalize()
        where = lesion_labels[index] if index < len(lesion_labels) else f"lesion {index + 1}"
        return f"{text} at {where}"
    known = _table("fields").get(path)
    if known:
        return str(known)
    if path.startswith("labs."):
        name = path.removeprefix("labs.")
        entry = _table("labs").get(name) or {}
        return str(entry.get("label") or words(name).capitalize())
    if "." not in path:  # a score input name (``ecog``): the case field that ends with it
        for key, text in _table("fields").items():
            if key.endswith("." + path):
                return str(text)
        if path in _table("labs"):
            return field_label("labs." + path)
    return words(path.rsplit(".", 1)[-1]).capitalize()


def unit_label(unit: str) -> str:
    shown = _table("units").get(unit)
    return unit if shown is None else str(shown)


def value_label(path: str, value: Any) -> str:
    """A recorded value in words for the field at ``path``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping) and "value" not in value:
        return ", ".join(f"{field_label(str(k))} {value_label(str(k), v)}"
                         for k, v in value.items())
    if isinstance(value, Mapping):
        unit = unit_label(str(value.get("unit", "")))
        number = value["value"]
        text = f"{number:g}" if isinstance(number, float) else str(number)
        return f"{text} {unit}".strip()
    last = path.rsplit(".", 1)[-1]
    if last == "primary" and isinstance(value, str):
        return histology_label(value)
    if isinstance(value, float):
        return f"{value:g}"
    table = _table("values").get(last) or {}
    return str(table.get(str(value), words(str(value))))
