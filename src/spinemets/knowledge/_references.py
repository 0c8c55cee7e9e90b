"""The reference list (``knowledge/references.yaml``): every source the tables cite.

Each entry is a published source (article, guideline, product label) with its identifiers, or
the project's own rule book (kind ``project``) for rules whose basis is standard practice or a
local decision. An entry with neither DOI, PMID nor URL must say why (``no_identifier``): no
identifier is ever filled in from memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from spinemets._yaml import safe_load
from spinemets.errors import DefinitionError

__all__ = ["Reference", "reference_list"]

Kind = Literal["article", "guideline", "label", "project"]
_KINDS = ("article", "guideline", "label", "project")
_FIELDS = frozenset({
    "kind", "authors", "title", "container", "year", "locator", "doi", "pmid", "pmcid",
    "guideline_id", "section", "url", "identifiers", "no_identifier", "note", "document",
    "short"})


@dataclass(frozen=True, slots=True)
class Reference:
    """One source of the reference list."""

    key: str
    kind: Kind
    title: str
    authors: str | None = None
    container: str | None = None
    year: int | None = None
    locator: str | None = None
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    guideline_id: str | None = None
    section: str | None = None
    url: str | None = None
    identifiers: str | None = None
    no_identifier: str | None = None
    note: str | None = None
    document: str | None = None
    #: In-text label where first author and year would not do (a label, an unnamed series).
    short: str | None = None

    @property
    def has_identifier(self) -> bool:
        """Whether a reader can follow it: a DOI, a PMID or a URL."""
        return bool(self.doi or self.pmid or self.url)

    @property
    def doi_url(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else None

    @property
    def pubmed_url(self) -> str | None:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else None

    def bibliographic(self) -> str:
        """Authors, title, journal or body, year and locator (no identifiers)."""
        if self.kind == "project":
            return f"{self.title}. {self.document}; {self.section}."
        if self.kind in ("guideline", "label"):
            parts = [self.container, self.title, self.guideline_id]
            text = ". ".join(p.rstrip(".") for p in parts if p)
            if self.section:
                text += f", {self.section}"
            return text + (f". {self.year}." if self.year else ".")
        title = self.title if self.title.endswith((".", "?", "]")) else self.title + "."
        text = " ".join(p for p in (self.authors, title) if p)
        if self.container:
            text += f" {self.container}"
        if self.year:
            text += f" {self.year}" + (f";{self.locator}" if self.locator else "")
        return text.rstrip(".") + "."

    def citation(self) -> str:
        """The full citation shown in outputs: the source and how to find it."""
        ids = [f"doi:{self.doi}" if self.doi else "", f"PMID: {self.pmid}" if self.pmid else "",
               self.pmcid or "", self.url or ""]
        found = ". ".join(i for i in ids if i)
        if found:
            return f"{self.bibliographic()} {found}."
        if self.kind == "project":
            return self.bibliographic()
        return f"{self.bibliographic()} No DOI, PMID or URL verified."


def _reference(key: str, raw: Any) -> Reference:
    where = f"references.yaml: {key}"
    if not isinstance(raw, Mapping) or set(raw) - _FIELDS:
        raise DefinitionError(f"{where}: an entry is a mapping of {sorted(_FIELDS)}")
    if raw.get("kind") not in _KINDS or not raw.get("title"):
        raise DefinitionError(f"{where}: needs a kind ({', '.join(_KINDS)}) and a title")
    text = {str(k): str(v) for k, v in raw.items() if v is not None and k not in ("kind", "year")}
    ref = Reference(key=key, kind=raw["kind"], year=int(raw["year"]) if raw.get("year") else None,
                    **text)
    if ref.kind == "project":
        if not ref.document:
            raise DefinitionError(f"{where}: a project entry names its shipped document")
    elif ref.has_identifier == bool(ref.no_identifier):
        raise DefinitionError(
            f"{where}: give a DOI, PMID or URL, or else say why not (no_identifier), not both")
    return ref


@cache
def reference_list() -> Mapping[str, Reference]:
    """Citation key -> :class:`Reference`, in the file's order (validated at load)."""
    text = resources.files("spinemets.knowledge").joinpath("references.yaml").read_text("utf-8")
    data = safe_load(text)
    return {str(k): _reference(str(k), v) for k, v in data["references"].items()}
