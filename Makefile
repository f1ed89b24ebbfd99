# DustGrid: the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SEED ?= 1
DEVICES ?= 20

.PHONY: run test test-sqlite test-postgres lint typecheck install migrate demo serve bench clean

$(STAMP): pyproject.toml setup.py src/dustgrid/ingest/hj212/_speedups.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: set up, migrate, load the demo city (first time) and serve on http://127.0.0.1:8000
run: export DUSTGRID_DEMO_MODE = true
run: export DUSTGRID_COOKIE_SECURE = false
run: $(STAMP)
	$(BIN)/dustgrid migrate
	$(BIN)/dustgrid demo --seed $(SEED) --if-empty
	@echo "Starting $(DEVICES) simulated HJ 212 dust monitors and the server on http://$(HOST):$(PORT)"
	@scripts/run-demo.sh $(BIN) $(HOST) $(PORT) $(DEVICES)

## test: set up and run the whole suite (SQLite; browser tests need Debian's chromium)
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

## test-postgres: the suite against PostgreSQL (DUSTGRID_TEST_DATABASE_URL)
test-postgres: $(STAMP)
	$(BIN)/pytest -q --dburl "$${DUSTGRID_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/dustgrid migrate

bench: $(STAMP)
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/codec.py

clean:
	rm -rf $(VENV) var .pytest_cache
