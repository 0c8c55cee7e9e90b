"""CDS Hooks 2.0 service: discovery, the ``patient-view`` service and its feedback endpoint.

Configuration (``SPINEMETS_CDS_*`` environment variables, read when the first request needs it
or set on ``app.state.spinemets_cds`` by the caller):

- ``issuers``: JSON object, allow-listed ``iss`` -> its JWKS (``{"keys": [...]}``);
- ``allowed_jku``: JSON list of allow-listed ``jku`` header values;
- ``service_base``: the public base URL of ``/cds-services`` (the JWT ``aud`` is
  ``{service_base}/{id}``, exactly); default: the URL the request came to;
- ``allowed_origins``: JSON list of browser origins allowed by CORS (none by default);
- ``insecure_disable_auth``: development only, off by default, logged loudly when on.

Every call is audited through :func:`audit` into the application's audit trail (service, hook
instance, outcome, issuer; no case content). Feedback on cards is stored in ``cds_feedback``;
the Bundle behind a card's link is kept for an hour in ``cds_handoffs`` (found by the hash of
the link's token, so every worker can open it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from spinemets import storage
from spinemets.fhir._cds import PREFETCH, SERVICE_ID, cards, service_definition
from spinemets.fhir._jwt import JwtError, JwtVerifier
from spinemets.web._audit import count_anonymous_call
from spinemets.web.api._strict import StrictJSONRoute

__all__ = ["CdsSettings", "audit", "feedback_entries", "router"]

logger = logging.getLogger("spinemets.cds")
router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], route_class=StrictJSONRoute)


class CdsSettings(BaseSettings):
    """CDS Hooks settings (environment variables prefixed ``SPINEMETS_CDS_``)."""

    model_config = SettingsConfigDict(env_prefix="SPINEMETS_CDS_", extra="ignore")

    issuers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    allowed_jku: list[str] = Field(default_factory=list)
    service_base: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    insecure_disable_auth: bool = False


class _Runtime:
    def __init__(self, settings: CdsSettings) -> None:
        self.settings = settings
        self.verifier = JwtVerifier(settings.issuers, allowed_jku=tuple(settings.allowed_jku))


def _runtime(request: Request) -> _Runtime:
    state = request.app.state
    runtime: _Runtime | None = getattr(state, "spinemets_cds_runtime", None)
    if runtime is None:
        settings = getattr(state, "spinemets_cds", None) or CdsSettings()
        runtime = _Runtime(settings)
        state.spinemets_cds_runtime = runtime
        if settings.insecure_disable_auth:
            logger.critical("CDS HOOKS JWT CHECK IS OFF (SPINEMETS_CDS_INSECURE_DISABLE_AUTH): "
                            "development only, never expose this service")
    return runtime


def _sessions(request: Request) -> Any:
    return request.app.state.spinemets.sessions


def audit(request: Request, action: str, outcome: str, *, issuer: str | None = None,
          **fields: Any) -> None:
    """One audit record per CDS call (ids and outcomes only, never case content).

    The actor is ``cds:<issuer>`` once the JWT is verified; ``fields`` go to the detail.
    """
    detail = " ".join(f"{k}={v}" for k, v in sorted(fields.items()) if v is not None)
    with _sessions(request).begin() as session:
        storage.record_audit(session, action=action, outcome=outcome,
                             actor=f"cds:{issuer}"[:80] if issuer else None,
                             client=request.client.host if request.client else "",
                             target=fields.get("service"), detail=detail)


def feedback_entries(request: Request, *, limit: int = 500) -> list[dict[str, Any]]:
    """The feedback stored so far, newest first (for the admin page)."""
    with _sessions(request).begin() as session:
        return [{"id": f.id, "received_at": f.received_at, "service": f.service,
                 "iss": f.issuer, "card": f.card, "outcome": f.outcome,
                 "outcomeTimestamp": f.outcome_at, "override_code": f.override_code,
                 "override_text": f.override_text,
                 "acceptedSuggestions": f.accepted_suggestions}
                for f in storage.list_cds_feedback(session, limit=limit)]


def _outcome(status: int, code: str, text: str, request: Request) -> JSONResponse:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    response = JSONResponse(body, status_code=status, media_type="application/fhir+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    _cors(request, response)
    return response


def _cors(request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    if origin and origin in _runtime(request).settings.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"


def _json(request: Request, body: dict[str, Any]) -> JSONResponse:
    response = JSONResponse(body)
    _cors(request, response)
    return response


def _authorised(request: Request, service: str) -> JSONResponse | dict[str, Any]:
    runtime = _runtime(request)
    settings = runtime.settings
    if settings.insecure_disable_auth:
        environment = request.app.state.spinemets.settings.environment
        if environment == "development":
            logger.critical("CDS Hooks call accepted WITHOUT JWT verification (development)")
            return {"iss": "unverified"}
    base = settings.service_base or str(request.base_url).rstrip("/") + "/cds-services"
    audience = f"{base.rstrip('/')}/{service}"
    try:
        return runtime.verifier.verify(request.headers.get("authorization"), audience=audience)
    except JwtError as exc:
        audit(request, "cds_call", "refused", service=service,
              reason=str(exc).replace(" ", "_")[:60])
        return _outcome(401, "security", str(exc), request)


@router.get("", summary="CDS Hooks discovery")
def discovery(request: Request) -> JSONResponse:
    # Anonymous and cheap: an hourly counter, not an audit row per call (unbounded growth).
    count_anonymous_call(request.app.state.spinemets, route="/cds-services")
    return _json(request, {"services": [service_definition()]})


@router.options("", include_in_schema=False)
@router.options("/{service}", include_in_schema=False)
@router.options("/{service}/feedback", include_in_schema=False)
def preflight(request: Request) -> Response:
    response = Response(status_code=204)
    _cors(request, response)
    return response


class _Authorization(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str


class _Context(BaseModel):
    model_config = ConfigDict(extra="allow")

    userId: str  # noqa: N815 - CDS Hooks field names
    patientId: str  # noqa: N815
    encounterId: str | None = None  # noqa: N815


class _HookRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    hook: Literal["patient-view"]
    hookInstance: uuid.UUID  # noqa: N815
    context: _Context
    fhirServer: str | None = None  # noqa: N815
    fhirAuthorization: _Authorization | None = None  # noqa: N815
    prefetch: dict[str, Any] | None = None


class _DataMissingError(Exception):
    pass


def _fetch(hook: _HookRequest, key: str) -> Any:
    if not hook.fhirServer:
        raise _DataMissingError(f"prefetch {key!r} is missing and no fhirServer was given")
    query = PREFETCH[key].replace("{{context.patientId}}", hook.context.patientId)
    headers = {"Accept": "application/fhir+json"}
    if hook.fhirAuthorization is not None:
        headers["Authorization"] = f"Bearer {hook.fhirAuthorization.access_token}"
    try:
        with httpx.Client(timeout=10.0) as client:
            response = client.get(f"{hook.fhirServer.rstrip('/')}/{query}", headers=headers)
    except httpx.HTTPError as exc:
        raise _DataMissingError(f"{key}: the FHIR server could not be reached") from exc
    if response.status_code != 200:
        raise _DataMissingError(f"{key}: the FHIR server answered {response.status_code}")
    return response.json()


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e for e in value.get("entry") or () if isinstance(e, dict)
                and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") != "OperationOutcome"]
    return [{"resource": value}] if value.get("resourceType") else []


def _gather(hook: _HookRequest) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    prefetch = hook.prefetch or {}
    for key in PREFETCH:
        value = prefetch[key] if key in prefetch else _fetch(hook, key)
        entries.extend({k: v for k, v in e.items() if k in {"fullUrl", "resource"}}
                       for e in _entries(value))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def cds_case(request: Request, token: str) -> dict[str, Any] | None:
    """The FHIR Bundle behind a card's link (kept for an hour), if still there.

    The clinician import page (``/clinician/fhir/import?cds=<token>``) imports it again and
    shows the report before anything is saved.
    """
    with _sessions(request).begin() as session:
        return storage.open_cds_handoff(session, token=token)


def _respond(request: Request, hook: _HookRequest, bundle: dict[str, Any]) -> JSONResponse:
    from spinemets.fhir import import_bundle  # noqa: PLC0415
    from spinemets.rules import plan as make_plan  # noqa: PLC0415

    result = import_bundle(bundle)
    plan = make_plan(result.case).to_dict()
    with _sessions(request).begin() as session:
        token = storage.store_cds_handoff(session, bundle=bundle)
    link = {"label": "Open in the spinemets clinician workspace",
            "url": str(request.base_url).rstrip("/") + f"/clinician/fhir/import?cds={token}",
            "type": "smart", "appContext": token}
    stale = [f"{u.source} ({u.detail})" for u in result.stale]
    return _json(request, {"cards": cards(plan, has_lesions=bool(result.case.lesions),
                                          stale=stale, link=link)})


@router.post("/{service}", summary="CDS Hooks service call (patient-view)")
def call_service(request: Request, service: str,
                 body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    if service != SERVICE_ID:
        return _outcome(404, "not-found", f"no CDS service {service!r}", request)
    claims = _authorised(request, service)
    if isinstance(claims, JSONResponse):
        return claims
    issuer = str(claims.get("iss"))
    try:
        hook = _HookRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        audit(request, "cds_call", "invalid", issuer=issuer, service=service, status=400)
        return _outcome(400, "invalid", f"{where}: {first['msg']}", request)
    from spinemets.errors import InputError  # noqa: PLC0415

    instance = str(hook.hookInstance)
    try:
        bundle = _gather(hook)
        response = _respond(request, hook, bundle)
    except _DataMissingError as exc:
        audit(request, "cds_call", "incomplete", issuer=issuer, service=service,
              hook_instance=instance, status=412)
        return _outcome(412, "incomplete", str(exc), request)
    except InputError as exc:
        audit(request, "cds_call", "invalid", issuer=issuer, service=service,
              hook_instance=instance, status=422)
        return _outcome(422, "invalid", "; ".join(str(p) for p in exc.problems)[:500], request)
    audit(request, "cds_call", "success", issuer=issuer, service=service,
          hook_instance=instance, status=200,
          patient=hashlib.sha256(hook.context.patientId.encode()).hexdigest()[:12])
    return response


class _Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: str
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] | None = None  # noqa: N815
    overrideReason: dict[str, Any] | None = None  # noqa: N815
    outcomeTimestamp: dt.datetime  # noqa: N815


class _FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: list[_Feedback] = Field(min_length=1)


@router.post("/{service}/feedback", summary="CDS Hooks feedback on a card")
def feedback(request: Request, service: str,
             body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    if service != SERVICE_ID:
        return _outcome(404, "not-found", f"no CDS service {service!r}", request)
    claims = _authorised(request, service + "/feedback")
    if isinstance(claims, JSONResponse):
        return claims
    issuer = str(claims.get("iss"))
    try:
        parsed = _FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        audit(request, "cds_feedback", "invalid", issuer=issuer, service=service)
        return _outcome(400, "invalid", ".".join(str(p) for p in first["loc"]) + ": "
                        + first["msg"], request)
    with _sessions(request).begin() as session:
        for item in parsed.feedback:
            storage.record_cds_feedback(
                session, service=service, issuer=issuer, card=item.card, outcome=item.outcome,
                outcome_at=item.outcomeTimestamp, **_override(item.overrideReason),
                accepted_suggestions=item.acceptedSuggestions)
            storage.record_audit(session, action="cds_feedback", outcome="success",
                                 actor=f"cds:{issuer}"[:80], target=service,
                                 client=request.client.host if request.client else "",
                                 detail=f"card={item.card} outcome={item.outcome}")
    return _json(request, {})


def _override(reason: dict[str, Any] | None) -> dict[str, str | None]:
    """The override reason's code and text (a CDS Hooks ``OverrideReason``)."""
    if not reason:
        return {"override_code": None, "override_text": None}
    raw = reason.get("reason")
    coding: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = coding.get("code") if isinstance(coding.get("code"), str) else None
    comment = reason.get("userComment")
    text = comment if isinstance(comment, str) else (
        coding.get("display") if isinstance(coding.get("display"), str) else None)
    return {"override_code": code, "override_text": text}
