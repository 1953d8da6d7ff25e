# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
# Datasets: --data-dir, else $RNNBENCH_DATA_DIR, else the user cache, where `rnnbench run`
# downloads a missing one on first use (RNNBENCH_OFFLINE=1 turns that off; docs/design.md §5).
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= all,test,ray
# Separately distributed plugins installed beside rnnbench (own pyproject.toml, found by entry point).
PLUGINS ?= -e plugins/rnnbench-jax
BIN := $(VENV)/bin
# Tests and benchmarks see only the plugins they name (tests/conftest.py); a user's commands load every one.
HERMETIC := RNNBENCH_DISABLE_PLUGIN_AUTOLOAD=1

.PHONY: install demo test lint test-numpy-only bench bench-baseline bench-compare pytest-bench-save \
	pytest-bench-compare readme clean

install: $(VENV)/.installed

# Pinned versions live in constraints.txt; torch==2.13.0 there is the CPU build.
$(VENV)/.installed: pyproject.toml constraints.txt plugins/rnnbench-jax/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade-strategy only-if-needed \
		-c constraints.txt -e ".[$(EXTRAS)]" $(PLUGINS)
	touch $@

# The main job: an LSTM text classifier on IMDB with PyTorch (about 5 minutes on 2 CPU cores;
# the first time, IMDB is downloaded into the user cache, about 80 MiB). Its record goes to runs/ (ignored by
# git): results/ holds the committed reference records that the README and the tests are checked against.
demo: install
	$(BIN)/rnnbench plugins
	$(BIN)/rnnbench run --backend torch --task textclf --results-dir runs

# Tests run on pytest-xdist workers: TEST_WORKERS for `make test`, NUMPY_TEST_WORKERS for `make test-numpy-only`
# (`auto` for one a core, 0 for none). --dist loadgroup keeps the tests of tests/xdist_serial.py (Ray, sweeps
# stopped by signals, Chromium) on one worker, one at a time. On the 2-core CI VM (2026-12-07, a clean clone of
# b38938d) the full suite took 8:47 on two workers against 13:47 in one process; the NumPy-only suite 2:42 on two.
# (An earlier two-worker run hung in the Ray Ctrl-C tests: it was started from a shell that left SIGINT ignored,
# which tests/conftest.py now undoes.)
# --durations=15 names the 15 slowest.
TEST_WORKERS ?= 2
NUMPY_TEST_WORKERS ?= 2
PYTEST_WORKERS := -n $(TEST_WORKERS) --dist loadgroup

# The HTML report's browser test needs Chromium and chromedriver, required here: .ci/browser installs them
# with apt-get where it can run without asking (root, passwordless sudo), else stops at once with the command.
test: install
	.ci/browser
	$(HERMETIC) RNNBENCH_REQUIRE_BACKENDS=numpy,torch,tensorflow,jax RNNBENCH_REQUIRE_BROWSER=1 \
		$(BIN)/python -m pytest -q $(PYTEST_WORKERS) --durations=15 tests plugins/rnnbench-jax/tests

# ruff over the whole repository: the lint rules and the formatter's layout (both in [tool.ruff] of
# pyproject.toml). `$(BIN)/ruff format .` rewrites what --check reports.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The README's results section and docs/speed.md's ragged-text table, regenerated from the records in results/
# (tests/test_readme.py checks both).
readme: install
	$(BIN)/rnnbench report --summary --format markdown --sweeps sweeps --into README.md
	$(BIN)/rnnbench report --table lengths --format markdown --into docs/speed.md

# The core and the NumPy backend alone: torch and TensorFlow must show as unavailable.
test-numpy-only:
	$(MAKE) install VENV=.venv-numpy EXTRAS=test PLUGINS=
	$(HERMETIC) RNNBENCH_REQUIRE_BACKENDS=numpy .venv-numpy/bin/python -m pytest -q -n $(NUMPY_TEST_WORKERS) --dist loadgroup tests
	.venv-numpy/bin/rnnbench plugins

bench: install
	$(HERMETIC) $(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only \
		--benchmark-columns=min,median,iqr,rounds --benchmark-group-by=group

# The regression gate (docs/speed.md): time a small fixed grid into a scratch folder under runs/ and compare it
# with a baseline through `rnnbench compare --fail-on-regression` (ratio of medians with its 95% interval and the
# Mann-Whitney p-value; a row is slower only when p < 0.01 and more than BENCH_THRESHOLD % slower). The baseline
# is BENCH_BASELINE_DIR, made on this machine by `make bench-baseline` (records accumulate there; the latest of
# each row counts), or any `rnnbench compare` A side, e.g. BENCH_AGAINST="--rev HEAD results" for the committed
# records of the same grid.
BENCH_GRID ?= --suite smoke
BENCH_BASELINE_DIR ?= runs/bench-baseline
BENCH_NEW_DIR ?= runs/bench-new
BENCH_AGAINST ?= $(BENCH_BASELINE_DIR)
BENCH_THRESHOLD ?= 5

bench-baseline: install
	$(BIN)/rnnbench bench $(BENCH_GRID) --results-dir $(BENCH_BASELINE_DIR)

bench-compare: install
	@test -n "$(filter --rev%,$(BENCH_AGAINST))" || test -d "$(BENCH_AGAINST)" || \
		{ echo "make bench-compare: no baseline $(BENCH_AGAINST); run make bench-baseline first" >&2; exit 2; }
	rm -rf $(BENCH_NEW_DIR)
	$(BIN)/rnnbench bench $(BENCH_GRID) --results-dir $(BENCH_NEW_DIR)
	$(BIN)/rnnbench compare $(BENCH_AGAINST) $(BENCH_NEW_DIR) --threshold $(BENCH_THRESHOLD) --fail-on-regression

# pytest-benchmark's own gate over the timer microbenchmarks (benchmarks/test_bench_timers.py): store this
# machine's baseline (one folder per machine and Python under PYTEST_BENCH_BASELINE), then compare with the
# latest stored one and fail when a median is more than 10% slower.
PYTEST_BENCH_BASELINE ?= benchmarks/baseline
PYTEST_BENCH_FILES ?= benchmarks/test_bench_timers.py
PYTEST_BENCH_FAIL ?= median:10%

pytest-bench-save: install
	$(HERMETIC) $(BIN)/python -m pytest $(PYTEST_BENCH_FILES) --benchmark-enable --benchmark-only \
		--benchmark-storage=file://$(abspath $(PYTEST_BENCH_BASELINE)) --benchmark-save=baseline

pytest-bench-compare: install
	$(HERMETIC) $(BIN)/python -m pytest $(PYTEST_BENCH_FILES) --benchmark-enable --benchmark-only \
		--benchmark-storage=file://$(abspath $(PYTEST_BENCH_BASELINE)) --benchmark-compare \
		--benchmark-compare-fail=$(PYTEST_BENCH_FAIL) --benchmark-columns=min,median,iqr,rounds \
		--benchmark-group-by=group

clean:
	rm -rf $(VENV) .venv-numpy .pytest_cache .benchmarks build *.egg-info
