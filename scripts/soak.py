#!/usr/bin/env python3
"""The soak: `netlab serve all` under mixed traffic for a while, reporting every minute.

    scripts/soak.py [--minutes 30] [--restart-every 10] [--clients 4] [--netlab PATH]
                    [--seconds-per-minute 60]

(`--seconds-per-minute 10` makes a quick trial run of the script itself.)

Traffic, from CLIENTS threads: charges of every Core API channel (cards tokenised first; bank
transfers paid at the bank), status checks, refunds of settled card charges. Every charge names
the script's own webhook endpoint (`X-Override-Notification`), which checks each notification's
signature. Every RESTART_EVERY minutes the whole `serve all` is stopped (SIGTERM) and started
again on the same state. Each minute prints the resident memory and open descriptors of all its processes,
requests answered, 5xx answers, requests that found nobody listening (restarts), and latency
(p50, p99).

At the end the traffic stops, the merchant asks for a resend of what is undelivered, and a
sample of 2,000 orders is checked: the last notification received for each order in a final
status is that status, with a valid signature.

It ends *flat* when, in the last restart period, neither memory nor descriptors grew: the last
minute's RSS is within 25% (and 16 MiB) of that period's second minute, and its descriptors
within 16. Exit status 0 when flat with no 5xx, no bad signature and no missing final webhook;
1 otherwise; 2 when the system failed to start. The figures go to docs/RELIABILITY.md ("Soak").
"""
import argparse
import base64
import hashlib
import http.client
import http.server
import json
import os
import random
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SERVER_KEY = "SB-Mid-server-NetLabLab0000000000"
CLIENT_KEY = "SB-Mid-client-NetLabLab0000000000"
AUTH = "Basic " + base64.b64encode((SERVER_KEY + ":").encode()).decode()
CHANNELS = [
    ("credit_card", None),
    ("bank_transfer", {"bank_transfer": {"bank": "bca"}}),
    ("bank_transfer", {"bank_transfer": {"bank": "bni"}}),
    ("bank_transfer", {"bank_transfer": {"bank": "bri"}}),
    ("bank_transfer", {"bank_transfer": {"bank": "permata"}}),
    ("bank_transfer", {"bank_transfer": {"bank": "cimb"}}),
    ("echannel", {"echannel": {"bill_info1": "Payment:", "bill_info2": "Soak"}}),
    ("gopay", {}),
    ("shopeepay", {}),
    ("qris", {}),
    ("cstore", {"cstore": {"store": "indomaret"}}),
    ("cstore", {"cstore": {"store": "alfamart"}}),
    ("akulaku", {}),
    ("kredivo", {}),
]


FINAL = {"settlement", "expire", "deny", "cancel", "failure", "refund", "partial_refund"}


class Webhooks:
    """The merchant's endpoint: records each order's notifications, checks each signature."""

    def __init__(self):
        self.lock = threading.Lock()
        self.last = {}
        self.received = 0
        self.bad_signatures = 0
        webhooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    note = json.loads(body)
                    expected = hashlib.sha512((note["order_id"] + note["status_code"] + note["gross_amount"]
                                               + SERVER_KEY).encode()).hexdigest()
                    signed = note.get("signature_key") == expected
                except (ValueError, KeyError, TypeError):
                    note, signed = {}, False
                with webhooks.lock:
                    webhooks.received += 1
                    if signed:
                        webhooks.last[note["order_id"]] = note["transaction_status"]
                    else:
                        webhooks.bad_signatures += 1
                self.send_response(200 if signed else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notifications"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.errors = 0
        self.unreachable = 0
        self.requests = 0
        self.samples = []

    def record(self, seconds, ok, what=""):
        with self.lock:
            self.requests += 1
            self.latencies.append(seconds)
            if not ok:
                self.errors += 1
                if len(self.samples) < 5:
                    self.samples.append(what)

    def record_unreachable(self):
        with self.lock:
            self.unreachable += 1

    def take(self):
        with self.lock:
            taken = (self.requests, self.errors, self.unreachable, sorted(self.latencies))
            self.latencies, self.errors, self.unreachable, self.requests = [], 0, 0, 0
            return taken


class Client:
    def __init__(self, base, context, stats):
        self.base, self.context, self.stats = base, context, stats
        self.connections = {}

    def call(self, port, method, path, body=None, auth=True, notify=None):
        headers = {"Accept": "application/json"}
        if notify:
            headers["X-Override-Notification"] = notify
        if auth:
            headers["Authorization"] = AUTH
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            connection = self.connections.get(port)
            if connection is None:
                connection = http.client.HTTPSConnection("127.0.0.1", port, context=self.context, timeout=30)
                self.connections[port] = connection
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            ok = response.status < 500
            self.stats.record(time.monotonic() - started, ok, f"{method} {path.split('?')[0]} → {response.status} {payload[:160]!r}")
            try:
                return response.status, json.loads(payload or b"{}")
            except ValueError:
                return response.status, {}
        except (OSError, http.client.HTTPException):
            # No answer: the connection broke (a restart) or nobody listens (restarting). Not a
            # request the system answered; counted apart, and the client waits a moment.
            self.connections.pop(port, None)
            self.stats.record_unreachable()
            time.sleep(0.1)
            return None, {}


def worker(index, base, context, stats, stop, webhooks, orders):
    client = Client(base, context, stats)
    rng = random.Random(index)
    gateway, bank = base, base + 1
    settled_cards = []
    n = 0
    while not stop.is_set():
        n += 1
        order = f"soak-{index}-{int(time.time())}-{n}"
        payment_type, extra = rng.choice(CHANNELS)
        body = {"payment_type": payment_type,
                "transaction_details": {"order_id": order, "gross_amount": rng.randrange(10, 500) * 1000}}
        if payment_type == "credit_card":
            status, token = client.call(gateway, "GET",
                f"/v2/token?client_key={CLIENT_KEY}&card_number=4811111111111114&card_exp_month=12"
                f"&card_exp_year=2030&card_cvv=123", auth=False)
            if status != 200:
                continue
            body["credit_card"] = {"token_id": token.get("token_id")}
        elif extra:
            body.update(extra)
        status, answer = client.call(gateway, "POST", "/v2/charge", body, notify=webhooks.url)
        transaction = answer.get("transaction_id")
        if status == 200 and transaction:
            orders.append(order)
            for va in answer.get("va_numbers") or []:
                if rng.random() < 0.75:
                    client.call(bank, "POST", f"/va/{va.get('va_number')}/pay", {}, auth=False)
            if answer.get("permata_va_number") and rng.random() < 0.75:
                client.call(bank, "POST", f"/va/{answer['permata_va_number']}/pay", {}, auth=False)
            if payment_type == "credit_card":
                settled_cards.append((transaction, body["transaction_details"]["gross_amount"]))
            client.call(gateway, "GET", f"/v2/{order}/status")
        if settled_cards and rng.random() < 0.2:
            transaction, amount = settled_cards.pop(0)
            client.call(gateway, "POST", f"/v2/{transaction}/refund",
                        {"refund_key": f"r-{transaction}", "amount": amount // 2, "reason": "soak"})


def check_webhooks(base, context, webhooks, orders, sample=2000):
    """Resend what is undelivered, then check a sample of orders: the last signed notification of
    each order in a final status is that status. Returns (orders missing it, orders checked)."""
    client = Client(base, context, Stats())
    time.sleep(10)
    client.call(base + 4, "POST", "/v1/notifications/resend")
    chosen = random.Random(7).sample(orders, min(sample, len(orders)))
    finals = {}
    for order in chosen:
        status, answer = client.call(base, "GET", f"/v2/{order}/status")
        if status == 200 and answer.get("transaction_status") in FINAL:
            finals[order] = answer["transaction_status"]
    deadline = time.monotonic() + 120
    while True:
        with webhooks.lock:
            missing = [order for order, final in finals.items() if webhooks.last.get(order) != final]
        if not missing or time.monotonic() > deadline:
            return missing, len(finals)
        time.sleep(2)


def process_tree(pid):
    """pid and every live process below it (serve all: a supervisor and a process per service)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    members, todo = [pid], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        members += below
        todo += below
    return members


def process_figures(pid):
    """Resident memory (MiB) and open descriptors of the whole process tree."""
    rss = fds = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                rss += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            fds += len(os.listdir(f"/proc/{member}/fd"))
        except (OSError, StopIteration):
            pass
    return rss // 1024, fds


def start(netlab, state, base):
    process = subprocess.Popen([netlab, "serve", "all", "--state", state, "--port-base", str(base),
                                "--payment-expiry", "60", "--settlement-delay", "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("state "):
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process
    process.kill()
    print("serve all did not start", file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--restart-every", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port-base", type=int, default=random.randrange(30000, 39000, 10))
    parser.add_argument("--netlab", default=None)
    parser.add_argument("--seconds-per-minute", type=float, default=60)
    parser.add_argument("--keep-state", action="store_true", help="keep the state folder (printed) to inspect")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    netlab = args.netlab or os.path.join(
        subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=root, text=True).strip(), "netlab")
    state = tempfile.mkdtemp(prefix="netlab-soak-")
    base = args.port_base
    process = start(netlab, state, base)
    context = ssl.create_default_context(cafile=os.path.join(state, "ca", "ca.pem"))
    stats, stop, webhooks, orders = Stats(), threading.Event(), Webhooks(), []
    threads = [threading.Thread(target=worker, args=(i, base, context, stats, stop, webhooks, orders), daemon=True)
               for i in range(args.clients)]
    for thread in threads:
        thread.start()
    print("minute  rss_MiB  fds  requests  5xx  unreachable  p50_ms  p99_ms   (RSS and descriptors: all of serve all's processes)")
    period = []
    flat = True
    errors_total = 0
    missing, checked = [], 0
    try:
        for minute in range(1, args.minutes + 1):
            time.sleep(args.seconds_per_minute)
            rss, fds = process_figures(process.pid)
            requests, errors, unreachable, latencies = stats.take()
            errors_total += errors
            p50 = 1000 * latencies[len(latencies) // 2] if latencies else 0
            p99 = 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0
            print(f"{minute:6d}  {rss:7d}  {fds:3d}  {requests:8d}  {errors:3d}  {unreachable:11d}  {p50:6.1f}  {p99:6.1f}",
                  flush=True)
            with stats.lock:
                for sample in stats.samples:
                    print(f"        5xx: {sample}", flush=True)
                stats.samples = []
            period.append((rss, fds))
            if minute % args.restart_every == 0 and minute < args.minutes:
                began = time.monotonic()
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
                process = start(netlab, state, base)
                print(f"        (restarted serve all after minute {minute}: down {time.monotonic() - began:.1f} s)", flush=True)
                period = []
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        missing, checked = check_webhooks(base, context, webhooks, orders)
    finally:
        stop.set()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    if len(period) >= 3:
        (rss_start, fds_start), (rss_end, fds_end) = period[1], period[-1]
        flat = rss_end <= max(rss_start * 1.25, rss_start + 16) and fds_end <= fds_start + 16
        print(f"last period: RSS {rss_start} → {rss_end} MiB, descriptors {fds_start} → {fds_end}: "
              + ("flat" if flat else "NOT FLAT"))
    else:
        print("last period too short to judge flatness (needs 3 minutes)")
    print(f"webhooks: {webhooks.received} received, {webhooks.bad_signatures} badly signed; "
          f"{checked} orders in a final status checked, {len(missing)} without their final notification"
          + (f" (e.g. {missing[:5]})" if missing else ""))
    flat = flat and not missing and webhooks.bad_signatures == 0 and errors_total == 0
    if args.keep_state:
        print(f"state kept in {state}")
    else:
        subprocess.run(["rm", "-rf", state])
    sys.exit(0 if flat else 1)


if __name__ == "__main__":
    main()
