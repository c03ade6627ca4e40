#!/usr/bin/env bash
# The crash storm for longer than CI runs it: RUNS runs of KILLS SIGKILLs each (defaults 5 and
# 100), each with a fresh random seed, stopping at the first failure (its seed is printed:
# replay it with NETLAB_SEED=… NETLAB_STORM_KILLS=… swift test --filter CrashStorm).
#
#   scripts/crash-storm.sh [RUNS] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
kills="${2:-100}"
swift build --build-tests
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs: $kills kills"
  log="$(mktemp)"
  status=0
  NETLAB_STORM_KILLS="$kills" swift test --skip-build --filter CrashStorm >"$log" 2>&1 || status=$?
  grep -E "crash storm|✘|Test run" "$log" || true
  rm -f "$log"
  [ "$status" -eq 0 ] || { echo "run $run failed (seed above)"; exit 1; }
done
echo "all $runs runs passed"
