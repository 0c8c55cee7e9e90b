"""Write `docs/scores/<slug>.md` from the score tables.

``python -m spinemets.scores.gen_docs [DIR]`` writes the pages (default ``docs/scores``);
``python -m spinemets.scores.gen_docs --check [DIR]`` writes nothing and exits 1 when a page is
missing, differs from its table, or has no table any more.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spinemets.scores._docs import reference_markdown
from spinemets.scores._registry import registry


def pages() -> dict[str, str]:
    """File name -> content of every score page."""
    return {f"{slug}.md": reference_markdown(defn) for slug, defn in registry().items()}


def stale(out: Path, expected: dict[str, str]) -> list[str]:
    """Pages under ``out`` that are missing, out of date, or not generated from a table."""
    found = {p.name for p in out.glob("*.md")} if out.is_dir() else set()
    wrong = [name for name, text in expected.items()
             if name not in found or (out / name).read_text(encoding="utf-8") != text]
    return sorted(wrong + list(found - set(expected)))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    out = Path(args[0] if args else "docs/scores")
    expected = pages()
    if check:
        wrong = stale(out, expected)
        for name in wrong:
            print(f"{out / name}: out of date; run python -m spinemets.scores.gen_docs {out}")
        return 1 if wrong else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in expected.items():
        (out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
