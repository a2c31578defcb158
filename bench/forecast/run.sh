#!/usr/bin/env bash
# On-demand forecasting benchmark (not part of the test suite).
#   bench/forecast/run.sh                 # ours + statsforecast (+ Prophet if it installs)
#   SKIP_PYTHON=1 bench/forecast/run.sh   # ours only (about 1 minute)
#   MODELS=SeasonalNaive,AutoETS bench/forecast/run.sh
# Data is read in place from ../shared/data (relative to the repo root).
# statsforecast's AutoARIMA (m=24) needs minutes per M4 Hourly series on a
# shared 2-core machine, so it runs on every ARIMA_EVERY-th M4 series
# (default 8: series 0, 8, ..., 408) and stops after ARIMA_TIME_LIMIT wall
# seconds (checked every 4 series); the N series it finished are then scored
# for every model (ours included) as the subset "everyK-firstN". On NAB each
# statsforecast model stops after NAB_TIME_LIMIT wall seconds and the
# windows done by then are scored.
# Results: bench/forecast/results/results.txt (key=value lines) and
# bench/forecast/results/table.md (markdown); both git-ignored.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/data}
BUILD=${BUILD:-$ROOT/build-pred}
VENV=${VENV:-$ROOT/bench/forecast/.venv}
OUT=$ROOT/bench/forecast/results
MODELS=${MODELS:-SeasonalNaive,AutoETS,AutoARIMA,Prophet}
ARIMA_EVERY=${ARIMA_EVERY:-8}
ARIMA_TIME_LIMIT=${ARIMA_TIME_LIMIT:-3000}
NAB_TIME_LIMIT=${NAB_TIME_LIMIT:-1800}
mkdir -p "$OUT"
RES=$OUT/results.txt
: > "$RES"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j 2 --target bench_forecast
BF=$BUILD/bench/forecast/bench_forecast
M4=$DATA/m4-hourly
NAB=("$DATA/nab/realAWSCloudwatch" "$DATA/nab/realKnownCause")

echo "== ours (C++)"
# Tuning was done on the training part only (last 48 points held out):
for m in auto ar; do
  "$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --holdout --model "$m" --no-baseline | tee -a "$RES"
done
# Scored once on the test file. Each m4 run also prints the seasonal naive
# baseline (model=baseline-snaive24) scored on the same series in the same run.
"$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --model auto | tee -a "$RES"
for m in ar naive2; do
  "$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --model "$m" --no-baseline | tee -a "$RES"
done
for m in auto ar snaive; do
  "$BF" nab "${NAB[@]}" --model "$m" | tee -a "$RES"
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
  PY=("$VENV/bin/python" "$ROOT/bench/forecast/baselines.py" --data "$DATA")
  if [[ ",$MODELS," == *,AutoARIMA,* ]]; then
    "${PY[@]}" --models AutoARIMA --datasets m4 --m4-every "$ARIMA_EVERY" --time-limit "$ARIMA_TIME_LIMIT" \
      | tee -a "$RES"
    N=$(grep 'model=AutoARIMA' "$RES" | grep -o 'series=[0-9]*' | tail -1 | cut -d= -f2)
    if [[ -n "$N" ]]; then
      for m in auto ar snaive; do
        "$BF" m4 "$M4/Hourly-train.csv" "$M4/Hourly-test.csv" --model "$m" --every "$ARIMA_EVERY" --first "$N" \
          --no-baseline | tee -a "$RES"
      done
      SUB=$(echo "$MODELS" | tr , '\n' | grep -v -e '^AutoARIMA$' -e '^Prophet$' | paste -sd, - || true)
      if [[ -n "$SUB" ]]; then
        "${PY[@]}" --models "$SUB" --datasets m4 --m4-every "$ARIMA_EVERY" --m4-first "$N" | tee -a "$RES"
      fi
    fi
  fi
  # All 414 M4 series for every model but AutoARIMA.
  FULL=$(echo "$MODELS" | tr , '\n' | grep -v '^AutoARIMA$' | paste -sd, - || true)
  if [[ -n "$FULL" ]]; then
    "${PY[@]}" --models "$FULL" --datasets m4 | tee -a "$RES"
  fi
  "${PY[@]}" --models "$MODELS" --datasets nab --time-limit "$NAB_TIME_LIMIT" | tee -a "$RES"
  # Models stopped by the time limit were scored on their first N windows: ours on the same.
  grep -o 'dataset=nab-first[0-9]*' "$RES" | sed 's/.*first//' | sort -un > "$OUT/nab-firsts.txt" || true
  while read -r N; do
    for m in auto snaive; do
      "$BF" nab "${NAB[@]}" --model "$m" --first "$N" | tee -a "$RES"
    done
  done < "$OUT/nab-firsts.txt"
fi

python3 "$ROOT/bench/forecast/table.py" "$RES" > "$OUT/table.md"
echo "== table ($OUT/table.md)"
cat "$OUT/table.md"
