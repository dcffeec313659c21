# Two commands set everything up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: run test demo lint bench serve clean compile

$(BIN)/monitor: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile
# the project's modules again at every start (about 60 ms of each `monitor run`).
compile: $(BIN)/monitor
	@$(BIN)/python -m compileall -q monitor flows > /dev/null

run: compile  ## one monitoring pass with config/monitor.yaml
	$(BIN)/monitor run --config config/monitor.yaml

test: $(BIN)/monitor  ## lint and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/pytest -q

demo: $(BIN)/monitor  ## the pipeline offline on a bundled replay
	$(BIN)/monitor demo

serve: compile  ## serve the deployments on this machine (Ctrl-C stops)
	$(BIN)/monitor serve --config config/monitor.yaml

bench: compile  ## speed and memory, ours vs a bare script; then the novelty benchmark
	$(BIN)/python bench/run.py
	$(BIN)/python bench/novelty.py

lint: $(BIN)/monitor
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) state .pytest_cache

.PHONY: fuzz
fuzz: $(BIN)/monitor  ## mutate feeds and pages, report parser crashes; cost of hostile inputs
	$(BIN)/python bench/fuzz_parsers.py --iterations $${FUZZ_ITERATIONS:-1000}
