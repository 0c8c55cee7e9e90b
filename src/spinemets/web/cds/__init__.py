"""CDS Hooks 2.0 service: discovery, the ``patient-view`` service and its feedback endpoint.

Configuration (``SPINEMETS_CDS_*`` environment variables, read when the first request needs it
or set on ``app.state.spinemets_cds`` by the caller):

- ``issuers``: JSON object, allow-listed ``iss`` -> its JWKS (``{"keys": [...]}``);
- ``allowed_jku``: JSON list of allow-listed ``jku`` header values;
- ``service_base``: the public base URL of ``/cds-services`` (the JWT ``aud`` is
  ``{service_base}/{id}``, exactly). Taken from configuration only, never from the request;
  required in production (calls are refused with 503 until it is set); elsewhere it defaults
  to ``http://localhost:8000/cds-services``;
- ``app_base``: the public base URL of the web app for card links (default: ``service_base``
  without ``/cds-services``);
- ``fhir_servers``: JSON object, issuer -> list of the FHIR base URLs the service may read for
  that issuer (``fhirServer`` must match one exactly; nothing else is ever fetched);
- ``fetch_budget_s`` (2), ``fetch_max_bytes`` (10 MB), ``fetch_max_pages`` (10): the time
  budget of all reads of one hook, the size limit of one answer and the page limit of a search;
- ``allowed_origins``: JSON list of browser origins allowed by CORS (none by default);
- ``insecure_disable_auth``: development only, off by default, logged loudly when on.

Data that cannot be read (an HTTP error, an OperationOutcome, HTML, a timeout) gives a
``warning`` card saying so, never "no cards"; an invalid resource is skipped and reported in a
card. Used ``jti`` values and issued card ids are kept in the database (every worker shares
them; feedback is accepted only for cards this service issued).

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from spinemets import storage
from spinemets.fhir._cds import (
    PREFETCH,
    SERVICE_ID,
    cards,
    notice_card,
    service_definition,
    with_record,
)
from spinemets.fhir._jwt import JwtError, JwtVerifier
from spinemets.fhir._read import Limits, hostile_shape
from spinemets.web._audit import count_anonymous_call
from spinemets.web._state import client_address
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.cds._fetch import (
    FHIR_ID,
    MAX_RESOURCES,
    Fetcher,
    FetchError,
    FetchLimits,
    allowed_base,
    outcome_errors,
)

__all__ = ["CdsSettings", "audit", "feedback_entries", "router"]

logger = logging.getLogger("spinemets.cds")
router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], route_class=StrictJSONRoute)


class CdsSettings(BaseSettings):
    """CDS Hooks settings (environment variables prefixed ``SPINEMETS_CDS_``)."""

    model_config = SettingsConfigDict(env_prefix="SPINEMETS_CDS_", extra="ignore")

    issuers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    allowed_jku: list[str] = Field(default_factory=list)
    service_base: str | None = None
    app_base: str | None = None
    fhir_servers: dict[str, list[str]] = Field(default_factory=dict)
    fetch_budget_s: float = Field(default=2.0, gt=0, le=30)
    fetch_max_bytes: int = Field(default=10_000_000, gt=0)
    fetch_max_pages: int = Field(default=10, ge=1, le=100)
    allowed_origins: list[str] = Field(default_factory=list)
    insecure_disable_auth: bool = False


#: ``service_base`` outside production when it is not configured (never the request's host).
DEV_SERVICE_BASE = "http://localhost:8000/cds-services"


class _Runtime:
    def __init__(self, settings: CdsSettings, sessions: Any) -> None:
        self.settings = settings

        def fresh(issuer: str, jti: str, exp: float) -> bool:
            until = dt.datetime.fromtimestamp(exp, dt.UTC)
            return storage.claim_cds_jti(sessions, issuer=issuer, jti=jti, expires_at=until)

        self.verifier = JwtVerifier(settings.issuers, allowed_jku=tuple(settings.allowed_jku),
                                    replay_store=fresh)
        self.limits = FetchLimits(settings.fetch_budget_s, settings.fetch_max_bytes,
                                  settings.fetch_max_pages)


def _runtime(request: Request) -> _Runtime:
    state = request.app.state
    runtime: _Runtime | None = getattr(state, "spinemets_cds_runtime", None)
    if runtime is None:
        settings = getattr(state, "spinemets_cds", None) or CdsSettings()
        runtime = _Runtime(settings, state.spinemets.sessions)
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
                             client=client_address(request),
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


def _service_base(request: Request) -> str | None:
    """The configured public base of ``/cds-services`` (None: production, not configured)."""
    base = _runtime(request).settings.service_base
    if base:
        return base.rstrip("/")
    if request.app.state.spinemets.settings.environment == "production":
        logger.critical("SPINEMETS_CDS_SERVICE_BASE is not set: CDS Hooks calls are refused "
                        "(the JWT audience comes from configuration only)")
        return None
    return DEV_SERVICE_BASE


def _app_base(request: Request) -> str:
    settings = _runtime(request).settings
    if settings.app_base:
        return settings.app_base.rstrip("/")
    return (_service_base(request) or DEV_SERVICE_BASE).removesuffix("/cds-services")


def _authorised(request: Request, service: str) -> JSONResponse | dict[str, Any]:
    runtime = _runtime(request)
    settings = runtime.settings
    if settings.insecure_disable_auth:
        environment = request.app.state.spinemets.settings.environment
        if environment == "development":
            logger.critical("CDS Hooks call accepted WITHOUT JWT verification (development)")
            return {"iss": "unverified"}
    base = _service_base(request)
    if base is None:
        audit(request, "cds_call", "refused", service=service, reason="no_service_base")
        return _outcome(503, "exception", "the CDS service's public URL "
                        "(SPINEMETS_CDS_SERVICE_BASE) is not configured", request)
    audience = f"{base}/{service}"
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

    userId: str = Field(max_length=500)  # noqa: N815 - CDS Hooks field names
    patientId: str = Field(pattern=FHIR_ID.pattern)  # noqa: N815 - a FHIR id: no traversal
    encounterId: str | None = Field(default=None, max_length=500)  # noqa: N815


class _HookRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    hook: Literal["patient-view"]
    hookInstance: uuid.UUID  # noqa: N815
    context: _Context
    fhirServer: str | None = Field(default=None, max_length=2000)  # noqa: N815
    fhirAuthorization: _Authorization | None = None  # noqa: N815
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None


class _DataMissingError(Exception):
    pass


#: Shape limits of a hook request (prefetch searches hold more items than one resource's lists)
_HOOK_LIMITS = Limits(depth=52, array=MAX_RESOURCES, entries=MAX_RESOURCES)


@dataclass
class _Gathered:
    """What the hook could read: entries, what could not be fetched, what was skipped."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _fetcher(hook: _HookRequest, issuer: str, runtime: _Runtime) -> Fetcher:
    """A reader of the hook's ``fhirServer`` if it is allow-listed for ``issuer``."""
    if not hook.fhirServer:
        raise _DataMissingError("prefetch is missing and no fhirServer was given")
    base = allowed_base(hook.fhirServer, runtime.settings.fhir_servers.get(issuer, []))
    if base is None:
        raise _DataMissingError("the fhirServer is not allow-listed for this issuer: nothing "
                                "is fetched from it")
    token = hook.fhirAuthorization.access_token if hook.fhirAuthorization else None
    return Fetcher(base, token, runtime.limits)


def _add_bundle(out: _Gathered, key: str, bundle: Mapping[str, Any]) -> None:
    for entry in bundle.get("entry") or ():
        if len(out.entries) >= MAX_RESOURCES:
            raise FetchError(f"{key}: more than {MAX_RESOURCES} resources in all; the rest "
                             "was not read")
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            out.skipped.append(f"{key}: an entry without a resource")
            continue
        if resource.get("resourceType") == "OperationOutcome":
            errors = outcome_errors(resource)
            if errors:
                out.failures.append(f"{key}: the FHIR server reported "
                                    + "; ".join(errors[:3]))
            continue
        kept = {"resource": dict(resource)}
        if isinstance(entry.get("fullUrl"), str):
            kept["fullUrl"] = entry["fullUrl"]
        out.entries.append(kept)


def _collect(out: _Gathered, key: str, value: Any, fetcher: Fetcher | None,
             runtime: _Runtime) -> None:
    """One prefetch key's data, following ``link[next]`` pages within the limits."""
    pages = 1
    while value is not None:
        kind = value.get("resourceType") if isinstance(value, Mapping) else None
        if kind == "OperationOutcome":
            errors = outcome_errors(value) or ["an OperationOutcome instead of data"]
            out.failures.append(f"{key}: the FHIR server answered " + "; ".join(errors[:3]))
            return
        if not isinstance(kind, str):
            out.failures.append(f"{key}: not a FHIR resource")
            return
        if kind != "Bundle":
            out.entries.append({"resource": dict(value)})
            return
        _add_bundle(out, key, value)
        following = fetcher.next_url(value) if fetcher is not None else None
        if following is None and fetcher is None and any(
                isinstance(link, Mapping) and link.get("relation") == "next"
                for link in value.get("link") or ()):
            out.failures.append(f"{key}: the search has more pages and no readable fhirServer")
            return
        if following is None:
            return
        if pages >= runtime.limits.max_pages:
            out.failures.append(f"{key}: more than {runtime.limits.max_pages} pages; the rest "
                                "was not read")
            return
        pages += 1
        value = fetcher.get(following, key) if fetcher is not None else None


def _gather(hook: _HookRequest, issuer: str, runtime: _Runtime) -> _Gathered:
    prefetch = hook.prefetch or {}
    missing = [key for key in PREFETCH if key not in prefetch]
    paged = any(isinstance(v, Mapping) and any(
        isinstance(link, Mapping) and link.get("relation") == "next"
        for link in v.get("link") or ()) for v in prefetch.values())
    fetcher = None
    if missing or (paged and hook.fhirServer):
        fetcher = _fetcher(hook, issuer, runtime)
    out = _Gathered()
    try:
        for key in PREFETCH:
            try:
                if key in prefetch:
                    value = prefetch[key]
                else:
                    query = PREFETCH[key].replace("{{context.patientId}}",
                                                  hook.context.patientId)
                    value = fetcher.get(f"{fetcher.base}/{query}", key) if fetcher else None
                _collect(out, key, value, fetcher, runtime)
            except FetchError as exc:
                out.failures.append(str(exc))
    finally:
        if fetcher is not None:
            fetcher.close()
    return out


def _checked_bundle(hook: _HookRequest, got: _Gathered) -> dict[str, Any]:
    """The readable resources as a collection Bundle; invalid ones skipped and reported."""
    from spinemets.fhir._import import model_check_needed  # noqa: PLC0415
    from spinemets.fhir._read import check_resource, hostile_shape  # noqa: PLC0415

    entries = []
    patient_seen = False
    for entry in got.entries:
        resource = entry["resource"]
        name = f"{resource.get('resourceType')}/{str(resource.get('id'))[:64]}"
        if model_check_needed(resource):
            problems = check_resource(resource)
        else:  # only its code is read (to report it): shape and type checks suffice
            shape = hostile_shape(resource, top="resource")
            problems = [shape] if shape is not None else []
        if problems:
            got.skipped.append(f"{name}: {problems[0].field}: {problems[0].message}"[:300])
            continue
        if resource["resourceType"] == "Patient":
            if resource.get("id") != hook.context.patientId:
                got.failures.append("patient: the Patient given is not the context patient: "
                                    "not used")
                continue
            patient_seen = True
            if hook.fhirServer:
                entries.append({**entry, "fullUrl": f"{hook.fhirServer.rstrip('/')}/{name}"})
                continue
        entries.append(entry)
    if not patient_seen and not any(f.startswith("patient") for f in got.failures):
        got.failures.append("patient: no Patient resource for the context patient")
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def cds_case(request: Request, token: str) -> dict[str, Any] | None:
    """The FHIR Bundle behind a card's link (kept for an hour), if still there.

    The clinician import page (``/clinician/fhir/import?cds=<token>``) imports it again and
    shows the report before anything is saved.
    """
    with _sessions(request).begin() as session:
        return storage.open_cds_handoff(session, token=token)


def _problem_cards(got: _Gathered, link: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    if got.failures:
        out.append(notice_card(
            "Spine check incomplete: part of the record could not be read from the EHR",
            "warning", [f"not fetched: {f}" for f in got.failures]
            + ["cards below (if any) use only the data that could be read; absent data is "
               "unknown, not normal"], link=link))
    if got.skipped:
        out.append(notice_card(f"{len(got.skipped)} record item(s) could not be read and were "
                               "skipped", "info", [f"skipped: {s}" for s in got.skipped[:20]],
                               link=link))
    return out


def _respond(request: Request, hook: _HookRequest, got: _Gathered,
             issuer: str) -> JSONResponse:
    from spinemets.fhir._import import (  # noqa: PLC0415
        DeceasedPatientError,
        Reason,
        import_checked,
    )
    from spinemets.rules import plan as make_plan  # noqa: PLC0415

    deceased = _deceased(hook, got)
    if deceased is not None:
        return _issue(request, [deceased], issuer)
    bundle = _checked_bundle(hook, got)
    try:
        result = import_checked(bundle)
    except DeceasedPatientError as exc:
        found = [notice_card("The record says this patient has died: spinemets made no spine "
                             "assessment", "info", [p.message for p in exc.problems])]
        return _issue(request, found, issuer)
    got.skipped.extend(f"{u.source}: {u.detail}" for u in result.unused
                       if u.reason == Reason.OTHER_SUBJECT)
    plan = make_plan(result.case).to_dict()
    with _sessions(request).begin() as session:
        token = storage.store_cds_handoff(session, bundle=bundle)
    link = {"label": "Open in the spinemets clinician workspace",
            "url": f"{_app_base(request)}/clinician/fhir/import?cds={token}",
            "type": "absolute"}
    stale = [f"{u.source} ({u.detail})" for u in result.stale]
    found = _problem_cards(got, link) + cards(plan, has_lesions=bool(result.case.lesions),
                                              stale=stale, link=link)
    if result.patient is not None:
        names = [result.patient.source] + [f"{s}|{v}" if s else v
                                           for s, v in result.patient.identifiers[:3]]
        found = with_record(found, ", ".join(names))
    return _issue(request, found, issuer)


def _deceased(hook: _HookRequest, got: _Gathered) -> dict[str, Any] | None:
    """The "has died" card when the context Patient is recorded as deceased (checked first:
    nothing else needs reading then)."""
    for entry in got.entries:
        resource = entry["resource"]
        if resource.get("resourceType") != "Patient" or resource.get("id") != (
                hook.context.patientId):
            continue
        when = resource.get("deceasedDateTime")
        if resource.get("deceasedBoolean") is True or isinstance(when, str):
            on = f" on {when[:40]}" if isinstance(when, str) else ""
            return notice_card("The record says this patient has died: spinemets made no spine "
                               "assessment", "info", [f"Patient/{hook.context.patientId} is "
                                                      f"recorded as deceased{on}"])
    return None


def _issue(request: Request, found: list[dict[str, Any]], issuer: str) -> JSONResponse:
    """Answer with ``found``, remembering each card's uuid (feedback is only for these)."""
    with _sessions(request).begin() as session:
        storage.record_cds_cards(session, cards=[c["uuid"] for c in found], service=SERVICE_ID,
                                 issuer=issuer)
    return _json(request, {"cards": found})


@router.post("/{service}", summary="CDS Hooks service call (patient-view)")
def call_service(request: Request, service: str,
                 body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    if service != SERVICE_ID:
        return _outcome(404, "not-found", f"no CDS service {service!r}", request)
    claims = _authorised(request, service)
    if isinstance(claims, JSONResponse):
        return claims
    issuer = str(claims.get("iss"))
    shape = hostile_shape(body, limits=_HOOK_LIMITS, top="body")
    if shape is not None:
        audit(request, "cds_call", "invalid", issuer=issuer, service=service, status=400)
        return _outcome(400, "invalid", f"{shape.field[:200]}: {shape.message}", request)
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
        got = _gather(hook, issuer, _runtime(request))
        response = _respond(request, hook, got, issuer)
    except _DataMissingError as exc:
        audit(request, "cds_call", "incomplete", issuer=issuer, service=service,
              hook_instance=instance, status=412)
        return _outcome(412, "incomplete", str(exc), request)
    except InputError as exc:
        audit(request, "cds_call", "invalid", issuer=issuer, service=service,
              hook_instance=instance, status=422)
        return _outcome(422, "invalid", "; ".join(str(p) for p in exc.problems)[:500], request)
    audit(request, "cds_call", "incomplete" if got.failures else "success", issuer=issuer,
          service=service, hook_instance=instance, status=200,
          failures=len(got.failures) or None, skipped=len(got.skipped) or None,
          patient=hashlib.sha256(hook.context.patientId.encode()).hexdigest()[:12])
    return response


class _Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: str = Field(max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] | None = None  # noqa: N815
    overrideReason: dict[str, Any] | None = None  # noqa: N815
    outcomeTimestamp: dt.datetime  # noqa: N815
    extension: dict[str, Any] | None = None


class _FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: list[_Feedback] = Field(min_length=1, max_length=100)
    extension: dict[str, Any] | None = None


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
        unknown = [item.card for item in parsed.feedback
                   if not storage.cds_card_issued(session, card=item.card, service=service)]
    if unknown:
        audit(request, "cds_feedback", "refused", issuer=issuer, service=service,
              reason="card_not_issued")
        return _outcome(404, "not-found", f"card {unknown[0][:64]!r} was not issued by this "
                        "service: no feedback stored", request)
    with _sessions(request).begin() as session:
        for item in parsed.feedback:
            storage.record_cds_feedback(
                session, service=service, issuer=issuer, card=item.card, outcome=item.outcome,
                outcome_at=item.outcomeTimestamp, **_override(item.overrideReason),
                accepted_suggestions=item.acceptedSuggestions)
            storage.record_audit(session, action="cds_feedback", outcome="success",
                                 actor=f"cds:{issuer}"[:80], target=service,
                                 client=client_address(request),
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
