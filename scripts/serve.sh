#!/usr/bin/env bash
# Install what is needed and serve the API on the embedded default: a SQLite file under
# instance/, jobs in-process, demo data loaded. Prints where the API docs are.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2> >(grep -v "WARNING: Location" >&2) >/dev/null
bash scripts/fonts.sh
exec .venv/bin/python -m backend.serve
