# Every target that needs the virtualenv depends on its stamp, which is rebuilt when
# pyproject.toml changes, so `make run` and `make test` work on a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8000
RAGSVC_DATA_DIR ?= ./data
export RAGSVC_DATA_DIR

.PHONY: install install-extras run test test-slow test-e2e browser proxy lint typecheck openapi eval bench load clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/ragsvc serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# The optional extras: [st] (CPU torch first: a plain `torch` would pull a CUDA build of
# several GB) and [llama] (llama-cpp-python compiles for about 4 minutes the first time).
EXTRAS_STAMP := $(VENV)/.extras-installed

install-extras: $(EXTRAS_STAMP)

$(EXTRAS_STAMP): $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,st,llama]'
	touch $(EXTRAS_STAMP)

# The slow suites (real uvicorn processes, whole papers, retrieval quality, the optional
# models); CI runs these too.
test-slow: $(EXTRAS_STAMP)
	$(BIN)/pytest -m slow

# The browser tests need Playwright's Python package and Debian's chromium (Playwright's own
# browser download does not work here); installing chromium needs root, as in CI.
E2E_STAMP := $(VENV)/.e2e-installed

$(E2E_STAMP): $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,e2e]'
	touch $(E2E_STAMP)

browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The replica suite runs nginx (Debian's package) as a process of its own; installing it
# needs root, as in CI. Without it those tests skip, saying so (and fail in CI).
proxy:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)

test-e2e: $(E2E_STAMP) browser
	$(BIN)/pytest -m e2e

openapi: $(STAMP)
	$(BIN)/python -m ragsvc.openapi_export openapi/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Answer quality on the public dev set, every configuration that matters (docs/quality.md).
eval: $(STAMP)
	$(BIN)/ragsvc eval ../shared/eval/attention_qa.jsonl --pdf-dir ../shared/data --compare

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(EXTRAS_STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Every figure of docs/benchmarks.md (and its chart), measured in one run; about 2½ minutes
# (plus installing the extras the first time: MiniLM needs CPU torch).
bench: $(BENCH_STAMP)
	$(BIN)/python bench/bench.py

# 200 concurrent clients streaming answers from a real server, 30 s as users, 30 s at
# saturation: answers/s, first token p50/p99, errors, peak RSS, open files and streams,
# server CPU per answer (docs/load.md); about two minutes.
LOAD_STAMP := $(VENV)/.load-installed

$(LOAD_STAMP): $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,load]'
	touch $(LOAD_STAMP)

load: $(LOAD_STAMP)
	$(BIN)/python bench/load.py 200 30
