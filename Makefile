# The two commands of the README: `make demo` and `make test`. Both set up what they need first.
.PHONY: setup demo test test-fast lint bench clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@bash infra/setup.sh

demo: setup
	$(BIN)/pdtrail demo

# The whole suite: the static checks, then unit (no services), integration (real Kafka broker + chDB),
# e2e (the CLI and the desk as a user runs them), faults (fault injection; `-m "not slow"` skips the longest).
test: setup lint
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pdtrail producers consumers schemas queries infra integrity desk
	$(BIN)/python -m pdtrail schemas check

bench: setup
	$(BIN)/python bench/bench.py

clean:
	-$(BIN)/pdtrail broker stop
	rm -rf .pdtrail
