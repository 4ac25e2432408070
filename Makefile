# Campaign orchestrator: one entry point for setting up, running and testing.
# Every target is idempotent; the first `make setup` on a fresh Debian 12 takes ~10 min
# (llama-cpp-python compiles), later runs about a second.
#
# Environment honoured by the scripts: KAFKA_BOOTSTRAP_SERVERS, REDIS_URL, DATABASE_URL (use
# existing infrastructure), POSTGRES_PORT, POSTGRES_PASSWORD, KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT, REDIS_DATA_DIR, VAR_DIR,
# STOP_TIMEOUT_S, GEMINI_API_KEY, PERPLEXITY_API_KEY, LOCAL_MODEL_PATH; see scripts/*.sh headers.

SHELL := /bin/bash
PY := .venv/bin/python
TESTS ?= tests
PYTEST_ARGS ?= --durations=25
BENCH_ARGS ?=
CHAOS_ARGS ?=
MYPY_PATHS := schemas core services providers emulator strategist audit evaluation chaos bench harness

.PHONY: help setup up down status demo screenshots test bench chaos eval eval-confidence eval-routine failover train-router lint clean

help:
	@echo "make setup   install system packages, .venv, Kafka jars and the local model"
	@echo "make up      start the whole stack in the background (make down stops it)"
	@echo "make down    stop the stack"
	@echo "make status  show what runs"
	@echo "make demo    set up, start the stack and run the sample questions; ends with the"
	@echo "             console's URL and an admin key to sign in with"
	@echo "make screenshots  the console's browser tests, saving a PNG of each page in docs/console/"
	@echo "make test    run the test suite against a real Kafka, Redis and PostgreSQL"
	@echo "             (TESTS=tests/unit PYTEST_ARGS='-x -k name' to narrow it)"
	@echo "make bench   pipeline overhead and throughput benchmark, then the streaming figures and"
	@echo "             1,000 open event streams (BENCH_ARGS='--rates 50,100 --duration 10' to"
	@echo "             shorten, '--stream-duration 0 --open-streams 0' to skip; its last line is JSON)"
	@echo "make eval    routing accuracy and savings on the test split through the stack, and"
	@echo "             the local model candidates (EVAL_ARGS=--skip-local-models to skip them), and"
	@echo "             routine work on data/routine/ test under three policies (about 12 min;"
	@echo "             EVAL_ARGS=--skip-routine to skip it, --routine-only for it alone)"
	@echo "make eval-confidence  ECE, AUROC and Brier before and after calibration on the simulated"
	@echo "             and real graded sets, and escalation's cost and accuracy"
	@echo "make eval-routine  each model's usable rate per routine task kind (data/routine/, dev"
	@echo "             split; the local model for real, 5-8 min) into data/routine/capability.json (EVAL_ROUTINE_ARGS='--limit 20' to smoke-test)"
	@echo "make train-router  retrain the classifier's tier router (deterministic; see docs/routing.md)"
	@echo "make failover  inject every provider fault through the emulator: attempts, answering"
	@echo "             model, time to the answer and completeness, through both APIs, and"
	@echo "             what a streaming caller sees in each stream mode (auto, live, buffered)"
	@echo "make chaos   kill -9 every part of the stack under load (a third of the callers"
	@echo "             reading their answer live), then count losses and broken streams"
	@echo "             (CHAOS_ARGS='--help' for its options)"
	@echo "make lint    ruff, mypy, shellcheck and docker-compose config (setup installs them)"
	@echo "make clean   stop the stack and delete var/ (runtime state, logs, broker data)"

setup:
	@scripts/setup.sh

up: setup
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

demo: setup
	@scripts/stack.sh up
	@echo "[demo] the stack runs in the background until 'make down'"
	@$(PY) -m demo

screenshots: setup
	@CONSOLE_SCREENSHOTS=docs/console scripts/with-infra.sh $(PY) -m pytest tests/e2e/test_console.py -q $(PYTEST_ARGS)

test: setup
	@scripts/with-infra.sh $(PY) -m pytest $(TESTS) $(PYTEST_ARGS)

bench: setup
	@scripts/with-infra.sh bash -c '$(PY) -m bench.transactions && $(PY) -m bench.classifier && $(PY) -m bench.openai_ttft --stream-mode buffered && $(PY) -m bench.recorder && $(PY) -m bench $(BENCH_ARGS)'

eval: up
	@$(PY) -m evaluation $(EVAL_ARGS)

eval-confidence: setup
	@$(PY) -m evaluation.confidence $(EVAL_CONFIDENCE_ARGS)

eval-routine: setup
	@$(PY) -m evaluation.routine $(EVAL_ROUTINE_ARGS)

train-router: setup
	@$(PY) -m services.classifier.train $(TRAIN_ARGS)

failover: setup
	@scripts/with-infra.sh $(PY) -m bench.failover $(FAILOVER_ARGS)

chaos: setup
	@scripts/with-infra.sh $(PY) -m chaos $(CHAOS_ARGS)

# Every check runs even when an earlier one fails; the exit code says whether any failed.
lint: setup
	@rc=0; \
	echo "[lint] ruff check ."; .venv/bin/ruff check . || rc=1; \
	echo "[lint] mypy $(MYPY_PATHS)"; .venv/bin/mypy $(MYPY_PATHS) || rc=1; \
	echo "[lint] shellcheck -x scripts/*.sh .ci/run"; shellcheck -x scripts/*.sh .ci/run || rc=1; \
	echo "[lint] docker-compose -f docker-compose.yml config -q"; \
	REDIS_PASSWORD=lint-check docker-compose -f docker-compose.yml config -q || rc=1; \
	if [ $$rc -ne 0 ]; then echo "[lint] FAILED"; else echo "[lint] all clean"; fi; \
	exit $$rc

clean:
	@scripts/stack.sh down
	@scripts/kafka.sh stop
	@scripts/redis.sh stop
	@scripts/postgres.sh stop
	rm -rf var
