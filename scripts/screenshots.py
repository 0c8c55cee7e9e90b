"""Screenshots of the patient pages for the README (``docs/images/``).

Starts the web app on a free loopback port, drives Debian's Chromium with Playwright, and writes
PNGs: the symptom checker's result levels (EN, and the emergency result in ES), the emergency
box with each accessibility tool on at a phone width (EN, and ES with none and all tools), and
the first screen of the home page and of each result level, EN and ES (``first-screen-*``: at
400 % zoom with the tools off and all on, on a 390 px phone and on a 1280 px desktop, side by
side; issue 21 item 4).
Usage: ``.venv/bin/python scripts/screenshots.py [OUT_DIR]`` (default ``docs/images``).
"""

from __future__ import annotations

import io
import os
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import Browser, Page, sync_playwright

from spinemets.web import Settings, create_app

CHROMIUM = os.environ.get("SPINEMETS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NO, YES, NOT_SURE = "false", "true", "null"
#: Result states, each reached by posting answers in order (question id, option key).
STATES: dict[str, list[tuple[str, str]]] = {
    "emergency": [("cancer_status", '"known"'), ("limb_weakness", YES)],
    "urgent": [("cancer_status", '"known"'), *[(q, NO) for q in (
        "limb_weakness", "difficulty_walking", "numbness_or_tingling", "saddle_numbness",
        "bladder_or_bowel_dysfunction", "rapidly_progressive", "radicular_pain")],
        ("back_pain", YES), ("pain_location", '"thoracic"')],
    "not-finished": [("cancer_status", '"known"')],
    "provisional": [("cancer_status", '"unknown"'), ("difficulty_walking", YES)],
    "warning-sign": [("cancer_status", '"none"'), ("radicular_pain", YES)],
    "same-day": [("cancer_status", '"none"'), ("numbness_or_tingling", YES)],
    "soon": [("cancer_status", '"known"'), ("back_pain", YES)],
}
TOOLS = {"standard": "", "large": "size.large", "larger": "size.larger",
         "contrast": "contrast.high", "dyslexic": "font.dyslexic",
         "all": "size.larger-contrast.high-font.dyslexic-motion.reduce"}


def _routine() -> list[tuple[str, str]]:
    from spinemets.web._core import triage_questions  # noqa: PLC0415

    keys = {"cancer_status": '"none"', "pain_location": '"lumbar"'}
    return [(q.id, keys.get(q.id, NO)) for q in triage_questions()]


def _serve() -> tuple[str, uvicorn.Server]:
    db = Path(tempfile.mkdtemp()) / "shots.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{db}", demo=True))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _answer(page: Page, base: str, answers: list[tuple[str, str]]) -> None:
    page.context.clear_cookies(name=re.compile(r"^sm_check"))  # one cookie per answer
    for qid, key in answers:
        page.goto(f"{base}/check/q/{qid}")
        page.locator(f"input[name=answer][value='{key}']").check()
        with page.expect_navigation():
            page.locator("form[action^='/check/q/'] button[type=submit]").click()


#: (state, language) pairs of the checker's result page to capture.
RESULT_SHOTS = [("emergency", "en"), ("urgent", "en"), ("routine", "en"), ("not-finished", "en"),
                ("emergency", "es")]
#: (tool, language) pairs of the emergency box to capture at a phone width.
BOX_SHOTS = [*((tool, "en") for tool in TOOLS), ("standard", "es"), ("all", "es")]
PHONE = 360
#: First screens: the home page and each result level, side by side in one PNG per page and
#: language: (label, width, height, tools, scale).
FIRST_PAGES = ["home", "emergency", "provisional", "warning-sign", "same-day", "urgent", "soon",
               "not-finished", "routine"]
FIRST_SCREENS = [("400 % zoom (320 x 256)", 320, 256, "standard", 1.0),
                 ("400 % zoom, all tools", 320, 256, "all", 1.0),
                 ("Phone (390 x 844)", 390, 844, "standard", 1.0),
                 ("Desktop (1280 x 900), half size", 1280, 900, "standard", 0.5)]


def _first_screens(browser: Browser, base: str, out: Path,
                   states: dict[str, list[tuple[str, str]]]) -> None:
    """One PNG per page and language: the first screen at each size of FIRST_SCREENS."""
    context = browser.new_context()
    page = context.new_page()
    gap, caption = 16, 28
    font = ImageFont.load_default(size=16)
    for name in FIRST_PAGES:
        if name != "home":
            _answer(page, base, states[name])
        for lang in ("en", "es"):
            panels = []
            for label, width, height, tool, scale in FIRST_SCREENS:
                context.clear_cookies(name="sm_prefs")
                cookies: list[Any] = [{"name": "sm_lang", "value": lang, "url": base}]
                if TOOLS[tool]:
                    cookies.append({"name": "sm_prefs", "value": TOOLS[tool], "url": base})
                context.add_cookies(cookies)
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{base}/" if name == "home" else f"{base}/check/result")
                page.evaluate("document.fonts.ready.then(() => true)")
                shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
                if scale != 1.0:
                    shot = shot.resize((round(width * scale), round(height * scale)),
                                       Image.Resampling.LANCZOS)
                panels.append((label, shot))
            sheet = Image.new("RGB", (sum(p.width for _, p in panels) + gap * (len(panels) + 1),
                                      max(p.height for _, p in panels) + caption + gap), "white")
            draw = ImageDraw.Draw(sheet)
            x = gap
            for label, panel in panels:
                draw.text((x, 6), label, fill="#212b32", font=font)
                sheet.paste(panel, (x, caption))
                draw.rectangle((x - 1, caption - 1, x + panel.width, caption + panel.height),
                               outline="#768692")
                x += panel.width + gap
            sheet.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(
                out / f"first-screen-{name}-{lang}.png", optimize=True)
    context.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base, server = _serve()
    states = {**STATES, "routine": _routine()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1024, "height": 900})
        page = context.new_page()
        for name, lang in RESULT_SHOTS:
            context.clear_cookies()
            context.add_cookies([{"name": "sm_lang", "value": lang, "url": base}])
            _answer(page, base, states[name])
            page.goto(f"{base}/check/result")
            page.locator("main").screenshot(path=str(out / f"checker-{name}-{lang}.png"))
        context.close()
        context = browser.new_context(viewport={"width": PHONE, "height": 900})
        page = context.new_page()
        for tool, lang in BOX_SHOTS:
            cookies = [{"name": "sm_lang", "value": lang, "url": base}]
            if TOOLS[tool]:
                cookies.append({"name": "sm_prefs", "value": TOOLS[tool], "url": base})
            context.clear_cookies()
            context.add_cookies(cookies)  # type: ignore[arg-type]
            page.goto(f"{base}/")
            box = page.locator(".nhsuk-card--care--emergency").first
            box.screenshot(path=str(out / f"emergency-box-{tool}-{lang}.png"))
        context.close()
        _first_screens(browser, base, out, states)
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
