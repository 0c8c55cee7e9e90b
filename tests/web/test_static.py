"""Static files and patient pages on the wire (issue 21): fingerprinted static URLs cached for a
year, everything else briefly; gzip for text; no font requests the CSP would block."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinemets.web._static import IMMUTABLE, SHORT, StaticManifest

STATIC = Path(__file__).parents[2] / "src" / "spinemets" / "web" / "static"
GZIP = {"accept-encoding": "gzip"}


def _static_links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_static_files_by_content_hash(client: TestClient) -> None:
    links = _static_links(client.get("/").text)
    assert len(links) >= 4  # favicon, two style sheets, the script
    for link in links:
        path, _, version = link.partition("?v=")
        content = (STATIC / path.removeprefix("/static/")).read_bytes()
        assert version == hashlib.sha256(content).hexdigest()[:12], link


def test_fingerprinted_static_files_are_cached_for_a_year(client: TestClient) -> None:
    for link in _static_links(client.get("/guide").text):
        response = client.get(link)
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE.decode()


@pytest.mark.parametrize("url", [
    "/static/css/app.css", "/static/css/app.css?v=000000000000", "/static/js/app.js?v=",
    "/static/vendor/fonts/atkinson-hyperlegible/atkinson-hyperlegible-latin-400-normal.woff2",
    "/assets/images/nhsuk-icon-cross.svg",
])
def test_other_static_responses_are_cached_briefly(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == SHORT.decode()
    assert "etag" in response.headers  # revalidated afterwards


@pytest.mark.parametrize("path", ["/", "/guide", "/check", "/clinician/sign-in"])
def test_pages_are_not_stored(client: TestClient, path: str) -> None:
    assert client.get(path).headers["cache-control"] == "no-store"


def test_static_text_is_sent_compressed_with_a_weak_etag(client: TestClient) -> None:
    response = client.get("/static/vendor/nhsuk-frontend/nhsuk-frontend.min.css", headers=GZIP)
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"].startswith("W/")
    assert "accept-encoding" in response.headers["vary"].lower()
    # revalidation with the weak tag still answers 304
    again = client.get("/static/vendor/nhsuk-frontend/nhsuk-frontend.min.css",
                       headers={**GZIP, "if-none-match": response.headers["etag"]})
    assert again.status_code == 304


def test_fonts_are_not_compressed_again(client: TestClient) -> None:
    font = "/static/vendor/fonts/atkinson-hyperlegible/atkinson-hyperlegible-latin-400-normal.woff2"
    assert "content-encoding" not in client.get(font, headers=GZIP).headers


@pytest.mark.parametrize("path", ["/", "/guide", "/clinics", "/accessibility",
                                  "/guide?lang=es"])
def test_patient_information_pages_are_compressed(client: TestClient, path: str) -> None:
    response = client.get(path, headers=GZIP)
    assert response.headers["content-encoding"] == "gzip"
    assert "csrf" not in response.text.lower()  # nothing secret to leak through the size
    assert "<html" in response.text


def test_no_style_sheet_loads_anything_from_another_site() -> None:
    """The CSP allows fonts and images from the site only: any other URL is a console error."""
    for css in STATIC.rglob("*.css"):
        if "swagger-ui" in css.parts:
            continue
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text())
        assert [u for u in urls if re.match(r"[a-z]+://|//", u)] == [], css


def test_manifest_refuses_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("x")
    manifest = StaticManifest.build(tmp_path)
    assert manifest.url("a.css") == "/static/a.css?v=" + hashlib.sha256(b"x").hexdigest()[:12]
    with pytest.raises(KeyError):
        manifest.url("missing.css")
    assert manifest.cache_control("/static/a.css", b"v=" + manifest.url("a.css")[-12:].encode()) \
        == IMMUTABLE
    assert manifest.cache_control("/static/missing.css", b"v=abc") == SHORT
