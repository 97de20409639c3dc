# Two commands: `make run` (gateway on the sandbox providers, in-memory store) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers unit openapi config-docs bench mutation clean

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
	# Four workers on two cores: most of the suite waits on sockets (emulators, Redis, gateway processes). Then, in
	# one process, the fault tests marked `serial` (alone, see pyproject.toml) and schemathesis against the committed
	# openapi/openapi.json over a gateway on the sandbox emulators (no 5xx; no status, content type or body the
	# document does not describe); the schemathesis test prints its run's counts.
	$(BIN)/pytest -q -n 4 -m "not serial and not schemathesis" --durations=15
	$(BIN)/pytest -q -p no:xdist -m "serial or schemathesis"

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

# The modules `[tool.mutmut]` in pyproject.toml mutates, one run each (mutant names start with the module's path).
MUTATE := providers.vidgen providers.videogen providers.videogenapi providers.nanogpt providers.veo providers.fal providers.openai \
	gateway.cadence routing.ranking routing.capabilities routing.rules gateway.usage.records gateway.usage.reports

mutation: $(STAMP)
	# Not part of `make test`: CPU heavy (about half an hour on 2 cores). mutmut copies the code to mutants/ and runs,
	# for each mutant, only the fast unit tests that reach its function; module by module, at low priority. Then the
	# score per module (docs/testing.md) and the survivors.
	$(BIN)/python -m pip install -q -c constraints.txt mutmut
	for module in $(MUTATE); do nice -n 10 $(BIN)/mutmut run --max-children 2 "$$module.*" || exit 1; done
	$(BIN)/python .ci/mutation-score
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache mutants
