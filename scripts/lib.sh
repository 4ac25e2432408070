# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; do not run it.
#
# Every script works from the repo root; runtime state lives under var/ (gitignored):
#   var/run/<name>.pid   pid of a background process we started
#   var/log/<name>.log   its output
# VAR_DIR moves all of it elsewhere, so a second stack (a test's, say) keeps its own pids,
# logs and data apart from the developer's.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
RUN_DIR="$VAR_DIR/run"
LOG_DIR="$VAR_DIR/log"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

# How long stop_pid waits after SIGTERM before SIGKILL. It must exceed the services' drain
# timeout (DRAIN_TIMEOUT_S in services/common/worker.py, 8 s: in-flight messages finish,
# then offsets are committed and the producer flushed), or a stop kills them mid-drain and
# their unfinished messages are processed again. docker-compose.yml's stop_grace_period
# is the same 15 s.
STOP_TIMEOUT_S="${STOP_TIMEOUT_S:-15}"

# Every process start_bg starts carries this in its environment, which survives an exec
# into another program (providers/local_server.py becomes providers.local_logprobs): the reliable
# way to recognise our own process behind a pid file, where the command line may change.
TAG_VAR=STACK_PROCESS_TAG

mkdir -p "$RUN_DIR" "$LOG_DIR"

log() { printf '[%s] %s\n' "${LOG_TAG:-scripts}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }

# running PID: the process exists and is not a zombie (PID 1 may reap exited
# orphans only every few seconds; a zombie must count as gone).
running() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ "$(sed -E 's/^.*\) ([A-Za-z]) .*$/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

pid_file() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }

# process_tag NAME: the value of $TAG_VAR for the process NAME of this VAR_DIR.
process_tag() { printf '%s/%s\n' "$RUN_DIR" "$1"; }

# has_tag PID NAME: the process was started by start_bg as NAME (of this VAR_DIR).
has_tag() {
    [[ -r "/proc/$1/environ" ]] || return 1
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF -- "$TAG_VAR=$(process_tag "$2")"
}

# pid_alive NAME [MARKER]: true when var/run/NAME.pid names a live process that is ours:
# started by start_bg as NAME (its environment says so, whatever it exec'd into since),
# or, for processes that daemonize themselves (redis-server), whose command line contains
# MARKER. Guards against a recycled pid after a reboot.
pid_alive() {
    local file pid
    file="$(pid_file "$1")"
    [[ -s "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    running "$pid" || return 1
    has_tag "$pid" "$1" && return 0
    if [[ -n "${2:-}" && -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
    fi
    return 0
}

# pgid_of PID: process group id from /proc (procps may be absent on slim images).
pgid_of() { sed -E 's/^.*\) [A-Za-z] -?[0-9]+ ([0-9]+) .*$/\1/' "/proc/$1/stat" 2>/dev/null || true; }

read_pid() { cat "$(pid_file "$1")" 2>/dev/null || true; }

# stop_pid NAME [MARKER]: SIGTERM the process (and its process group when it leads
# one), wait up to STOP_TIMEOUT_S, then SIGKILL; remove the pid file.
stop_pid() {
    local name="$1" marker="${2:-}" pid target i
    if ! pid_alive "$name" "$marker"; then
        rm -f "$(pid_file "$name")"
        return 0
    fi
    pid="$(read_pid "$name")"
    target="$pid"
    # Processes started by start_bg lead their own process group: signal the group so
    # workers (gunicorn, uvicorn) go with their parent.
    if [[ "$(pgid_of "$pid")" == "$pid" ]]; then
        target="-$pid"
    fi
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
        running "$pid" || break
        sleep 0.1
    done
    if running "$pid"; then
        log "$name (pid $pid) did not stop within ${STOP_TIMEOUT_S}s; sending SIGKILL"
        kill -KILL -- "$target" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$(pid_file "$name")"
    log "stopped $name (pid $pid)"
}

# start_bg NAME LOGFILE CMD...: run CMD detached (own session, survives the shell),
# stdout+stderr appended to LOGFILE, pid in var/run/NAME.pid, tagged as NAME (TAG_VAR).
start_bg() {
    local name="$1" logfile="$2"
    shift 2
    printf '\n=== %s start %s: %s\n' "$name" "$(date -Is)" "$*" >>"$logfile"
    # A background child of a non-interactive shell is not a group leader, so setsid
    # execs in place (no fork) and $! is the real pid.
    env "$TAG_VAR=$(process_tag "$name")" setsid "$@" </dev/null >>"$logfile" 2>&1 &
    echo $! >"$(pid_file "$name")"
}

# log_tail FILE [N]: show the end of a log to explain a failure.
log_tail() {
    local file="$1" n="${2:-40}"
    if [[ -s "$file" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$n" "$file" >&2
        tail -n "$n" "$file" >&2
        printf -- '-----\n' >&2
    else
        printf -- '(%s is empty or missing)\n' "$file" >&2
    fi
}

# http_ok URL: true when GET URL answers 200 within 2 s (python: curl may be absent).
http_ok() {
    local py=python3
    [[ -x "$PY" ]] && py="$PY"
    "$py" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# redact_url URL: the URL with its password replaced by *** (for log lines).
redact_url() { printf '%s\n' "$1" | sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://)([^:@/]*):[^@/]*@#\1\2:***@#'; }

# tcp_open HOST PORT: only a port check (something listens); not a health check.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# is_local_hostport "host:port": true for a single 127.0.0.1/localhost address.
is_local_hostport() { [[ "$1" =~ ^(127\.0\.0\.1|localhost):[0-9]+$ ]]; }

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1fs", b - a }'; }
