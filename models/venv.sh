#!/usr/bin/env bash
# Prints the path of the models' Python (models/.venv, gitignored), creating it from the pinned
# requirements.txt on first use or when the pins change. Every training script runs with it:
#   "$(bash models/venv.sh)" models/<model>/train.py
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "models/venv.sh: creating $VENV" >&2
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q --require-virtualenv -r "$HERE/requirements.txt" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV/bin/python"
