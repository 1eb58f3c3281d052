# `make report` renders every notebook to reports/; `make test` checks the code with `make lint`, then runs the test suite.
# Both create (or reuse) a local virtual environment in .venv and install the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: report quick-report test test-fast lint browser benchmark benchmark-check clean

report: $(INSTALLED)
	$(BIN)/mnist-analysis report

quick-report: $(INSTALLED)
	$(BIN)/mnist-analysis report --quick

test: $(INSTALLED) browser lint
	$(BIN)/python -m pytest

# Everything not marked slow (no notebook runs, report builds, browsers or wheel builds): under a minute.
test-fast: $(INSTALLED) benchmark-check
	$(BIN)/python -m pytest -m "not slow"

# ruff, configured in pyproject.toml: lint rules and formatting.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests open the reports in Debian's headless Chromium; install it where apt-get can.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: no chromium and no root apt-get; the browser tests will be skipped (they fail under CI)"; fi

benchmark: $(INSTALLED)
	$(BIN)/python benchmarks/run_all.py

# Lists each benchmark result as fresh, stale (naming the files changed since it was measured)
# or unknown (no commit recorded); fails only on a result file that cannot be read.
benchmark-check: $(INSTALLED)
	$(BIN)/python benchmarks/check.py

# Reinstall whenever the project's metadata changes.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) reports test-artifacts
