#!/usr/bin/env bash
# Redis for the local stack: Debian's redis-server on 127.0.0.1, or REDIS_URL when set.
#
#   scripts/redis.sh start    start redis-server in the background, wait for PING
#   scripts/redis.sh stop     stop the redis-server this script started
#   scripts/redis.sh status   exit 0 when a usable Redis answers PING, 3 when none does
#
# Environment:
#   REDIS_URL    use this Redis when it answers PING; start nothing. When it points at an
#                unreachable 127.0.0.1/localhost, a local server is started on its port.
#   REDIS_PORT   local port (default 6379, or the port of a local REDIS_URL)
#   REDIS_DATA_DIR  where the append-only file goes (default var/redis, under VAR_DIR)
#   REDIS_START_TIMEOUT_S  seconds to wait for PING (default 15)
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

# host:port of a redis:// URL without credentials (used only to decide "is it local?").
url_hostport() {
    local rest="${1#*://}"
    rest="${rest##*@}"
    rest="${rest%%/*}"
    [[ "$rest" == *:* ]] || rest="$rest:6379"
    printf '%s\n' "$rest"
}

if [[ -n "${REDIS_URL:-}" && -z "${REDIS_PORT:-}" ]] && is_local_hostport "$(url_hostport "$REDIS_URL")"; then
    REDIS_PORT="$(url_hostport "$REDIS_URL")"
    REDIS_PORT="${REDIS_PORT##*:}"
fi
REDIS_PORT="${REDIS_PORT:-6379}"
LOCAL_URL="redis://127.0.0.1:$REDIS_PORT/0"

# pong URL: Redis at URL answers PING.
pong() {
    if have redis-cli; then
        [[ "$(timeout 3 redis-cli -u "$1" --no-auth-warning ping 2>/dev/null)" == "PONG" ]]
        return
    fi
    local hp host port
    hp="$(url_hostport "$1")" host="${hp%%:*}" port="${hp##*:}"
    # Inline command over the raw protocol (no client installed yet).
    timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port && printf 'PING\r\n' >&3 && head -c 5 <&3" 2>/dev/null \
        | grep -q '+PONG'
}

cmd_start() {
    local t0 pid deadline
    t0="$(now_s)"
    if [[ -n "${REDIS_URL:-}" ]]; then
        if pong "$REDIS_URL"; then
            log "using REDIS_URL=$REDIS_URL; starting nothing"
            return 0
        fi
        is_local_hostport "$(url_hostport "$REDIS_URL")" \
            || die "REDIS_URL=$REDIS_URL does not answer PING; unset it to start a local redis-server"
    fi
    if pid_alive redis "$MARKER" && pong "$LOCAL_URL"; then
        log "already running (pid $(read_pid redis)) at $LOCAL_URL"
        return 0
    fi
    if pong "$LOCAL_URL"; then
        log "a Redis not started by this script already answers at $LOCAL_URL; using it"
        return 0
    fi
    if tcp_open 127.0.0.1 "$REDIS_PORT"; then
        die "port $REDIS_PORT is in use by something that is not Redis (set REDIS_PORT)"
    fi
    have redis-server || die "redis-server not found; run scripts/setup.sh (apt-get install redis-server)"
    mkdir -p "$STATE"
    rm -f "$(pid_file redis)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --pidfile "$(pid_file redis)" --dir "$STATE" --logfile "$LOG_DIR/redis.log" \
        --save '' --appendonly yes --appendfsync everysec --protected-mode yes \
        || { log_tail "$LOG_DIR/redis.log"; die "redis-server failed to start"; }
    deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        if pong "$LOCAL_URL"; then
            pid="$(read_pid redis)"
            log "redis ready at $LOCAL_URL (pid ${pid:-?}, $(elapsed "$t0"))"
            return 0
        fi
        sleep 0.1
    done
    log_tail "$LOG_DIR/redis.log"
    die "redis-server did not answer PING at $LOCAL_URL within ${START_TIMEOUT_S}s; see var/log/redis.log"
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
    if pid_alive redis "$MARKER" && pong "$LOCAL_URL"; then
        echo "redis: running (pid $(read_pid redis)) at $LOCAL_URL"
        return 0
    fi
    local url="${REDIS_URL:-$LOCAL_URL}"
    if pong "$url"; then
        echo "redis: external server answering at $url (not started by this script)"
        return 0
    fi
    echo "redis: stopped"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
