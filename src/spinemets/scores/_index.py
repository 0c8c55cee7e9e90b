"""The registry listing without loading the registry: a JSON index checked against its sources.

``spinemets scores`` lists every score's :meth:`ScoreDefinition.summary`. Building those means
importing pydantic, building the table models and validating every table: most of the
command's start-up. ``_index.json`` (beside this module) holds the same summaries, generated
from the tables by ``python -m spinemets.scores.gen_index``, with the SHA-256 of every file they
were built from: the score tables, the histology catalogue the tables are checked against, and
the code that loads, checks and summarises them.

The tables stay the one source of truth. :func:`summaries` uses the index only when that hash
matches the files as they are now (read and hashed on every call, 1-2 ms);
otherwise (a table edited and the index not regenerated, a new table, a package installed
without its sources) it loads the registry as before. Nothing is written at run time, so
several processes never race on it; a test fails when the committed index is out of date.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["INDEX", "build", "source_key", "summaries"]

#: Format of ``_index.json``; bumped when its layout changes (an old index is then ignored).
FORMAT = 1

_PACKAGE = Path(__file__).resolve().parents[1]  # src/spinemets
INDEX = Path(__file__).with_name("_index.json")

#: Files the summaries depend on, beside the tables themselves (relative to the package).
_CODE = ("scores/_schema.py", "scores/_registry.py", "domain/_histology.py",
         "knowledge/histology.yaml")


def _sources() -> list[Path]:
    tables = sorted((_PACKAGE / "scores" / "tables").glob("*.yaml"), key=lambda p: p.name)
    return [*tables, *(_PACKAGE / name for name in _CODE)]


def source_key() -> str | None:
    """SHA-256 over the name and text of every source file; None if one cannot be read.

    Line endings are normalised, so a checkout with CRLF endings gives the same key.
    """
    digest = hashlib.sha256()
    try:
        for path in _sources():
            data = path.read_bytes().replace(b"\r\n", b"\n")
            name = path.relative_to(_PACKAGE).as_posix().encode()
            digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
            digest.update(data)
    except OSError:
        return None
    return digest.hexdigest()


def build() -> dict[str, Any]:
    """The index as written to ``_index.json``: the key and every score's summary."""
    from spinemets.scores._registry import registry  # noqa: PLC0415 - the slow path itself

    return {"format": FORMAT, "key": source_key(),
            "scores": [defn.summary() for defn in registry().values()]}


def _cached() -> list[dict[str, Any]] | None:
    try:
        index = json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        return None
    key = source_key()
    scores = index.get("scores")
    if key is None or index.get("key") != key or not isinstance(scores, list):
        return None
    return scores


def summaries() -> list[dict[str, Any]]:
    """Every registered score's summary, in registry order (see module)."""
    cached = _cached()
    if cached is not None:
        return cached
    from spinemets.scores._registry import registry  # noqa: PLC0415 - index stale or absent

    return [defn.summary() for defn in registry().values()]
