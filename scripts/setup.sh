#!/usr/bin/env bash
# Create .venv and install spinemets with the given extras, pinned by constraints.txt.
# Usage: bash scripts/setup.sh "web"   |   bash scripts/setup.sh "dev,spark"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-web}"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip uv
.venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python -c constraints.txt -e ".[${extras}]"
