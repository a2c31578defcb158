#!/usr/bin/env bash
# Shardcast's real local Kubernetes control plane (see docs/controlplane.md).
#
#   hack/controlplane.sh build [name]      build binaries from pinned Go modules (cached)
#   hack/controlplane.sh start             start (or reuse) the control plane, wait until ready
#   hack/controlplane.sh stop              stop everything started in the state dir
#   hack/controlplane.sh status            print what runs and whether it is healthy
#   hack/controlplane.sh restart-apiserver stop + restart kube-apiserver (same flags/port), wait /readyz
#   hack/controlplane.sh compact           compact etcd to its current revision
#   hack/controlplane.sh env               print shell exports (KUBECONFIG, ...)
#   hack/controlplane.sh bin-path <name>   print the cached binary path of a component
#
# Environment:
#   SHARDCAST_CACHE    binary cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/shardcast)
#   SHARDCAST_CP_DIR   state dir (default /tmp/shardcast-controlplane)
#   SHARDCAST_CP_NODES number of KWOK nodes (default 4)
#   SHARDCAST_CP_START_TIMEOUT seconds to wait for readiness in `start` (default 300)
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CP_SRC="${HACK_DIR}/controlplane"
CACHE_ROOT="${SHARDCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shardcast}"
CP_DIR="${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}"
NODES="${SHARDCAST_CP_NODES:-4}"
START_TIMEOUT="${SHARDCAST_CP_START_TIMEOUT:-300}"
KUBECTL="${KUBECTL:-/usr/bin/kubectl}"

# ---- pinned versions -------------------------------------------------------
ETCD_VERSION=v3.5.35
KUBE_VERSION=v1.33.13
KUBE_BUILD_DATE=2026-06-11T16:59:07Z # the tag's time, as reported by the module proxy
KWOK_VERSION=v0.7.0
METRICS_SERVER_VERSION=v0.8.0
HELM_VERSION=v3.17.4
ALL_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server helm)

GO="${GO:-/usr/local/go/bin/go}"
if [ ! -x "$GO" ]; then GO="$(command -v go || true)"; fi

log() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

component_version() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler) echo "$KUBE_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    metrics-server) echo "$METRICS_SERVER_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    *) die "unknown component '$1' (known: ${ALL_COMPONENTS[*]})" ;;
  esac
}

bin_path() { # name -> cached binary path
  local v
  v="$(component_version "$1")"
  echo "${CACHE_ROOT}/bin/$1-${v}/$1"
}

# Path of a runnable binary for a component; for etcd fall back to Debian's
# etcd-server (3.4) when the 3.5 build is not available.
resolve_bin() {
  local p
  p="$(bin_path "$1")"
  if [ -x "$p" ]; then echo "$p"; return 0; fi
  if [ "$1" = etcd ] && [ -x /usr/bin/etcd ]; then
    log "etcd ${ETCD_VERSION} not built; falling back to /usr/bin/etcd ($(/usr/bin/etcd --version 2>/dev/null | head -1))"
    echo /usr/bin/etcd
    return 0
  fi
  die "$1 is not built (expected $p); run: hack/controlplane.sh build $1"
}

# ---- build -----------------------------------------------------------------
go_build() { # name module-dir package ldflags [extra env...]
  local name="$1" moddir="$2" pkg="$3" ldflags="$4"
  shift 4
  local out
  out="$(bin_path "$name")"
  if [ -x "$out" ]; then
    log "build $name $(component_version "$name"): cached at $out"
    return 0
  fi
  [ -n "$GO" ] || die "no Go toolchain found (expected /usr/local/go/bin/go)"
  mkdir -p "$(dirname "$out")"
  local tmp="${out}.tmp.$$" start=$SECONDS
  log "build $name $(component_version "$name"): go build $pkg (first build takes minutes on 2 cores)"
  (
    cd "${CP_SRC}/${moddir}"
    env "$@" "$GO" build -p 2 -trimpath -mod=readonly -ldflags "$ldflags" -o "$tmp" "$pkg"
  ) &
  local pid=$!
  # Progress ticker: which component, elapsed seconds.
  while kill -0 "$pid" 2>/dev/null; do
    local i
    for i in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "build $name: still compiling, $((SECONDS - start))s elapsed"
    fi
  done
  if ! wait "$pid"; then
    rm -f "$tmp"
    log "build $name FAILED after $((SECONDS - start))s"
    return 1
  fi
  mv -f "$tmp" "$out"
  log "build $name: done in $((SECONDS - start))s -> $out"
}

kube_ldflags() {
  local minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  local f="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X ${pkg}.gitVersion=${KUBE_VERSION}"
    f+=" -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    # The module proxy carries no commit id for the tag; mark it explicitly.
    f+=" -X ${pkg}.gitCommit=module-${KUBE_VERSION}"
    f+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${KUBE_BUILD_DATE}"
  done
  echo "$f"
}

build_one() {
  case "$1" in
    etcd)
      go_build etcd etcd go.etcd.io/etcd/server/v3 "-s -w" ||
        log "etcd ${ETCD_VERSION} build failed; start will fall back to /usr/bin/etcd"
      ;;
    kube-apiserver | kube-controller-manager | kube-scheduler)
      go_build "$1" kubernetes "k8s.io/kubernetes/cmd/$1" "$(kube_ldflags)" CGO_ENABLED=0
      ;;
    kwok)
      go_build kwok kwok sigs.k8s.io/kwok/cmd/kwok \
        "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" CGO_ENABLED=0
      ;;
    metrics-server)
      local p=k8s.io/client-go/pkg/version
      # sum.golang.org has no record of metrics-server v0.8.0's go.mod; its
      # hash is pinned in hack/controlplane/metrics-server/go.sum instead.
      go_build metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
        "-s -w -X ${p}.gitVersion=${METRICS_SERVER_VERSION} -X ${p}.gitMajor=0 -X ${p}.gitMinor=8" \
        CGO_ENABLED=0 GONOSUMDB=sigs.k8s.io/metrics-server
      ;;
    helm)
      go_build helm helm helm.sh/helm/v3/cmd/helm \
        "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
        CGO_ENABLED=0
      ;;
    *) die "unknown component '$1' (known: ${ALL_COMPONENTS[*]})" ;;
  esac
}

cmd_build() {
  local start=$SECONDS names=("$@")
  if [ ${#names[@]} -eq 0 ]; then names=("${ALL_COMPONENTS[@]}"); fi
  local n
  for n in "${names[@]}"; do component_version "$n" >/dev/null; done
  # One build at a time per cache (several test binaries may start at once).
  mkdir -p "${CACHE_ROOT}/bin"
  exec 9>"${CACHE_ROOT}/bin/.build.lock"
  if ! flock -n 9; then
    log "build: another build holds ${CACHE_ROOT}/bin/.build.lock; waiting (up to 1h)"
    flock -w 3600 9 || die "build: timed out waiting for the build lock"
  fi
  for n in "${names[@]}"; do build_one "$n"; done
  exec 9>&-
  log "build: ${names[*]} ready in $((SECONDS - start))s (cache: ${CACHE_ROOT}/bin)"
}

# ---- runtime ---------------------------------------------------------------
MARKER=".shardcast-controlplane"
SERVICE_CIDR=10.96.0.0/16
RUN_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)

pki() { echo "${CP_DIR}/pki/$1"; }

# Poll a condition until it holds or the timeout expires (the only way we wait).
wait_until() { # timeout-seconds description command...
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout)) start=$SECONDS next_note=$((SECONDS + 15))
  while ! "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "timed out after ${timeout}s waiting for: ${what}"
      return 1
    fi
    if [ $SECONDS -ge $next_note ]; then
      log "still waiting for ${what} ($((SECONDS - start))s)"
      next_note=$((SECONDS + 15))
    fi
    sleep 0.5
  done
  log "ready: ${what} ($((SECONDS - start))s)"
}

load_ports() {
  [ -f "${CP_DIR}/ports.env" ] || return 1
  # shellcheck disable=SC1091
  . "${CP_DIR}/ports.env"
}

free_ports() { # count -> space separated free loopback ports
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# ---- certificates ----------------------------------------------------------
new_ca() { # name cn
  local d="${CP_DIR}/pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$d/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$d/$1.crt" 2>/dev/null
}

new_cert() { # name ca subject eku [san]
  local d="${CP_DIR}/pki" n="$1" ca="$2" subj="$3" eku="$4" san="${5:-}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/$n.key" 2>/dev/null
  openssl req -new -key "$d/$n.key" -subj "$subj" -out "$d/$n.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -sha256 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
  rm -f "$d/$n.csr" "$d/$n.ext"
}

gen_pki() {
  mkdir -p "${CP_DIR}/pki"
  chmod 700 "${CP_DIR}/pki"
  new_ca ca shardcast-ca
  new_ca front-proxy-ca shardcast-front-proxy-ca
  local local_sans="DNS:localhost,IP:127.0.0.1"
  new_cert apiserver ca "/CN=kube-apiserver" serverAuth \
    "${local_sans},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1"
  new_cert admin ca "/O=system:masters/CN=shardcast-admin" clientAuth
  new_cert kube-controller-manager ca "/CN=system:kube-controller-manager" clientAuth
  new_cert kube-scheduler ca "/CN=system:kube-scheduler" clientAuth
  new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
  new_cert metrics-server ca "/CN=metrics-server" serverAuth \
    "${local_sans},DNS:metrics-server,DNS:metrics-server.kube-system,DNS:metrics-server.kube-system.svc"
  new_cert kwok ca "/CN=kwok" serverAuth "${local_sans}"
  openssl genrsa -out "$(pki sa.key)" 2048 2>/dev/null
  openssl rsa -in "$(pki sa.key)" -pubout -out "$(pki sa.pub)" 2>/dev/null
  chmod 600 "${CP_DIR}"/pki/*.key
}

write_kubeconfig() { # file user cert-name
  local f="$1" user="$2" c="$3"
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: shardcast
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(base64 -w0 <"$(pki ca.crt)")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 <"$(pki "$c.crt")")
    client-key-data: $(base64 -w0 <"$(pki "$c.key")")
contexts:
- name: shardcast
  context:
    cluster: shardcast
    user: ${user}
current-context: shardcast
EOF
  chmod 600 "$f"
}

# ---- processes -------------------------------------------------------------
# Each component runs in its own session/process group (setsid without fork:
# the pid recorded is also the process group id), with stdio on log files.
launch() { # name binary args...
  local name="$1" bin="$2"
  shift 2
  mkdir -p "${CP_DIR}/logs" "${CP_DIR}/run"
  printf '%s\n' "$bin" "$@" >"${CP_DIR}/run/${name}.cmd"
  setsid "$bin" "$@" </dev/null >>"${CP_DIR}/logs/${name}.log" 2>&1 &
  echo "$!" >"${CP_DIR}/run/${name}.pid"
  proc_start_time "$!" >"${CP_DIR}/run/${name}.start"
  log "started ${name} (pid $!, log ${CP_DIR}/logs/${name}.log)"
}

relaunch() { # name: start again with the recorded command line
  local name="$1" args=()
  mapfile -t args <"${CP_DIR}/run/${name}.cmd"
  launch "$name" "${args[@]}"
}

proc_start_time() { # pid -> start time in clock ticks since boot (field 22 of /proc/pid/stat)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # drop "pid (comm) "; comm may contain spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

component_pid() { # name -> pid if our process still runs
  local f="${CP_DIR}/run/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: same process start time as at launch.
  [ "$(proc_start_time "$pid")" = "$(cat "${CP_DIR}/run/$1.start" 2>/dev/null)" ] || return 1
  # A zombie (exited, not yet reaped) does not count as running.
  [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ] || return 1
  echo "$pid"
}

# The session id equals the recorded pid (setsid); zombies do not count, so
# the state column is needed (pgrep -s would count them).
# shellcheck disable=SC2009
group_alive() { ps -o stat= --sid "$1" 2>/dev/null | grep -qv '^Z'; }
group_gone() { ! group_alive "$1"; }

# kube-apiserver drains for up to a minute after SIGTERM even when idle; all
# durable state is in etcd, so it gets a short grace period and then SIGKILL.
stop_grace() { case "$1" in kube-apiserver) echo 5 ;; *) echo 20 ;; esac; }

stop_component() { # name
  local name="$1" pid
  if pid="$(component_pid "$name")"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    if ! wait_until "$(stop_grace "$name")" "${name} (pgid ${pid}) to exit" group_gone "$pid"; then
      log "${name} still running after SIGTERM; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
      wait_until 10 "${name} (pgid ${pid}) to die" group_gone "$pid" || true
    fi
    log "stopped ${name}"
  fi
  rm -f "${CP_DIR}/run/${name}.pid"
}

# ---- health ----------------------------------------------------------------
admin_curl() { # path [curl args...]
  local p="$1"
  shift
  curl -sS --fail --max-time 5 --cacert "$(pki ca.crt)" --cert "$(pki admin.crt)" --key "$(pki admin.key)" \
    "$@" "https://127.0.0.1:${APISERVER_PORT}$p"
}
apiserver_ready() { [ "$(admin_curl /readyz 2>/dev/null)" = ok ]; }
etcd_healthy() { curl -sS --fail --max-time 5 "http://127.0.0.1:${ETCD_PORT}/health" | grep -q '"health":"true"'; }
kc() { "$KUBECTL" --kubeconfig "${CP_DIR}/kubeconfig" "$@"; }
default_sa_present() { kc get serviceaccount default -n default -o name; }
kube_system_present() { kc get namespace kube-system -o name; }

all_running() {
  local c
  for c in "${RUN_COMPONENTS[@]}"; do component_pid "$c" >/dev/null || return 1; done
}

healthy() { load_ports && all_running && etcd_healthy && apiserver_ready; }

# ---- manifests -------------------------------------------------------------
write_kwok_config() {
  cat >"${CP_DIR}/kwok.yaml" <<'EOF'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {}
---
# Simulated kubelet /metrics/resource, one path per node (the nodes carry the
# metrics.k8s.io/resource-metrics-path annotation that metrics-server follows).
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Metric
metadata:
  name: metrics-resource
spec:
  path: "/metrics/nodes/{nodeName}/metrics/resource"
  metrics:
  - name: scrape_error
    dimension: node
    help: "1 if there was an error while getting metrics from the node, 0 otherwise"
    kind: gauge
    value: "0"
  - name: container_start_time_seconds
    dimension: container
    help: "Start time of the container since unix epoch in seconds"
    kind: gauge
    labels:
    - {name: container, value: "container.name"}
    - {name: namespace, value: "pod.metadata.namespace"}
    - {name: pod, value: "pod.metadata.name"}
    value: "pod.SinceSecond()"
  - name: container_cpu_usage_seconds_total
    dimension: container
    help: "Cumulative cpu time consumed by the container in core-seconds"
    kind: counter
    labels:
    - {name: container, value: "container.name"}
    - {name: namespace, value: "pod.metadata.namespace"}
    - {name: pod, value: "pod.metadata.name"}
    value: 'pod.CumulativeUsage("cpu", container.name)'
  - name: container_memory_working_set_bytes
    dimension: container
    help: "Current working set of the container in bytes"
    kind: gauge
    labels:
    - {name: container, value: "container.name"}
    - {name: namespace, value: "pod.metadata.namespace"}
    - {name: pod, value: "pod.metadata.name"}
    value: 'pod.Usage("memory", container.name)'
  - name: pod_cpu_usage_seconds_total
    dimension: pod
    help: "Cumulative cpu time consumed by the pod in core-seconds"
    kind: counter
    labels:
    - {name: namespace, value: "pod.metadata.namespace"}
    - {name: pod, value: "pod.metadata.name"}
    value: 'pod.CumulativeUsage("cpu")'
  - name: pod_memory_working_set_bytes
    dimension: pod
    help: "Current working set of the pod in bytes"
    kind: gauge
    labels:
    - {name: namespace, value: "pod.metadata.namespace"}
    - {name: pod, value: "pod.metadata.name"}
    value: 'pod.Usage("memory")'
  - name: node_cpu_usage_seconds_total
    dimension: node
    help: "Cumulative cpu time consumed by the node in core-seconds"
    kind: counter
    value: 'node.CumulativeUsage("cpu")'
  - name: node_memory_working_set_bytes
    dimension: node
    help: "Current working set of the node in bytes"
    kind: gauge
    value: 'node.Usage("memory")'
---
# Pod usage comes from the pod's annotations, defaulting to 1m CPU / 1Mi
# memory. KWOK (v0.7) gives EVERY container of the pod the whole value, so a
# pod with N containers reports N times it (hack/podrunner divides by N).
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterResourceUsage
metadata:
  name: usage-from-annotation
spec:
  usages:
  - usage:
      cpu:
        expression: |
          "kwok.x-k8s.io/usage-cpu" in pod.metadata.annotations
          ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-cpu"])
          : Quantity("1m")
      memory:
        expression: |
          "kwok.x-k8s.io/usage-memory" in pod.metadata.annotations
          ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-memory"])
          : Quantity("1Mi")
EOF
}

nodes_manifest() {
  local i name
  for ((i = 0; i < NODES; i++)); do
    name="kwok-node-${i}"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/${name}/metrics/resource
  labels:
    type: kwok
    kubernetes.io/hostname: ${name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
spec:
  # Loopback pod IPs: a test can serve a pod's endpoints on its IP (docs/controlplane.md).
  podCIDR: 127.$((64 + i)).0.0/16
  podCIDRs: [127.$((64 + i)).0.0/16]
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1100"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1100"}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake}
EOF
  done
}

metrics_apiservice_manifest() {
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: shardcast-controlplane}
spec:
  # Endpoints may not hold loopback addresses; the aggregator (with
  # --enable-aggregator-routing=false) dials an ExternalName's name and port.
  type: ExternalName
  externalName: localhost
  ports:
  - {name: https, port: ${METRICS_SERVER_PORT}, protocol: TCP}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: {app.kubernetes.io/managed-by: shardcast-controlplane}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: $(base64 -w0 <"$(pki ca.crt)")
  service:
    name: metrics-server
    namespace: kube-system
    port: ${METRICS_SERVER_PORT}
EOF
}

# ---- commands --------------------------------------------------------------
apiserver_args() {
  local etcd_prefix=/registry
  echo "--bind-address=127.0.0.1"
  echo "--secure-port=${APISERVER_PORT}"
  echo "--advertise-address=127.0.0.1"
  # Loopback is not a valid Endpoints address: do not publish the apiserver's
  # own endpoints (nothing in this cluster needs the in-cluster service).
  echo "--endpoint-reconciler-type=none"
  echo "--etcd-servers=http://127.0.0.1:${ETCD_PORT}"
  echo "--etcd-prefix=${etcd_prefix}"
  echo "--client-ca-file=$(pki ca.crt)"
  echo "--tls-cert-file=$(pki apiserver.crt)"
  echo "--tls-private-key-file=$(pki apiserver.key)"
  echo "--authorization-mode=Node,RBAC"
  echo "--service-account-issuer=https://kubernetes.default.svc.cluster.local"
  echo "--service-account-key-file=$(pki sa.pub)"
  echo "--service-account-signing-key-file=$(pki sa.key)"
  echo "--service-cluster-ip-range=${SERVICE_CIDR}"
  echo "--allow-privileged=true"
  echo "--requestheader-client-ca-file=$(pki front-proxy-ca.crt)"
  echo "--requestheader-allowed-names=front-proxy-client"
  echo "--requestheader-username-headers=X-Remote-User"
  echo "--requestheader-group-headers=X-Remote-Group"
  echo "--requestheader-extra-headers-prefix=X-Remote-Extra-"
  echo "--proxy-client-cert-file=$(pki front-proxy-client.crt)"
  echo "--proxy-client-key-file=$(pki front-proxy-client.key)"
  # Aggregated APIs are reached through ExternalName services (Endpoints may
  # not hold loopback addresses). With --enable-aggregator-routing=true the
  # 1.33 aggregator rejects them ("unsupported service type ExternalName");
  # the service resolver used when it is false dials externalName:port.
  echo "--enable-aggregator-routing=false"
  echo "--kubelet-client-certificate=$(pki admin.crt)"
  echo "--kubelet-client-key=$(pki admin.key)"
  echo "--profiling=false"
  # PodTemplates bypass the watch cache, so their watches are served by etcd
  # itself: compacting etcd then yields a real 410 Gone, which the client's
  # re-list test needs. (Every other resource keeps the default cache.)
  echo "--watch-cache-sizes=podtemplates#0"
}

start_fresh() {
  local etcd_bin apiserver_bin kcm_bin sched_bin kwok_bin ms_bin
  etcd_bin="$(resolve_bin etcd)"
  apiserver_bin="$(resolve_bin kube-apiserver)"
  kcm_bin="$(resolve_bin kube-controller-manager)"
  sched_bin="$(resolve_bin kube-scheduler)"
  kwok_bin="$(resolve_bin kwok)"
  ms_bin="$(resolve_bin metrics-server)"
  command -v openssl >/dev/null || die "openssl not found (hack/install-deps.sh installs it)"
  command -v python3 >/dev/null || die "python3 not found (hack/install-deps.sh installs it)"
  [ -x "$KUBECTL" ] || die "kubectl not found at $KUBECTL (set KUBECTL=...)"

  mkdir -p "${CP_DIR}"
  if [ -n "$(ls -A "${CP_DIR}" 2>/dev/null)" ]; then
    [ -f "${CP_DIR}/${MARKER}" ] || die "${CP_DIR} is not empty and not a control plane state dir; refusing to use it"
    cmd_stop
    rm -rf "${CP_DIR:?}"/{pki,etcd-data,logs,run,kwok.yaml,ports.env,kubeconfig,*.kubeconfig}
  fi
  touch "${CP_DIR}/${MARKER}"

  local ports
  read -r -a ports <<<"$(free_ports 7)"
  cat >"${CP_DIR}/ports.env" <<EOF
ETCD_PORT=${ports[0]}
ETCD_PEER_PORT=${ports[1]}
APISERVER_PORT=${ports[2]}
KUBE_CONTROLLER_MANAGER_PORT=${ports[3]}
KUBE_SCHEDULER_PORT=${ports[4]}
KWOK_PORT=${ports[5]}
METRICS_SERVER_PORT=${ports[6]}
EOF
  load_ports
  log "ports: etcd ${ETCD_PORT}, apiserver ${APISERVER_PORT}, kwok ${KWOK_PORT}, metrics-server ${METRICS_SERVER_PORT}"

  gen_pki
  write_kubeconfig "${CP_DIR}/kubeconfig" shardcast-admin admin
  write_kubeconfig "${CP_DIR}/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
  write_kubeconfig "${CP_DIR}/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
  write_kwok_config

  launch etcd "$etcd_bin" --name=node0 --data-dir="${CP_DIR}/etcd-data" \
    --listen-client-urls="http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster="node0=http://127.0.0.1:${ETCD_PEER_PORT}" --quota-backend-bytes=8589934592 \
    --listen-metrics-urls="" --log-level=warn
  wait_until 60 "etcd /health" etcd_healthy || die "etcd did not become healthy; see ${CP_DIR}/logs/etcd.log"

  local args=()
  mapfile -t args < <(apiserver_args)
  launch kube-apiserver "$apiserver_bin" "${args[@]}"
  wait_until 120 "kube-apiserver /readyz" apiserver_ready ||
    die "kube-apiserver not ready; see ${CP_DIR}/logs/kube-apiserver.log"

  launch kube-controller-manager "$kcm_bin" \
    --kubeconfig="${CP_DIR}/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="${CP_DIR}/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="${CP_DIR}/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${KUBE_CONTROLLER_MANAGER_PORT}" \
    --service-account-private-key-file="$(pki sa.key)" --root-ca-file="$(pki ca.crt)" \
    --use-service-account-credentials=true --service-cluster-ip-range="${SERVICE_CIDR}" \
    --cluster-signing-cert-file="$(pki ca.crt)" --cluster-signing-key-file="$(pki ca.key)" \
    --allocate-node-cidrs=false --leader-elect=false --controllers='*' --profiling=false
  launch kube-scheduler "$sched_bin" \
    --kubeconfig="${CP_DIR}/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="${CP_DIR}/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="${CP_DIR}/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${KUBE_SCHEDULER_PORT}" --leader-elect=false --profiling=false
  launch kwok "$kwok_bin" --kubeconfig="${CP_DIR}/kubeconfig" --config="${CP_DIR}/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="${KWOK_PORT}" --server-address="127.0.0.1:${KWOK_PORT}" \
    --tls-cert-file="$(pki kwok.crt)" --tls-private-key-file="$(pki kwok.key)" \
    --node-lease-duration-seconds=40 --cidr=127.63.0.1/16
  launch metrics-server "$ms_bin" --bind-address=127.0.0.1 --secure-port="${METRICS_SERVER_PORT}" \
    --kubeconfig="${CP_DIR}/kubeconfig" --authentication-kubeconfig="${CP_DIR}/kubeconfig" \
    --authorization-kubeconfig="${CP_DIR}/kubeconfig" \
    --tls-cert-file="$(pki metrics-server.crt)" --tls-private-key-file="$(pki metrics-server.key)" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority="$(pki ca.crt)" \
    --metric-resolution=10s --kubelet-request-timeout=5s

  wait_until 60 "namespace kube-system" kube_system_present || die "kube-system namespace missing"
  nodes_manifest | kc apply -f - >/dev/null || die "creating KWOK nodes failed"
  metrics_apiservice_manifest | kc apply -f - >/dev/null || die "registering v1beta1.metrics.k8s.io failed"
}

cmd_start() {
  local start=$SECONDS
  if healthy; then
    log "reusing the healthy control plane in ${CP_DIR} (apiserver https://127.0.0.1:${APISERVER_PORT})"
  else
    start_fresh
  fi
  left() { echo $((START_TIMEOUT - (SECONDS - start) > 10 ? START_TIMEOUT - (SECONDS - start) : 10)); }
  wait_until "$(left)" "kube-apiserver /readyz" apiserver_ready || die "apiserver not ready"
  kc wait --for=condition=Ready node -l type=kwok --timeout="$(left)s" >/dev/null ||
    die "KWOK nodes not Ready; see ${CP_DIR}/logs/kwok.log"
  log "ready: ${NODES} KWOK nodes"
  kc wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout="$(left)s" >/dev/null ||
    die "APIService v1beta1.metrics.k8s.io not Available; see ${CP_DIR}/logs/metrics-server.log"
  log "ready: APIService v1beta1.metrics.k8s.io Available"
  wait_until "$(left)" "default ServiceAccount" default_sa_present ||
    die "no default ServiceAccount; see ${CP_DIR}/logs/kube-controller-manager.log"
  log "control plane ready in $((SECONDS - start))s: export KUBECONFIG=${CP_DIR}/kubeconfig"
}

cmd_stop() {
  local i
  for ((i = ${#RUN_COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${RUN_COMPONENTS[$i]}"
  done
}

cmd_status() {
  local c pid rc=0
  load_ports || { echo "no control plane state in ${CP_DIR}"; return 1; }
  for c in "${RUN_COMPONENTS[@]}"; do
    if pid="$(component_pid "$c")"; then
      printf '%-24s running  pid %s\n' "$c" "$pid"
    else
      printf '%-24s STOPPED\n' "$c"
      rc=1
    fi
  done
  if etcd_healthy; then echo "etcd                     healthy  http://127.0.0.1:${ETCD_PORT}"; else echo "etcd                     UNHEALTHY"; rc=1; fi
  if apiserver_ready; then
    echo "kube-apiserver           ready    https://127.0.0.1:${APISERVER_PORT} ($(admin_curl /version | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])'))"
    kc get nodes -l type=kwok --no-headers 2>/dev/null | awk '{printf "node %-19s %s\n", $1, $2}'
    kc get apiservice v1beta1.metrics.k8s.io --no-headers 2>/dev/null | awk '{print "apiservice " $1 " available=" $3}'
  else
    echo "kube-apiserver           NOT READY"
    rc=1
  fi
  echo "kubeconfig               ${CP_DIR}/kubeconfig"
  return $rc
}

cmd_restart_apiserver() {
  load_ports || die "no control plane state in ${CP_DIR}"
  [ -f "${CP_DIR}/run/kube-apiserver.cmd" ] || die "kube-apiserver was never started in ${CP_DIR}"
  local start=$SECONDS
  stop_component kube-apiserver
  relaunch kube-apiserver
  wait_until 120 "kube-apiserver /readyz after restart" apiserver_ready ||
    die "kube-apiserver not ready after restart; see ${CP_DIR}/logs/kube-apiserver.log"
  log "kube-apiserver restarted in $((SECONDS - start))s on port ${APISERVER_PORT}"
}

cmd_compact() {
  load_ports || die "no control plane state in ${CP_DIR}"
  local base="http://127.0.0.1:${ETCD_PORT}/v3" rev out
  # Any range response carries the store's current revision in its header.
  out="$(curl -sS --fail --max-time 10 -X POST "${base}/kv/range" -d '{"key":"AA==","limit":1}')" ||
    die "etcd range request failed"
  rev="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')" ||
    die "could not read the revision from etcd: $out"
  out="$(curl -sS --max-time 60 -X POST "${base}/kv/compaction" -d "{\"revision\":\"${rev}\",\"physical\":true}")"
  if printf '%s' "$out" | grep -q '"error"\|"code"'; then
    if printf '%s' "$out" | grep -q 'compacted'; then
      log "etcd already compacted at revision ${rev}"
      echo "$rev"
      return 0
    fi
    die "etcd compaction failed: $out"
  fi
  log "etcd compacted to revision ${rev}"
  echo "$rev"
}

cmd_env() {
  load_ports || die "no control plane state in ${CP_DIR}; run: hack/controlplane.sh start"
  cat <<EOF
export SHARDCAST_CP_DIR=${CP_DIR}
export KUBECONFIG=${CP_DIR}/kubeconfig
export SHARDCAST_TEST_KUBECONFIG=${CP_DIR}/kubeconfig
export SHARDCAST_APISERVER=https://127.0.0.1:${APISERVER_PORT}
export SHARDCAST_ETCD=http://127.0.0.1:${ETCD_PORT}
export SHARDCAST_HELM=$(bin_path helm)
EOF
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    build) cmd_build "$@" ;;
    bin-path) bin_path "${1:?usage: bin-path <name>}" ;;
    -h | --help | help | "") usage ;;
    *) type "cmd_${cmd//-/_}" >/dev/null 2>&1 || { usage; die "unknown command '$cmd'"; }
       "cmd_${cmd//-/_}" "$@" ;;
  esac
}

main "$@"
