# Two commands do all setup: `make run` and `make test`.
# Each creates the virtual environment when it is missing (VENV=path to use another).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.phasebrush-installed

export QT_API := pyside6

.PHONY: run test bench lint clean venv wheel-check bundle

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,audio]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/phasebrush --demo chirp

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests

# One BLAS/OpenMP thread: on small machines a second spinning thread distorts the timings.
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m tests.benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check app cli core tests packaging

# Build the sdist and wheel, install the wheel into a fresh venv, use it from elsewhere
# (packaging/check_wheel.sh; `--reuse-deps` there takes the dependencies from $(VENV)).
wheel-check: $(STAMP)
	PYTHON=$(PY) bash packaging/check_wheel.sh $(WHEEL_CHECK_ARGS)

# A one-folder desktop bundle (PyInstaller) in dist/bundle, smoke-tested; not part of `test`.
bundle: $(STAMP)
	$(PY) -m pip install -q -e '.[bundle]'
	PYTHON=$(PY) bash packaging/build_bundle.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
