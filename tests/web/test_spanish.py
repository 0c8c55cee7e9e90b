"""Spanish patient text (issue 17): safe emergency wording, complete catalogue, no English left.

Written for readers of US health-care Spanish: "urgencia" / "atención de urgencia" is *urgent
care* (a walk-in clinic), so it must never stand for an emergency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from spinemets.web._clinics import load_clinics
from spinemets.web._core import triage_questions

WEB = Path(__file__).parents[2] / "src" / "spinemets" / "web"
PO = WEB / "locale" / "es" / "LC_MESSAGES" / "messages.po"

pytestmark = pytest.mark.skipif(not PO.exists(), reason="source tree not available")


def _catalog() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


def _entries() -> Iterator[tuple[Message, str, str]]:
    """(message, English, Spanish) for every translated entry (English from the comments when
    the msgid is a key, as for the symptom-checker questions)."""
    for message in _catalog():
        if not message.id or not isinstance(message.id, str):
            continue
        english = " ".join([message.id, *message.auto_comments])
        spanish = message.string if isinstance(message.string, str) else ""
        yield message, english, spanish


# --- meaning-changing wording --------------------------------------------------------------

def test_emergency_is_never_translated_as_urgencia() -> None:
    wrong = [(message.id, spanish) for message, english, spanish in _entries()
             if "emergency" in english.lower() and re.search(r"urgen", spanish, re.IGNORECASE)]
    assert wrong == []


def test_every_emergency_message_says_emergencia() -> None:
    missing = [message.id for message, english, spanish in _entries()
               if re.search(r"\bemergency\b", english, re.IGNORECASE)
               and not re.search(r"emergencia", spanish, re.IGNORECASE)]
    assert missing == []


@pytest.mark.parametrize(("pattern", "why"), [
    (r"\bpunzante", "stabbing pain; the English asks about shooting (radicular) pain"),
    (r"\btrasero\b|alrededor de las nalgas", "saddle area is between the buttocks, not around"),
    (r"\bsill[ií]n\b", "unusual in US Spanish: asiento de la bicicleta"),
    (r"historia cl[ií]nica", "the medical chart, not the history the patient gives"),
    (r"\bradiaci[oó]n\b", "one term: radioterapia"),
    (r"\(TC\)", "US usage: (CT)"),
    (r"exploraci[oó]n f[ií]sica", "US usage: examen físico"),
    (r"\bpulse\b", "US usage for a button or key: oprima"),
    (r"\bconcret[oa]\b", "US usage: específico"),
    (r"equipo de c[aá]ncer", "equipo de atención del cáncer"),
    (r"\bpujar\b", "one term for straining on the toilet: hacer fuerza"),
    (r"comprimid", "one term for pressure on the cord: presión"),
    (r"\bmama\b(?! ?\))", "US usage: seno, with (mama) after it"),
    # issue 21: wording a US medical translator would change
    (r"\bheces\b", "clinical; US usage: la orina o los intestinos (bladder or bowels)"),
    (r"ning[uú]n alivio", "reads as no relief from medicines; English: pain that never lets up"),
    (r"sin peligro", "absolute ('no danger at all'): de forma segura"),
    (r"protegen los huesos", "overclaims: the English says they lower the chance of bone problems"),
    (r"se[nñ]al(es)? de emergencia", "one term for a warning sign: señal de alarma"),
    (r"\(AINE\)", "an unexplained abbreviation: say what AINE are"),
    (r"\bprimer (c[aá]ncer|tumor)\b|que el primero\b", "the primary is where the cancer started"),
    (r"por un posible c[aá]ncer", "US usage: pruebas para ver si tengo cáncer"),
    (r"\batent[oa]\b", "gendered: preste atención"),
    (r'"', "typographic quotes (“ ”), not straight ones"),
])
def test_spanish_terminology(pattern: str, why: str) -> None:
    found = [spanish for _message, _english, spanish in _entries()
             if re.search(pattern, spanish, re.IGNORECASE)]
    assert found == [], why


def test_spinal_cord_compression_is_named_once() -> None:
    hits = [spanish for _m, _e, spanish in _entries() if "compresión de la médula" in spanish]
    assert len(hits) == 1


def test_saddle_and_radicular_questions_say_where_and_how() -> None:
    catalog = _catalog()
    saddle = catalog.get("saddle_numbness", context="triage-question")
    radicular = catalog.get("radicular_pain", context="triage-question")
    hint = catalog.get("saddle_numbness", context="triage-hint")
    assert saddle is not None and radicular is not None and hint is not None
    assert "entre las nalgas" in saddle.string and "ano" in saddle.string
    assert "genitales" in saddle.string and "muslos" in saddle.string
    assert "descarga eléctrica" in radicular.string and "banda" in radicular.string
    assert "asiento de la bicicleta" in hint.string


# --- the catalogue is complete and well formed ---------------------------------------------

def _template_messages() -> set[tuple[str | None, str]]:
    method_map = [("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"trimmed": "true", "extensions": "jinja2.ext.i18n"}}
    found: set[tuple[str | None, str]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(WEB), method_map=method_map, options_map=options):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.add((context, msgid))
    return found


def test_every_template_message_has_a_spanish_translation() -> None:
    """Report every msgid in the templates without a non-empty, non-fuzzy Spanish msgstr."""
    catalog = _catalog()
    missing = []
    for context, msgid in sorted(_template_messages(), key=lambda item: item[1]):
        message = catalog.get(msgid, context=context)
        if message is None or not message.string or message.fuzzy:
            missing.append(msgid)
    assert missing == [], "\n".join(["untranslated or fuzzy:", *missing])


def test_every_triage_question_has_a_spanish_translation() -> None:
    catalog = _catalog()
    missing = [q.id for q in triage_questions()
               if not ((m := catalog.get(q.id, context="triage-question")) and m.string)]
    assert missing == []


def test_placeholders_are_kept() -> None:
    placeholder = re.compile(r"%\(\w+\)s")
    broken = [message.id for message, _english, spanish in _entries()
              if spanish and isinstance(message.id, str)
              and sorted(placeholder.findall(message.id)) != sorted(placeholder.findall(spanish))]
    assert broken == []


# --- no English on Spanish pages -----------------------------------------------------------

# Words that are English and not also Spanish words (so "no", "doctor", "general", "plan", "red"
# and "error" are not here).
_ENGLISH_WORDS = """
    about accessibility action address advice again aloud am and answer answers any are arms at
    back be bladder bottom bowel bowels browser but call can cancer care change check checker
    chest choices choose clinic clinician clinics contact content continue contrast cord day
    details did do does email emergency enter example find font for from get go has have help
    high hours how if immediate important in information into is it its large larger legs main
    more motion my nerves new next not now number numbness of on only opening or our page pain
    people phone please pm pressure problem question questions read reading required reset
    result results save select sign signs site size skip spinal spine standard start stopped
    straight symptoms tell text than that the them there these they this to today tools tumour
    tumours urgent walking warning was we weakness what when where which who why will with
    without yes you your
"""
ENGLISH = frozenset(_ENGLISH_WORDS.split())
# Proper names and terms that stay as they are in Spanish (key names, product names).
ALLOWED = frozenset({"tab", "enter", "javascript"})

_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")


def _is_message(name: str, value: str | None) -> bool:
    """A label people hear or read: ARIA and similar labels, and ``data-sm-*`` messages for the
    page's script (those with spaces; single words there are codes, like ``data-sm-on="high"``)."""
    if not value:
        return False
    return name in _ATTRIBUTES or (name.startswith("data-sm-") and " " in value.strip())


class _Text(HTMLParser):
    """All text a person sees or hears: text nodes (visually hidden too) and labels in attributes;
    not scripts, styles, or anything marked as another language with ``lang``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if not self._skip:
            self.parts.extend(v for k, v in attrs if v and _is_message(k, v))
        if tag in {"br", "hr", "img", "input", "link", "meta", "source", "wbr", "col"}:
            return
        lang = names.get("lang")
        skip = tag in {"script", "style", "template"} or (lang is not None and lang != "es"
                                                           and tag != "html")
        self._stack.append((tag, skip))
        self._skip += skip

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, skip = self._stack.pop()
            self._skip -= skip
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _english_words(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    clinics = load_clinics(None)
    for site in clinics.sites:  # proper names: clinic names, addresses, contact details
        for value in (site.name, *site.address, site.phone, site.email or ""):
            text = text.replace(value, " ")
    text = text.replace(clinics.organisation, " ")
    if clinics.cancer_team is not None:  # the cancer team's contact: a proper name too
        text = text.replace(clinics.cancer_team.name, " ").replace(clinics.cancer_team.phone, " ")
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sorted({w for w in words if w in ENGLISH and w not in ALLOWED})


_PAGES = ["/", "/guide", "/check", "/clinics", "/accessibility", "/no-such-page"]
_PAGES += [f"/check/q/{question.id}" for question in triage_questions()]


@pytest.mark.parametrize("path", _PAGES)
def test_spanish_page_has_no_english(client: TestClient, path: str) -> None:
    response = client.get(path, params={"lang": "es"})
    assert response.status_code in {200, 404}
    assert '<html lang="es"' in response.text
    assert _english_words(response.text) == []


def _no_to_everything() -> list[tuple[str, str]]:
    answers = []
    for question in triage_questions():
        keys = [option.key for option in question.options]
        key = ('"none"' if question.id == "cancer_status" else '"lumbar"'
               if question.id == "pain_location" else "false")
        answers.append((question.id, key if key in keys else keys[-1]))
    return answers


_RESULTS = {
    "emergency": [("cancer_status", '"known"'), ("limb_weakness", "true")],
    "possible-emergency": [("cancer_status", '"unknown"'), ("limb_weakness", "true")],
    "not-sure": [("cancer_status", '"known"'), ("limb_weakness", "null")],
    "urgent": [("cancer_status", '"known"'),
               *[(q.id, "false") for q in triage_questions()[1:8]],
               ("back_pain", "true"), ("pain_location", '"thoracic"')],
    "soon": [("cancer_status", '"none"'), *[(q.id, "false") for q in triage_questions()[1:8]],
             ("back_pain", "true"), ("weight_loss", "true")],
    "routine": _no_to_everything(),
}


@pytest.mark.parametrize("case", sorted(_RESULTS))
def test_spanish_checker_result_has_no_english(client: TestClient, case: str) -> None:
    for qid, key in _RESULTS[case]:
        client.post(f"/check/q/{qid}", data={"answer": key}, follow_redirects=False)
    response = client.get("/check/result", params={"lang": "es"})
    assert response.status_code == 200
    assert "/check/result" in str(response.url)
    assert _english_words(response.text) == []


def test_english_word_check_catches_english() -> None:
    html = ('<html lang="es"><body><p>Llame al 911 (example site)</p>'
            '<a lang="en" href="/language/en">English</a>'
            '<span class="nhsuk-u-visually-hidden">Immediate action required</span>'
            '<button aria-label="Close it" data-sm-on="high">x</button>'
            '<p data-sm-said="Reading aloud">x</p><script>var the = 1;</script>'
            '<p>Frisco, TX 75034 | Tab y Enter</p></body></html>')
    assert _english_words(html) == ["action", "aloud", "example", "immediate", "it", "reading",
                                    "required", "site"]
