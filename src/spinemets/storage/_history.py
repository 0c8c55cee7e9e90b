"""Pure helpers over case versions: provenance of a plan and differences between documents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["Change", "diff_documents", "tables_fingerprint"]

#: Packages whose ``tables/`` directory holds clinical content (scores and rule tables).
_TABLE_PACKAGES = ("spinemets.scores", "spinemets.rules")


def _files(root: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            yield from _files(entry, name)
        elif entry.name.endswith((".yaml", ".yml", ".toml", ".json")):
            yield name, entry.read_bytes()


@cache
def tables_fingerprint() -> str:
    """SHA-256 over every clinical table file (name and bytes), in a stable order.

    Stored with each version so a plan can be tied to the exact tables that produced it.
    """
    digest = hashlib.sha256()
    for package in _TABLE_PACKAGES:
        try:
            root = resources.files(package).joinpath("tables")
        except ModuleNotFoundError:  # pragma: no cover - part of the core install
            continue
        if not root.is_dir():
            continue
        for name, data in _files(root, package):
            digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Change:
    """One differing leaf between two documents (``None`` on a side where it is absent)."""

    path: str
    before: Any
    after: Any


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in value:
            _flatten(value[key], f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def diff_documents(before: Any, after: Any) -> list[Change]:
    """Leaf-by-leaf differences (dotted paths such as ``lesions[0].sins.pain``), sorted."""
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    _flatten(before, "", left)
    _flatten(after, "", right)
    changes = []
    for path in sorted(left.keys() | right.keys()):
        a, b = left.get(path), right.get(path)
        if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True,
                                                                     default=str):
            changes.append(Change(path=path, before=a, after=b))
    return changes
