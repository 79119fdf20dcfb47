# jiaohao: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck migrate clean bench bench-sim bench-stats demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -e '.[dev]'
	# The pages' charts (from the npm registry; a closed network without one still runs,
	# and the statistics pages then show their tables without charts).
	$(BIN)/jiaohao assets || echo "jiaohao assets failed: statistics pages will have no charts"
	touch $(STAMP)

# Random keys are written into var/ once (mode 0600) and used from there: no public secret.
run: $(STAMP)
	mkdir -p var
	$(BIN)/jiaohao keys --dir var
	$(BIN)/jiaohao migrate
	$(BIN)/jiaohao demo-setup
	$(BIN)/jiaohao serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The engine, the gateway, the kiosk and simulated devices of the demo hall, in one go
# (deploy/demo/run_demo.py; DEMO_ARGS="--port 8001 --kiosk-port 8081" to move them).
demo: $(STAMP)
	$(BIN)/python deploy/demo/run_demo.py $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check services drivers kiosk_client tests migrations bench
	$(BIN)/ruff format --check services drivers kiosk_client tests migrations bench

format: $(STAMP)
	$(BIN)/ruff format services drivers kiosk_client tests migrations bench
	$(BIN)/ruff check --fix services drivers kiosk_client tests migrations bench

typecheck: $(STAMP)
	$(BIN)/mypy services drivers kiosk_client

# Benchmarks on PostgreSQL (needs pgbench and wrk; as root, wrk is installed from Debian's packages).
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

migrate: $(STAMP)
	$(BIN)/jiaohao migrate

# Simulator targets on district-centre (balanced vs today's dedicated windows).
bench-sim: $(STAMP)
	$(BIN)/python bench/simulate_targets.py

# Statistics at district scale: a year of 31 halls on PostgreSQL and SQLite, the facts
# rolled up, every report timed (bench/stats_district.py; STATS_ARGS="--db pg --reuse").
bench-stats: $(STAMP)
	$(BIN)/python -m bench.stats_district $(STATS_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
