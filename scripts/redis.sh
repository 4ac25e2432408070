#!/usr/bin/env bash
# Redis for the local stack: Debian's redis-server on 127.0.0.1 with a password, or REDIS_URL.
#
#   scripts/redis.sh start    start redis-server in the background, wait for PING
#   scripts/redis.sh stop     stop the redis-server this script started
#   scripts/redis.sh status   exit 0 when a usable Redis answers PING, 3 when none does
#   scripts/redis.sh url      print the REDIS_URL to use (it carries the password: a secret)
#
# Environment:
#   REDIS_URL    use this Redis when it answers PING; start nothing. When it points at an
#                unreachable 127.0.0.1/localhost, a local server is started on its port.
#   REDIS_PORT   local port (default 6379, or the port of a local REDIS_URL)
#   REDIS_PASSWORD  the local server's password. When unset, one is generated on first
#                start into var/redis/password (mode 600) and reused; there is no default.
#   REDIS_DATA_DIR  where the append-only file and the password go (default var/redis)
#   REDIS_START_TIMEOUT_S  seconds to wait for PING (default 15)
# The server requires the password (requirepass, given in a mode-600 config file, never
# on a command line) and listens on 127.0.0.1 only; the URL is
# redis://:PASSWORD@127.0.0.1:PORT/0. Log lines show it as redis://:***@...
# A Redis without a password already answering on the port (started by an older
# checkout) is used as it is, with a warning: it is never restarted behind your back.
# Data is persisted in an append-only file (appendonly yes, fsync every second; no RDB
# snapshots): stored answers survive a restart, and a crash loses at most the last second.
# The pid file and log are var/run/redis.pid and var/log/redis.log: a second server on
# another port needs its own VAR_DIR.
set -euo pipefail
LOG_TAG=redis
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE="${REDIS_DATA_DIR:-$VAR_DIR/redis}"
MARKER="redis-server"
START_TIMEOUT_S="${REDIS_START_TIMEOUT_S:-15}"
PASSWORD_FILE="$STATE/password"
AUTH_CONF="$STATE/auth.conf"

# host:port of a redis:// URL without credentials (used only to decide "is it local?").
url_hostport() {
    local rest="${1#*://}"
    rest="${rest##*@}"
    rest="${rest%%/*}"
    [[ "$rest" == *:* ]] || rest="$rest:6379"
    printf '%s\n' "$rest"
}

# url_password URL: the password of redis://[user]:password@host... (empty when none).
url_password() {
    local rest="${1#*://}"
    [[ "$rest" == *@* ]] || return 0
    rest="${rest%%@*}"
    [[ "$rest" == *:* ]] && printf '%s\n' "${rest#*:}"
    return 0
}

if [[ -n "${REDIS_URL:-}" && -z "${REDIS_PORT:-}" ]] && is_local_hostport "$(url_hostport "$REDIS_URL")"; then
    REDIS_PORT="$(url_hostport "$REDIS_URL")"
    REDIS_PORT="${REDIS_PORT##*:}"
    # A local REDIS_URL that names a password: a server started for it uses that one.
    [[ -n "${REDIS_PASSWORD:-}" ]] || REDIS_PASSWORD="$(url_password "$REDIS_URL")"
fi
REDIS_PORT="${REDIS_PORT:-6379}"
PLAIN_URL="redis://127.0.0.1:$REDIS_PORT/0"

password() {
    if [[ -n "${REDIS_PASSWORD:-}" ]]; then
        printf '%s\n' "$REDIS_PASSWORD"
        return 0
    fi
    if [[ ! -s "$PASSWORD_FILE" ]]; then
        mkdir -p "$STATE"
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
    fi
    chmod 600 "$PASSWORD_FILE"
    cat "$PASSWORD_FILE"
}

local_url() { printf 'redis://:%s@127.0.0.1:%s/0\n' "$(password)" "$REDIS_PORT"; }

# reply HOST PORT [PASSWORD]: the server's answer to PING (after AUTH when a password is
# given), e.g. PONG or NOAUTH...; fails when nothing answers. Bash's /dev/tcp and
# builtins only: the password never appears on a command line (ps).
reply() {
    (
        local line
        LC_ALL=C # ${#3} counts bytes
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        if [[ -n "${3:-}" ]]; then
            # shellcheck disable=SC2016  # RESP: the $ are literal
            printf '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#3}" "$3" >&3
            read -r -t 3 -u 3 line || exit 1
        fi
        # shellcheck disable=SC2016
        printf '*1\r\n$4\r\nPING\r\n' >&3
        read -r -t 3 -u 3 line || exit 1
        line="${line%$'\r'}"
        printf '%s\n' "${line#[+-]}"
    ) 2>/dev/null
}

# pong URL: Redis at URL answers PING (with the URL's password, if any).
pong() {
    local hp
    if [[ "$1" != redis://* ]]; then # rediss:// and others: ask redis-py (URL via env)
        [[ -x "$PY" ]] || return 1
        REDIS_PROBE_URL="$1" timeout 5 "$PY" -c \
            'import os, redis; redis.Redis.from_url(os.environ["REDIS_PROBE_URL"], socket_timeout=3).ping()' \
            >/dev/null 2>&1
        return
    fi
    hp="$(url_hostport "$1")"
    [[ "$(reply "${hp%%:*}" "${hp##*:}" "$(url_password "$1")")" == "PONG" ]]
}

# open_server: a Redis answers on the local port *without* a password.
open_server() { [[ "$(reply 127.0.0.1 "$REDIS_PORT")" == "PONG" ]]; }

warn_open() {
    log "WARNING: the Redis at $PLAIN_URL requires no password (started by an older checkout?);" \
        "using it as it is. To require one: scripts/redis.sh stop (or stop that server), then start"
}

cmd_start() {
    local t0 pid deadline
    t0="$(now_s)"
    if [[ -n "${REDIS_URL:-}" ]]; then
        if pong "$REDIS_URL"; then
            log "using REDIS_URL=$(redact_url "$REDIS_URL"); starting nothing"
            return 0
        fi
        is_local_hostport "$(url_hostport "$REDIS_URL")" \
            || die "REDIS_URL=$(redact_url "$REDIS_URL") does not answer PING; unset it to start a local redis-server"
    fi
    if open_server; then
        warn_open
        return 0
    fi
    if pid_alive redis "$MARKER" && pong "$(local_url)"; then
        log "already running (pid $(read_pid redis)) at $(redact_url "$(local_url)")"
        return 0
    fi
    if pong "$(local_url)"; then
        log "a Redis not started by this script already answers at $(redact_url "$(local_url)"); using it"
        return 0
    fi
    if [[ "$(reply 127.0.0.1 "$REDIS_PORT")" == NOAUTH* ]]; then
        die "a Redis with another password answers on port $REDIS_PORT (set REDIS_URL with its password, or REDIS_PORT)"
    fi
    if tcp_open 127.0.0.1 "$REDIS_PORT"; then
        die "port $REDIS_PORT is in use by something that is not Redis (set REDIS_PORT)"
    fi
    have redis-server || die "redis-server not found; run scripts/setup.sh (apt-get install redis-server)"
    mkdir -p "$STATE"
    (umask 077 && printf 'requirepass "%s"\n' "$(password)" >"$AUTH_CONF")
    chmod 600 "$AUTH_CONF"
    rm -f "$(pid_file redis)"
    redis-server "$AUTH_CONF" --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --pidfile "$(pid_file redis)" --dir "$STATE" --logfile "$LOG_DIR/redis.log" \
        --save '' --appendonly yes --appendfsync everysec --protected-mode yes \
        || { log_tail "$LOG_DIR/redis.log"; die "redis-server failed to start"; }
    deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        if pong "$(local_url)"; then
            pid="$(read_pid redis)"
            log "redis ready at $(redact_url "$(local_url)") (password in $PASSWORD_FILE; pid ${pid:-?}, $(elapsed "$t0"))"
            return 0
        fi
        sleep 0.1
    done
    log_tail "$LOG_DIR/redis.log"
    die "redis-server did not answer PING at $PLAIN_URL within ${START_TIMEOUT_S}s; see var/log/redis.log"
}

cmd_stop() {
    if pid_alive redis "$MARKER"; then
        stop_pid redis "$MARKER"
    else
        rm -f "$(pid_file redis)"
        log "not running (no redis-server started by this script)"
    fi
}

cmd_status() {
    if [[ -n "${REDIS_URL:-}" ]] && ! is_local_hostport "$(url_hostport "$REDIS_URL")"; then
        if pong "$REDIS_URL"; then
            echo "redis: external server answering at $(redact_url "$REDIS_URL") (not started by this script)"
            return 0
        fi
        echo "redis: REDIS_URL=$(redact_url "$REDIS_URL") does not answer"
        return 3
    fi
    if open_server; then
        echo "redis: running WITHOUT a password at $PLAIN_URL (restart it with this script to require one)"
        return 0
    fi
    if pid_alive redis "$MARKER" && pong "$(local_url)"; then
        echo "redis: running (pid $(read_pid redis)) at $(redact_url "$(local_url)")"
        return 0
    fi
    if pong "$(local_url)"; then
        echo "redis: external server answering at $(redact_url "$(local_url)") (not started by this script)"
        return 0
    fi
    echo "redis: stopped"
    return 3
}

# The URL clients use: REDIS_URL when given, the local server's (with its password), or,
# for a local server that has no password, the URL without one.
cmd_url() {
    if [[ -n "${REDIS_URL:-}" ]]; then
        printf '%s\n' "$REDIS_URL"
    elif open_server; then
        warn_open
        printf '%s\n' "$PLAIN_URL"
    else
        local_url
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) cmd_url ;;
    *) echo "usage: $0 {start|stop|status|url}" >&2; exit 2 ;;
esac
