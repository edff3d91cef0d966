# The two front-door commands: `make run` and `make test`. Both set up .venv/ first (idempotent).
PY := .venv/bin/python

.PHONY: setup setup-test run test test-unit test-e2e clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh test

run: setup
	$(PY) local_runner.py $(ARGS)

test: setup-test
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

test-unit: setup-test
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

test-e2e: setup-test
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

clean:
	rm -rf tfx_output .pytest_cache
