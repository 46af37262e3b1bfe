#!/usr/bin/env bash
# Set up a fresh machine and start the app on http://127.0.0.1:7860 (extra arguments go to app.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install() { .venv/bin/pip install -q "$@" 2> >(grep -v "WARNING: Location" >&2); }
pip_install -r requirements.txt
pip_install --no-deps -r requirements-nodeps.txt
exec .venv/bin/python app.py "$@"
