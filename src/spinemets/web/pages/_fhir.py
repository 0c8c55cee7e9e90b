"""Clinician page: import a FHIR R4 Bundle, review the report, then save it as a case version.

``/clinician/fhir/import`` takes a Bundle (uploaded file or pasted JSON) or a CDS Hooks card's
link (``?cds=<token>``) and shows the import report first: each value with its source, every
resource or element not used with its reason, and stale observations with a checkbox to use
them anyway. Nothing is stored until the clinician saves; the save goes through the same
storage path as the case form (a new case, or a new version of an existing case made from
the version shown: never an overwrite) and is audited in the same transaction.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from spinemets import storage
from spinemets.errors import InputError
from spinemets.storage import User
from spinemets.web._app import MAX_FHIR_BODY_BYTES
from spinemets.web._state import Permission, client_address, get_state, requires
from spinemets.web.pages._workspace import (
    _audit,
    _provenance,
    _render,
    _require_csrf,
    current_user,
)

__all__ = ["router"]

P = Permission
router = APIRouter(prefix="/clinician/fhir")
_TEMPLATE = "fhir/import.html"


def _problems(*messages: tuple[str, str]) -> list[dict[str, str]]:
    return [{"field": field, "message": message, "href": f"#f-{field}"}
            for field, message in messages]


def _field_label(path: str) -> str:
    """A case field path in words (``lesions[0].levels`` -> "Levels at lesion 1")."""
    from spinemets.report._labels import field_label  # noqa: PLC0415 - labels load lazily

    return field_label(path)


def _page(request: Request, ctx: dict[str, Any], status_code: int = 200) -> Response:
    base: dict[str, Any] = {
        "problems": [], "report": None, "bundle_text": "", "accepted": [], "ref": "",
        "mode": "new", "base_version": "", "cds": "", "existing_version": "",
        "ref_rule": storage.CASE_REF_RULE, "field_label": _field_label}
    return _render(request, _TEMPLATE, current_user(request), {**base, **ctx},
                   status_code=status_code)


def _report(bundle: Any, accepted: list[str]) -> dict[str, Any]:
    """Import ``bundle`` (nothing stored) and shape the report for the page."""
    from spinemets.fhir import import_bundle  # noqa: PLC0415 - the fhir extra

    result = import_bundle(bundle, accept_stale=accepted)
    stale = {u.source for u in result.stale}
    sources = {m.source for m in result.mapped}
    used = sorted(a for a in accepted if a not in stale and a in sources)
    # Accepted observations stay in the list, ticked, so the choice can be undone.
    listed = [u.to_dict() for u in result.stale] + [
        {"source": a, "field": None, "detail": "used although stale", "date": None}
        for a in used]
    return {"document": result.document,
            "mapped": [m.to_dict() for m in result.mapped],
            "unused": [u.to_dict() for u in result.unused if u.source not in stale],
            "stale": listed, "accepted_used": used, "as_of": result.as_of}


@router.get("/import", response_class=HTMLResponse, dependencies=[requires(P.CASE_WRITE)])
def import_form(request: Request, cds: str | None = None) -> Response:
    """The upload form; with ``?cds=<token>`` the Bundle behind a CDS Hooks card, imported."""
    if not cds:
        return _page(request, {})
    from spinemets.web.cds import cds_case  # noqa: PLC0415 - CDS router is optional

    bundle = cds_case(request, cds[:200])
    user = current_user(request)
    state = get_state(request)
    if bundle is None:
        _audit(state, request, action="fhir_import", outcome="not_found", user=user,
               detail="cds link expired or unknown")
        return _page(request, {"problems": _problems(
            ("bundle", "The link from the EHR has expired (links last an hour) or is not "
                       "known: open the patient in the EHR again, or paste the Bundle."))},
            status_code=404)
    _audit(state, request, action="fhir_import", outcome="preview", user=user,
           detail="from cds card")
    text = json.dumps(bundle)
    return _preview(request, text, bundle, [], {"cds": "1"})


def _preview(request: Request, text: str, bundle: Any, accepted: list[str],
             extra: dict[str, Any], *, status_code: int = 200) -> Response:
    try:
        report = _report(bundle, accepted)
    except InputError as exc:
        return _page(request, {"bundle_text": text, "problems": _problems(
            *(("bundle", f"{p.field}: {p.message}") for p in exc.problems[:20]))},
            status_code=422)
    extra = {**extra, "ref": extra.get("ref") or f"fhir-{secrets.token_hex(3)}"}
    return _page(request, {"report": report, "bundle_text": text, "accepted": accepted,
                           **extra}, status_code=status_code)


async def _bundle_text(form: FormData) -> str:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read()
        return raw.decode("utf-8", errors="replace")
    return str(form.get("bundle") or "")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(text: str) -> tuple[Any, list[dict[str, str]]]:
    if not text.strip():
        return None, _problems(("bundle", "Choose a file or paste a FHIR Bundle (JSON)."))
    try:
        value = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None, _problems(("bundle", "The Bundle is not valid JSON."))
    if not isinstance(value, dict):
        return None, _problems(("bundle", "The JSON is not a FHIR resource (an object)."))
    return value, []


@router.post("/import", response_class=HTMLResponse, dependencies=[requires(P.CASE_WRITE)])
async def import_submit(request: Request) -> Response:
    """Preview (``action=preview``) or save (``action=save``) an imported Bundle."""
    # A pasted Bundle is one form field: real EHR Bundles pass Starlette's 1 MB field default.
    form = await request.form(max_part_size=MAX_FHIR_BODY_BYTES)
    try:
        _require_csrf(request, str(form.get("csrf") or ""))
        text = await _bundle_text(form)
    finally:
        await form.close()  # the uploaded file's spooled temporary file
    accepted = [str(a)[:200] for a in form.getlist("accept")][:200]
    bundle, problems = _parse(text)
    if problems:
        return _page(request, {"bundle_text": text, "problems": problems}, status_code=422)
    extra = {"ref": str(form.get("ref") or "").strip(),
             "mode": "version" if form.get("mode") == "version" else "new",
             "base_version": str(form.get("base_version") or ""),
             "cds": str(form.get("cds") or "")}
    if form.get("action") != "save":
        await run_in_threadpool(_audit, get_state(request), request, action="fhir_import",
                                outcome="preview", user=current_user(request),
                                detail="uploaded bundle")
        return await run_in_threadpool(_preview, request, text, bundle, accepted, extra)
    return await run_in_threadpool(_save, request, text, bundle, accepted, extra)


def _save(request: Request, text: str, bundle: Any, accepted: list[str],
          extra: dict[str, Any]) -> Response:
    """Store the imported case as a new case or a new version (never an overwrite)."""
    ref = extra["ref"]
    try:
        storage.check_case_ref(ref)
    except storage.InvalidCaseRefError:
        return _refused(request, text, bundle, accepted, extra, status=422,
                        problem=("ref", f"Enter a case reference: {storage.CASE_REF_RULE}."))
    try:
        report = _report(bundle, accepted)
    except InputError:
        return _preview(request, text, bundle, accepted, extra)
    doc = {**report["document"], "id": ref}
    user = current_user(request)
    problem = _store(request, doc, extra, user)
    if problem is not None:
        return _refused(request, text, bundle, accepted, extra, status=409, problem=problem)
    return RedirectResponse(f"/clinician/cases/{quote(ref)}", status_code=303)


def _store(request: Request, doc: dict[str, Any], extra: dict[str, Any],
           user: User | None) -> tuple[str, str] | None:
    state = get_state(request)
    ref = doc["id"]
    info = _provenance(doc)
    base = int(extra["base_version"]) if extra["base_version"].isdigit() else 0
    detail = "fhir import" + (" (cds card)" if extra["cds"] else "")
    try:
        with state.sessions.begin() as session:
            if extra["mode"] == "version":
                storage.update_case(session, case_ref=ref, data=doc, base_version=base,
                                    user=user, reason="imported from FHIR", info=info)
                action = "case_update"
            else:
                storage.create_case(session, case_ref=ref, data=doc, user=user,
                                    reason="imported from FHIR", info=info)
                action = "case_create"
            storage.record_audit(session, action=action, outcome="success", user=user,
                                 client=client_address(request), case_ref=ref, detail=detail)
    except storage.CaseExistsError:
        _audit(state, request, action="case_create", outcome="refused", user=user,
               case_ref=ref, detail=f"{detail}: reference already used")
        return ("ref", f"A case with reference {ref} exists: choose another reference, or "
                       "add the import as a new version of that case.")
    except storage.StaleVersionError as exc:
        _audit(state, request, action="case_update", outcome="conflict", user=user,
               case_ref=ref, detail=f"{detail}: base {exc.base_version}, current "
               f"{exc.current_version}")
        return ("ref", f"Case {ref} is at version {exc.current_version}, not the version "
                       f"{exc.base_version} shown: review it, then save again.")
    except storage.CaseNotFoundError:
        return ("ref", f"There is no case {ref} to add a version to: save it as a new case.")
    return None


def _refused(request: Request, text: str, bundle: Any, accepted: list[str],
             extra: dict[str, Any], *, status: int, problem: tuple[str, str]) -> Response:
    """The preview again, with the problem, and the current version of an existing case."""
    ref = extra["ref"]
    current = ""
    if ref:
        with get_state(request).sessions.begin() as session:
            record = storage.get_case(session, case_ref=ref)
            current = str(record.current_version) if record is not None else ""
    extra = {**extra, "base_version": current, "existing_version": current}
    try:
        report = _report(bundle, accepted)
    except InputError:  # pragma: no cover - the bundle was read before
        report = None
    return _page(request, {"report": report, "bundle_text": text, "accepted": accepted,
                           "problems": _problems(problem), **extra}, status_code=status)
