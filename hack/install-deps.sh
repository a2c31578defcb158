#!/usr/bin/env bash
# Installs Shardcast's build and test dependencies from Debian's packages.
# Idempotent: packages already present are not touched, and apt is not
# contacted at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl openssl
  libcpprest-dev libboost-system-dev libboost-random-dev libboost-thread-dev
  nlohmann-json3-dev libyaml-cpp-dev libssl-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev clang-format
  python3 python3-venv
  etcd-server
  procps
  lua5.1 lua5.4 python3-yaml python3-jsonschema
  ccache shellcheck
  libhiredis-dev redis-server redis-tools nutcracker python3-redis
  buildah bubblewrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
