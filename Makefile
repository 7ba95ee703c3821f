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

.PHONY: install install-extras run test test-postgres test-slow test-e2e js-deps browser ocr proxy docker image image-base lock lint typecheck openapi eval bench load clean

install: $(STAMP)

# The runtime dependencies come from requirements.lock (checked against its hashes), as in
# the image; the dev tools from pyproject.toml's ranges.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --require-hashes -r requirements.lock
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
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,st,llama,e5,bench]'
	touch $(EXTRAS_STAMP)

# The slow suites (real uvicorn processes, whole papers, retrieval quality, the optional
# models); CI runs these too.
test-slow: $(EXTRAS_STAMP)
	$(BIN)/pytest -m slow

# The fast suite again with every app on the PostgreSQL store (the machine's server, a schema
# per test), but for the tests of the disk store's own files.
test-postgres: $(STAMP)
	RAGSVC_TEST_STORE=postgres $(BIN)/pytest -m "not slow and not e2e and not disk"

# The browser tests need Playwright's Python package and Debian's chromium (Playwright's own
# browser download does not work here); installing chromium needs root, as in CI.
E2E_STAMP := $(VENV)/.e2e-installed

$(E2E_STAMP): $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,e2e]'
	touch $(E2E_STAMP)

browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# OCR (RAGSVC_OCR=auto) runs Debian's Tesseract; its slow tests need it (root, as in CI).
ocr:
	command -v tesseract >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr)

# The replica suite runs nginx (Debian's package) as a process of its own; installing it
# needs root, as in CI. Without it those tests skip, saying so (and fail in CI).
proxy:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)

# The container (docs/deploy.md). `make image` builds it with no network inside the build:
# the wheels of requirements.lock (checked against its hashes) and ragsvc's own are made
# here first. BASE: any image with Python 3.11; `make image-base` makes a local Debian one
# with debootstrap, for machines that reach Debian's packages but no image registry.
# The image is tagged with pyproject's version, which deploy/k8s names, and `latest`.
BASE ?= python:3.11-slim
IMAGE ?= ragsvc
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
# Bumped with image-base's recipe, so that a base made by an older one is made again.
BASE_RECIPE := 2

WHEELHOUSE := build/wheelhouse/.complete

$(WHEELHOUSE): requirements.lock $(STAMP)
	rm -rf build/wheelhouse
	$(BIN)/pip wheel -q --no-deps --require-hashes -r requirements.lock -w build/wheelhouse
	touch $@

# Without a registry, docker build's own failure to pull BASE says nothing of image-base:
# look for the base first, and say what to do.
image: $(WHEELHOUSE)
	@docker info >/dev/null 2>&1 || { echo "make image: Docker's daemon is not running; start it with: make docker" >&2; exit 1; }
	@docker image inspect $(BASE) >/dev/null 2>&1 || docker pull -q $(BASE) >/dev/null 2>&1 || { \
	  echo "make image: the base image $(BASE) is not here and cannot be pulled (no image registry reachable?)." >&2; \
	  echo "  Make a local Debian base and build on it:  make image-base && make image BASE=ragsvc-base:bookworm" >&2; \
	  exit 1; }
	rm -rf build/dist
	$(BIN)/pip wheel -q --no-deps . -w build/dist
	docker build -q --build-arg BASE=$(BASE) --build-arg VERSION=$(VERSION) -f docker/Dockerfile \
	  -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

# Debian's minimal system with Python; its package lists (apt-get update brings them back)
# and message translations are of no use to ragsvc, and were 80 MB of the image.
image-base:
	test "$$(docker image inspect -f '{{index .Config.Labels "ragsvc.base-recipe"}}' ragsvc-base:bookworm 2>/dev/null)" = $(BASE_RECIPE) || ( \
	  rm -rf build/rootfs && mkdir -p build && \
	  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	    bookworm $(CURDIR)/build/rootfs http://deb.debian.org/debian && \
	  rm -rf build/rootfs/usr/share/doc build/rootfs/usr/share/man build/rootfs/usr/share/info \
	    build/rootfs/var/cache/apt/* build/rootfs/var/lib/apt/lists/* && \
	  find build/rootfs/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + && \
	  tar -C build/rootfs -c . | docker import --change 'LABEL ragsvc.base-recipe=$(BASE_RECIPE)' - ragsvc-base:bookworm && \
	  rm -rf build/rootfs )

# Docker's daemon for the container suite (root, as in CI): Debian's docker.io and debootstrap.
docker:
	command -v dockerd >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap)
	docker info >/dev/null 2>&1 || (dockerd >/tmp/dockerd.log 2>&1 & for i in $$(seq 30); do docker info >/dev/null 2>&1 && break; sleep 1; done)

# requirements.lock: every runtime dependency pinned with its hashes, used by the image.
lock:
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --generate-hashes --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock pyproject.toml docker/extra-requirements.in

# The JavaScript packages the e2e suite runs (the Vercel AI SDK, axe-core), from tests/js/package-lock.json.
JS_STAMP := tests/js/node_modules/.installed

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --silent
	touch $(JS_STAMP)

js-deps: $(JS_STAMP)

test-e2e: $(E2E_STAMP) $(JS_STAMP) browser
	$(BIN)/pytest -m e2e

openapi: $(STAMP)
	$(BIN)/python -m ragsvc.api.openapi_export openapi/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Answer quality on the public dev sets, every configuration that matters, and the tutorial
# LangChain stack as a baseline (docs/quality.md). Its packages come with the [bench] extra.
EVAL_STAMP := $(VENV)/.eval-installed

$(EVAL_STAMP): $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,bench]'
	touch $(EVAL_STAMP)

eval: $(EVAL_STAMP)
	$(BIN)/ragsvc eval ../shared/eval/*.jsonl eval/*.jsonl --pdf-dir ../shared/data --compare

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
