# `make report` renders every notebook to reports/; `make test` runs the test suite.
# Both create (or reuse) a local virtual environment in .venv and install the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: report quick-report test benchmark clean

report: $(INSTALLED)
	$(BIN)/mnist-analysis report

quick-report: $(INSTALLED)
	$(BIN)/mnist-analysis report --quick

test: $(INSTALLED)
	$(BIN)/python -m pytest

benchmark: $(INSTALLED)
	$(BIN)/python benchmarks/run_all.py

# Reinstall whenever the project's metadata changes.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) reports test-artifacts
