"""Readability of the patient pages, measured the standard way.

Flesch-Kincaid grade (English); Fernández-Huerta and INFLESZ (Spanish).

Usage::

    .venv/bin/python scripts/readability.py              # table: every page and question
    .venv/bin/python scripts/readability.py --markdown   # the same table for the README
    .venv/bin/python scripts/readability.py --check      # exit 1 if anything misses a target
    .venv/bin/python scripts/readability.py --show-text /guide   # the sentences counted

Every page is rendered through the application itself (``create_app`` on a temporary SQLite
file, over https as deployed), so the figures are for the text people actually get, after
translation: home, guide, checker start, every question page, every result the checker can
show (emergency, possible emergency, warning sign, see a doctor today, urgent, soon, routine,
not finished, not sure), clinics and accessibility. Each question is also scored on its own text
(the question and its hint), as a question must be readable by itself. Works offline:
syllables come from pyphen's bundled hyphenation dictionaries.

What is counted: the running text
---------------------------------
Flesch's instructions for the formula: "Test only the running text ... Skip titles, headings,
subheads, section and paragraph numbers, captions, date lines and signature lines"; count as
words "contractions, hyphenated words, abbreviations, figures"; count syllables as pronounced
(R. Flesch, *How to Write Plain English*, ch. 2, "Let's Start With the Formula"). Studies of
patient materials strip "headers, bullet point symbols, addresses, phone numbers, citations"
the same way. Here that means, inside ``<main>`` only (the header, navigation, accessibility
tools and footer are the same on every page):

* Form controls are not prose and are left out: buttons and button-styled links ("Continue",
  "Start now", "Call 911"), the labels of answer options ("Yes", "No", "Not sure"), ``select``,
  ``option`` and ``textarea``. The question itself (the legend's heading) and its hint are prose
  and are counted.
* The progress counter ("Question 2 of 20", ``nhsuk-caption-*``), visually hidden text (it
  repeats visible text for screen readers), ``hidden`` or ``aria-hidden`` elements, tags
  ("Example"), ``<script>``, ``<style>``, ``<template>`` and ``<noscript>`` are left out.
* Not running text, as in Flesch's list: titles (``h1``-``h6``, ``dt``, ``legend``, ``caption``,
  ``summary``) unless they are a sentence or lead into one, that is unless they end in ``.``,
  ``?``, ``!`` or ``:`` (a question heading and the emergency box's lead-in are counted);
  navigation (the guide's contents list); key-value lists (``nhsuk-summary-list``: phone
  numbers, addresses, opening hours, and the result page's list of answers, whose questions are
  measured on their own pages); ``<address>``; the source line of a citation.

Sentences
---------
The running text is read as one text: element boundaries never end a sentence. A sentence ends
only at ``.``, ``?`` or ``!`` followed by a space or the end of the text. So a list item or a
paragraph without a full stop runs on into what follows, as it would in any standard tool given
the visible text: a lead-in with its bullet points is one sentence unless the bullets end in full
stops. Colons and semicolons do not end a sentence. The abbreviations "a. m."/"p. m." (clock
times) and "e.g."/"i.e." are not sentence ends, except that "p.m." followed by a capital letter
ends its sentence.

A word is a run of letters (apostrophes inside a word allowed); hyphens split words ("X-ray" is
two words). A number ("911", "24") is one word of one syllable.

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
  consonant), "-es" (not after s, x, z, ch, sh, c, g) or "-ed" (not after t, d); a piece inside
  the word also loses a final consonant + "e" ("im-me-di-ate-ly", "some-times"). Each piece has
  at least one syllable.

``tests/web/test_readability.py`` checks the counts against 50 English and 56 Spanish words
counted by hand from dictionary syllabification: Spanish agrees on every word, English on 48 of
50 (96 %; "biopsy" is one syllable under, "everyone" one over).

Formulas and targets
--------------------
* Flesch-Kincaid grade = 0.39 x words/sentence + 11.8 x syllables/word - 15.59 (Kincaid et al.
  1975). Target: grade 6 or less.
* Fernández-Huerta (1959), as corrected by Law (2011): 206.84 - 60 x syllables/word - 1.02 x
  words/sentence. (The form often quoted, with "sentences per 100 words", is a transcription
  error.) The same constants are used by the Spanish readability tools of legible.es
  (amunozf/legibilidad) and readsight. Target: 70 or more ("fairly easy" and above).
* INFLESZ (Barrio-Cantalejo et al., An Sist Sanit Navar 2008;31(2):135-152): the Szigriszt-Pazos
  perspicuity formula (1993), 206.835 - 62.3 x syllables/word - words/sentence, read on the
  INFLESZ scale (55-65 normal, 65-80 "bastante fácil", 80+ "muy fácil"). Target: 65 or more.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    "INFLESZ_TARGET",
    "PageScore",
    "TextStats",
    "count_syllables",
    "fernandez_huerta",
    "flesch_kincaid_grade",
    "inflesz",
    "main",
    "markdown",
    "measure",
    "page_html",
    "prose",
    "score_client",
    "score_pages",
    "sentences",
    "table",
    "words",
]

FK_TARGET = 6.0
FH_TARGET = 70.0
INFLESZ_TARGET = 65.0

_DICTIONARIES = {"en": "en_US", "es": "es"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,:]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+|(?<=[.!?])[\"”’)\]]*$")
# Abbreviations whose full stops do not end a sentence, unless a new sentence starts after them
# ("... to 5 p.m. Call us." is two sentences).
_NEXT_SENTENCE = r"(?=\s+[\"“¿¡]?[A-ZÁÉÍÓÚÑ])"
_ABBREVIATIONS = (
    (re.compile(r"\b([ap])\.\s?m\." + _NEXT_SENTENCE), r"\1m."),
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
# A piece inside the word that ends in consonant + e ("im-me-di-ate-ly", "some-times").
_EN_SILENT_E_INSIDE = re.compile(r"[^aeiouy]e$")


def _english_groups(piece: str, *, first: bool, last: bool) -> int:
    text = piece
    if first and text.startswith("y"):
        text = text[1:]  # "you", "yes": a consonant y
    count = len(_EN_VOWEL_GROUP.findall(text))
    if count > 1 and (_EN_SILENT_ENDING if last else _EN_SILENT_E_INSIDE).search(text):
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


def sentences(text: str) -> list[str]:
    """The sentences of ``text``: a sentence ends only at ``.``, ``?`` or ``!`` (or the end)."""
    text = " ".join(text.split())
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


def measure(text: str, language: str) -> TextStats:
    """Word, sentence and syllable counts of ``text`` in ``language``."""
    n_words = n_sentences = n_syllables = 0
    for sentence in sentences(text):
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


def inflesz(stats: TextStats) -> float:
    """Szigriszt-Pazos perspicuity (Spanish), read on the INFLESZ scale (Barrio-Cantalejo)."""
    return 206.835 - 62.3 * stats.syllables_per_word - stats.words_per_sentence


# --- visible prose of <main> ---------------------------------------------------------------

# Elements whose text is not running prose: form controls, navigation, contact data, citations.
_CONTROLS = frozenset({"button", "select", "option", "textarea", "label", "nav", "address"})
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript"}) | _CONTROLS
# Class names for text that is not prose: visually hidden text, the progress counter
# ("Question 2 of 20"), button-styled links, tags ("Example"), key-value lists, source lines.
_SKIPPED_CLASSES = frozenset({
    "nhsuk-u-visually-hidden", "nhsuk-caption-m", "nhsuk-caption-l", "nhsuk-caption-xl",
    "nhsuk-button", "nhsuk-tag", "nhsuk-summary-list", "nhsuk-back-link", "sm-source",
})
# Titles: kept only when they are a sentence or lead into one (end in . ? ! or :).
_TITLES = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "dt", "caption", "legend", "summary"})
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "button", "caption", "dd", "details",
    "div", "dl", "dt", "fieldset", "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "label", "legend", "li", "main", "nav", "ol", "p", "section", "summary",
    "table", "td", "th", "tr", "ul",
})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})
_LEADS_ON = re.compile(r"[.!?:][\"”’)\]]*$")


class _Prose(HTMLParser):
    def __init__(self, root: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = root
        self.chunks: list[str] = []
        self._inside = 0
        self._stack: list[tuple[str, bool, list[str] | None]] = []  # (tag, skipped, title)
        self._skipped = 0
        self._titles: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if self._inside and not self._skipped:
                self._emit(" ")
            return
        names = dict(attrs)
        classes = set((names.get("class") or "").split())
        skipped = bool(tag in _SKIPPED_TAGS or "hidden" in names or classes & _SKIPPED_CLASSES
                       or names.get("role") == "button" or names.get("aria-hidden") == "true")
        title: list[str] | None = [] if tag in _TITLES and not skipped else None
        self._stack.append((tag, skipped, title))
        self._skipped += skipped
        if tag == self.root:
            self._inside += 1
        if title is not None:
            self._titles.append(title)
        if self._inside and tag in _BLOCKS:
            self._emit(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self._stack:
            open_tag, skipped, title = self._stack.pop()
            self._skipped -= skipped
            if title is not None:
                self._titles.pop()
                text = " ".join("".join(title).split())
                if text and _LEADS_ON.search(text):
                    self._emit(text)
            if self._inside and open_tag in _BLOCKS:
                self._emit(" ")
            if open_tag == self.root:
                self._inside -= 1
            if open_tag == tag:
                break

    def _emit(self, text: str) -> None:
        if self._titles:
            self._titles[-1].append(text)
        elif self._inside:
            self.chunks.append(text)

    def handle_data(self, data: str) -> None:
        if self._inside and not self._skipped:
            self._emit(data)


def prose(html: str, *, root: str = "main") -> str:
    """The running text inside ``root`` (``main``, or ``fieldset`` for a question's own text).

    Block boundaries become spaces: they never end a sentence.
    """
    parser = _Prose(root)
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.chunks).split())


# --- the pages -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PageScore:
    """Readability of one page, or of one question's own text, in one language."""

    page: str
    language: str
    stats: TextStats
    kind: str = "page"  # "page" (all the prose of the page) or "question" (legend and hint)

    @property
    def grade(self) -> float:
        """Flesch-Kincaid grade (meant for English)."""
        return flesch_kincaid_grade(self.stats)

    @property
    def fernandez_huerta(self) -> float:
        """Fernández-Huerta reading ease (meant for Spanish)."""
        return fernandez_huerta(self.stats)

    @property
    def inflesz(self) -> float:
        """Szigriszt-Pazos perspicuity on the INFLESZ scale (meant for Spanish)."""
        return inflesz(self.stats)

    @property
    def misses(self) -> list[str]:
        """The targets this text misses, in words (empty when it meets them all)."""
        if self.language == "en":
            return [] if self.grade <= FK_TARGET else [f"FK grade {self.grade:.1f}"]
        missed = []
        if self.fernandez_huerta < FH_TARGET:
            missed.append(f"Fernández-Huerta {self.fernandez_huerta:.1f}")
        if self.inflesz < INFLESZ_TARGET:
            missed.append(f"INFLESZ {self.inflesz:.1f}")
        return missed

    @property
    def meets_target(self) -> bool:
        return not self.misses


# Answers that lead to each result the checker can show (``/check/result``).
def _no_to_everything() -> list[tuple[str, str]]:
    answers = []
    for question in triage_questions():
        keys = [option.key for option in question.options]
        key = {"cancer_status": '"none"', "pain_location": '"lumbar"'}.get(question.id, "false")
        answers.append((question.id, key if key in keys else keys[-1]))
    return answers


def _results() -> dict[str, list[tuple[str, str]]]:
    first_signs = [(q.id, "false") for q in triage_questions()[1:8]]
    return {
        "emergency": [("cancer_status", '"known"'), ("limb_weakness", "true")],
        "possible emergency": [("cancer_status", '"unknown"'), ("limb_weakness", "true")],
        "warning sign": [("cancer_status", '"none"'), ("radicular_pain", "true")],
        "see a doctor today": [("cancer_status", '"none"'), ("limb_weakness", "true")],
        "urgent": [("cancer_status", '"known"'), *first_signs, ("back_pain", "true"),
                   ("pain_location", '"thoracic"')],
        "soon": [("cancer_status", '"none"'), *first_signs, ("back_pain", "true"),
                 ("weight_loss", "true")],
        "routine": _no_to_everything(),
        "not finished": [("cancer_status", '"known"'), ("limb_weakness", "false")],
        "not sure": [("cancer_status", '"known"'), ("limb_weakness", "null")],
    }


def page_html(client: TestClient, language: str) -> Iterator[tuple[str, str]]:
    """(page, HTML) for every patient page in ``language``, rendered by a TestClient.

    The checker's result page is rendered once for each result it can show.
    """
    paths = ["/", "/guide", "/check"]
    paths += [f"/check/q/{question.id}" for question in triage_questions()]
    paths += ["/clinics", "/accessibility"]
    for path in paths:
        response = client.get(path, params={"lang": language})
        response.raise_for_status()
        yield path, response.text
    for name, answers in _results().items():
        client.cookies.clear()
        for qid, answer in answers:
            client.post(f"/check/q/{qid}", data={"answer": answer}, follow_redirects=False)
        response = client.get("/check/result", params={"lang": language})
        response.raise_for_status()
        yield f"/check/result ({name})", response.text
    client.cookies.clear()


@contextmanager
def _client() -> Iterator[TestClient]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'readability.sqlite3'}",
                            environment="test", secret_key="r" * 40, demo=True)
        # https, as deployed: the answer cookies are Secure outside development
        with TestClient(create_app(settings), base_url="https://testserver") as client:
            yield client


def score_client(client: TestClient, languages: Iterable[str] = ("en", "es")) -> list[PageScore]:
    """Score every patient page, and every question's own text, through ``client``."""
    scores: list[PageScore] = []
    for language in languages:
        for page, html in page_html(client, language):
            scores.append(PageScore(page, language, measure(prose(html), language)))
            if page.startswith("/check/q/"):
                own = measure(prose(html, root="fieldset"), language)
                scores.append(PageScore(page.removeprefix("/check/q/"), language, own,
                                        kind="question"))
    return scores


def score_pages(languages: Iterable[str] = ("en", "es")) -> list[PageScore]:
    """Render every patient page through the app and score it in each language."""
    with _client() as client:
        return score_client(client, languages)


def _rows(scores: list[PageScore], kind: str) -> list[tuple[str, PageScore, PageScore]]:
    by_page: dict[str, dict[str, PageScore]] = {}
    for item in scores:
        if item.kind == kind:
            by_page.setdefault(item.page, {})[item.language] = item
    return [(page, langs["en"], langs["es"]) for page, langs in by_page.items()]


def _mark(ok: bool) -> str:
    return " " if ok else "*"


def table(scores: list[PageScore]) -> str:
    """A plain-text table: EN FK grade, ES Fernández-Huerta and INFLESZ, words per sentence."""
    header = (f"{'page or question':<40} {'EN FK':>6} {'w/s':>5} {'ES FH':>6} {'INFLESZ':>8}"
              f" {'w/s':>5}")
    lines = [header, "-" * len(header)]
    for kind in ("page", "question"):
        for page, en, es in _rows(scores, kind):
            lines.append(
                f"{page:<40} {en.grade:>5.1f}{_mark(en.meets_target)} "
                f"{en.stats.words_per_sentence:>5.1f} "
                f"{es.fernandez_huerta:>5.1f}{_mark(es.fernandez_huerta >= FH_TARGET)} "
                f"{es.inflesz:>7.1f}{_mark(es.inflesz >= INFLESZ_TARGET)} "
                f"{es.stats.words_per_sentence:>5.1f}")
    lines.append(f"* misses its target (FK <= {FK_TARGET:g}; Fernández-Huerta >= "
                 f"{FH_TARGET:g}; INFLESZ >= {INFLESZ_TARGET:g})")
    return "\n".join(lines)


def markdown(scores: list[PageScore]) -> str:
    """The same figures as a Markdown table for the README (pages, then questions)."""
    lines = ["| Page or question (own text) | EN Flesch-Kincaid grade | ES Fernández-Huerta "
             "| ES INFLESZ |", "|---|---:|---:|---:|"]
    for kind in ("page", "question"):
        for page, en, es in _rows(scores, kind):
            name = f"`{page}`" if kind == "page" else f"question `{page}`"
            cells = [f"{en.grade:.1f}" + ("" if en.meets_target else " ✗"),
                     f"{es.fernandez_huerta:.1f}"
                     + ("" if es.fernandez_huerta >= FH_TARGET else " ✗"),
                     f"{es.inflesz:.1f}" + ("" if es.inflesz >= INFLESZ_TARGET else " ✗")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if any page or question misses its target")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table in Markdown (for the README)")
    parser.add_argument("--show-text", metavar="PAGE",
                        help="print the sentences counted on PAGE (e.g. /guide), both languages")
    args = parser.parse_args(argv)
    with _client() as client:
        scores = score_client(client)
        print(markdown(scores) if args.markdown else table(scores))
        if args.show_text:
            _show_text(client, args.show_text)
    if args.check and not all(item.meets_target for item in scores):
        return 1
    return 0


def _show_text(client: TestClient, page: str) -> None:
    for language in ("en", "es"):
        html = client.get(page, params={"lang": language}).text
        print(f"\n== {page} [{language}]")
        for sentence in sentences(prose(html)):
            found = words(sentence)
            syllables = sum(count_syllables(w, language) for w in found)
            print(f"{len(found):>3}w {syllables:>3}s  {sentence}")


if __name__ == "__main__":
    sys.exit(main())
