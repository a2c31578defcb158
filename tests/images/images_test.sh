#!/usr/bin/env bash
# The images of `make images` (hack/images.sh), each run from its own
# unpacked root in an isolated sandbox (bubblewrap: new user, PID, IPC, UTS,
# mount and network namespaces, uid 65532, the image root read-only, nothing
# of the host's file system visible):
#  - every blob of every archive matches its digest and size (oci_unpack.py);
#  - the config runs as 65532:65532, which /etc/passwd names "nonroot";
#  - `ENTRYPOINT --help` exits 0 in each image (so the libraries are all there);
#  - the operator image, given a copy of the local control plane's kubeconfig
#    and sharing only the loopback network, reconciles examples/shardset.yaml:
#    its pods are created, its status is written, and /healthz answers ok.
# Usage: images_test.sh BUILD_DIR
source "$(dirname "${BASH_SOURCE[0]}")/../crds/lib.sh"

BUILD="${1:?usage: images_test.sh BUILD_DIR}"
command -v bwrap >/dev/null || die "bwrap not installed (Debian package bubblewrap; hack/install-deps.sh)"
WORK="$(mktemp -d /tmp/shardcast-images-test.XXXXXX)"
add_cleanup "rm -rf '$WORK'"

bash "$SRC/hack/images.sh" --build-dir "$BUILD" --out "$WORK/images" || die "hack/images.sh failed"
[ -f "$WORK/images/operator.tar" ] || die "no operator image was built"

# sandbox ROOT CMD... : runs CMD as 65532 in ROOT with the image's environment.
# SHARE_NET=1 keeps the host network (loopback to the API server); INFO_FD=n
# has bwrap write {"child-pid": N} to fd n. Call it in a subshell (it execs).
sandbox() {
  local root="$1" net=(--unshare-net) info=()
  shift
  [ "${SHARE_NET:-0}" = 1 ] && net=()
  [ -n "${INFO_FD:-}" ] && info=(--info-fd "$INFO_FD")
  mkdir -p "$root/proc" "$root/dev"  # mount points a container runtime provides
  # The sandbox maps uid 65532 to the user running the test, so files the
  # image gives to 65532 (its home) must belong to that user on this side.
  chown -R "$(id -u):$(id -g)" "$root/home/nonroot"
  exec bwrap "${info[@]}" --unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try "${net[@]}" \
    --uid 65532 --gid 65532 --die-with-parent \
    --ro-bind "$root" / --proc /proc --dev /dev --tmpfs /tmp --chdir /home/nonroot \
    --clearenv --setenv HOME /home/nonroot --setenv SSL_CERT_FILE /etc/ssl/certs/ca-certificates.crt \
    -- "$@"
}

for archive in "$WORK"/images/*.tar; do
  name="$(basename "$archive" .tar)"
  dir="$WORK/unpacked-$name"
  cfg="$(python3 "$SRC/tests/images/oci_unpack.py" "$archive" "$dir")" || { fail "$name: unpack"; continue; }
  ref="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["_ref"])' "$cfg")"
  pass "$name: $ref: every blob matches its digest and size"
  user="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("User",""))' "$cfg")"
  entry="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Entrypoint"][0])' "$cfg")"
  if [ "$user" = "65532:65532" ]; then pass "$name: USER 65532:65532"; else fail "$name: USER is '$user'"; fi
  if grep -q '^nonroot:x:65532:65532:' "$dir/rootfs/etc/passwd"; then
    pass "$name: /etc/passwd names 65532 nonroot"
  else
    fail "$name: no nonroot 65532 in /etc/passwd"
  fi
  [ -s "$dir/rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "$name: no CA certificates"
  if out="$(sandbox "$dir/rootfs" "$entry" --help 2>&1)"; then
    pass "$name: '$entry --help' runs in the isolated root ($(printf '%s' "$out" | head -n 1))"
  else
    fail "$name: '$entry --help' failed in the isolated root: $out"
  fi
done

# ---- the operator image reconciles the example ShardSet ----------------------
cluster_up
install_crds
make_namespace images
root="$WORK/unpacked-operator/rootfs"
mkdir -p "$root/etc/shardcast"
cp "$KUBECONFIG" "$root/etc/shardcast/kubeconfig"   # certificates are embedded (-data fields)
HEALTH_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
k -n "$NS" apply -f "$SRC/examples/shardset.yaml" >/dev/null || die "cannot apply examples/shardset.yaml"
(SHARE_NET=1 INFO_FD=3 sandbox "$root" /usr/local/bin/shardcast run --kubeconfig /etc/shardcast/kubeconfig \
  --namespace "$NS" --metrics-bind-address "" --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
  >"$WORK/operator.log" 2>&1 3>"$WORK/bwrap-info.json") &
PID=$!
add_cleanup "kill $PID 2>/dev/null"
deadline=$((SECONDS + 30))
# bwrap reports its init process (pid 1 in the sandbox); the operator is its child.
until OPID="$(python3 -c '
import json, sys
init = json.load(open(sys.argv[1]))["child-pid"]
print(open(f"/proc/{init}/task/{init}/children").read().split()[0])' "$WORK/bwrap-info.json" 2>/dev/null)"; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/operator.log" >&2; die "bwrap exited at start"; }
  [ "$SECONDS" -lt "$deadline" ] || die "bwrap did not report the sandboxed pid"
  sleep 0.2
done

want="$(k -n "$NS" get shardset kv -o jsonpath='{.spec.replicas}+{.spec.warmPool.size}')"
want=$((want))
deadline=$((SECONDS + 180))
while :; do
  pods="$(k -n "$NS" get pods -l shardcast.dev/shardset=kv -o name 2>/dev/null | wc -l)"
  seen="$(k -n "$NS" get shardset kv -o jsonpath='{.status.observedGeneration}/{.metadata.generation}' 2>/dev/null)"
  if [ "$pods" -ge "$want" ] && [ -n "${seen%%/*}" ] && [ "${seen%%/*}" = "${seen##*/}" ]; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/operator.log" >&2; die "the operator from the image exited"; }
  [ "$SECONDS" -lt "$deadline" ] || { tail -30 "$WORK/operator.log" >&2; die "no reconcile within 180s (pods $pods/$want, generation $seen)"; }
  sleep 1
done
pass "operator from its image created $pods pods and wrote status (observedGeneration ${seen%%/*})"
conds="$(k -n "$NS" get shardset kv -o jsonpath='{range .status.conditions[*]}{.type}={.status} {end}')"
pass "ShardSet kv status conditions: $conds"
if body="$(curl -fsS "http://127.0.0.1:$HEALTH_PORT/healthz")"; then
  pass "/healthz of the sandboxed operator: $body"
else
  fail "/healthz of the sandboxed operator did not answer ok"
fi
kill -TERM "$OPID"  # the operator itself (bwrap does not forward signals)
rc=0
wait "$PID" || rc=$?
if [ "$rc" = 0 ]; then pass "operator exited cleanly on SIGTERM"; else fail "operator exit code $rc on SIGTERM"; fi
finish
