#!/usr/bin/env bash
# Run a command with Kafka, Redis and PostgreSQL available, then stop whichever of them
# this script started, and exit with the command's exit code.
#
#   scripts/with-infra.sh .venv/bin/python -m pytest tests      (make test)
#   scripts/with-infra.sh .venv/bin/python -m bench             (make bench)
#
# Exports KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and DATABASE_URL to the command: the given
# values when they answer, else the local broker/servers (127.0.0.1:KAFKA_PORT, REDIS_PORT,
# POSTGRES_PORT; see scripts/redis.sh and scripts/postgres.sh for their passwords).
# KEEP_INFRA=1 leaves them running afterwards.
set -euo pipefail
LOG_TAG=infra
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

(($#)) || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

started=()
# shellcheck disable=SC2317,SC2329  # invoked by the EXIT trap (0.9 and 0.10 codes)
cleanup() {
    local name
    [[ "${KEEP_INFRA:-0}" == 1 ]] && return 0
    for name in "${started[@]}"; do
        "$ROOT/scripts/$name.sh" stop || true
    done
}
trap cleanup EXIT

for name in kafka redis postgres; do
    if "$ROOT/scripts/$name.sh" status >/dev/null 2>&1; then
        "$ROOT/scripts/$name.sh" start
    else
        started+=("$name")
        "$ROOT/scripts/$name.sh" start
    fi
done

export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
REDIS_URL="$("$ROOT/scripts/redis.sh" url)" # the given one, or the local server's with its password
export REDIS_URL
DATABASE_URL="$("$ROOT/scripts/postgres.sh" url)"
export DATABASE_URL
log "running: $* (KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS REDIS_URL=$(redact_url "$REDIS_URL") DATABASE_URL=${DATABASE_URL%%:*}://...)"

rc=0
"$@" || rc=$?
exit "$rc"
