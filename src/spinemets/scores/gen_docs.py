"""Write `docs/scores/<slug>.md`: `python -m spinemets.scores.gen_docs DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

from spinemets.scores._docs import reference_markdown
from spinemets.scores._registry import registry


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else "docs/scores")
    out.mkdir(parents=True, exist_ok=True)
    for slug, defn in registry().items():
        (out / f"{slug}.md").write_text(reference_markdown(defn), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
