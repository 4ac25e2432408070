#!/usr/bin/env bash
# A real one-node Apache Kafka 4.x (KRaft) on 127.0.0.1, from Maven Central jars.
#
#   scripts/kafka.sh fetch    download the broker jars into infra/kafka/libs (once)
#   scripts/kafka.sh start    start the broker in the background and wait until it answers
#   scripts/kafka.sh stop     stop the broker this script started (SIGTERM, then SIGKILL)
#   scripts/kafka.sh status   exit 0 when a usable broker answers, 3 when none does
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use this cluster when it answers; start nothing. When it is a
#                            single unreachable 127.0.0.1/localhost address, a local broker
#                            is started on that port.
#   KAFKA_PORT               client port (default 9092, or the port of a local bootstrap)
#   KAFKA_CONTROLLER_PORT    KRaft controller port (default 9093)
#   KAFKA_VERSION            kafka_2.13 version to fetch (default: the pom's, 4.4.0;
#                            falls back to 4.1.1 when that cannot be fetched)
#   KAFKA_HEAP_OPTS          JVM heap (default -Xmx512m); KAFKA_JVM_OPTS extra JVM flags
#   KAFKA_START_TIMEOUT_S    seconds to wait for the broker (default 60)
#   KAFKA_STOP_TIMEOUT_S     seconds to wait for a clean shutdown before SIGKILL (default 30)
#   MAVEN_ARGS_EXTRA         extra mvn arguments for fetch (e.g. -Dmaven.repo.local=...)
set -euo pipefail
LOG_TAG=kafka
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INFRA="$ROOT/infra/kafka"
LIBS="$INFRA/libs"
STATE="$VAR_DIR/kafka"
DATA_DIR="$STATE/data"
PROPS="$STATE/server.properties"
FALLBACK_VERSION="4.1.1"
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-60}"
MARKER="kafka.Kafka"

if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" && -z "${KAFKA_PORT:-}" ]] \
    && is_local_hostport "$KAFKA_BOOTSTRAP_SERVERS"; then
    KAFKA_PORT="${KAFKA_BOOTSTRAP_SERVERS##*:}"
fi
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
LOCAL_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

# ---------------------------------------------------------------- fetch

jars_present() {
    [[ -f "$LIBS/.complete" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null \
        && compgen -G "$LIBS/log4j-slf4j-impl-*.jar" >/dev/null \
        && [[ "$(cat "$LIBS/.complete")" == "$(fetch_key)" ]]
}

# The jars are refetched when the pom or the requested version changes.
fetch_key() { printf '%s %s\n' "$(sha256sum <"$INFRA/pom.xml" | cut -c1-16)" "${KAFKA_VERSION:-pom}"; }

mvn_fetch() { # mvn_fetch OUTDIR [VERSION]
    local out="$1" version="${2:-}" args=()
    [[ -n "$version" ]] && args+=("-Dkafka.version=$version")
    # Maven 3.8 prints colour resets even in batch mode; strip them.
    # shellcheck disable=SC2086
    (cd "$INFRA" && mvn -q -B -Dstyle.color=never ${MAVEN_ARGS_EXTRA:-} "${args[@]}" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out") 2>&1 \
        | sed -e 's/\x1b\[[0-9;]*m//g' >&2
}

cmd_fetch() {
    if jars_present; then
        local jar
        jar="$(compgen -G "$LIBS/kafka_2.13-*.jar" | head -n1)"
        log "jars present in infra/kafka/libs (${jar##*/})"
        return 0
    fi
    have mvn || die "mvn not found; run scripts/setup.sh (installs maven)"
    local t0 tmp
    t0="$(now_s)"
    mkdir -p "$VAR_DIR/tmp"
    tmp="$(mktemp -d "$VAR_DIR/tmp/kafka-libs.XXXXXX")"
    log "fetching Kafka ${KAFKA_VERSION:-4.4.0 (pom)} jars from Maven Central ..."
    if ! mvn_fetch "$tmp" "${KAFKA_VERSION:-}"; then
        if [[ -n "${KAFKA_VERSION:-}" ]]; then
            rm -rf "$tmp"
            die "mvn could not fetch kafka_2.13:$KAFKA_VERSION"
        fi
        log "fetch failed; falling back to kafka_2.13:$FALLBACK_VERSION"
        rm -rf "${tmp:?}"/*
        mvn_fetch "$tmp" "$FALLBACK_VERSION" || { rm -rf "$tmp"; die "mvn could not fetch Kafka jars"; }
    fi
    if ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
        rm -rf "$tmp"
        die "mvn ran but the kafka_2.13 jar is missing"
    fi
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    fetch_key >"$LIBS/.complete"
    log "fetched $(compgen -G "$LIBS/*.jar" | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $(elapsed "$t0")"
}

# ---------------------------------------------------------------- health

# broker_ready BOOTSTRAP: the broker answers a metadata request and lists a broker.
broker_ready() {
    local bs="$1" host port
    if have kcat; then
        kcat -b "$bs" -L -m 3 2>/dev/null | grep -qE '^ *[1-9][0-9]* brokers:'
        return
    fi
    if [[ -x "$PY" ]] && "$PY" -c 'import confluent_kafka' 2>/dev/null; then
        "$PY" - "$bs" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 0})
try:
    sys.exit(0 if admin.list_topics(timeout=3).brokers else 1)
except Exception:
    sys.exit(1)
EOF
        return
    fi
    # Last resort (no client installed yet): our own broker logs when it serves.
    host="${bs%%:*}" port="${bs##*:}"
    tcp_open "$host" "$port" && grep -q 'Kafka Server started' "$LOG_DIR/kafka.log" 2>/dev/null
}

# ---------------------------------------------------------------- start

java_ok() {
    have java || return 1
    local v
    v="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    [[ "${v%%.*}" -ge 17 ]]
}

render_props() {
    mkdir -p "$DATA_DIR"
    sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
        -e "s#@KAFKA_CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
        -e "s#@KAFKA_DATA_DIR@#$DATA_DIR#g" \
        "$INFRA/server.properties" >"$PROPS"
}

java_base() {
    # shellcheck disable=SC2206
    JAVA_CMD=(java ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_JVM_OPTS:-} -Djava.awt.headless=true
        "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j2.configurationFile=$INFRA/log4j2.properties"
        -cp "$LIBS/*")
}

format_storage() {
    # The standalone controller records its own endpoint at format time, so storage
    # formatted for another controller port is reformatted (dev data only).
    local stamp="$STATE/formatted-for"
    if [[ -f "$DATA_DIR/meta.properties" && "$(cat "$stamp" 2>/dev/null)" == "$KAFKA_CONTROLLER_PORT" ]]; then
        return 0
    fi
    if [[ -e "$DATA_DIR/meta.properties" ]]; then
        log "storage was formatted for another controller port; reformatting $DATA_DIR"
    fi
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    java_base
    if [[ ! -s "$STATE/cluster.id" ]]; then
        "${JAVA_CMD[@]}" kafka.tools.StorageTool random-uuid | tail -n1 >"$STATE/cluster.id"
    fi
    local id
    id="$(cat "$STATE/cluster.id")"
    render_props
    "${JAVA_CMD[@]}" kafka.tools.StorageTool format --standalone -t "$id" -c "$PROPS" \
        >>"$LOG_DIR/kafka.out" 2>&1 || { log_tail "$LOG_DIR/kafka.out"; die "storage format failed"; }
    echo "$KAFKA_CONTROLLER_PORT" >"$stamp"
    log "formatted storage (cluster id $id) in $DATA_DIR"
}

wait_ready() {
    local t0="$1" deadline=$((SECONDS + START_TIMEOUT_S)) pid
    pid="$(read_pid kafka)"
    while ((SECONDS < deadline)); do
        # Only liveness here: just after start_bg the command line may not show the
        # marker yet (the fork has not exec'd java).
        if ! running "$pid"; then
            log_tail "$LOG_DIR/kafka.out" 20
            log_tail "$LOG_DIR/kafka.log" 30
            rm -f "$(pid_file kafka)"
            die "broker exited during start-up; see var/log/kafka.log and var/log/kafka.out"
        fi
        if broker_ready "$LOCAL_BOOTSTRAP"; then
            log "broker ready at $LOCAL_BOOTSTRAP (pid $(read_pid kafka), $(elapsed "$t0"))"
            return 0
        fi
        sleep 0.5
    done
    log_tail "$LOG_DIR/kafka.log" 30
    die "broker did not answer at $LOCAL_BOOTSTRAP within ${START_TIMEOUT_S}s (pid $(read_pid kafka) still running); see var/log/kafka.log"
}

cmd_start() {
    local t0
    t0="$(now_s)"
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" && "$KAFKA_BOOTSTRAP_SERVERS" != "$LOCAL_BOOTSTRAP" ]]; then
        if broker_ready "$KAFKA_BOOTSTRAP_SERVERS"; then
            log "using the cluster at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS; starting nothing"
            return 0
        fi
        is_local_hostport "$KAFKA_BOOTSTRAP_SERVERS" \
            || die "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS does not answer; unset it to start a local broker"
    fi
    if pid_alive kafka "$MARKER"; then
        log "already running (pid $(read_pid kafka))"
        wait_ready "$t0"
        return 0
    fi
    if broker_ready "$LOCAL_BOOTSTRAP"; then
        log "a broker not started by this script already answers at $LOCAL_BOOTSTRAP; using it"
        return 0
    fi
    if tcp_open 127.0.0.1 "$KAFKA_PORT"; then
        die "port $KAFKA_PORT is in use by something that is not a Kafka broker (set KAFKA_PORT)"
    fi
    java_ok || die "Java 17+ is needed for Kafka 4 (run scripts/setup.sh)"
    jars_present || cmd_fetch
    mkdir -p "$STATE"
    format_storage
    render_props
    java_base
    start_bg kafka "$LOG_DIR/kafka.out" "${JAVA_CMD[@]}" kafka.Kafka "$PROPS"
    log "starting broker (pid $(read_pid kafka)), log var/log/kafka.log ..."
    wait_ready "$t0"
}

cmd_stop() {
    if pid_alive kafka "$MARKER"; then
        STOP_TIMEOUT_S="${KAFKA_STOP_TIMEOUT_S:-30}" stop_pid kafka "$MARKER"
    else
        rm -f "$(pid_file kafka)"
        log "not running (no broker started by this script)"
    fi
}

cmd_status() {
    if pid_alive kafka "$MARKER"; then
        if broker_ready "$LOCAL_BOOTSTRAP"; then
            echo "kafka: running (pid $(read_pid kafka)) at $LOCAL_BOOTSTRAP"
            return 0
        fi
        echo "kafka: process running (pid $(read_pid kafka)) but not answering at $LOCAL_BOOTSTRAP"
        return 1
    fi
    local bs="${KAFKA_BOOTSTRAP_SERVERS:-$LOCAL_BOOTSTRAP}"
    if broker_ready "$bs"; then
        echo "kafka: external broker answering at $bs (not started by this script)"
        return 0
    fi
    echo "kafka: stopped"
    return 3
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 {fetch|start|stop|status}" >&2; exit 2 ;;
esac
