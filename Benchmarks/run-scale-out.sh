#!/usr/bin/env bash
# Card charges per second as the gateway scales out (docs/SCALING.md): every service a
# `netlab serve` process of its own, the load generator (scale-bench-netlab) a process too, on
# this machine. Layouts:
#   sqlite-1     one gateway on its SQLite file (the embedded default)
#   postgres-1   one gateway on PostgreSQL, no balancer
#   nginx-pg-N   N gateway instances on PostgreSQL behind nginx (N = 1, 2, 4)
# For each it prints the load generator's JSON line and where the CPU went (seconds of CPU per
# process group during the measured run, from /proc).
#
#   Benchmarks/run-scale-out.sh                 # 10 s at 32 concurrent checkouts, every layout
#   Benchmarks/run-scale-out.sh 10 32 "sqlite-1 nginx-pg-2"
#   NETLAB_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements" Benchmarks/run-scale-out.sh 10 32 postgres-1
#                                               # and PostgreSQL's costliest statements (stderr)
# Needs Debian's postgresql and nginx; starts and removes a throwaway PostgreSQL cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
seconds="${1:-10}"
concurrency="${2:-32}"
layouts="${3:-sqlite-1 postgres-1 nginx-pg-1 nginx-pg-2 nginx-pg-4}"

(cd "$root" && swift build -c release --product netlab >&2)
(cd "$here" && swift build -c release --product scale-bench-netlab >&2)
netlab="$root/.build/release/netlab"
bench="$here/.build/release/scale-bench-netlab"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    "$root/scripts/postgres-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
pg_url=$("$root/scripts/postgres-cluster.sh" start "$work/pg")
pg_port=$(echo "$pg_url" | sed -E 's|.*:([0-9]+)/.*|\1|')

free_base() { python3 -c '
import socket, random
while True:
    base = random.randint(20000, 28000)
    try:
        socks = []
        for p in range(base, base + 15):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
'; }

# Starts `netlab ARGS…` in the background, its output in FILE; waits for a line containing READY.
start() {
    local file=$1 ready=$2; shift 2
    "$netlab" "$@" >"$file" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        grep -q "$ready" "$file" && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$file" >&2; return 1; }
        sleep 0.1
    done
    cat "$file" >&2; return 1
}

# CPU seconds (user + system) of every process whose command line matches PATTERN.
cpu() { python3 - "$1" <<'EOF'
import os, sys, re
pattern = re.compile(sys.argv[1]); ticks = os.sysconf("SC_CLK_TCK"); total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        if not pattern.search(cmd): continue
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    except OSError:
        pass
print(f"{total:.2f}")
EOF
}

for layout in $layouts; do
    state="$work/$layout"; mkdir -p "$state"
    base=$(free_base)
    common=(--port-base "$base" --state "$state")
    store=()
    case "$layout" in
        sqlite-1) ;;
        *)
            db="bench_${layout//-/_}"
            psql "$pg_url" -qc "CREATE DATABASE $db" >/dev/null
            store=(--store "${pg_url%/postgres}/$db") ;;
    esac
    start "$state/bank.out" "bank https://" serve bank "${common[@]}"
    start "$state/fraud.out" "fraud https://" serve fraud "${common[@]}"
    start "$state/notification.out" "notification https://" serve notification "${common[@]}" "${store[@]}"
    case "$layout" in
        nginx-pg-*) start "$state/gateway.out" "store postgres://" serve gateway --instances "${layout##*-}" "${common[@]}" "${store[@]}" ;;
        *) start "$state/gateway.out" "gateway https://" serve gateway "${common[@]}" "${store[@]}" ;;
    esac
    start "$state/merchant.out" "merchant https://" serve merchant "${common[@]}"

    # CPU before and after the run, per group: the gateway (instances), nginx, PostgreSQL, the
    # other services, the load generator.
    groups=("^\\S*netlab serve gateway" "^nginx: " "^postgres: |^\\S*/postgres -D" "^\\S*netlab serve (bank|fraud|notification|merchant)")
    before=(); for g in "${groups[@]}"; do before+=("$(cpu "$g")"); done
    started=$(date +%s.%N)
    # The load generator's own CPU, from the shell's `times` after it exits.
    ( "$bench" "https://127.0.0.1:$((base + 2))" "https://127.0.0.1:$base" "https://127.0.0.1:$((base + 1))" "$state/ca/ca.pem" \
        "$seconds" "$concurrency" "$layout" | tee "$state/result.json"; times > "$state/times" )
    ended=$(date +%s.%N)
    generator=$(python3 -c "
import re; t = open('$state/times').read().split('\n')[1]
print(round(sum(int(m)*60 + float(s) for m, s in re.findall(r'(\d+)m([\d.]+)s', t)), 2))")
    profile="{\"layout\":\"$layout\",\"wall_s\":$(python3 -c "print(round($ended-$started,2))"),\"load_generator\":$generator,\"cpu_s\":{"
    names=(gateway nginx postgres other_services)
    for i in "${!groups[@]}"; do
        after=$(cpu "${groups[$i]}")
        profile+="\"${names[$i]}\":$(python3 -c "print(round($after-${before[$i]},2))")"
        [ "$i" -lt $((${#groups[@]} - 1)) ] && profile+=","
    done
    echo "$profile}}"
    # With NETLAB_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements": where PostgreSQL's time went.
    if [ "${#store[@]}" -gt 0 ] && [[ "${NETLAB_PG_OPTIONS:-}" == *pg_stat_statements* ]]; then
        psql "${store[1]}" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
            -c "SELECT calls, round(total_exec_time) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS statement
                FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY total_exec_time DESC LIMIT 15" -c "SELECT pg_stat_statements_reset()" >&2
    fi

    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
done
