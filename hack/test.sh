#!/usr/bin/env bash
# The whole test suite (README: `make test`). Filled in as components land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j 2
ctest --test-dir build -L unit --output-on-failure -j 2
