#!/usr/bin/env bash
# Every test of Shardcast (README: `make test`; CI: .ci/run).
#
#  1. Debian packages (idempotent)           hack/install-deps.sh; shellcheck of hack/;
#                                             clang-format check of every C++ file
#  2. the local control plane's binaries      hack/controlplane.sh build (cached by version)
#  3. build + unit tests                      build/, ctest -L unit
#     data-plane tests (redis, router, agent) ctest -L dataplane
#  4. unit tests under ASan + UBSan           build-asan/
#  5. unit tests under ThreadSanitizer       build-tsan/
#  6. short libFuzzer runs                    build-fuzz/ (clang), ctest -L fuzz
#  7. integration tests on one shared real control plane (etcd, kube-apiserver,
#     controller-manager, scheduler, KWOK, metrics-server), ctest -L integration
#     (podrunner_integration: hack/podrunner's real redis-server + agent per KWOK pod)
#
# Environment: JOBS (default 2); SHARDCAST_TEST_SKIP="asan fuzz" skips stages
# (never in CI); SHARDCAST_TEST_REGEX limits integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
SKIP=${SHARDCAST_TEST_SKIP:-}
if [ "${CI:-}" = "true" ]; then SKIP=""; fi
start_ts=$(date +%s)
stage() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - start_ts ))" "$*"; }
skipped() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }

stage "dependencies"
bash hack/install-deps.sh

stage "shellcheck (every shell script under hack/)"
git ls-files -z 'hack/*.sh' | xargs -0 shellcheck
echo "shellcheck: $(git ls-files 'hack/*.sh' | wc -l) scripts clean"

stage "format (clang-format --dry-run -Werror on every C++ file; fix with make format)"
git ls-files -z '*.cc' '*.h' | xargs -0 clang-format --dry-run -Werror
echo "format: $(git ls-files '*.cc' '*.h' | wc -l) C++ files clean"

stage "control plane binaries (first build takes many minutes; cached afterwards)"
bash hack/controlplane.sh build

stage "build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$JOBS"

stage "unit tests"
ctest --test-dir build -L unit --output-on-failure -j "$JOBS"

stage "data-plane tests (real redis-server, router and agent processes on loopback)"
if ctest --test-dir build -L dataplane -N | grep -q 'Total Tests: 0'; then
  echo "no data-plane tests are built" >&2; exit 1
fi
ctest --test-dir build -L dataplane --output-on-failure

if ! skipped asan; then
  stage "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDCAST_SANITIZE=ON
  cmake --build build-asan -j "$JOBS" --target unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS"
fi

if ! skipped tsan; then
  stage "unit tests under ThreadSanitizer"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDCAST_TSAN=ON
  cmake --build build-tsan -j "$JOBS" --target unit_tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp" \
    ctest --test-dir build-tsan -L unit --output-on-failure -j "$JOBS"
fi

if ! skipped fuzz; then
  stage "fuzzers (short runs)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSHARDCAST_FUZZ=ON \
    -DSHARDCAST_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build-fuzz -j "$JOBS" --target fuzz_targets
  ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

stage "integration tests on the real local control plane"
CP_DIR=$(mktemp -d /tmp/shardcast-test-cp.XXXXXX)
cleanup() { SHARDCAST_CP_DIR="$CP_DIR" bash "$ROOT/hack/controlplane.sh" stop >/dev/null 2>&1 || true; rm -rf "$CP_DIR"; }
trap cleanup EXIT
SHARDCAST_CP_DIR="$CP_DIR" bash hack/controlplane.sh start
export SHARDCAST_CP_DIR="$CP_DIR"
export SHARDCAST_TEST_KUBECONFIG="$CP_DIR/kubeconfig"
SHARDCAST_HELM=$(bash hack/controlplane.sh bin-path helm)
export SHARDCAST_HELM
KUBECONFIG="$SHARDCAST_TEST_KUBECONFIG" kubectl version -o json | grep -E '"gitVersion"' | tail -1
ctest --test-dir build -L integration --output-on-failure ${SHARDCAST_TEST_REGEX:+-R "$SHARDCAST_TEST_REGEX"}

stage "all tests passed"
