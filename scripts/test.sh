#!/usr/bin/env bash
# Set up and run the whole test suite (unit, property, golden, CLI, API, browser, Spark, PostgreSQL).
# Browser tests need Debian's chromium (apt-get install -y chromium fonts-liberation); PostgreSQL
# tests read SPINEMETS_TEST_POSTGRES_URL. .ci/run provides both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,spark"
exec .venv/bin/python -m pytest "$@"
