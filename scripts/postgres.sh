#!/usr/bin/env bash
# PostgreSQL for the decision records: Debian's server on 127.0.0.1, or DATABASE_URL when set.
#
#   scripts/postgres.sh start    initdb (once) and start a server in the background, wait
#                                until it accepts a login
#   scripts/postgres.sh stop     stop the server this script started (fast shutdown)
#   scripts/postgres.sh status   exit 0 when a usable database answers, 3 when none does
#   scripts/postgres.sh url      print the DATABASE_URL of the database in use
#
# Environment:
#   DATABASE_URL        use this database when it answers; start nothing (an unreachable
#                       one is an error: unset it to start a local server)
#   POSTGRES_PORT       local port (default 5432)
#   POSTGRES_USER       role the server is initialised with (default strategist)
#   POSTGRES_DB         database created for the records (default strategist)
#   POSTGRES_PASSWORD   that role's password. When unset, one is generated once into
#                       var/postgres/password (mode 600) and reused; there is no fixed default
#   POSTGRES_DATA_DIR   the cluster's data folder (default var/postgres/data, under VAR_DIR;
#                       see server_dir for a checkout the postgres user cannot reach)
#   POSTGRES_START_TIMEOUT_S  seconds to wait for the server (default 30)
# The server listens on 127.0.0.1 only (no Unix socket outside its own folder) and asks for
# the password (scram-sha-256) on every connection. PostgreSQL refuses to run as root: as
# root, the cluster is owned by and run as the `postgres` user the Debian package creates.
set -euo pipefail
LOG_TAG=postgres
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE="$VAR_DIR/postgres"
RUN_AS_USER=postgres

# server_dir: where the cluster, its socket and its log live. Under var/ when the server's
# user can pass through every folder above it; a checkout under a folder closed to other
# users (`mktemp -d` makes them 700; CI clones into one) gets its own folder under
# /var/tmp instead, so root can still run the server as
# `postgres`. The folder is named after VAR_DIR (so two VAR_DIRs never share a cluster);
# the password stays under var/ (only root reads it).
server_dir() {
    if [[ "$(id -u)" == 0 ]] && ! runuser -u "$RUN_AS_USER" -- test -x "$VAR_DIR" 2>/dev/null; then
        printf '/var/tmp/strategist-postgres-%s\n' "$(printf '%s' "$VAR_DIR" | sha256sum | cut -c1-12)"
    else
        printf '%s\n' "$STATE"
    fi
}
SERVER_DIR="$(server_dir)"
DATA_DIR="${POSTGRES_DATA_DIR:-$SERVER_DIR/data}"
SOCKET_DIR="$SERVER_DIR/socket"
PASSWORD_FILE="$STATE/password"
if [[ "$SERVER_DIR" == "$STATE" ]]; then PG_LOG="$LOG_DIR/postgres.log"; else PG_LOG="$SERVER_DIR/postgres.log"; fi
MARKER="postgres"
POSTGRES_PORT="${POSTGRES_PORT:-5432}"
POSTGRES_USER="${POSTGRES_USER:-strategist}"
POSTGRES_DB="${POSTGRES_DB:-strategist}"
START_TIMEOUT_S="${POSTGRES_START_TIMEOUT_S:-30}"

# bindir: the folder of initdb/pg_ctl (Debian keeps them off PATH, per major version).
bindir() {
    local found
    if have initdb; then
        dirname "$(command -v initdb)"
        return 0
    fi
    found="$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1 || true)"
    [[ -n "$found" ]] || return 1
    dirname "$found"
}

password() {
    if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
        printf '%s\n' "$POSTGRES_PASSWORD"
        return 0
    fi
    if [[ ! -s "$PASSWORD_FILE" ]]; then
        mkdir -p "$STATE"
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
    fi
    cat "$PASSWORD_FILE"
}

local_url() {
    printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' \
        "$POSTGRES_USER" "$(password)" "$POSTGRES_PORT" "$POSTGRES_DB"
}

# accepts URL: a login to URL succeeds and runs a query (python: psql may be absent).
accepts() {
    [[ -x "$PY" ]] || return 1
    "$PY" - "$1" <<'EOF' 2>/dev/null
import sys
import psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://", 1)
try:
    with psycopg.connect(url, connect_timeout=3) as conn:
        conn.execute("SELECT 1")
except Exception:
    sys.exit(1)
EOF
}

# as_owner CMD...: run CMD as the cluster's owner (root cannot run PostgreSQL).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$RUN_AS_USER" -- "$@"
    else
        "$@"
    fi
}

prepare_dirs() {
    mkdir -p "$STATE" "$SERVER_DIR" "$SOCKET_DIR" "$(dirname "$DATA_DIR")"
    if [[ "$(id -u)" == 0 ]]; then
        getent passwd "$RUN_AS_USER" >/dev/null \
            || die "running as root and no '$RUN_AS_USER' user (apt-get install postgresql creates it)"
        mkdir -p "$DATA_DIR"
        touch "$PG_LOG"
        chown "$RUN_AS_USER" "$DATA_DIR" "$SOCKET_DIR" "$PG_LOG"
        # The server only needs to pass through the folders above its data folder.
        if [[ "$SERVER_DIR" == "$STATE" ]]; then
            chmod o+x "$STATE" "$VAR_DIR"
        else
            chmod 711 "$SERVER_DIR"
            log "$VAR_DIR is closed to user $RUN_AS_USER: the server lives in $SERVER_DIR"
        fi
        runuser -u "$RUN_AS_USER" -- test -w "$DATA_DIR" -a -w "$SOCKET_DIR" \
            || die "user $RUN_AS_USER cannot reach $DATA_DIR (a folder above it is closed to other users); set VAR_DIR elsewhere"
    fi
}

init_cluster() {
    local bin="$1" pwfile
    [[ -s "$DATA_DIR/PG_VERSION" ]] && return 0
    pwfile="$(mktemp "$SOCKET_DIR/pw.XXXXXX")"
    password >"$pwfile"
    [[ "$(id -u)" == 0 ]] && chown "$RUN_AS_USER" "$pwfile"
    if ! as_owner "$bin/initdb" -D "$DATA_DIR" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1; then
        rm -f "$pwfile"
        log_tail "$PG_LOG"
        die "initdb failed; see var/log/postgres.log"
    fi
    rm -f "$pwfile"
    log "initialised a cluster in $DATA_DIR (role $POSTGRES_USER)"
}

create_database() {
    local url
    url="postgresql://$POSTGRES_USER:$(password)@127.0.0.1:$POSTGRES_PORT/postgres"
    "$PY" - "$url" "$POSTGRES_DB" <<'EOF' || die "could not create database $POSTGRES_DB"
import sys
import psycopg
from psycopg import sql
with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=5) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[2],)).fetchone() is None:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sys.argv[2])))
EOF
}

server_pid() { head -n1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true; }

cmd_start() {
    local t0 bin deadline pid
    t0="$(now_s)"
    if [[ -n "${DATABASE_URL:-}" ]]; then
        accepts "$DATABASE_URL" || die "DATABASE_URL does not accept a login; unset it to start a local server"
        log "using DATABASE_URL; starting nothing"
        return 0
    fi
    if pid_alive postgres "$MARKER" && accepts "$(local_url)"; then
        log "already running (pid $(read_pid postgres)) at 127.0.0.1:$POSTGRES_PORT"
        return 0
    fi
    if tcp_open 127.0.0.1 "$POSTGRES_PORT"; then
        accepts "$(local_url)" && { log "a server not started by this script accepts our login at 127.0.0.1:$POSTGRES_PORT; using it"; return 0; }
        die "port $POSTGRES_PORT is in use by something that does not accept our login (set POSTGRES_PORT or DATABASE_URL)"
    fi
    [[ -x "$PY" ]] || die ".venv missing; run scripts/setup.sh first"
    bin="$(bindir)" || die "initdb not found; run scripts/setup.sh (apt-get install postgresql)"
    prepare_dirs
    init_cluster "$bin"
    rm -f "$(pid_file postgres)"
    if ! as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$PG_LOG" -s \
        -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -c unix_socket_directories=$SOCKET_DIR" \
        start; then
        log_tail "$PG_LOG"
        die "pg_ctl start failed; see var/log/postgres.log"
    fi
    deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        pid="$(server_pid)"
        [[ -n "$pid" ]] && echo "$pid" >"$(pid_file postgres)"
        if tcp_open 127.0.0.1 "$POSTGRES_PORT" && create_database 2>/dev/null && accepts "$(local_url)"; then
            log "postgres ready at 127.0.0.1:$POSTGRES_PORT (pid ${pid:-?}, database $POSTGRES_DB, $(elapsed "$t0"))"
            return 0
        fi
        sleep 0.2
    done
    log_tail "$PG_LOG"
    die "postgres did not accept a login at 127.0.0.1:$POSTGRES_PORT within ${START_TIMEOUT_S}s; see var/log/postgres.log"
}

cmd_stop() {
    local bin
    if pid_alive postgres "$MARKER"; then
        bin="$(bindir)" || die "pg_ctl not found"
        # Fast shutdown: open transactions roll back, the server checkpoints and exits.
        as_owner "$bin/pg_ctl" -D "$DATA_DIR" -m fast -s -t "$STOP_TIMEOUT_S" stop \
            || stop_pid postgres "$MARKER"
        rm -f "$(pid_file postgres)"
        log "stopped postgres"
    else
        rm -f "$(pid_file postgres)"
        log "not running (no postgres started by this script)"
    fi
}

cmd_status() {
    if pid_alive postgres "$MARKER" && accepts "$(local_url)"; then
        echo "postgres: running (pid $(read_pid postgres)) at 127.0.0.1:$POSTGRES_PORT"
        return 0
    fi
    if [[ -n "${DATABASE_URL:-}" ]] && accepts "$DATABASE_URL"; then
        echo "postgres: external database answering at DATABASE_URL (not started by this script)"
        return 0
    fi
    if [[ -z "${DATABASE_URL:-}" ]] && accepts "$(local_url)"; then
        echo "postgres: external server answering at 127.0.0.1:$POSTGRES_PORT (not started by this script)"
        return 0
    fi
    echo "postgres: stopped"
    return 3
}

cmd_url() {
    if [[ -n "${DATABASE_URL:-}" ]]; then
        printf '%s\n' "$DATABASE_URL"
    else
        local_url
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) cmd_url ;;
    bindir) bindir ;;
    *) echo "usage: $0 {start|stop|status|url}" >&2; exit 2 ;;
esac
