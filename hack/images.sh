#!/usr/bin/env bash
# Builds the OCI images of Shardcast's binaries, offline, from scratch, with
# Debian's buildah (vfs storage in a temporary directory; nothing is pulled).
#
# Each image holds the binary, exactly the shared libraries it loads (and the
# dynamic loader), CA certificates, /etc/passwd and /etc/group with the
# nonroot user 65532, and runs as USER 65532 with the binary as entrypoint
# (hack/images/rootfs.py writes that root file system as a reproducible tar).
# The result is one oci-archive per image, tagged with the chart's appVersion:
#   build/images/operator.tar   shardcast/operator:<appVersion>
#   build/images/router.tar     shardcast/router:<appVersion>    (when built)
#   build/images/agent.tar      shardcast/agent:<appVersion>     (when built)
#
# usage: hack/images.sh [--build-dir DIR] [--out DIR] [--prefix REPO] [NAME=BINARY ...]
#   NAME=BINARY: image name and the binary's file name (or path) in the build
#   directory; default: operator=shardcast router=shardcast-router agent=shardcast-agent.
#   A binary that is not built is skipped with a message; no image at all is an error.
# Needs root (or a rootless buildah set-up with subordinate ids).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$ROOT/build"
OUT=""
PREFIX="shardcast"
SPECS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) SPECS+=("$1"); shift ;;
    *) echo "images: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#SPECS[@]} -gt 0 ] || SPECS=(operator=shardcast router=shardcast-router agent=shardcast-agent)
OUT="${OUT:-$BUILD_DIR/images}"
log() { printf 'images: %s\n' "$*" >&2; }

command -v buildah >/dev/null || { log "buildah is not installed (Debian package buildah; hack/install-deps.sh)"; exit 1; }
TAG="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$ROOT/charts/shardcast/Chart.yaml")"
[ -n "$TAG" ] || { log "no appVersion in charts/shardcast/Chart.yaml"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/shardcast-images.XXXXXX")"
B=(buildah --storage-driver vfs --root "$WORK/storage" --runroot "$WORK/run")
cleanup() {
  "${B[@]}" rm --all >/dev/null 2>&1 || true
  "${B[@]}" rmi --all --force >/dev/null 2>&1 || true
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"

find_binary() { # name-or-path -> path, or nothing
  if [[ "$1" == */* ]]; then
    [ -x "$1" ] && echo "$1"
    return 0
  fi
  find "$BUILD_DIR" -path "$OUT" -prune -o -path '*/CMakeFiles' -prune -o \
    -type f -name "$1" -perm -u+x -print 2>/dev/null | sort | head -n 1
}

built=0
for spec in "${SPECS[@]}"; do
  name="${spec%%=*}" bin_name="${spec#*=}"
  bin="$(find_binary "$bin_name")"
  if [ -z "$bin" ]; then
    log "skipping $name: no executable '$bin_name' under $BUILD_DIR (not built yet)"
    continue
  fi
  image="$PREFIX/$name:$TAG"
  log "building $image from $bin"
  python3 "$ROOT/hack/images/rootfs.py" --binary "$bin" --out "$WORK/$name-rootfs.tar" \
    --libs-out "$OUT/$name.libs.txt"
  ctr="$("${B[@]}" from --name "shardcast-$name" scratch)"
  "${B[@]}" add --quiet "$ctr" "$WORK/$name-rootfs.tar" / >/dev/null
  entry="/usr/local/bin/$(basename "$bin")"
  cmd='[]'
  [ "$name" = operator ] && cmd='["run"]'
  "${B[@]}" config --user 65532:65532 --workingdir /home/nonroot \
    --entrypoint "[\"$entry\"]" --cmd "$cmd" \
    --env HOME=/home/nonroot --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label "org.opencontainers.image.title=shardcast-$name" \
    --label "org.opencontainers.image.version=$TAG" \
    "$ctr"
  rm -f "$OUT/$name.tar"
  "${B[@]}" commit --quiet --format oci --timestamp 0 --disable-compression=false --rm "$ctr" \
    "oci-archive:$OUT/$name.tar:$image" >/dev/null
  size="$(stat -c %s "$OUT/$name.tar")"
  nlibs="$(wc -l <"$OUT/$name.libs.txt")"
  printf '%-10s %-28s %6.1f MiB  (%s shared objects, list: %s)\n' "$name" "$image" \
    "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$nlibs" "$OUT/$name.libs.txt"
  built=$((built + 1))
done
[ "$built" -gt 0 ] || { log "no image built: none of the binaries exists under $BUILD_DIR"; exit 1; }
log "$built image(s) in $OUT"
