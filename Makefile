# Everyday commands. `make run` and `make test` are the two set-up commands of the README:
# each creates the virtual environment if needed, installs the project, and does its job.
# `make run` installs only what running needs (the dependencies and the `ml` extra: the signal model
# is the default); `make test`, `make install` and the other developer targets add `dev` and `load`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# the suite in two processes (pytest-xdist): 10 min → 6 min on the 2-core machine
TEST_WORKERS ?= 2

.PHONY: run test test-all test-slow install lint types clean bench browser test-browser model

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

# running: the dependencies and the model's extra only
$(STAMP_RUN): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[ml]"
	touch $(STAMP_RUN)

# developing: also the test tools (dev) and the console's load test (load); a superset of running
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,ml,load]"
	touch $(STAMP) $(STAMP_RUN)

install: $(STAMP)

MODEL := var/models/signals-kursk.pkl
LABELS := config/regions/kursk/sample/labels.jsonl tests/data/dev_kursk/labels.jsonl config/language/ru/written/labels.jsonl

$(MODEL): $(STAMP_RUN) $(LABELS)
	$(BIN)/incidents train $(LABELS) -o $(MODEL)

model: $(MODEL)

run: $(STAMP_RUN)
	$(BIN)/incidents run

# `make test` leaves out the `slow` variants (pyproject addopts `-m "not slow"`): longer runs of behaviour
# a default test already covers. `make test-all` runs everything, `make test-slow` only those.
# `make test` is what CI runs (.ci/run): lint and format, types, then the tests (the import layers and
# module sizes are tests too: tests/test_layers.py).
test: $(STAMP) browser lint types
	INCIDENTS_REQUIRE_POSTGRES=$${INCIDENTS_REQUIRE_POSTGRES:-$${CI:+1}} $(BIN)/pytest -n $(TEST_WORKERS)

test-all: $(STAMP) browser
	INCIDENTS_REQUIRE_POSTGRES=$${INCIDENTS_REQUIRE_POSTGRES:-$${CI:+1}} $(BIN)/pytest -n $(TEST_WORKERS) -m "slow or not slow"

test-slow: $(STAMP) browser
	INCIDENTS_REQUIRE_POSTGRES=$${INCIDENTS_REQUIRE_POSTGRES:-$${CI:+1}} $(BIN)/pytest -n $(TEST_WORKERS) -m slow

# bench/ is not installed: run from the work tree. `bench` adds spaCy for bench.signals' lemmatizer comparison.
STAMP_BENCH := $(VENV)/.installed-bench
$(STAMP_BENCH): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,ml,load,bench]"
	touch $(STAMP_BENCH)

bench: $(STAMP_BENCH)
	$(BIN)/python -m bench --posts 10000 100000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf var .pytest_cache .ruff_cache

# The browser tests drive Debian's chromium through Playwright (never `playwright install`);
# without /usr/bin/chromium they skip. This installs it when it is missing (root, Debian/Ubuntu).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: the browser tests will be skipped"

test-browser: $(STAMP) browser
	$(BIN)/pytest -m browser
