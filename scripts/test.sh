#!/usr/bin/env bash
# Install what is needed and run the whole test suite: lint and format check, the suite
# on the real PostgreSQL and Redis of this machine (a throwaway database per run), the
# browser tests (marker `browser`, tests/browser/) included, then the tests marked
# `sqlite` once more on the embedded SQLite default.
# The browser tests drive Debian's chromium through Playwright (never `playwright
# install`): chromium and fonts-wqy-microhei are installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
install_project test
install_debs chromium fonts-wqy-microhei
bash scripts/services.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== PostgreSQL + Redis (browser tests included) =="
.venv/bin/python -m pytest -q "$@"
echo "== SQLite (embedded default) =="
TEST_DB=sqlite .venv/bin/python -m pytest -q -m sqlite "$@"
