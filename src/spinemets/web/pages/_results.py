"""Clinician results: the results page, the print view and the PDF tumour-board report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from spinemets import storage
from spinemets.web import _core
from spinemets.web._state import (
    client_address,
    get_state,
    requires,
)
from spinemets.web.pages._workspace import (
    P,
    _render,
    current_user,
)

__all__ = ["router"]

router = APIRouter(prefix="/clinician")


def _latest_decision(versions: list[storage.CaseVersion]) -> dict[str, Any] | None:
    for v in reversed(versions):
        if v.decision:
            verdicts = [{**verdict, "label": _verdict_label(str(verdict.get("item", "")))}
                        for verdict in v.decision.get("verdicts") or ()]
            return {**v.decision, "verdicts": verdicts, "version": v.version,
                    "author": v.author, "at": v.created_at}
    return None


def _verdict_label(key: str) -> str:
    """``separation_surgery@L2`` in words: "Separation surgery (L2)"."""
    from spinemets.report._labels import item_label  # noqa: PLC0415 - results pages only

    item, _, lesion = key.partition("@")
    return item_label(item) + (f" ({lesion})" if lesion else "")


def _read_case(request: Request, ref: str, what: str) -> tuple[
        dict[str, Any], int, list[storage.CaseVersion]]:
    """The current document, version and history of a stored case; the read is audited."""
    with get_state(request).sessions.begin() as session:
        record = storage.get_case(session, case_ref=ref)
        if record is None:
            raise HTTPException(status_code=404)
        data, version = dict(record.data), record.current_version
        versions = list(storage.case_versions(session, case_ref=ref))
        storage.record_audit(session, action="case_read", outcome="success",
                             user=current_user(request), client=client_address(request),
                             case_ref=ref, detail=f"{what}, version {version}")
    return data, version, versions


def _results(request: Request, ref: str, template: str) -> Response:
    user = current_user(request)
    data, version, versions = _read_case(request, ref, template.rsplit("/", 1)[-1])
    report = _case_report(data, ref, version, versions, get_state(request).local_model)
    from markupsafe import Markup  # noqa: PLC0415 - only the results pages embed the SVG

    from spinemets.report import spine_svg  # noqa: PLC0415

    return _render(request, template, user, {
        "ref": ref, "case": data, "version": version, "versions": versions,
        "decision": _latest_decision(versions), "report": report,
        "spine_svg": Markup(spine_svg(report)), "standalone": False,  # the SVG escapes all text
        "imaging": _imaging_figure(request, ref, inline=False)})


def _imaging_figure(request: Request, ref: str, *, inline: bool) -> dict[str, Any] | None:
    """The case's newest CT overlay and caption, for the results and the report."""
    from spinemets.web.pages._imaging_report import imaging_figure  # noqa: PLC0415

    return imaging_figure(request, ref, inline=inline)


def _case_report(data: Mapping[str, Any], ref: str, version: int,
                 versions: list[storage.CaseVersion], local_model: Any = None) -> Any:
    """The presentation model of the current plan of a stored case (spinemets.report), with
    the site's local model's prediction when the site configures one."""
    from spinemets.report import build_report, default_meta  # noqa: PLC0415

    plan = _core.plan_case(data, local_model=local_model)
    author = versions[-1].author if versions else None
    meta = default_meta(ref, case_version=version, author=author,
                        plan_format=str(plan.get("format")))
    return build_report(plan, data, meta=meta)


@router.get("/cases/{ref}", response_class=HTMLResponse, dependencies=[requires(P.CASE_READ)])
def case_results(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/results.html")


@router.get("/cases/{ref}/print", response_class=HTMLResponse,
            dependencies=[requires(P.CASE_READ)])
def case_print(request: Request, ref: str) -> Response:
    return _results(request, ref, "clinician/print.html")


@router.get("/cases/{ref}/report.pdf", dependencies=[requires(P.CASE_READ)])
def case_report_pdf(request: Request, ref: str) -> Response:
    """The tumour-board report of the current version as a tagged PDF (PDF/UA-1)."""
    from spinemets.report import PdfUnavailableError, render_pdf  # noqa: PLC0415

    data, version, versions = _read_case(request, ref, "report.pdf")
    try:
        pdf = render_pdf(_case_report(data, ref, version, versions,
                                      get_state(request).local_model),
                         decision=_latest_decision(versions),
                         imaging=_imaging_figure(request, ref, inline=True))
    except PdfUnavailableError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    filename = quote(f"spinemets-{ref}-v{version}.pdf")
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
        "Cache-Control": "no-store"})
