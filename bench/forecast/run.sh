#!/usr/bin/env bash
# On-demand forecasting benchmark (not part of the test suite).
#   bench/forecast/run.sh                 # ours + statsforecast (+ Prophet if it installs)
#   SKIP_PYTHON=1 bench/forecast/run.sh   # ours only
#   MODELS=SeasonalNaive,AutoETS bench/forecast/run.sh
# Data is read in place from ../shared/data (relative to the repo root).
# Results: bench/forecast/results/results.txt (key=value lines) and
# bench/forecast/results/table.md (markdown); both git-ignored.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/data}
BUILD=${BUILD:-$ROOT/build-pred}
VENV=${VENV:-$ROOT/bench/forecast/.venv}
OUT=$ROOT/bench/forecast/results
MODELS=${MODELS:-SeasonalNaive,AutoETS,AutoARIMA,Prophet}
mkdir -p "$OUT"
RES=$OUT/results.txt
: > "$RES"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j 2 --target bench_forecast
BF=$BUILD/bench/forecast/bench_forecast
M4=$DATA/m4-hourly

echo "== ours (C++)"
# Tuning was done on the training part only (last 48 points held out):
"$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --holdout | tee -a "$RES"
# Scored once on the test file:
for m in auto snaive naive2; do
  "$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --model "$m" | tee -a "$RES"
done
for m in auto snaive; do
  "$BF" nab "$DATA/nab/realAWSCloudwatch" "$DATA/nab/realKnownCause" --model "$m" | tee -a "$RES"
done

if [[ -z "${SKIP_PYTHON:-}" ]]; then
  echo "== python baselines"
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q statsforecast pandas
  if ! "$VENV/bin/pip" install -q prophet; then
    echo "prophet did not install; skipping it"
  fi
  "$VENV/bin/python" "$ROOT/bench/forecast/baselines.py" --data "$DATA" --models "$MODELS" | tee -a "$RES"
fi

python3 "$ROOT/bench/forecast/table.py" "$RES" > "$OUT/table.md"
echo "== table ($OUT/table.md)"
cat "$OUT/table.md"
