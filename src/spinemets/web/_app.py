"""The application factory. Nothing (engine, settings) is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spinemets import storage
from spinemets.case._model import Case
from spinemets.web._audit import AuditMiddleware
from spinemets.web._boundary import install_boundary_handler, refuse_control_characters
from spinemets.web._clinics import load_clinics, tel_href, tel_link
from spinemets.web._compress import CalculatorGZipMiddleware
from spinemets.web._errors import PROBLEM_RESPONSES, install_error_handlers
from spinemets.web._i18n import LANGUAGES, translations
from spinemets.web._settings import Settings
from spinemets.web._state import (
    AppState,
    PermissionDeniedError,
    SignInRequiredError,
    enforce_policy,
    render,
)
from spinemets.web._static import StaticManifest

__all__ = ["create_app", "create_app_from_env"]

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
MAX_BODY_BYTES = 1_000_000
#: FHIR Bundles from real EHRs are larger (a Synthea patient is 0.4-2 MB): the FHIR import
#: routes and the CDS Hooks service accept this much; their content is then shape-checked.
MAX_FHIR_BODY_BYTES = 16_000_000
_FHIR_BODY_PATHS = ("/api/v1/fhir/import", "/clinician/fhir/import", "/cds-services/")


def body_limit(path: str) -> int:
    """The request body limit of ``path`` (bytes)."""
    return MAX_FHIR_BODY_BYTES if path.startswith(_FHIR_BODY_PATHS) else MAX_BODY_BYTES


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("spinemets.web").joinpath(name)))


def _environments(static: StaticManifest) -> dict[str, Environment]:
    out: dict[str, Environment] = {}
    for language in LANGUAGES:
        env = Environment(
            loader=FileSystemLoader(_package_dir("templates")),
            autoescape=select_autoescape(("html", "xml"), default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.policies["ext.i18n.trimmed"] = True
        env.filters["tel"] = tel_link
        env.filters["tel_href"] = tel_href
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        env.globals["static_url"] = static.url
        out[language] = env
    return out


class BodyTooLargeError(StarletteHTTPException):
    """Raised while reading a request body that passes :data:`MAX_BODY_BYTES`."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Request body too large")


def _too_large(limit: int = MAX_BODY_BYTES) -> JSONResponse:
    return JSONResponse({"title": "Request body too large", "status": 413,
                         "detail": f"The limit is {limit} bytes."},
                        status_code=413, media_type="application/problem+json")


def _declared_too_large(scope: Scope, limit: int = MAX_BODY_BYTES) -> bool:
    return any(name == b"content-length" and (not value.isdigit() or int(value) > limit)
               for name, value in scope["headers"])


_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _extra_headers(path: str, *, hsts: bool = False, query_string: bytes = b"",
                   static: StaticManifest | None = None) -> list[tuple[bytes, bytes]]:
    extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
             (b"content-security-policy", _CSP.encode())]
    if hsts:
        extra.append(_HSTS)
    if not path.startswith(("/static/", "/assets/")):
        extra.append((b"cache-control", b"no-store"))
    elif static is not None:  # a year for a fingerprinted URL, minutes otherwise
        extra.append((b"cache-control", static.cache_control(path, query_string)))
    return extra


class SecurityHeadersMiddleware:
    """Pure ASGI middleware: security headers, caching, request size limit.

    Pages are ``no-store``; static files are cached (see :mod:`spinemets.web._static`).

    The size limit holds for every route and every transfer encoding: a declared
    ``Content-Length`` over the limit is refused before anything is read, and a chunked (or
    understated) body is counted while it is received and refused as soon as it passes the
    limit, so the application never holds more than the limit plus one chunk.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False,
                 static: StaticManifest | None = None) -> None:
        self.app = app
        self.hsts = hsts
        self.static = static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        if _declared_too_large(scope, limit):
            await _too_large(limit)(scope, receive, send)
            return
        extra = _extra_headers(scope["path"], hsts=self.hsts,
                               query_string=scope.get("query_string", b""), static=self.static)
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLargeError:
            if started:
                raise
            await _too_large(limit)(scope, receive, send_with_headers)


def _local_model(settings: Settings) -> Any:
    """The site's local model, loaded once (its file was checked with the settings)."""
    if settings.local_model is None:
        return None
    from spinemets.local_model import load_local_model  # noqa: PLC0415 - only when configured

    return load_local_model(settings.local_model)


def create_app(settings: Settings) -> FastAPI:
    """Build the web application for ``settings``.

    The database engine is created here; migrations (and demo data when ``settings.demo``)
    run at start-up when ``settings.auto_migrate`` is true.
    """
    # Lazy: the routers import spinemets.web, whose __init__ imports this module.
    from spinemets.web.api import api_router  # noqa: PLC0415 - avoids an import cycle
    from spinemets.web.cds import router as cds_router  # noqa: PLC0415 - avoids an import cycle
    from spinemets.web.pages import pages_router  # noqa: PLC0415 - avoids an import cycle

    engine = storage.make_engine(settings.database_url)
    static = StaticManifest.build(_package_dir("static"))
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=storage.make_sessionmaker(engine),
        environments=_environments(static),
        clinics=load_clinics(settings.clinics_file),
        local_model=_local_model(settings),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            prepare_database(state)
        yield
        engine.dispose()

    app = FastAPI(
        title="spinemets",
        version="1",
        summary="Scores, triage and NOMS-based plans for metastatic spine tumours "
        "(decision support: a clinician decides).",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(enforce_policy), Depends(refuse_control_characters)],
    )
    app.state.spinemets = state
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(CalculatorGZipMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts, static=static)
    install_error_handlers(app)
    install_boundary_handler(app)
    _install_policy_handlers(app)
    app.mount("/static", StaticFiles(directory=_package_dir("static")), name="static")
    app.mount(
        "/assets",
        StaticFiles(directory=_package_dir("static") / "vendor" / "nhsuk-frontend" / "assets"),
        name="nhsuk-assets",
    )
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(cds_router)  # CDS Hooks 2.0 (/cds-services)
    app.add_api_route("/docs", _swagger_ui, methods=["GET"], include_in_schema=False,
                      response_class=HTMLResponse)
    return app


#: Vendored Swagger UI (npm ``swagger-ui-dist``; see static/vendor/swagger-ui/README.md).
SWAGGER_UI = "5.35.0"
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spinemets API - Swagger UI</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"></main>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/vendor/swagger-ui/spinemets-docs.js"></script>
</body>
</html>
"""


def _swagger_ui() -> HTMLResponse:
    """Swagger UI from vendored assets, under the application's CSP (no CDN, not framable)."""
    return HTMLResponse(_DOCS_PAGE)


def _install_policy_handlers(app: FastAPI) -> None:
    """Sign-in required: pages redirect to the sign-in form, the API answers 401; else 403."""

    @app.exception_handler(SignInRequiredError)
    async def _sign_in(request: Request, _exc: SignInRequiredError) -> Response:
        if request.url.path.startswith("/api/") or request.method not in {"GET", "HEAD"}:
            return JSONResponse({"title": "Sign-in required", "status": 401}, status_code=401,
                                media_type="application/problem+json")
        from urllib.parse import quote  # noqa: PLC0415

        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/clinician/sign-in?next={target}", status_code=303)

    @app.exception_handler(PermissionDeniedError)
    async def _denied(request: Request, exc: PermissionDeniedError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"title": "Not permitted", "status": 403, "detail": str(exc)},
                                status_code=403, media_type="application/problem+json")
        user = getattr(request.state, "user", None)
        return render(request, "clinician/forbidden.html",
                      {"user": user, "csrf": "", "permission": exc.permission,
                       "demo_credentials": None}, status_code=403, language="en")


#: Operations whose body is a ``spinemets-case/1`` document.
_CASE_BODIES = (("/api/v1/plan", "post"), ("/api/v1/assess", "post"))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the case body's real JSON Schema (from the pydantic model).

    The routes take the body as a JSON object and load it with :func:`spinemets.case.load`
    (field-path errors); the schema published for clients is the model's own.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         routes=app.routes)
    case = Case.model_json_schema(ref_template="#/components/schemas/case.{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in case.pop("$defs", {}).items():
        components[f"case.{name}"] = definition
    components["case.Case"] = case
    for path, method in _CASE_BODIES:
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        body["schema"] = {"$ref": "#/components/schemas/case.Case"}
    app.openapi_schema = schema
    return schema


def prepare_database(state: AppState) -> None:
    """Migrate the schema and, in demo mode, seed the demo account and cases.

    The demo account has the public demo password in development only; in any other
    environment it gets a random one (also when a development database is reused).
    """
    storage.migrate(state.engine)
    with state.sessions.begin() as session:
        storage.prune_expired(session)
    development = state.settings.environment == "development"
    with state.sessions.begin() as session:
        if state.settings.demo:
            storage.seed_demo(session, hash_password=state.hasher.hash,
                              public_password=development)
        elif not development:
            storage.reset_demo_password(session, hash_password=state.hasher.hash)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from ``SPINEMETS_*`` environment variables."""
    return create_app(Settings())
