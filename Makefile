# The two commands of the README: `make demo` and `make test`. Both set up what they need first.
.PHONY: setup demo test test-fast lint bench bench-quick clean

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
	$(MAKE) bench-quick

test-fast: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pdtrail producers consumers schemas queries infra integrity desk
	$(BIN)/python -m pdtrail schemas check

bench: setup
	$(BIN)/python bench/bench.py

# Benchmarks that cannot rot: a smoke run of each (fails on an error or a wrong answer, never on a timing).
BENCH_OUT := bench/results/quick
bench-quick: setup
	mkdir -p $(BENCH_OUT)
	$(BIN)/python bench/bench.py --quick --json $(BENCH_OUT)/bench.json
	$(BIN)/python bench/bench_sdk.py --quick --json $(BENCH_OUT)/sdk.json
	$(BIN)/python bench/bench_ingest.py --quick --json $(BENCH_OUT)/ingest.json
	$(BIN)/python bench/bench_lookup.py --quick --json $(BENCH_OUT)/lookup.json
	$(BIN)/python bench/bench_layouts.py --quick
	$(BIN)/python bench/bench_bytes.py --quick
	$(BIN)/python bench/bench_findings.py --quick --json $(BENCH_OUT)/findings.json
	$(BIN)/python bench/bench_desk.py --quick --json $(BENCH_OUT)/desk.json
	$(BIN)/python bench/bench_cluster.py --quick
	$(BIN)/python bench/bench_identifiers.py --quick
	$(BIN)/python bench/bench_refs.py --quick
	$(BIN)/python bench/bench_integrity.py --quick --json $(BENCH_OUT)/integrity.json

clean:
	-$(BIN)/pdtrail broker stop
	rm -rf .pdtrail
