#!/usr/bin/env bash
# Stop the embedded stack (API, worker and the Temporal dev server) started from this data directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ROOT}/.venv/bin/python"
[ -x "$PY" ] || PY=python3
cd "$ROOT"
exec "$PY" -m webtasks.cli down
