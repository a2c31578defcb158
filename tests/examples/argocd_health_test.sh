#!/usr/bin/env bash
# Runs examples/argocd/health.lua against its Argo CD fixtures (no cluster).
set -euo pipefail
SRC="${SHARDCAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LUA="${SHARDCAST_LUA:-$(command -v lua5.4 || command -v lua5.3 || command -v lua5.1 || command -v lua || true)}"
if [ -z "$LUA" ]; then
  echo "argocd_health_test: no Lua interpreter (install lua5.4: bash hack/install-deps.sh)" >&2
  exit 1
fi
exec python3 "$SRC/tests/examples/argocd_health_runner.py" "$SRC/examples/argocd" "$LUA"
