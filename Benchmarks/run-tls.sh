#!/usr/bin/env bash
# NetLab's TLS against OpenSSL's own tools, in one run (TLS 1.3, the same server, certificate and curve).
#
#   Benchmarks/run-tls.sh            # 5 s per handshake test, 256 MiB bulk
#   SECONDS_PER_TEST=3 MEGABYTES=64 Benchmarks/run-tls.sh
#
# Handshakes: `openssl s_server -www` with a lab certificate; `openssl s_time -new` / `-reuse`
# against it, then NetLab's client (full: a fresh context each time; resumed: session cache).
# Bulk: NetLab's TLSStream over a socketpair vs `openssl speed -evp` for the negotiated AEAD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${SECONDS_PER_TEST:-5}
mb=${MEGABYTES:-256}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here" && swift build -c release --product tls-bench-netlab >&2)
bench="$here/.build/release/tls-bench-netlab"
"$bench" bulk "$work/certs" "$mb"                      # also creates the lab CA and localhost certificate
port=18600
openssl s_server -quiet -accept 127.0.0.1:$port -cert "$work/certs/localhost.pem" -key "$work/certs/localhost.key" \
  -tls1_3 -www < /dev/zero > /dev/null 2>&1 &
server=$!
sleep 1
# s_time reports whole "real seconds" only; the rate here divides its count by the wall-clock
# time measured around it.
for mode in new reuse; do
  start=$(date +%s.%N)
  line=$(openssl s_time -connect 127.0.0.1:$port -$mode -time "$secs" -CAfile "$work/certs/ca.pem" 2>/dev/null \
    | grep -E "connections in .* real seconds" | tail -1)
  end=$(date +%s.%N)
  per_s=$(python3 -c "print(round(int('${line%% *}') / ($end - $start), 1))")
  echo "{\"peer\":\"openssl s_time\",\"test\":\"$mode\",\"line\":\"$line\",\"wall_s\":$(python3 -c "print(round($end - $start, 3))"),\"per_s\":$per_s}"
done
"$bench" handshakes 127.0.0.1 $port "$work/certs/ca.pem" "$secs"
for cipher in aes-256-gcm aes-128-gcm; do
  openssl speed -evp $cipher -bytes 16384 -seconds 3 2>/dev/null | grep -E "^(AES|aes)" | tail -1 \
    | sed "s/^/{\"peer\":\"openssl speed\",\"cipher\":\"$cipher\",\"line\":\"/; s/$/\"}/"
done
