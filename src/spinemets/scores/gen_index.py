"""Write ``scores/_index.json``, the registry listing ``spinemets scores`` reads (see ``_index``).

``python -m spinemets.scores.gen_index`` writes it from the score tables (atomically: a
temporary file renamed over the old one); ``python -m spinemets.scores.gen_index --check``
writes nothing and exits 1 when it is missing or differs from what the tables give.
"""

from __future__ import annotations

import json
import sys

from spinemets._atomic import write_output
from spinemets.scores._index import INDEX, build


def text() -> str:
    """The content ``_index.json`` should have."""
    return json.dumps(build(), ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    expected = text()
    if "--check" in argv:
        current = INDEX.read_text(encoding="utf-8") if INDEX.exists() else None
        if current != expected:
            print(f"{INDEX}: out of date; run python -m spinemets.scores.gen_index")
            return 1
        return 0
    write_output(INDEX, expected, mode=0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
