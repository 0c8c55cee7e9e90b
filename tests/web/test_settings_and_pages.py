"""Settings safety, patient pages in both languages, preferences, sign-in, translations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from pydantic import ValidationError

from spinemets.web import Settings, create_app
from spinemets.web._core import triage_questions
from spinemets.web._i18n import translations

PATIENT_PAGES = ["/", "/guide", "/check", "/clinics", "/accessibility"]


def test_insecure_secret_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", demo=False)
    with pytest.raises(ValidationError, match="demo"):
        Settings(environment="production", secret_key="y" * 40, demo=True)
    assert Settings(environment="development").environment == "development"


@pytest.mark.parametrize("path", PATIENT_PAGES)
@pytest.mark.parametrize("lang", ["en", "es"])
def test_patient_pages_render(client: TestClient, path: str, lang: str) -> None:
    response = client.get(path, params={"lang": lang})
    assert response.status_code == 200
    assert f'<html lang="{lang}"' in response.text
    assert "Content-Security-Policy" in response.headers


def test_language_switch_sets_cookie_and_refuses_open_redirect(client: TestClient) -> None:
    response = client.get("/language/es", params={"next": "//evil.example/"},
                          follow_redirects=False)
    assert response.headers["location"] == "/"
    assert "sm_lang=es" in response.headers["set-cookie"]
    assert "Revise sus síntomas" in client.get("/").text


def test_preferences_without_javascript(client: TestClient) -> None:
    client.post("/preferences", data={"toggle": "contrast", "next": "/guide"})
    client.post("/preferences", data={"size": "larger", "next": "/guide"})
    html = client.get("/guide").text
    assert re.search(r'<html lang="en" class="[^"]*sm-size-larger', html)
    assert "sm-contrast-high" in html


def test_clinics_are_marked_as_examples(client: TestClient) -> None:
    html = client.get("/clinics").text
    assert "Frisco, TX" in html and "Coppell, TX" in html
    assert html.count("example") >= 4


def test_clinician_pages_need_sign_in(client: TestClient) -> None:
    response = client.get("/clinician", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/clinician/sign-in")


def _login_csrf(html: str) -> str:
    found = re.search(r'name="login_csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def test_sign_in_with_demo_account(tmp_path: Path) -> None:
    # The public demo password exists in development only.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
                        environment="development", demo=True)
    with TestClient(create_app(settings)) as client:
        _demo_sign_in(client)


def _demo_sign_in(client: TestClient) -> None:
    page = client.get("/clinician/sign-in").text
    assert "Demo only" in page
    bad = client.post("/clinician/sign-in", data={"username": "demo", "password": "wrong",
                                                  "login_csrf": _login_csrf(page)})
    assert bad.status_code == 401
    good = client.post("/clinician/sign-in", data={"username": "demo",
                                                   "password": "demo-only-password",
                                                   "login_csrf": _login_csrf(bad.text)})
    assert good.status_code == 200
    assert "demo-001" in good.text


def test_sign_in_without_the_form_token_is_refused(client: TestClient) -> None:
    # login CSRF: a cross-site form post has neither the nonce cookie nor its HMAC
    client.base_url = "https://testserver"  # type: ignore[assignment]
    client.get("/clinician/sign-in")
    forged = client.post("/clinician/sign-in", data={"username": "demo",
                                                     "password": "demo-only-password"})
    assert forged.status_code == 400
    assert "expired" in forged.text
    client.cookies.clear()
    page = client.get("/clinician/sign-in").text
    client.cookies.clear()
    stale = client.post("/clinician/sign-in", data={"username": "demo",
                                                    "password": "demo-only-password",
                                                    "login_csrf": _login_csrf(page)})
    assert stale.status_code == 400


def test_every_template_string_has_a_spanish_translation() -> None:
    root = Path(__file__).parents[2] / "src" / "spinemets" / "web"
    if not root.exists():
        pytest.skip("source tree not available")
    method_map = [("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"trimmed": "true", "extensions": "jinja2.ext.i18n"}}
    es = translations("es")
    missing = [msg for _f, _l, msg, _c, _ctx in extract_from_dir(
        str(root), method_map=method_map, options_map=options)
        if isinstance(msg, str) and es.gettext(msg) == msg and msg not in {"Error"}]
    assert missing == []


def test_every_triage_question_and_option_has_a_spanish_translation() -> None:
    po = Path(__file__).parents[2] / "src/spinemets/web/locale/es/LC_MESSAGES/messages.po"
    if not po.exists():
        pytest.skip("source tree not available")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="es")

    def translated(context: str, msgid: str) -> bool:
        message = catalog.get(msgid, context=context)
        return message is not None and bool(message.string) and not message.fuzzy

    missing: list[str] = []
    for question in triage_questions():
        if not translated("triage-question", question.id):
            missing.append(question.id)
        if question.hint is not None and not translated("triage-hint", question.id):
            missing.append(f"{question.id} (hint)")
        missing.extend(
            f"{question.id}:{option.key}" for option in question.options
            if not (translated("triage-option", f"{question.id}:{option.key}")
                    or translated("triage-option", option.label)))
    assert missing == []
