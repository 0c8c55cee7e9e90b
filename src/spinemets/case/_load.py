"""Reading a ``spinemets-case/1`` document: one clear problem per bad field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from spinemets._yaml import safe_load
from spinemets.case._model import Case
from spinemets.errors import CaseFormatError, ProblemDetail

__all__ = ["load_case"]

_TYPE_MESSAGES = {
    "model_type": "must be an object (a mapping of named fields)",
    "dict_type": "must be an object (a mapping of named fields)",
    "tuple_type": "must be a list",
    "string_type": "must be text",
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "case"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Case
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _nested_model(field.annotation)
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _problems(error: ErrorDetails) -> list[ProblemDetail]:
    loc = tuple(error["loc"])
    path = _path(loc)
    value = error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    kind = error["type"]
    if kind == "spinemets":
        shown = ctx.get("item", value if _simple(value) else None)
        first = ProblemDetail(path + str(ctx.get("subfield", "")), str(error["msg"]), shown,
                              tuple(ctx.get("allowed", ())))
        more = [ProblemDetail(f"{path}[{i}]", message, None, first.allowed)
                for i, message in ctx.get("more", ())]
        extra = [ProblemDetail(path + sub, message, item)
                 for sub, message, item in ctx.get("extra", ())]
        return [first, *more, *extra]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = tuple(model.model_fields) if model is not None else ()
        return [ProblemDetail(path, "is not a field of spinemets-case/1", None, allowed)]
    if kind == "literal_error" and loc == ("format",):
        return [ProblemDetail(path, "is not a supported case format", value,
                              ("spinemets-case/1",))]
    message = _TYPE_MESSAGES.get(kind, str(error["msg"]))
    return [ProblemDetail(path, message, value if _simple(value) else None)]


def _simple(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _read(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CaseFormatError.single("file", f"cannot read {path}: {exc.strerror}",
                                     value=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseFormatError.single(
            "file", f"{path.name} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset "
            f"{exc.start} cannot be decoded ({exc.reason}); save the file as UTF-8",
            value=str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError, or a number too long
        raise CaseFormatError.single("file", f"{path.name} is not valid JSON/YAML: {exc}",
                                     value=str(path)) from None


def load_case(data: Case | Mapping[str, Any] | str | Path) -> Case:
    """Validate a case (a mapping, a ``Case``, or the path of a JSON/YAML file).

    Parameters
    ----------
    data
        The ``spinemets-case/1`` document.

    Returns
    -------
    Case
        The validated, frozen case. Unknown fields stay ``None``.

    Raises
    ------
    CaseFormatError
        One :class:`~spinemets.errors.ProblemDetail` per problem, each naming its field path.
    """
    if isinstance(data, Case):
        return data
    if isinstance(data, str | Path):
        data = _read(Path(data))
    if not isinstance(data, Mapping):
        raise CaseFormatError.single("case", "a case must be an object (mapping of sections)",
                                     value=type(data).__name__)
    try:
        return Case.model_validate(dict(data))
    except ValidationError as exc:
        problems = [p for error in exc.errors() for p in _problems(error)]
        raise CaseFormatError(problems) from None
