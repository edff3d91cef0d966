# The two front-door commands: `make run` and `make test`. Both set up .venv/ first (idempotent).
PY := .venv/bin/python
# Tests run on every core, each file's tests in one worker (they share module fixtures). The
# e2e files in collection order, where conftest.py puts the longest first (xdist's default order
# puts the files with fewest tests last: there, the longest ones).
XDIST := -n auto --dist loadfile
E2E_ORDER := --no-loadscope-reorder

.PHONY: setup setup-test run test test-unit test-integration test-e2e lint clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh test

run: setup
	$(PY) local_runner.py $(ARGS)

# Lint and format check, then the three tiers: unit (no Beam, executor, training or
# subprocess), integration, e2e.
test: setup-test lint
	$(PY) -m pytest -m unit $(XDIST) $(PYTEST_ARGS)
	$(PY) -m pytest -m integration $(XDIST) $(PYTEST_ARGS)
	$(PY) -m pytest -m e2e $(XDIST) $(E2E_ORDER) $(PYTEST_ARGS)

test-unit: setup-test
	$(PY) -m pytest -m unit $(XDIST) $(PYTEST_ARGS)

test-integration: setup-test
	$(PY) -m pytest -m integration $(XDIST) $(PYTEST_ARGS)

test-e2e: setup-test
	$(PY) -m pytest -m e2e $(XDIST) $(E2E_ORDER) $(PYTEST_ARGS)

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

clean:
	rm -rf tfx_output .pytest_cache
