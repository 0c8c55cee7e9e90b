"""The report as one HTML document and as a tagged PDF (PDF/UA-1, WeasyPrint).

The templates are the clinician templates of the web package (``clinician/report.html`` and its
macros in ``clinician/_report.html``), read from the installed files: the web page, the print
view and this document share one markup. WeasyPrint is imported only by :func:`render_pdf`
(extra ``report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from spinemets.errors import SpinemetsError
from spinemets.report._model import Report
from spinemets.report._svg import spine_svg

__all__ = ["PdfUnavailableError", "fonts_dir", "render_html", "render_pdf"]


class PdfUnavailableError(SpinemetsError):
    """WeasyPrint (extra ``report``) or its system libraries (Pango) are not installed."""


def _package_dir(*parts: str) -> Path:
    return Path(str(resources.files("spinemets").joinpath(*parts)))


def fonts_dir() -> Path:
    """The vendored fonts (Atkinson Hyperlegible, OpenDyslexic)."""
    return _package_dir("web", "static", "vendor", "fonts")


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(_package_dir("web", "templates")),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=False, lstrip_blocks=False)


def render_html(report: Report, *, font_base: str | None = None,
                decision: Mapping[str, Any] | None = None,
                imaging: Mapping[str, Any] | None = None) -> str:
    """The report as a self-contained HTML document (its style sheet inlined).

    ``font_base`` is the URL of the fonts folder; the installed fonts (``file://``) by default.
    ``decision`` is the tumour board's recorded decision on this case, shown when given;
    ``imaging`` the case's newest CT overlay with its caption (``data:`` image), when given.
    """
    template = _environment().get_template("clinician/report.html")
    return template.render(report=report, spine_svg=Markup(spine_svg(report)),  # escaped SVG
                           standalone=True, font_base=font_base or fonts_dir().as_uri(),
                           decision=decision, imaging=imaging)


def render_pdf(report: Report, *, decision: Mapping[str, Any] | None = None,
               imaging: Mapping[str, Any] | None = None) -> bytes:
    """The report as a tagged PDF (PDF/UA-1) with the vendored fonts embedded.

    Raises
    ------
    PdfUnavailableError
        WeasyPrint or its system libraries are missing.
    """
    try:
        import weasyprint  # noqa: PLC0415 - heavy and optional (extra "report")
    except (ImportError, OSError) as exc:  # OSError: Pango/HarfBuzz libraries not found
        raise PdfUnavailableError(
            "PDF output needs WeasyPrint: pip install 'spinemets[report]' (and the Pango "
            f"libraries of the system): {exc}") from exc
    html = render_html(report, decision=decision, imaging=imaging)
    document = weasyprint.HTML(string=html, base_url=str(fonts_dir()))
    pdf: bytes = document.write_pdf(pdf_variant="pdf/ua-1")
    return pdf
