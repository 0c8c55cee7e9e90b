"""Readability of the patient pages: Flesch-Kincaid grade (English), Fernández Huerta (Spanish).

Usage::

    .venv/bin/python scripts/readability.py           # table for every patient page
    .venv/bin/python scripts/readability.py --check   # exit 1 if a page misses its target

Every page is rendered through the application itself (``create_app`` on a temporary SQLite
file), so the figures are for the text people actually get, after translation. Works offline:
syllables come from pyphen's bundled hyphenation dictionaries.

What is counted
---------------
* Only text inside ``<main>``: the header, navigation, accessibility tools and footer are the
  same on every page and are left out.
* Visually hidden text (``nhsuk-u-visually-hidden``, the ``hidden`` attribute) is left out. It
  mostly repeats visible text for screen readers ("Contents", "Change <question>"), so counting
  it would count those words twice; ``<script>``, ``<style>`` and ``<template>`` are left out too.
* Every block element (heading, paragraph, list item, definition term or description, label,
  legend, button, table cell) ends a sentence, so a heading or a bullet without a full stop is
  one sentence. Inside a block, a sentence ends at ``.``, ``!`` or ``?`` followed by a space or
  the end of the block. Colons and semicolons do not end a sentence. The abbreviations
  "a. m."/"p. m." (Spanish clock times) and "e.g."/"i.e." are not sentence ends.
* A word is a run of letters (apostrophes inside a word allowed); hyphens split words
  ("X-ray" is two words). A number ("911", "24") is one word of one syllable.

Syllables
---------
pyphen splits a word at its hyphenation points. Hyphenation is not syllabification, so inside
each piece the vowel groups are counted as well:

* Spanish (``es``): hyphenation rules follow syllables except that they never split two vowels,
  so each piece counts one syllable per vowel nucleus, with a hiatus (two of a, e, o next to each
  other, or an accented í or ú beside another vowel) counting as two, and the silent u of
  que/qui/gue/gui not counted.
* English (``en_US``): the dictionary marks few breaks, so each piece counts its vowel groups
  (a, e, i, o, u, and y after the first letter), less a silent final "e" (not "-le" after a
  consonant), "-es" (not after s, x, z, ch, sh, c, g) or "-ed" (not after t, d). Each piece has at
  least one syllable.

Formulas
--------
* Flesch-Kincaid grade = 0.39 x words/sentence + 11.8 x syllables/word - 15.59.
* Fernández Huerta (1959), as corrected by Law (2011): 206.84 - 60 x syllables/word
  - 1.02 x words/sentence. (The form often quoted, with "sentences per 100 words", is a
  transcription error.) 80-90 reads as "easy" (about a 5th-6th grade reader).

Targets: grade 6 or less in English, 80 or more in Spanish.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pyphen  # type: ignore[import-untyped]
from fastapi.testclient import TestClient

from spinemets.web import Settings, create_app
from spinemets.web._core import triage_questions

__all__ = [
    "FH_TARGET",
    "FK_TARGET",
    "PageScore",
    "TextStats",
    "count_syllables",
    "fernandez_huerta",
    "flesch_kincaid_grade",
    "main",
    "measure",
    "page_html",
    "score_pages",
    "sentences",
    "visible_blocks",
    "words",
]

FK_TARGET = 6.0
FH_TARGET = 80.0

_DICTIONARIES = {"en": "en_US", "es": "es"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,:]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+|(?<=[.!?])[\"”’)\]]*$")
_ABBREVIATIONS = (
    (re.compile(r"\b([ap])\.\s?m\.", re.IGNORECASE), r"\1m"),
    (re.compile(r"\be\.g\.", re.IGNORECASE), "eg"),
    (re.compile(r"\bi\.e\.", re.IGNORECASE), "ie"),
)


# --- syllables -----------------------------------------------------------------------------

@cache
def _hyphenator(language: str) -> pyphen.Pyphen:
    left = 2 if language == "en" else 1
    return pyphen.Pyphen(lang=_DICTIONARIES[language], left=left, right=left)


_ES_VOWELS = frozenset("aeiouáéíóúü")
_ES_STRONG = frozenset("aeoáéó")
_ES_ACCENTED_WEAK = frozenset("íú")


_ES_SILENT_U = re.compile(r"(?<=[gq])u(?=[eiéí])")


def _spanish_nuclei(piece: str) -> int:
    piece = _ES_SILENT_U.sub("", piece)  # the u of que, qui, gue, gui is silent
    count = 0
    previous = ""
    for char in piece:
        if char not in _ES_VOWELS:
            previous = ""
            continue
        if not previous:
            count += 1
        elif (previous in _ES_STRONG and char in _ES_STRONG) or (
            previous in _ES_ACCENTED_WEAK or char in _ES_ACCENTED_WEAK
        ):
            count += 1  # hiatus: a second nucleus
        previous = char
    return count


_EN_VOWEL_GROUP = re.compile(r"[aeiouy]+")
# A silent final e (not -ee, -ye, or -le after a consonant), -es (not after s, x, z, c, g, ch,
# sh) or -ed (not after t, d).
_EN_SILENT_ENDING = re.compile(
    r"(?:(?<![ey])(?<![^aeiouy]l)e|(?<![sxzcg])(?<![cs]h)es|(?<![td])ed)$"
)


def _english_groups(piece: str, *, first: bool, last: bool) -> int:
    text = piece
    if first and text.startswith("y"):
        text = text[1:]  # "you", "yes": a consonant y
    count = len(_EN_VOWEL_GROUP.findall(text))
    if last and count > 1 and _EN_SILENT_ENDING.search(text):
        count -= 1
    return max(1, count)


def count_syllables(word: str, language: str) -> int:
    """Syllables in ``word`` (``language`` "en" or "es"); a number counts as one."""
    lowered = word.lower()
    if not any(char.isalpha() for char in lowered):
        return 1
    pieces = _hyphenator(language).inserted(lowered, hyphen="\x00").split("\x00")
    if language == "es":
        return max(1, sum(_spanish_nuclei(piece) for piece in pieces))
    last = len(pieces) - 1
    return sum(_english_groups(piece, first=i == 0, last=i == last)
               for i, piece in enumerate(pieces))


# --- words and sentences -------------------------------------------------------------------

def words(text: str) -> list[str]:
    """The words of ``text`` (letter runs and numbers; hyphens split words)."""
    return _WORD.findall(text)


def sentences(block: str) -> list[str]:
    """The sentences of one block of text (a block always ends a sentence)."""
    text = " ".join(block.split())
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return [part for part in _SENTENCE_END.split(text) if words(part)]


@dataclass(frozen=True)
class TextStats:
    """Counts for a text: words, sentences and syllables."""

    words: int
    sentences: int
    syllables: int

    @property
    def words_per_sentence(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0

    @property
    def syllables_per_word(self) -> float:
        return self.syllables / self.words if self.words else 0.0


def measure(blocks: Iterable[str], language: str) -> TextStats:
    """Word, sentence and syllable counts over blocks of text in ``language``."""
    n_words = n_sentences = n_syllables = 0
    for block in blocks:
        for sentence in sentences(block):
            found = words(sentence)
            n_sentences += 1
            n_words += len(found)
            n_syllables += sum(count_syllables(word, language) for word in found)
    return TextStats(words=n_words, sentences=n_sentences, syllables=n_syllables)


def flesch_kincaid_grade(stats: TextStats) -> float:
    """Flesch-Kincaid grade level (English)."""
    return 0.39 * stats.words_per_sentence + 11.8 * stats.syllables_per_word - 15.59


def fernandez_huerta(stats: TextStats) -> float:
    """Fernández Huerta reading ease (Spanish), in Law's corrected form."""
    return 206.84 - 60 * stats.syllables_per_word - 1.02 * stats.words_per_sentence


# --- visible text of <main> ----------------------------------------------------------------

_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "button", "caption", "dd", "details",
    "div", "dl", "dt", "fieldset", "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "label", "legend", "li", "main", "nav", "ol", "p", "section", "summary",
    "table", "td", "th", "tr", "ul",
})
_SKIPPED = frozenset({"script", "style", "template"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


class _MainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._in_main = 0
        self._stack: list[tuple[str, bool]] = []  # (tag, hidden)
        self._hidden = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br" and self._in_main:
                self._flush()
            return
        names = dict(attrs)
        classes = (names.get("class") or "").split()
        hidden = (tag in _SKIPPED or "hidden" in names
                  or "nhsuk-u-visually-hidden" in classes)
        self._stack.append((tag, hidden))
        self._hidden += hidden
        if tag == "main":
            self._in_main += 1
        if self._in_main and tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self._stack:
            open_tag, hidden = self._stack.pop()
            self._hidden -= hidden
            if self._in_main and open_tag in _BLOCKS:
                self._flush()
            if open_tag == "main":
                self._in_main -= 1
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_main and not self._hidden:
            self._current.append(data)


def visible_blocks(html: str) -> list[str]:
    """The visible text inside ``<main>``, one string per block element."""
    parser = _MainText()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.blocks


# --- the pages -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PageScore:
    """Readability of one page in one language."""

    page: str
    language: str
    stats: TextStats

    @property
    def score(self) -> float:
        """FK grade (English) or Fernández Huerta index (Spanish)."""
        if self.language == "en":
            return flesch_kincaid_grade(self.stats)
        return fernandez_huerta(self.stats)

    @property
    def meets_target(self) -> bool:
        if self.language == "en":
            return self.score <= FK_TARGET
        return self.score >= FH_TARGET


# An emergency answer on the first questions: the result page with the emergency advice.
_EMERGENCY_ANSWERS = (("cancer_status", '"known"'), ("limb_weakness", "true"))


def page_html(client: TestClient, language: str) -> Iterator[tuple[str, str]]:
    """(page, HTML) for every patient page in ``language``, rendered by a TestClient."""
    paths = ["/", "/guide", "/check"]
    paths += [f"/check/q/{question.id}" for question in triage_questions()]
    paths += ["/clinics", "/accessibility"]
    for path in paths:
        response = client.get(path, params={"lang": language})
        response.raise_for_status()
        yield path, response.text
    client.cookies.clear()
    for qid, answer in _EMERGENCY_ANSWERS:
        client.post(f"/check/q/{qid}", data={"answer": answer}, follow_redirects=False)
    response = client.get("/check/result", params={"lang": language})
    response.raise_for_status()
    yield "/check/result (emergency)", response.text
    client.cookies.clear()


def score_pages(languages: Iterable[str] = ("en", "es")) -> list[PageScore]:
    """Render every patient page through the app and score it in each language."""
    scores: list[PageScore] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'readability.sqlite3'}",
                            environment="test", secret_key="r" * 40, demo=True)
        with TestClient(create_app(settings)) as client:
            for language in languages:
                for page, html in page_html(client, language):
                    stats = measure(visible_blocks(html), language)
                    scores.append(PageScore(page=page, language=language, stats=stats))
    return scores


def _table(scores: list[PageScore]) -> str:
    by_page: dict[str, dict[str, PageScore]] = {}
    for item in scores:
        by_page.setdefault(item.page, {})[item.language] = item
    header = (f"{'page':<37} {'EN FK':>6} {'EN w/s':>7} {'ES FH':>6} {'ES w/s':>7}  "
              f"(targets: FK <= {FK_TARGET:g}, FH >= {FH_TARGET:g})")
    lines = [header, "-" * len(header)]
    for page, langs in by_page.items():
        cells = []
        for language in ("en", "es"):
            found = langs.get(language)
            if found is None:
                cells.append(f"{'':>6} {'':>7}")
                continue
            mark = " " if found.meets_target else "*"
            cells.append(f"{found.score:>5.1f}{mark} {found.stats.words_per_sentence:>7.1f}")
        lines.append(f"{page:<37} {cells[0]} {cells[1]}")
    lines.append("* misses its target")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if any page misses its target")
    parser.add_argument("--show-text", metavar="PAGE",
                        help="print the sentences counted on PAGE (e.g. /guide), both languages")
    args = parser.parse_args(argv)
    scores = score_pages()
    print(_table(scores))
    if args.show_text:
        _show_text(args.show_text)
    if args.check and not all(item.meets_target for item in scores):
        return 1
    return 0


def _show_text(page: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'readability.sqlite3'}",
                            environment="test", secret_key="r" * 40, demo=True)
        with TestClient(create_app(settings)) as client:
            for language in ("en", "es"):
                html = client.get(page, params={"lang": language}).text
                print(f"\n== {page} [{language}]")
                for block in visible_blocks(html):
                    for sentence in sentences(block):
                        found = words(sentence)
                        syllables = sum(count_syllables(w, language) for w in found)
                        print(f"{len(found):>3}w {syllables:>3}s  {sentence}")


if __name__ == "__main__":
    sys.exit(main())
