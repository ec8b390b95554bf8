#!/usr/bin/env bash
# Install what is needed and serve the API on the embedded default: a SQLite file under
# instance/, jobs in-process, demo data loaded. Its log, the banner with where the API docs
# are included, is one JSON object per line.
# The Python packages are installed again only when pyproject.toml changed (a stamp in
# .venv/); the Chinese font (fonts-wqy-microhei) is installed when missing, where apt-get
# can be used, and skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
install_project
install_debs fonts-wqy-microhei || true
exec .venv/bin/python -m backend.serve
