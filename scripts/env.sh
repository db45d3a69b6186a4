# Sourced by the scripts: runs the idempotent setup and exports what the build and tests need.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${LIASSE_SKIP_SETUP:-}" ]; then
  setup_out=$(bash .ci/setup)
else
  setup_out=""
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$(printf '%s\n' "$setup_out" | sed -n 's/^ORT_DYLIB_PATH=//p')}"
if [ -z "$ORT_DYLIB_PATH" ] && [ -f "$ROOT/.tools/onnxruntime-1.31.1/libonnxruntime.so.1.31.1" ]; then
  ORT_DYLIB_PATH="$ROOT/.tools/onnxruntime-1.31.1/libonnxruntime.so.1.31.1"
fi
export OMP_THREAD_LIMIT=1
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
