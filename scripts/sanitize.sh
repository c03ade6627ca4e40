#!/usr/bin/env bash
# The tests under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer.
#
#   scripts/sanitize.sh [address|thread|all] [FILTER]
#
# By default both sanitizers run the layers' suites: TCPSocket, HTTPParser, TLSWrapper and
# NetLab. FILTER is a `swift test --filter` regular expression; `everything` runs the whole
# suite. Each sanitizer builds into its own folder (.build/address, .build/thread). The run
# fails if any test fails or any sanitizer report appears; suppressions live in
# scripts/sanitizers/, each with its reason. CI runs the default; docs/RELIABILITY.md has the
# figures. The load test (wrk, 256 connections for 10 s) is left out: under a sanitizer's
# five- to fifteen-fold slowdown it only starves the other suites' handshakes and deadlines, and
# the plain `swift test` runs it. The suites run one at a time (`--no-parallel`): under a
# sanitizer, suites racing each other for two cores made a 5-second read deadline expire in a
# test that takes 20 ms alone, and a test's verdict must never hang on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
filter="${2:-^(TCPSocketTests|HTTPParserTests|TLSWrapperTests|NetLabTests)\.}"
[ "$filter" = everything ] && filter=""
skip="NetLabTests.LoadTests"
case "$which" in
    all) sanitizers=(address thread) ;;
    address|thread) sanitizers=("$which") ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

# ASan: report and go on (so one run lists every report); LSan at exit, with suppressions.
export ASAN_OPTIONS="halt_on_error=0:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0"
# TSan: every report, then exit 66 at the end.
export TSAN_OPTIONS="halt_on_error=0:exitcode=66"
# The runtime's backtracer would compete with the sanitizers' own reports.
export SWIFT_BACKTRACE=enable=no

failed=0
for sanitizer in "${sanitizers[@]}"; do
    scratch=".build/$sanitizer"
    log=$(mktemp)
    echo "== $sanitizer: building"
    # (gold's "Cannot export local symbol '__asan_…'" is the linker noting ASan's own helpers.)
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" 2>&1 \
        | grep -E "error|warning: " | grep -v "Cannot export local symbol" || true
    echo "== $sanitizer: testing ${filter:-everything}"
    status=0
    if [ -n "$filter" ]; then
        swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --filter "$filter" --skip "$skip" --no-parallel >"$log" 2>&1 || status=$?
    else
        swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --skip "$skip" --no-parallel >"$log" 2>&1 || status=$?
    fi
    reports=$(grep -cE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$log" || true)
    summary=$(grep -E "Test run with [0-9]+ tests" "$log" | tail -1 || true)
    echo "$sanitizer: ${summary:-no test summary} — $reports sanitizer reports (exit $status)"
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
        grep -E -A 12 "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$log" | head -80 || true
        grep -E "✘" "$log" | head -20 || true
        failed=1
    fi
    rm -f "$log"
done
exit $failed
