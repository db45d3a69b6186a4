#!/usr/bin/env bash
# Prints the path of the Python of DIR/.venv (gitignored), creating the venv from DIR's pinned
# requirements.txt on first use or when the pins change. Shared by models/venv.sh and
# fixtures/make.sh:   bash scripts/pyvenv.sh DIR
set -euo pipefail
DIR="$(cd "${1:?usage: pyvenv.sh DIR}" && pwd)"
VENV="$DIR/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$DIR/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "pyvenv.sh: creating $VENV" >&2
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q --require-virtualenv -r "$DIR/requirements.txt" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV/bin/python"
