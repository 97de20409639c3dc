# Two commands: `make run` (gateway on the sandbox providers, in-memory store) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers unit openapi config-docs bench clean

$(STAMP): pyproject.toml setup.py sandbox/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The gateway and the emulators' own distribution (sandbox/), both editable: what `.[dev,sandbox]` installs, with
	# sandbox/ editable too (the extra alone would copy it).
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]' -e ./sandbox
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/video-gateway run --sandbox --config deploy/gateway.example.toml

test: $(STAMP) lint typecheck layers
	.ci/ensure-redis
	.ci/ensure-chromium
	# Four workers on two cores: most of the suite waits on sockets (emulators, Redis, gateway processes). Then the
	# fault tests marked `serial`, alone (see pyproject.toml).
	$(BIN)/pytest -q -n 4 -m "not serial"
	$(BIN)/pytest -q -m serial

lint: $(STAMP)
	$(BIN)/ruff check gateway providers routing sandbox tests bench
	$(BIN)/ruff format --check gateway providers routing sandbox tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict

layers: $(STAMP)
	$(BIN)/lint-imports

openapi: $(STAMP)
	$(BIN)/video-gateway openapi --config deploy/gateway.example.toml > openapi/openapi.json

# The configuration reference, generated from the config structs (a test fails when the committed file drifts).
config-docs: $(STAMP)
	$(BIN)/python -m gateway.config_reference > docs/configuration.md

bench: $(STAMP)
	.ci/ensure-redis
	$(BIN)/python bench/status_poll.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
