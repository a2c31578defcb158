#!/usr/bin/env bash
# Builds kstatus-check (hack/kstatus/main.go, pinned by go.mod/go.sum) into the
# Shardcast binary cache, like hack/controlplane.sh builds its Go components,
# and prints the binary's path. A cached build is reused (keyed by the hash of
# main.go, go.mod and go.sum).
#
#   hack/kstatus/build.sh        build if needed; print the path on stdout
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${SHARDCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shardcast}"
GO="${GO:-/usr/local/go/bin/go}"
if [ ! -x "$GO" ]; then GO="$(command -v go || true)"; fi
log() { printf '[kstatus %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

key="$(cat "$DIR/main.go" "$DIR/go.mod" "$DIR/go.sum" | sha256sum | cut -c1-12)"
out="${CACHE_ROOT}/bin/kstatus-check-${key}/kstatus-check"
if [ -x "$out" ]; then
  log "kstatus-check: cached at $out"
  echo "$out"
  exit 0
fi
[ -n "$GO" ] || { log "ERROR: no Go toolchain found (expected /usr/local/go/bin/go)"; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="${out}.tmp.$$"
start=$SECONDS
log "kstatus-check: go build (sigs.k8s.io/cli-utils $(sed -n 's/^require sigs.k8s.io\/cli-utils //p; s/^\tsigs.k8s.io\/cli-utils //p' "$DIR/go.mod" | head -1)); first build takes a minute or two"
(cd "$DIR" && "$GO" build -p 2 -trimpath -mod=readonly -ldflags "-s -w" -o "$tmp" .) &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  for _ in $(seq 1 15); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then log "kstatus-check: still compiling, $((SECONDS - start))s elapsed"; fi
done
if ! wait "$pid"; then
  rm -f "$tmp"
  log "kstatus-check: build FAILED after $((SECONDS - start))s"
  exit 1
fi
mv -f "$tmp" "$out"
log "kstatus-check: built in $((SECONDS - start))s -> $out"
echo "$out"
