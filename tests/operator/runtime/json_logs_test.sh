#!/usr/bin/env bash
# `shardcast run --log-format json` on the real control plane: every line the
# operator writes is one valid JSON object, including messages that hold
# quotes and newlines.
#
# Three sources of such messages, all from the real operator:
#  - a start-up failure: a kubeconfig under a directory whose name holds a
#    quote and a newline, naming a server nobody listens on (no cluster needed);
#  - a ResourceQuota of 0 pods makes every pod create of the example ShardSet
#    fail with the API server's own message (pods "kv-0" is forbidden: ...),
#    which the controller logs on each failed reconcile;
#  - the operator runs in its own UTS namespace (unshare -r -u) with a host
#    name holding a quote, a newline, a tab and non-ASCII text: its leader
#    election identity is "<hostname>_<pid>", which it logs when it takes
#    and releases the Lease.
# Usage: json_logs_test.sh SHARDCAST_BINARY
source "$(dirname "${BASH_SOURCE[0]}")/../../crds/lib.sh"

BIN="${1:?usage: json_logs_test.sh SHARDCAST_BINARY}"
[ -x "$BIN" ] || die "no operator binary at $BIN"
unshare -r -u true 2>/dev/null || die "unshare -r -u (user + UTS namespace) is not available here"

WORK="$(mktemp -d /tmp/shardcast-json-logs.XXXXXX)"
add_cleanup "rm -rf '$WORK'"

# parse_log FILE: every line one JSON object with the five fields; prints the
# messages as a JSON list on stdout.
parse_log() {
  python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
msgs = []
for n, line in enumerate(lines, 1):
    try:
        obj = json.loads(line.decode("utf-8"))  # strict UTF-8 too
    except Exception as e:
        sys.exit(f"line {n} is not JSON: {e}: {line[:200]!r}")
    if not isinstance(obj, dict) or set(obj) != {"ts", "level", "logger", "thread", "msg"}:
        sys.exit(f"line {n}: not the five fields: {line[:200]!r}")
    msgs.append(obj["msg"])
if not msgs:
    sys.exit("empty log")
print(json.dumps(msgs))
PY
}

# ---- a start-up failure (no cluster) ------------------------------------------
odd="$WORK/dir \"quoted\""$'\n'"next"
mkdir -p "$odd"
printf '%s\n' 'apiVersion: v1' 'kind: Config' 'current-context: c' 'clusters:' '- name: l' \
  '  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}' \
  'contexts:' '- {name: c, context: {cluster: l, user: u}}' 'users:' '- {name: u, user: {token: x}}' \
  >"$odd/kubeconfig"
rc=0
"$BIN" run --log-format json --kubeconfig "$odd/kubeconfig" --metrics-bind-address "" \
  --health-probe-bind-address "" 2>"$WORK/startup.log" || rc=$?
if [ "$rc" -ne 0 ] && msgs="$(parse_log "$WORK/startup.log")" &&
  python3 -c 'import json,sys; m=json.loads(sys.argv[1]); sys.exit(not any("\"quoted\"\nnext" in x for x in m))' "$msgs"; then
  pass "start-up failure (exit $rc) logged as JSON with the quoted, two-line path: $msgs"
else
  fail "start-up failure log (exit $rc): $(cat "$WORK/startup.log")"
fi

# ---- a running operator on the control plane -----------------------------------
cluster_up
install_crds
make_namespace json-logs

k -n "$NS" create quota no-pods --hard=pods=0 >/dev/null || die "cannot create the ResourceQuota"
k -n "$NS" apply -f "$SRC/examples/shardset.yaml" >/dev/null || die "cannot apply examples/shardset.yaml"

LOG="$WORK/operator.log"
HOST=$'op"quoted"\\\nline2\tcaf\xc3\xa9 \xe6\x97\xa5'
export SC_HOST="$HOST" SC_BIN="$BIN" SC_NS="$NS" SC_KUBECONFIG="$KUBECONFIG"
unshare -r -u python3 -c '
import os, socket
socket.sethostname(os.environ["SC_HOST"].encode())
os.execv(os.environ["SC_BIN"], [os.environ["SC_BIN"], "run",
    "--kubeconfig", os.environ["SC_KUBECONFIG"], "--namespace", os.environ["SC_NS"],
    "--leader-elect", "--leader-election-namespace", os.environ["SC_NS"],
    "--leader-election-id", "json-logs",
    "--log-format", "json", "--log-level", "debug", "--forecasting=false",
    "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0"])
' 2>"$LOG" &
PID=$!
add_cleanup "kill $PID 2>/dev/null"

# Wait (bounded) until both kinds of message have been logged.
deadline=$((SECONDS + 120))
until grep -q 'became leader' "$LOG" && grep -q 'is forbidden' "$LOG"; do
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; die "the operator exited early"; }
  [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$LOG" >&2; die "no leader/quota messages within 120s"; }
  sleep 0.5
done
pass "operator took the Lease and hit the quota"
kill -TERM "$PID"
wait "$PID" || true   # exits when the Lease is released; its code is not the point here

python3 - "$LOG" "$HOST" <<'PY' || fail "log check failed"
import json, sys
path, host = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
lines = raw.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
bad, msgs = [], []
for n, line in enumerate(lines, 1):
    try:
        obj = json.loads(line.decode("utf-8"))  # strict UTF-8 too
    except Exception as e:
        bad.append(f"line {n}: {e}: {line[:200]!r}")
        continue
    if not isinstance(obj, dict) or set(obj) != {"ts", "level", "logger", "thread", "msg"}:
        bad.append(f"line {n}: fields {sorted(obj) if isinstance(obj, dict) else type(obj)}")
        continue
    msgs.append(obj["msg"])
print(f"{len(lines)} lines, {len(msgs)} valid JSON objects")
for b in bad[:10]:
    print("INVALID", b)
leader = [m for m in msgs if "became leader" in m]
quota = [m for m in msgs if 'is forbidden' in m and '"' in m]
ok = not bad and lines
ok = ok and any(host in m and "\n" in m and '"' in m for m in leader)
ok = ok and bool(quota)
print("leader message:", json.dumps(leader[:1]))
print("quota message:", json.dumps(quota[:1]))
sys.exit(0 if ok else 1)
PY
[ "$FAILURES" -eq 0 ] && pass "every operator log line is valid JSON, quotes and newlines included"
finish
