# Sourced by serve.sh and test.sh: the project's virtualenv, installed again only when
# pyproject.toml changed, and Debian packages installed when missing.

PY=${PYTHON:-python3}

# One line of JSON on stderr, the same shape as the server's log lines.
note() {
  printf '{"ts": "%s", "level": "INFO", "logger": "scripts", "msg": "%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S%z)" "$1" >&2
}

# install_project [EXTRAS]: `pip install -e .[EXTRAS]` into .venv, skipped when the stamp
# .venv/.installed[-EXTRAS] holds the sha256 of pyproject.toml (nothing changed since).
install_project() {
  local extras=${1:-} spec="." stamp=".venv/.installed${1:+-$1}" want
  [ -n "$extras" ] && spec=".[$extras]"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  note "installing the Python packages of pyproject.toml ($spec) into .venv: first run or pyproject.toml changed"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" \
    2> >(grep -v "WARNING: Location" >&2) >/dev/null
  echo "$want" >"$stamp"
}

# install_debs PKG...: `apt-get install -y` those not installed (root only). Returns 1,
# having said why, when some are missing and apt-get cannot be used.
install_debs() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    note "not installing ${missing[*]}: apt-get needs root on a Debian system"
    return 1
  fi
  note "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}
