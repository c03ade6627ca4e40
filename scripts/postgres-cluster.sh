#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the scale-out runs (docs/SCALING.md).
#
#   scripts/postgres-cluster.sh start DIR    # initdb in DIR, start it; prints its URL
#   scripts/postgres-cluster.sh stop DIR     # stop it (the folder stays; remove it yourself)
#
# The cluster listens on 127.0.0.1 at a free port and on a socket in DIR, trusts local
# connections (it holds nothing but test data and lives as long as the run) and has one
# superuser, `netlab`. It drops the session of a client that vanished (a killed machine, a cut
# cable) after about 25 s of silence (TCP keepalives), so its advisory locks go with it. PostgreSQL refuses to run as root: when run as root, the cluster is
# made and run by the `postgres` user (Debian's package makes it), else `nobody`.
# Needs Debian's `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/*/bin).
# $NETLAB_PG_OPTIONS adds server settings (e.g. "-c shared_preload_libraries=pg_stat_statements"
# to see which statements cost what).
set -euo pipefail
command="${1:-}"
dir="${2:-}"
[ -n "$command" ] && [ -n "$dir" ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

bin=""
for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && bin="$candidate"; done
[ -z "$bin" ] && bin="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
[ -x "$bin/initdb" ] || { echo "postgres-cluster: initdb not found (install Debian's postgresql)" >&2; exit 3; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        local user=postgres
        id -u "$user" >/dev/null 2>&1 || user=nobody
        # From /: the caller's folder may be one that user cannot enter (pg_ctl would complain).
        (cd / && runuser -u "$user" -- "$@")
    else
        "$@"
    fi
}

case "$command" in
start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ "$(id -u)" = 0 ]; then
        user=postgres; id -u "$user" >/dev/null 2>&1 || user=nobody
        chown "$user" "$dir"
        # The folder must be reachable by that user (no folder on the way is opened for it).
        runuser -u "$user" -- test -w "$dir" \
            || { echo "postgres-cluster: $user cannot reach $dir; choose a folder it can (e.g. under /tmp)" >&2; exit 1; }
    fi
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U netlab --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Sized for tests and a few gateway instances; fsync stays on (the kill test relies on commits).
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c shared_buffers=64MB -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 ${NETLAB_PG_OPTIONS:-}" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://netlab@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    dir="$(cd "$dir" && pwd)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*)
    echo "postgres-cluster: unknown command $command (start or stop)" >&2; exit 2 ;;
esac
