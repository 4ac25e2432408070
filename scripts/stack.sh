#!/usr/bin/env bash
# The whole orchestrator in the background (make up / make down / make demo).
#
#   scripts/stack.sh up       Kafka, Redis, PostgreSQL, emulator, local model, topics,
#                             the five services and the Flask app; waits until each is ready
#   scripts/stack.sh down     stops them in reverse order (Kafka/Redis/PostgreSQL only if
#                             `up` started them)
#   scripts/stack.sh status   one line per process; exit 0 when all run
#
# Each process: pid in var/run/<name>.pid, output in var/log/<name>.log.
# Environment (passed through to every process):
#   KAFKA_BOOTSTRAP_SERVERS, REDIS_URL, DATABASE_URL   use existing infrastructure (see
#                     kafka.sh, redis.sh, postgres.sh); exported to the services with the
#                     effective values
#   EMULATOR_URL      provider emulator (default http://127.0.0.1:8090); the emulator
#                     started here listens on its port (EMULATOR_PORT when set)
#   LOCAL_MODEL_URL   local model server (default http://127.0.0.1:8091/v1); the server
#                     started here listens on its port (LOCAL_MODEL_PORT when set)
#   APP_BIND          gunicorn bind address (default 127.0.0.1:8000)
#   TOPIC_NAMESPACE   topics, consumer groups and Redis keys (default strategist)
#   SERVICE_INSTANCE_ID  static group membership id of each service (default: the host
#                     name; one instance per service runs here, so it is unique per group)
#   VAR_DIR           where pids, logs and data go (default var/; see lib.sh)
#   STOP_TIMEOUT_S    SIGTERM-to-SIGKILL grace of `down` (default 15; see lib.sh)
#   APP_WORKERS, APP_THREADS             gunicorn workers/threads (default 2 / 8)
#   STRATEGIST_CONSOLE__SECRET_KEY  signs the console's session cookie; when unset, one is
#                     generated on first start into var/console/secret (mode 600) and reused
#   APP_SERVER        asgi (default: gunicorn's asgi worker over the Flask app, strategist/asgi.py,
#                     for many open event streams and slow clients) or gthread
#   GEMINI_API_KEY, PERPLEXITY_API_KEY, LOCAL_MODEL_PATH, ...  read by the services
#   STACK_READY_TIMEOUT_S   per-process readiness timeout (default 60; local model 180)
#   STACK_GRACE_S           how long services without a health URL must stay up (default 3)
set -euo pipefail
LOG_TAG=stack
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

EMULATOR_URL="${EMULATOR_URL:-http://127.0.0.1:8090}"
LOCAL_MODEL_URL="${LOCAL_MODEL_URL:-http://127.0.0.1:8091/v1}"
APP_BIND="${APP_BIND:-127.0.0.1:8000}"

# url_port URL: the port of an http(s) URL (80/443 when it names none).
url_port() {
    local rest="${1#*://}" scheme="${1%%://*}"
    rest="${rest%%/*}"
    if [[ "$rest" =~ :([0-9]+)$ ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ "$scheme" == https ]]; then
        echo 443
    else
        echo 80
    fi
}
# The processes started here listen where the services will look for them.
export EMULATOR_URL LOCAL_MODEL_URL
export EMULATOR_PORT="${EMULATOR_PORT:-$(url_port "$EMULATOR_URL")}"
export LOCAL_MODEL_PORT="${LOCAL_MODEL_PORT:-$(url_port "$LOCAL_MODEL_URL")}"
READY_TIMEOUT_S="${STACK_READY_TIMEOUT_S:-60}"
GRACE_S="${STACK_GRACE_S:-3}"
SERVICES=(classifier dispatcher scorer health recorder)
# Stop order: the reverse of start.
ALL=(app recorder health scorer dispatcher classifier local-model emulator)
LAUNCHED=0

# marker NAME: a string in the process's command line (guards pid reuse).
# metrics_port NAME: the service's Prometheus /metrics port (docs/metrics.md); STACK_METRICS=0: off.
metrics_port() {
    [[ "${STACK_METRICS:-1}" == 1 ]] || { echo 0; return; }
    case "$1" in
        classifier) echo 9101 ;; dispatcher) echo 9102 ;; scorer) echo 9103 ;;
        health) echo 9104 ;; recorder) echo 9105 ;; *) echo 0 ;;
    esac
}

marker() {
    case "$1" in
        emulator) echo "-m emulator" ;;
        local-model) echo "providers.local_server" ;;
        app) echo "strategist:create_app" ;;
        *) echo "services.$1" ;;
    esac
}

# ready_url NAME: GET this returns 200 when the process serves; empty = none.
ready_url() {
    case "$1" in
        emulator) echo "${EMULATOR_URL%/}/_control/providers" ;;
        local-model) echo "${LOCAL_MODEL_URL%/}/models" ;;
        app) echo "http://$APP_BIND/readyz" ;;
        *) echo "" ;;
    esac
}

# console_secret: the console's session-signing key, generated once (like Redis's password).
console_secret() {
    local file="$VAR_DIR/console/secret"
    if [[ ! -s "$file" ]]; then
        mkdir -p "$VAR_DIR/console"
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file")
    fi
    chmod 600 "$file"
    cat "$file"
}

launch() { # launch NAME CMD...
    local name="$1"
    shift
    if pid_alive "$name" "$(marker "$name")"; then
        log "$name already running (pid $(read_pid "$name"))"
        return 0
    fi
    local url
    url="$(ready_url "$name")"
    if [[ -n "$url" ]] && http_ok "$url"; then
        log "$name: something not started by this script already answers $url; using it"
        rm -f "$(pid_file "$name")"
        return 0
    fi
    start_bg "$name" "$LOG_DIR/$name.log" "$@"
    LAUNCHED=$((LAUNCHED + 1))
    log "started $name (pid $(read_pid "$name")), log var/log/$name.log"
}

fail() { # fail NAME MESSAGE
    log_tail "$LOG_DIR/$1.log" 40
    die "$2 (the rest of the stack is left running; scripts/stack.sh down stops it)"
}

# wait_ready NAME [TIMEOUT]: poll the readiness URL; fail fast when the process dies.
wait_ready() {
    local name="$1" timeout="${2:-$READY_TIMEOUT_S}" url pid t0 deadline
    url="$(ready_url "$name")"
    pid="$(read_pid "$name")"
    t0="$(now_s)"
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        http_ok "$url" && { log "$name ready ($url, $(elapsed "$t0"))"; return 0; }
        if [[ -n "$pid" ]] && ! running "$pid"; then
            rm -f "$(pid_file "$name")"
            fail "$name" "$name exited before it was ready"
        fi
        sleep 0.5
    done
    fail "$name" "$name not ready at $url within ${timeout}s"
}

check_alive() { # check_alive NAME...
    local name pid
    for name in "$@"; do
        pid="$(read_pid "$name")"
        [[ -z "$pid" ]] && continue # external, not ours to watch
        if ! running "$pid"; then
            rm -f "$(pid_file "$name")"
            fail "$name" "$name (pid $pid) exited during start-up"
        fi
    done
}

# Start Kafka/Redis unless something usable already answers; remember what we started.
start_infra() { # start_infra kafka|redis|postgres
    local name="$1" owned="$RUN_DIR/stack-$1.owned"
    if ! "$ROOT/scripts/$name.sh" status >/dev/null 2>&1; then
        "$ROOT/scripts/$name.sh" start
        touch "$owned"
    else
        "$ROOT/scripts/$name.sh" start
    fi
}

cmd_up() {
    local t0 name
    t0="$(now_s)"
    [[ -x "$PY" ]] || die ".venv missing; run scripts/setup.sh (or make setup) first"
    export PYTHONUNBUFFERED=1
    # Static membership: a restarted service takes its partitions back without a rebalance.
    SERVICE_INSTANCE_ID="${SERVICE_INSTANCE_ID:-$(hostname 2>/dev/null || echo local)}"
    export SERVICE_INSTANCE_ID

    # The slow starters first, so they load while the broker comes up.
    launch emulator "$PY" -m emulator
    launch local-model "$PY" -m providers.local_server

    start_infra kafka
    start_infra redis
    start_infra postgres
    local kafka_port="${KAFKA_PORT:-9092}"
    export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$kafka_port}"
    REDIS_URL="$("$ROOT/scripts/redis.sh" url)" # carries the local server's password
    export REDIS_URL
    DATABASE_URL="$("$ROOT/scripts/postgres.sh" url)"
    export DATABASE_URL
    STRATEGIST_CONSOLE__SECRET_KEY="${STRATEGIST_CONSOLE__SECRET_KEY:-$(console_secret)}"
    export STRATEGIST_CONSOLE__SECRET_KEY

    wait_ready emulator
    wait_ready local-model "${STACK_READY_TIMEOUT_S:-180}"

    log "creating topics (python -m services.common.admin create-topics)"
    if ! "$PY" -m services.common.admin create-topics >>"$LOG_DIR/create-topics.log" 2>&1; then
        fail create-topics "topic creation failed"
    fi

    for name in "${SERVICES[@]}"; do
        launch "$name" env METRICS_PORT="$(metrics_port "$name")" "$PY" -m "services.$name"
    done
    if [[ "${APP_SERVER:-asgi}" == asgi ]]; then
        launch app "$VENV/bin/gunicorn" --config "$ROOT/strategist/gunicorn_conf.py" \
            --worker-class asgi --worker-connections 10000 --workers "${APP_WORKERS:-2}" \
            --bind "$APP_BIND" 'strategist.asgi:create_asgi_app()'
    else
        launch app "$VENV/bin/gunicorn" --config "$ROOT/strategist/gunicorn_conf.py" \
            --workers "${APP_WORKERS:-2}" --threads "${APP_THREADS:-8}" \
            --bind "$APP_BIND" 'strategist:create_app()'
    fi
    wait_ready app
    # Services have no health URL: they must at least survive their first seconds.
    ((LAUNCHED == 0)) || sleep "$GRACE_S"
    check_alive "${ALL[@]}"
    log "stack up in $(elapsed "$t0"): app http://$APP_BIND (console http://$APP_BIND/console/), Kafka $KAFKA_BOOTSTRAP_SERVERS, Redis $(redact_url "$REDIS_URL")"
}

cmd_down() {
    local name
    for name in "${ALL[@]}"; do
        if pid_alive "$name" "$(marker "$name")"; then
            stop_pid "$name" "$(marker "$name")"
        else
            rm -f "$(pid_file "$name")"
        fi
    done
    for name in postgres redis kafka; do
        if [[ -f "$RUN_DIR/stack-$name.owned" ]]; then
            "$ROOT/scripts/$name.sh" stop
            rm -f "$RUN_DIR/stack-$name.owned"
        else
            log "$name: not started by stack up; leaving it running"
        fi
    done
}

cmd_status() {
    local name rc=0 url
    "$ROOT/scripts/kafka.sh" status || rc=3
    "$ROOT/scripts/redis.sh" status || rc=3
    "$ROOT/scripts/postgres.sh" status || rc=3
    for name in emulator local-model "${SERVICES[@]}" app; do
        url="$(ready_url "$name")"
        if pid_alive "$name" "$(marker "$name")"; then
            echo "$name: running (pid $(read_pid "$name"))${url:+ $url}"
        elif [[ -n "$url" ]] && http_ok "$url"; then
            echo "$name: external, answering $url"
        else
            echo "$name: stopped"
            rc=3
        fi
    done
    return "$rc"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
