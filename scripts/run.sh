#!/usr/bin/env bash
# Set up and start the web app on the embedded SQLite default, with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "web"
exec .venv/bin/spinemets serve --demo "$@"
