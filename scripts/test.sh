#!/usr/bin/env bash
# Install what is needed and run the whole test suite: lint and format check, the suite
# on the real PostgreSQL and Redis of this machine (a throwaway database per run), and
# the tests marked `sqlite` once more on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2> >(grep -v 'WARNING: Location' >&2) >/dev/null
bash scripts/services.sh
bash scripts/fonts.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== PostgreSQL + Redis =="
.venv/bin/python -m pytest -q "$@"
echo "== SQLite (embedded default) =="
TEST_DB=sqlite .venv/bin/python -m pytest -q -m sqlite "$@"
