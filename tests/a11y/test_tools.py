"""Real Chromium: the accessibility tools, alone and in pairs, at 320 px and 1280 px, in English
and Spanish, do not break text (no sideways scroll, no clipped heading glyphs, accented letters
drawn as one letter); axe-core with the best-practice rules on every patient page with each tool
on and the tools panel open; read aloud a section at a time in a voice for the page language;
the error summary takes focus."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from tests.a11y._axe import run_axe

pytestmark = pytest.mark.browser


# One tool is one sm_prefs part; pairs of tools join two parts (two text sizes are not a pair).
TOOLS = ["size.large", "size.larger", "contrast.high", "font.dyslexic", "motion.reduce"]
COMBOS = [(tool,) for tool in TOOLS] + [
    pair for pair in itertools.combinations(TOOLS, 2)
    if not (pair[0].startswith("size.") and pair[1].startswith("size."))]
WIDTHS = [320, 1280]
LANGS = ["en", "es"]
EMERGENCY_HEADING = ".nhsuk-card--care--emergency .nhsuk-card__heading"
QUESTION_HEADING = ".nhsuk-fieldset__legend .nhsuk-fieldset__heading"
# Ink of the tallest glyphs (accented capitals) plus the deepest descenders, in em.
INK_EM = {"OpenDyslexic": 1.58, "Atkinson Hyperlegible": 1.14}

# Per page: scroll overflow, and heading geometry measured in the page (all lengths in CSS px).
MEASURE_JS = """
(selector) => {
  const doc = document.documentElement;
  const out = {overflow: doc.scrollWidth - window.innerWidth, cls: doc.className, problems: []};
  const heading = document.querySelector(selector);
  if (!heading) { out.problems.push("no heading " + selector); return out; }
  const transparent = (el) => {
    const bg = getComputedStyle(el).backgroundColor;
    return bg === "transparent" || bg === "rgba(0, 0, 0, 0)";
  };
  const box = heading.getBoundingClientRect();
  const style = getComputedStyle(heading);
  out.font = style.fontFamily;
  out.fontSize = parseFloat(style.fontSize);
  out.lineHeight = parseFloat(style.lineHeight);
  if (heading.scrollHeight > heading.clientHeight) {
    out.problems.push(`heading scrollHeight ${heading.scrollHeight} > ${heading.clientHeight}`);
  }
  // An inline box with a background paints each line after the line above: if its line boxes
  // overlap, each one covers the descenders of the previous line.
  for (const el of [heading, ...heading.querySelectorAll("*")]) {
    if (transparent(el)) continue;
    const rects = [...el.getClientRects()];
    for (let i = 1; i < rects.length; i++) {
      if (rects[i].top < rects[i - 1].bottom - 0.5 && rects[i].left < rects[i - 1].right) {
        out.problems.push(`line boxes of ${el.tagName}.${el.className} with a background overlap`);
        break;
      }
    }
  }
  // Anything painted later in the same container, with a background, stays below the heading.
  const scope = heading.closest(".nhsuk-card, fieldset, main") || document.body;
  for (const el of scope.querySelectorAll("*")) {
    if (heading.contains(el) || el.contains(heading)) continue;
    if (!(heading.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
    if (transparent(el) || getComputedStyle(el).position === "absolute") continue;
    const r = el.getBoundingClientRect();
    const across = r.left < box.right && r.right > box.left;
    if (r.height && across && r.top < box.bottom - 0.5 && r.bottom > box.top) {
      out.problems.push(`${el.tagName}.${el.className} paints over the heading (${r.top})`);
    }
  }
  // The caption above a question heading ends before the heading starts.
  const caption = heading.parentElement.querySelector(".nhsuk-caption-m");
  if (caption) {
    const c = caption.getBoundingClientRect();
    if (c.bottom > box.top + 0.5) out.problems.push(`caption ends ${c.bottom} > ${box.top}`);
  }
  return out;
}
"""




@pytest.fixture(scope="module")
def tool_pages(browser: Browser, live_server: str) -> Iterator[Callable[[str, int], Page]]:
    """One browser context and page per (language, width), reused: tests change the cookie."""
    contexts: dict[tuple[str, int], tuple[BrowserContext, Page]] = {}

    def get(lang: str, width: int) -> Page:
        if (lang, width) not in contexts:
            context = browser.new_context(bypass_csp=True,
                                          viewport={"width": width, "height": 800})
            context.add_cookies([{"name": "sm_lang", "value": lang, "url": live_server}])
            contexts[lang, width] = (context, context.new_page())
        return contexts[lang, width][1]

    yield get
    for context, _ in contexts.values():
        context.close()


def _open(page: Page, url: str, prefs: str) -> None:
    # path "/" always: a cookie set for the page's own URL would get that page's folder as its
    # path and outlive later changes made for "/"
    host = urlsplit(url).hostname
    page.context.add_cookies([{"name": "sm_prefs", "value": prefs, "domain": host, "path": "/"}])
    page.goto(url)
    page.evaluate("document.fonts.ready.then(() => true)")


def _check_page(page: Page, url: str, prefs: str, heading: str) -> dict[str, Any]:
    _open(page, url, prefs)
    found: dict[str, Any] = page.evaluate(MEASURE_JS, heading)
    for part in prefs.split("-"):
        name, value = part.split(".")
        assert f"sm-{name}-{value}" in found["cls"]
    assert found["overflow"] <= 0, f"{url} {prefs}: horizontal scroll of {found['overflow']} px"
    assert found["problems"] == [], f"{url} {prefs}"
    family = next((f for f in INK_EM if f in found["font"].split(",")[0]), None)
    if family:
        needed = INK_EM[family] * found["fontSize"]
        assert found["lineHeight"] >= needed, (
            f"{url} {prefs}: line-height {found['lineHeight']} px < {needed:.1f} px ({family})")
    return found


@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_tools_do_not_break_text(tool_pages: Callable[[str, int], Page], live_server: str,
                                 lang: str, width: int, combo: tuple[str, ...]) -> None:
    page = tool_pages(lang, width)
    prefs = "-".join(combo)
    _check_page(page, live_server + "/", prefs, EMERGENCY_HEADING)
    _check_page(page, live_server + "/check/q/saddle_numbness", prefs, QUESTION_HEADING)


@pytest.mark.parametrize("path", ["/check/q/bladder_or_bowel_dysfunction", "/guide", "/clinics"])
@pytest.mark.parametrize("lang", LANGS)
def test_all_tools_at_320_px(tool_pages: Callable[[str, int], Page], live_server: str,
                             screenshots: Path, lang: str, path: str) -> None:
    page = tool_pages(lang, 320)
    prefs = "size.larger-contrast.high-font.dyslexic-motion.reduce"
    heading = QUESTION_HEADING if path.startswith("/check/q/") else "main h1"
    _check_page(page, live_server + path, prefs, heading)
    _check_page(page, live_server + "/", prefs, EMERGENCY_HEADING)
    if path.startswith("/check/q/"):
        page.locator(".nhsuk-card--care--emergency").screenshot(
            path=str(screenshots / f"tools-emergency-all-320px-{lang}.png"))
        page.goto(live_server + path)
        page.screenshot(path=str(screenshots / f"tools-question-all-320px-{lang}.png"))


@pytest.mark.parametrize("lang", LANGS)
def test_tools_screenshots_1280(tool_pages: Callable[[str, int], Page], live_server: str,
                                screenshots: Path, lang: str) -> None:
    page = tool_pages(lang, 1280)
    _open(page, live_server + "/", "size.larger-contrast.high-font.dyslexic")
    page.locator("summary.sm-tools__summary").click()
    page.screenshot(path=str(screenshots / f"tools-home-open-1280-{lang}.png"))
    _open(page, live_server + "/", "standard")
    page.locator("summary.sm-tools__summary").click()
    page.screenshot(path=str(screenshots / f"tools-home-open-standard-1280-{lang}.png"))


# Each accented letter and its base letter at 100 px, in the page's own @font-face rules, between
# two no-break spaces (as inside a text run; spaces have no ink), one letter a box; the ink of
# each box is read back from a screenshot of the row.
LETTERS_JS = """
async ([letters, weight]) => {
  const row = document.createElement("div");
  row.id = "sm-letters";
  row.style.cssText = "position:fixed;left:0;top:0;z-index:9999;background:#fff;display:flex;"
    + "flex-wrap:wrap;align-items:flex-start;width:1200px";
  for (const ch of letters) {
    const base = ch === "í" ? "ı" : ch.normalize("NFD")[0];  // "í" is compared with dotless "ı"
    for (const text of [ch, base]) {
      const box = document.createElement("span");
      box.style.cssText = `display:block;padding:30px 10px;font:${weight} 100px OpenDyslexic;`
        + "line-height:1.85 !important;letter-spacing:0;color:#000;background:#fff";
      box.textContent = `\u00a0${text}\u00a0`;
      row.append(box);
    }
  }
  document.body.append(row);
  await document.fonts.ready;
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}
"""
INK_JS = """
async (png) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const row = document.getElementById("sm-letters").getBoundingClientRect();
  return [...document.querySelectorAll("#sm-letters > span")].map((box) => {
    const range = document.createRange();
    range.setStart(box.firstChild, 1);
    range.setEnd(box.firstChild, box.firstChild.length - 1);
    const letter = range.getBoundingClientRect(), b = box.getBoundingClientRect();
    const x0 = Math.round(b.left - row.left), y0 = Math.round(b.top - row.top);
    const w = Math.round(b.width), h = Math.round(b.height);
    const data = ctx.getImageData(x0, y0, w, h).data;
    let top = h, bottom = -1, left = w, right = -1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if (data[(y * w + x) * 4] < 128) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
    const start = letter.left - b.left;
    return {text: range.toString(), advance: letter.width, inkTop: top, inkBottom: bottom,
            inkLeft: left - start, inkRight: right + 1 - start};
  });
}
"""


@pytest.mark.parametrize("weight", [400, 700])
def test_dyslexic_font_accents_render_as_one_letter(page: Page, live_server: str,
                                                    screenshots: Path, weight: int) -> None:
    """Rendered, not assumed: an accent drawn as part of its letter sits above it, within the
    letter's advance, and the letter keeps its base letter's advance (same font)."""
    page.context.add_cookies([{"name": "sm_prefs", "value": "font.dyslexic", "url": live_server},
                              {"name": "sm_lang", "value": "es", "url": live_server}])
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(live_server + "/")
    page.evaluate(LETTERS_JS, ["áéíóúñüÁÉÍÓÚÑÜ", weight])
    shot = page.locator("#sm-letters").screenshot(
        path=str(screenshots / f"tools-accents-opendyslexic-{weight}.png"))
    inks = page.evaluate(INK_JS, base64.b64encode(shot).decode())
    for letter, base in zip(inks[::2], inks[1::2], strict=True):
        ch, where = letter["text"], f"{letter} {base}"
        assert abs(letter["advance"] - base["advance"]) < 1, f"{ch}: another font {where}"
        assert letter["inkLeft"] >= -3, f"{ch}: accent before the letter {where}"
        assert letter["inkRight"] <= letter["advance"] + 3, f"{ch}: accent to the side {where}"
        assert letter["inkTop"] <= base["inkTop"] - 15, f"{ch}: accent not above the letter {where}"
        assert abs(letter["inkBottom"] - base["inkBottom"]) <= 2, f"{ch}: baseline moved {where}"


def test_dyslexic_font_spanish_text_uses_one_font(page: Page, live_server: str) -> None:
    """Chromium reports which installed or web fonts drew each node: only OpenDyslexic."""
    page.context.add_cookies([{"name": "sm_prefs", "value": "font.dyslexic", "url": live_server},
                              {"name": "sm_lang", "value": "es", "url": live_server}])
    page.goto(live_server + "/")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.evaluate("""() => {
        const p = document.createElement("p");
        p.id = "sm-accents";
        p.textContent = "Información ¿Qué? ¡Vaya! áéíóúñü ÁÉÍÓÚÑÜ";
        document.querySelector("main").append(p);
        const lone = document.createElement("p");
        lone.id = "sm-accents-lone";  // a text run of one "ó" only: the bold file's glyph
        lone.textContent = "ó";
        document.querySelector("main").append(lone);
        const b = document.createElement("p");
        b.id = "sm-accents-bold";
        b.style.fontWeight = "700";
        b.textContent = p.textContent;
        document.querySelector("main").append(b);
    }""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    for selector in ("#sm-accents", "#sm-accents-bold", "#sm-accents-lone", ".nhsuk-lede-text"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert {f["familyName"] for f in fonts} == {"OpenDyslexic"}, (selector, fonts)
    cdp.detach()


# axe with the best-practice rules: every patient page, both languages, each tool on (one at a
# time) and the tools panel open. "error" is a question page after Continue with no answer.
AXE_PAGES = ["/", "/guide", "/check", "/check/q/cancer_status", "/check/q/saddle_numbness",
             "/check/q/pain_location", "error", "/check/result", "/clinics", "/accessibility",
             "/no-such-page"]
AXE_XFAIL: dict[tuple[str, str], str] = {}


def _axe_cases() -> Iterator[Any]:
    for path in AXE_PAGES:
        for lang in LANGS:
            for tool in ["standard", *TOOLS]:
                reason = AXE_XFAIL.get((path, tool)) or AXE_XFAIL.get((path, "*"))
                marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
                yield pytest.param(path, lang, tool, marks=marks, id=f"{path}-{lang}-{tool}")


@pytest.mark.parametrize(("path", "lang", "tool"), list(_axe_cases()))
def test_axe_best_practice_with_each_tool(tool_pages: Callable[[str, int], Page],
                                          live_server: str, path: str, lang: str,
                                          tool: str) -> None:
    page = tool_pages(lang, 1280)
    if path == "error":
        _open(page, live_server + "/check/q/saddle_numbness", tool)
        with page.expect_navigation():
            page.locator("form button.nhsuk-button").click()
        expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    else:
        _open(page, live_server + path, tool)
    page.locator("summary.sm-tools__summary").click()
    expect(page.locator("[data-sm-prefs]")).to_be_visible()
    assert run_axe(page) == []


@pytest.mark.parametrize("lang", LANGS)
def test_error_summary_takes_focus(page: Page, live_server: str, lang: str) -> None:
    page.context.add_cookies([{"name": "sm_lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/check/q/saddle_numbness")
    with page.expect_navigation():
        page.locator("form button.nhsuk-button").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    # the design system's module: its link moves focus to the first radio
    summary.locator("a").first.click()
    expect(page.locator("#answer-0")).to_be_focused()


def test_landmarks_around_back_link_and_tools(page: Page, live_server: str) -> None:
    page.goto(live_server + "/check/q/saddle_numbness")
    expect(page.get_by_role("navigation", name="Back")).to_contain_text("Back")
    expect(page.get_by_role("complementary", name="Accessibility tools")).to_be_visible()
    page.goto(live_server + "/guide")  # no back link: no empty landmark
    expect(page.get_by_role("navigation", name="Back")).to_have_count(0)


# Read aloud, with a stubbed speech engine: voices, spoken utterances and cancels are recorded.
SPEECH_STUB = """
(() => {
  const voices = %s;  // list of [name, lang], or null: none now, the list arrives later
  const later = %s;
  window.__spoken = [];
  window.__cancels = 0;
  window.SpeechSynthesisUtterance = class { constructor(text) { this.text = text; } };
  const synth = window.speechSynthesis;
  const make = (list) => list.map(([name, lang]) => ({name, lang, default: false}));
  let current = voices ? make(voices) : [];
  synth.getVoices = () => current;
  synth.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang,
                                               voice: u.voice ? u.voice.name : null}); };
  synth.cancel = () => { window.__cancels += 1; };
  if (later) {
    setTimeout(() => {
      current = make(later);
      synth.dispatchEvent(new Event("voiceschanged"));
    }, 300);
  }
})();
"""


def _stub_speech(page: Page, voices: list[list[str]] | None,
                 later: list[list[str]] | None = None) -> None:
    page.add_init_script(SPEECH_STUB % (json.dumps(voices), json.dumps(later)))


def _read(page: Page, live_server: str, lang: str) -> None:
    page.context.add_cookies([{"name": "sm_lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/guide")
    page.locator("summary.sm-tools__summary").click()
    page.locator("[data-sm-read]").click()


def test_read_aloud_a_section_at_a_time(page: Page, live_server: str) -> None:
    _stub_speech(page, [["English (UK)", "en-GB"], ["Spanish", "es-US"]])
    _read(page, live_server, "en")
    spoken = page.evaluate("window.__spoken")
    headings = page.evaluate("""[...document.querySelectorAll('#maincontent :is(h1,h2,h3)')]
        .filter((h) => h.getBoundingClientRect().height > 1).map((h) => h.innerText)""")
    assert len(spoken) == len(headings) > 3
    for utterance, heading in zip(spoken, headings, strict=True):
        assert utterance["text"].startswith(heading)
        assert utterance["lang"] == "en"
        assert utterance["voice"] == "English (UK)"
        assert len(utterance["text"]) < 4000
    assert "What it is" in spoken[0]["text"]  # the contents list belongs to the first section
    status = page.locator("[data-sm-status]")
    read = page.locator("[data-sm-read]")
    expect(read).to_have_attribute("aria-pressed", "true")
    expect(status).to_have_text("Reading aloud. Press the button again to stop.")
    cancels = page.evaluate("window.__cancels")
    read.click()  # stop
    assert page.evaluate("window.__cancels") == cancels + 1
    expect(read).to_have_attribute("aria-pressed", "false")
    expect(status).to_have_text("Stopped reading.")


def test_read_aloud_says_when_no_voice_for_the_language(page: Page, live_server: str) -> None:
    _stub_speech(page, [["English (UK)", "en-GB"]])
    _read(page, live_server, "es")
    status = page.locator("[data-sm-status]")
    expect(status).to_have_text(status.get_attribute("data-sm-no-voice") or "no message")
    assert page.evaluate("window.__spoken") == []
    expect(page.locator("[data-sm-read]")).to_have_attribute("aria-pressed", "false")


def test_read_aloud_waits_for_voices_to_load(page: Page, live_server: str) -> None:
    _stub_speech(page, None, later=[["Español", "es-ES"]])
    _read(page, live_server, "es")
    assert page.evaluate("window.__spoken.length") > 3  # starts at once
    page.wait_for_timeout(1500)  # the voices arrived after 300 ms: still reading
    expect(page.locator("[data-sm-read]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-sm-status]")).to_contain_text("Leyendo en voz alta")


def test_read_aloud_no_voices_at_all(page: Page, live_server: str) -> None:
    """Headless Linux Chromium: speechSynthesis exists but has no voice."""
    page.add_init_script("""
        window.__cancels = 0;
        window.speechSynthesis.speak = () => {};
        window.speechSynthesis.cancel = () => { window.__cancels += 1; };
        window.speechSynthesis.getVoices = () => [];
    """)
    _read(page, live_server, "en")
    status = page.locator("[data-sm-status]")
    expect(status).to_contain_text("no voice for this language")
    expect(page.locator("[data-sm-read]")).to_have_attribute("aria-pressed", "false")


def test_read_aloud_engine_error_is_reported(page: Page, live_server: str) -> None:
    page.add_init_script("""
        window.SpeechSynthesisUtterance = class { constructor(text) { this.text = text; } };
        window.speechSynthesis.getVoices = () => [{name: "English", lang: "en-GB"}];
        window.speechSynthesis.cancel = () => {};
        window.speechSynthesis.speak = (u) => {
          setTimeout(() => u.onerror({error: "synthesis-failed"}), 50);
        };
    """)
    _read(page, live_server, "en")
    expect(page.locator("[data-sm-status]")).to_contain_text("cannot read aloud")
    expect(page.locator("[data-sm-read]")).to_have_attribute("aria-pressed", "false")


def test_scripts_run_without_errors(page: Page, live_server: str) -> None:
    """app.js (an ES module importing the design system's module) loads cleanly on each page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    for path in ["/", "/guide", "/check/q/saddle_numbness", "/clinics", "/no-such-page"]:
        page.goto(live_server + path)
        page.locator("summary.sm-tools__summary").click()
        expect(page.locator("[data-sm-read]")).to_be_visible()
    assert [e for e in errors if "404" not in e] == []
