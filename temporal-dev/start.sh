#!/usr/bin/env bash
# Start the embedded Temporal dev server for Webtasks, or reuse the one already listening.
#
#   temporal-dev/start.sh            # 127.0.0.1:7233, UI on :8233, SQLite in $WEBTASKS_DATA_DIR (./.webtasks)
#
# Runs and their histories persist in <data dir>/temporal.db across restarts. The Webtasks search
# attributes (WebtasksWorkspace, WebtasksReuseKey, WebtasksOutcome, WebtasksModel) are registered at
# start so the Temporal UI can filter runs by them. Settings: WEBTASKS_TEMPORAL_ADDRESS,
# WEBTASKS_TEMPORAL_UI_PORT, WEBTASKS_TEMPORAL_NAMESPACE, WEBTASKS_DATA_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ROOT}/.venv/bin/python"
[ -x "$PY" ] || PY=python3
cd "$ROOT"
exec "$PY" -m webtasks.stack
