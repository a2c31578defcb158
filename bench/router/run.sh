#!/usr/bin/env bash
# Benchmark shardcast-router against nutcracker (twemproxy) over the same two
# redis-server shards, and against one redis-server directly, in one run.
# redis-benchmark: 50 clients, GET and SET, -P 1 and -P 16, random keys.
# Prints requests/s, p50 and p99 (ms), the proxy's CPU seconds per million
# requests (utime+stime from /proc/<pid>/stat; for "direct", the redis-server)
# and the shards' (both redis-servers together; what the proxy's way of
# sending costs the shards).
# "direct+lua" sends what the router sends to a shard when one command is
# waiting (EVALSHA of the shard script of docs/dataplane-protocol.md with a
# batch of one) straight to one redis-server: the shard-side price of the
# protocol at its worst, without the proxy (the router batches what arrives
# together, up to 256 commands per call).
#
#   bench/router/run.sh [path/to/shardcast-router]
# Env: N1 (requests at -P 1, default 100000), N16 (at -P 16, default 400000),
#      ROUTER_THREADS (default 1), KEYS (key space, default 100000).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUTER=${1:-$ROOT/build/router/shardcast-router}
N1=${N1:-100000}
N16=${N16:-400000}
ROUTER_THREADS=${ROUTER_THREADS:-1}
KEYS=${KEYS:-100000}
for bin in redis-server redis-benchmark redis-cli nutcracker python3; do
  command -v "$bin" > /dev/null || { echo "missing $bin" >&2; exit 2; }
done
[[ -x $ROUTER ]] || { echo "no router binary at $ROUTER (build target shardcast-router)" >&2; exit 2; }

DIR=$(mktemp -d /tmp/bench-router.XXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 1 200); do
    redis-cli -p "$1" PING > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "port $1 did not answer" >&2
  exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

S1=$(free_port); S2=$(free_port)
for p in $S1 $S2; do
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --logfile "$DIR/redis-$p.log" &
  PIDS+=($!)
  wait_port "$p"
done
SHARD1_PID=${PIDS[0]}
SHARD2_PID=${PIDS[1]}

RP=$(free_port)
python3 - "$DIR/routing.json" "$S1" "$S2" << 'PY'
import json, sys
path, p1, p2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = 256
ranges = [{"id": i, "start": (i << 32) // n, "end": ((i + 1) << 32) // n - 1,
           "owner": "kv-%d" % (i % 2), "endpoint": "127.0.0.1:%d" % (p1 if i % 2 == 0 else p2),
           "state": "stable", "source": None, "target": None, "shadowFraction": 0,
           "echoes": []} for i in range(n)]
json.dump({"schemaVersion": 1, "shardSet": "kv", "epoch": 1, "hash": "fnv1a64-high32",
           "ranges": ranges}, open(path, "w"))
PY
"$ROUTER" --listen "127.0.0.1:$RP" --routing-file "$DIR/routing.json" --metrics-bind-address 0 \
  --threads "$ROUTER_THREADS" --log-level warn > "$DIR/router.log" 2>&1 &
ROUTER_PID=$!
PIDS+=("$ROUTER_PID")
wait_port "$RP"

NP=$(free_port); NSTATS=$(free_port)
cat > "$DIR/nutcracker.yml" << YML
shardcast:
  listen: 127.0.0.1:$NP
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - 127.0.0.1:$S1:1
   - 127.0.0.1:$S2:1
YML
nutcracker -c "$DIR/nutcracker.yml" -s "$NSTATS" -a 127.0.0.1 -o "$DIR/nutcracker.log" \
  -p "$DIR/nutcracker.pid" &
NUT_PID=$!
PIDS+=("$NUT_PID")
wait_port "$NP"

HZ=$(getconf CLK_TCK)
printf '%-12s %-4s %3s %12s %8s %8s %14s %14s\n' target test P 'req/s' 'p50 ms' 'p99 ms' \
  'cpu s/M req' 'shards s/M req'
SHA=$(redis-cli -p "$S1" SCRIPT LOAD "$(python3 -c '
import sys
d = open(sys.argv[1]).read()
s = d.index("```lua\n") + 7
sys.stdout.write(d[s:d.index("```", s)])' "$ROOT/docs/dataplane-protocol.md")")
run() {  # name port pid test pipeline requests
  local name=$1 port=$2 pid=$3 t=$4 p=$5 n=$6
  local before after sbefore safter csv cmd
  if [[ $name == direct+lua ]]; then
    # header = argc * 65536 + range index (1) * 8 + flags (2: write)
    if [[ $t == set ]]; then cmd=(196618 SET key:__rand_int__ xxx); else cmd=(131080 GET key:__rand_int__); fi
    cmd=(EVALSHA "$SHA" 2 __shardcast:range:0 __shardcast:wlog:0 1 "${cmd[@]}")
  else
    cmd=(-t "$t")
  fi
  before=$(cpu_ticks "$pid")
  sbefore=$(($(cpu_ticks "$SHARD1_PID") + $(cpu_ticks "$SHARD2_PID")))
  csv=$(redis-benchmark -p "$port" -c 50 -n "$n" -P "$p" -r "$KEYS" --csv "${cmd[@]}" 2> /dev/null |
    grep -v '^"test"' | tail -1)
  after=$(cpu_ticks "$pid")
  safter=$(($(cpu_ticks "$SHARD1_PID") + $(cpu_ticks "$SHARD2_PID")))
  python3 - "$name" "$t" "$p" "$n" "$before" "$after" "$HZ" "$sbefore" "$safter" "$csv" << 'PY'
import sys
name, t, p, n, b, a, hz, sb, sa, csv = sys.argv[1:]
f = [x.strip('"') for x in csv.split(",")]
f = f[-7:]  # the test name may hold commas
rps, p50, p99 = float(f[0]), float(f[3]), float(f[5])
cpu = (int(a) - int(b)) / int(hz) / (int(n) / 1e6)
shards = (int(sa) - int(sb)) / int(hz) / (int(n) / 1e6)
print("%-12s %-4s %3s %12.0f %8.3f %8.3f %14.2f %14.2f" % (name, t.upper(), p, rps, p50, p99, cpu,
                                                          shards))
PY
}
for p in 1 16; do
  n=$N1
  [[ $p == 16 ]] && n=$N16
  for t in set get; do
    run shardcast "$RP" "$ROUTER_PID" "$t" "$p" "$n"
    run nutcracker "$NP" "$NUT_PID" "$t" "$p" "$n"
    run direct "$S1" "$SHARD1_PID" "$t" "$p" "$n"
    run direct+lua "$S1" "$SHARD1_PID" "$t" "$p" "$n"
  done
done
echo "router threads: $ROUTER_THREADS; shards: 2 redis-server; $(nproc) cores; load average $(cut -d" " -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
