#!/usr/bin/env bash
# Set up a fresh machine and start the app on http://127.0.0.1:7860 (extra arguments go to app.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt 2>&1 | grep -v "WARNING: Location" || true
.venv/bin/pip install -q --no-deps -r requirements-nodeps.txt 2>&1 | grep -v "WARNING: Location" || true
exec .venv/bin/python app.py "$@"
