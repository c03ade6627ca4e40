#!/usr/bin/env bash
# Regenerates docs/images/: the browser flows of Tests/PaymentFlowTests/Interop/browser_check.py
# in headless Chromium against a fresh `netlab serve all`, one PNG per step.
# Needs chromium, chromium-driver, openssl and Selenium (what .ci/run installs).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product netlab
state=$(mktemp -d)
base=${PORT_BASE:-32100}
.build/debug/netlab serve all --state "$state" --port-base "$base" > "$state/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do grep -q '^state ' "$state/serve.log" 2>/dev/null && break; sleep 0.2; done
spki=$(openssl x509 -pubkey -noout -in "$state/ca/services.pem" | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
rm -f docs/images/*.png
mkdir -p docs/images
SHOP_URL="https://127.0.0.1:$((base + 2))" GATEWAY_URL="https://127.0.0.1:$base" BANK_URL="https://127.0.0.1:$((base + 1))" \
  SERVER_KEY=SB-Mid-server-NetLabLab0000000000 SPKI="$spki" REQUESTS_CA_BUNDLE="$state/ca/ca.pem" SCREENSHOTS=docs/images \
  python3 Tests/PaymentFlowTests/Interop/browser_check.py
ls docs/images
