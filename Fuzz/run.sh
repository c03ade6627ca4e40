#!/usr/bin/env bash
# Fuzz NetLab's input readers with libFuzzer (Linux, Swift's -sanitize=fuzzer,address).
#
#   Fuzz/run.sh TARGET SECONDS    fuzz one target (see --list) for SECONDS
#   Fuzz/run.sh all SECONDS       every target in turn, SECONDS each
#   Fuzz/run.sh --ci RUNS         every target for RUNS inputs from its seeds, with a fixed
#                                 seed: the same inputs every time, so the verdict is the
#                                 code's alone (what CI runs)
#   Fuzz/run.sh --list            the targets
#   Fuzz/run.sh --hours           what the timed runs here add up to, per target, as a
#                                 markdown table (from findings/runs.tsv; docs/RELIABILITY.md)
#   Fuzz/run.sh --build           fetch llhttp, build, write the seed corpora; no fuzzing
#
# A timed run draws a fresh random seed (libFuzzer prints it); FUZZ_SEED=N replays one.
# Corpora grow in Fuzz/corpus/TARGET (seeded on first use); a crash, leak, timeout or broken
# invariant is saved in Fuzz/findings/TARGET/ and the script exits non-zero. Minimise one with
#   Fuzz/.build/release/TARGET -minimize_crash=1 -runs=10000 FILE
# and add it to the tests as a vector (docs/RELIABILITY.md, "Fuzzing").
# Each run appends a line to Fuzz/findings/runs.tsv: date, target, seconds (or runs),
# executions, corpus files, result.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"
here=$(pwd)

TARGETS=(request response chunked roundtrip differential charge-json url-form webhook tls-server tls-client lab-parser-checker)

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage

# llhttp 9.2.1 (MIT), the differential target's peer: its C sources as httptools 0.6.4
# vendors them on PyPI, checked against this digest before use.
LLHTTP_SDIST=httptools-0.6.4.tar.gz
LLHTTP_SHA256=4e93eee4add6493b59a5c514da98c939b244fce4a0d8879cd3f466562f4b7d5c
fetch_llhttp() {
    local dest=Sources/CLLHTTP
    [ -f "$dest/VERSION" ] && return
    local work
    work=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$work" httptools==0.6.4 \
        || python3 -m pip download --quiet --no-deps --no-binary :all: --break-system-packages --dest "$work" httptools==0.6.4
    echo "$LLHTTP_SHA256  $work/$LLHTTP_SDIST" | sha256sum -c --quiet
    tar -xzf "$work/$LLHTTP_SDIST" -C "$work"
    local vendor="$work/httptools-0.6.4/vendor/llhttp"
    cp "$vendor"/src/llhttp.c "$vendor"/src/api.c "$vendor"/src/http.c "$dest/"
    cp "$vendor"/include/llhttp.h "$dest/include/"
    cp "$vendor"/LICENSE-MIT "$dest/LICENSE-llhttp" 2>/dev/null || true
    echo "llhttp 9.2.1 from $LLHTTP_SDIST" > "$dest/VERSION"
    rm -rf "$work"
}

build() {
    fetch_llhttp
    # -enable-testing: the gateway's charge reader is internal to PaymentFlow.
    swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -use-ld=lld 2>&1 \
        | grep -v "Cannot export local symbol" >&2
    local bin
    bin=$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -use-ld=lld --show-bin-path)
    echo "$bin"
}

# The seed corpora go to seeds/ (rewritten by every build: they follow the vector table and
# the demo); a timed run's corpus/TARGET starts from them and keeps what it finds.
seed() {
    local bin=$1
    local cases=""
    if [ -f ../../shared/corpus/llhttp/cases.jsonl ]; then
        cases=../../shared/corpus/llhttp/cases.jsonl
    else
        echo "(llhttp's cases are not beside the repository: seeding without them)" >&2
    fi
    rm -rf seeds.tmp
    mkdir -p seeds.tmp
    # The seed writer is not under test: its globals alive at exit are not leaks worth a report.
    ASAN_OPTIONS=detect_leaks=0 "$bin/seeds" seeds.tmp $cases >/dev/null
    rm -rf seeds
    mv seeds.tmp seeds
    local target
    for target in "${TARGETS[@]}"; do
        mkdir -p "corpus/$target"
        cp -rn "seeds/$target/." "corpus/$target/" 2>/dev/null || true
    done
}

# run_target BIN TARGET SECONDS [RUNS]: a timed run into corpus/TARGET, or (RUNS given) a
# fixed-seed run of RUNS inputs over a scratch copy of the seeds (the corpus is left as it was).
run_target() {
    local bin=$1 target=$2 seconds=$3 runs=${4:-}
    mkdir -p "corpus/$target" "findings/$target"
    local log="findings/$target/last-run.log"
    local status=0 corpus="corpus/$target" bound=(-max_total_time="$seconds")
    [ -n "${FUZZ_SEED:-}" ] && bound+=(-seed="$FUZZ_SEED")
    if [ -n "$runs" ]; then
        corpus=$(mktemp -d)
        cp -r "seeds/$target/." "$corpus/" 2>/dev/null || true
        bound=(-runs="$runs" -seed=1)
    fi
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: memory growth is a finding too.
    # SWIFT_BACKTRACE off: libFuzzer reports the crash itself; the runtime backtracer under ASan adds noise.
    local started=$SECONDS
    SWIFT_BACKTRACE=enable=no "$bin/$target" "$corpus" "${bound[@]}" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -artifact_prefix="findings/$target/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The time it really ran (a finding ends a run early).
    local label="$((SECONDS - started))s"
    if [ -n "$runs" ]; then rm -rf "$corpus"; label="$runs runs"; fi
    local execs files
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    files=$(find "corpus/$target" -type f | wc -l)
    if [ -n "$runs" ]; then files=$(find "seeds/$target" -type f 2>/dev/null | wc -l); fi
    local result=ok
    if [ $status -ne 0 ]; then
        result="FOUND (exit $status)"
        grep -E "fuzz invariant broken|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY|Fatal error|artifact_prefix|Test unit written" "$log" | head -20 >&2 || true
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$label" "$execs" "$files" "$result" >> findings/runs.tsv
    printf '%-20s %11s %12s execs %6s corpus files  %s\n' "$target" "$label" "$execs" "$files" "$result"
    return $status
}

# The timed runs of findings/runs.tsv, summed per target: hours, executions, the corpus now,
# and how many runs ended in a finding.
hours() {
    [ -f findings/runs.tsv ] || { echo "no runs yet (findings/runs.tsv)" >&2; exit 1; }
    echo "| target | timed runs | hours | executions | corpus files | runs that found something |"
    echo "|---|---|---|---|---|---|"
    local target
    for target in "${TARGETS[@]}"; do
        local files
        files=$(find "corpus/$target" -type f 2>/dev/null | wc -l)
        awk -F'\t' -v t="$target" -v files="$files" '
            $2 == t && $3 ~ /^[0-9]+s?$/ { runs++; seconds += $3 + 0; execs += $4; if ($6 != "ok") found++ }
            END { printf "| `%s` | %d | %.2f | %d | %d | %d |\n", t, runs, seconds / 3600, execs, files, found }' findings/runs.tsv
    done
}

runs=""
case "$1" in
    --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
    --hours) hours; exit 0 ;;
    --build) bin=$(build); seed "$bin"; exit 0 ;;
    --ci) [ $# -eq 2 ] || usage; runs=$2; set -- all 0 ;;
    -h|--help) usage ;;
esac
[ $# -eq 2 ] || usage
target=$1 seconds=$2
if [ "$target" != all ] && [[ ! " ${TARGETS[*]} " == *" $target "* ]]; then
    echo "no such target: $target (see --list)" >&2; exit 2
fi
bin=$(build)
seed "$bin"
mkdir -p findings
failed=0
for t in "${TARGETS[@]}"; do
    [ "$target" = all ] || [ "$t" = "$target" ] || continue
    run_target "$bin" "$t" "$seconds" $runs || failed=1
done
exit $failed
