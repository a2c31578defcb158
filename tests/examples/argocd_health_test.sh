#!/usr/bin/env bash
# Runs the Argo CD health check (examples/argocd/health.lua, one script for
# ShardSet and MigrationPolicy) against both kinds' fixtures (no cluster),
# with every Lua interpreter found among lua5.1 (the dialect of Argo CD's
# gopher-lua) and lua5.4, or the one named by SHARDCAST_LUA.
set -euo pipefail
SRC="${SHARDCAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if [ -n "${SHARDCAST_LUA:-}" ]; then
  interpreters=("$SHARDCAST_LUA")
else
  interpreters=()
  for l in lua5.1 lua5.4; do
    if command -v "$l" >/dev/null 2>&1; then interpreters+=("$l"); fi
  done
fi
if [ ${#interpreters[@]} -eq 0 ]; then
  echo "argocd_health_test: no Lua interpreter (install lua5.4: bash hack/install-deps.sh)" >&2
  exit 1
fi
rc=0
for lua in "${interpreters[@]}"; do
  echo "== $lua"
  for dir in "$SRC/examples/argocd" "$SRC/examples/argocd/migrationpolicy"; do
    echo "-- ${dir#"$SRC"/}"
    python3 "$SRC/tests/examples/argocd_health_runner.py" "$dir" "$lua" || rc=1
  done
done
exit "$rc"
