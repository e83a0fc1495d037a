# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
INI ?= development.ini

.PHONY: install system-packages scaleout-packages run test lint format bench bench-scaleout \
	bench-fraud bench-batch drill schemathesis clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools<81' wheel
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

run: install
	mkdir -p var
	$(BIN)/kariya -c $(INI) initdb
	$(BIN)/kariya -c $(INI) demo
	$(BIN)/pserve $(INI)

# The browser test drives Debian's Chromium (no downloaded browsers); it and the PDFs (which embed
# it) need the IPA Gothic font.
system-packages:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list : family 2>/dev/null | grep -q IPAGothic; then \
		echo "installing Debian packages: chromium fonts-ipafont-gothic"; \
		apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-ipafont-gothic; \
	fi

# lint-imports checks the import contracts in .importlinter (layers, no cycles between domains).
test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m tests.benchmarks.rush

# The rush through two app instances behind HAProxy, with PgBouncer in transaction mode in front of
# PostgreSQL (issue 16; Debian's pgbouncer and haproxy, started as plain processes, never as
# services). SCALEOUT_ARGS=--single runs the single-machine baseline on the same database copy.
SCALEOUT_ARGS ?=
scaleout-packages:
	@if ! command -v pgbouncer >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then \
		echo "installing Debian packages: pgbouncer haproxy"; \
		apt-get update -q && apt-get install -y -q --no-install-recommends pgbouncer haproxy; \
	fi

bench-scaleout: install scaleout-packages
	$(BIN)/python -m tests.benchmarks.scaleout $(SCALEOUT_ARGS)

# The backup and restore drill on a seeded PostgreSQL database (README, "Backup and restore
# drill"); DRILL_ARGS="--residents 20000 --stores 600" seeds more. On a real database:
# kariya -c INI drill.
DRILL_ARGS ?=
drill: install
	$(BIN)/python -m tests.benchmarks.drill $(DRILL_ARGS)

# The fraud scan of a full week on a generated normal campaign (issue 15), beside a baseline.
bench-fraud: install
	$(BIN)/python -m tests.benchmarks.fraud

# The group commit's batch: its Python CPU beside the single path's, in one process (issue 16).
bench-batch: install
	$(BIN)/python -m tests.benchmarks.batch

# The suite's schemathesis run with more examples per operation (the suite takes 6).
SCHEMATHESIS_EXAMPLES ?= 100
schemathesis: install
	SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) $(BIN)/pytest -q -s \
		tests/functional/test_schemathesis.py

clean:
	rm -rf $(VENV) var *.egg-info
