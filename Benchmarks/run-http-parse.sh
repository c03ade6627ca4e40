#!/usr/bin/env bash
# NetLab's HTTP/1.1 parser beside its peers, on the same generated inputs, in one run.
#
#   Benchmarks/run-http-parse.sh                   # N=100000 requests per input, 5 runs each
#   HTTP_BENCH_N=2000 RUNS=3 Benchmarks/run-http-parse.sh
#   PEERS="httptools" Benchmarks/run-http-parse.sh # skip the slow NIO build
#   PEERS="httptools pico" Benchmarks/run-http-parse.sh   # the two C anchors (pico needs cc)
#
# Needs the peer harness at ../shared/bench/http-parse-peers (or HTTP_PARSE_PEERS=DIR):
# its inputs.py makes the inputs, peers.py runs httptools/h11, its nio-peer runs NIOHTTP1,
# pico/ runs picohttpparser (C, SSE4.2), table.py prints the table. Nothing of it is copied into this repository: it is run from a
# scratch folder. Installs httptools and h11 with pip if they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers_dir=${HTTP_PARSE_PEERS:-$here/../../shared/bench/http-parse-peers}
[ -f "$peers_dir/inputs.py" ] || { echo "peer harness not found at $peers_dir (set HTTP_PARSE_PEERS)" >&2; exit 2; }
work=${BENCH_WORK:-${TMPDIR:-/tmp}/netlab-http-parse-bench}
mkdir -p "$work"
cp -r "$peers_dir/Package.swift" "$peers_dir/Sources" "$peers_dir/pico" "$peers_dir/inputs.py" "$peers_dir/peers.py" "$peers_dir/table.py" "$work/"
RUNS=${RUNS:-5}
PEERS=${PEERS:-"httptools nio"}
N=${HTTP_BENCH_N:-100000}
data="$work/data/n$N"
[ -f "$data/manifest.json" ] || (cd "$work" && HTTP_BENCH_N=$N python3 inputs.py "$data" >&2)
python3 -c "import httptools, h11" 2>/dev/null || pip install -q httptools h11 >&2

results=$(mktemp)
trap 'rm -f "$results"' EXIT
(cd "$here" && swift build -c release --product http-parse-netlab >&2)
"$here/.build/release/http-parse-netlab" "$data" "$RUNS" | tee -a "$results" >&2
for peer in $PEERS; do
  case "$peer" in
    httptools|h11) (cd "$work" && python3 peers.py "$data" "$RUNS" "$peer") | tee -a "$results" >&2 ;;
    nio)
      (cd "$work" && swift build -c release --product nio-peer >&2)
      "$work/.build/release/nio-peer" "$data" "$RUNS" | tee -a "$results" >&2 ;;
    pico)
      bash "$work/pico/build.sh" "$work/pico-peer" >&2
      "$work/pico-peer" "$data" "$RUNS" | tee -a "$results" >&2 ;;
    *) echo "unknown peer: $peer" >&2; exit 2 ;;
  esac
done
echo
echo "$N requests per input; median of $RUNS runs; each run = whole pipelined file in one buffer; MB = 10^6 bytes"
(cd "$work" && python3 table.py < "$results")
