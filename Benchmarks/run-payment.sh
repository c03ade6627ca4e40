#!/usr/bin/env bash
# End-to-end card charges through the payment system (customer → merchant → gateway → fraud and
# bank, webhooks delivered and confirmed), with NetLab's HTTPS hello in the same run as the
# per-request reference. Release build; prints JSON lines.
#
#   Benchmarks/run-payment.sh              # 10 s at 32 concurrent checkouts
#   Benchmarks/run-payment.sh 10 64
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
(cd "$here" && swift build -c release --product payment-bench-netlab >&2)
"$here/.build/release/payment-bench-netlab" "${1:-10}" "${2:-32}"
