#!/usr/bin/env bash
# NetLab's HTTP server beside Hummingbird 2 (SwiftNIO) and nginx under wrk, in one run.
#
#   Benchmarks/run-http-server.sh                       # netlab, hummingbird, nginx; -c64 and -c256; 3 reps
#   PEERS="netlab nginx" REPS=1 Benchmarks/run-http-server.sh
#
# Uses the peer harness at ../shared/bench/http-server-peers (or HTTP_SERVER_PEERS=DIR), run from
# a scratch copy with NetLab added as one more peer (http-server-peers/netlab). Needs wrk, curl
# and nginx (apt-get install -y wrk curl nginx). See docs/PERFORMANCE.md for recorded results.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers_dir=${HTTP_SERVER_PEERS:-$here/../../shared/bench/http-server-peers}
[ -x "$peers_dir/run.sh" ] || { echo "peer harness not found at $peers_dir (set HTTP_SERVER_PEERS)" >&2; exit 2; }
export NETLAB_BENCHMARKS="$here"
export EXTRA_PEER_DIR="$here/http-server-peers"
export PEERS=${PEERS:-"netlab hummingbird nginx"}
exec "$peers_dir/run.sh"
