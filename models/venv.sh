#!/usr/bin/env bash
# Prints the path of the models' Python (models/.venv, gitignored), creating it from the pinned
# requirements.txt on first use or when the pins change. Every training script runs with it:
#   "$(bash models/venv.sh)" models/<model>/train.py
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
exec bash "$HERE/../scripts/pyvenv.sh" "$HERE"
