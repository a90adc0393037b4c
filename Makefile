# Two commands: `make up` runs the whole system locally, `make test` runs every test.
# Both create .venv and install the project on first use (Python 3.11 + PyPI only).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint unit integration bench install asyncapi format clean fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/sendwatch up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts sendwatch cli services/ingest services/reporting \
		services/timeliness services/alerts/domain
	$(BIN)/mypy --follow-imports=silent services/alerts

# Two workers, a test file each at a time (a module's fixture, such as the simulated
# county, stays in one worker): most integration tests wait on services and brokers.
test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=15

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

bench: $(STAMP)
	$(BIN)/sendwatch bench

asyncapi: $(STAMP)
	$(BIN)/sendwatch asyncapi

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- soak: the stack under SIGKILLs, compared with a clean run of the same events ---
# make soak SOAK_ARGS="--events 50000 --kills 10 --broker kafka --database postgresql://..."
.PHONY: soak
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/sendwatch soak $(SOAK_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# --- fuzzing: schemathesis over every service's OpenAPI with each role, hypothesis over
# every contract through ingest, then the privacy scan (CI runs the same tests bounded).
FUZZ_CASES   ?= 100000
FUZZ_BATCHES ?= 2000
FUZZ_WORKERS ?= 2
FUZZ_DB      ?= postgres
fuzz: $(STAMP)
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_BATCHES=$(FUZZ_BATCHES) FUZZ_WORKERS=$(FUZZ_WORKERS) \
		$(BIN)/pytest -q -s -p no:cacheprovider --timeout=0 -k $(FUZZ_DB) \
		tests/integration/test_fuzz_api.py tests/integration/test_fuzz_contracts.py
