# Two commands: `make run` serves the API, `make test` runs lint, types and the test suite.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format install clean screenshots messages

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/grader migrate
	@echo "The command line is installed: $(BIN)/grader --help (the same as $(BIN)/python -m service)."
	@echo "In another terminal, from this folder: $(BIN)/grader keys list, $(BIN)/grader backup FILE, ..."
	$(BIN)/grader serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The README's screenshots, taken by the browser tests (needs Debian's chromium).
screenshots: $(STAMP)
	GRADER_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/browser -q

# Re-extract the pages' strings into the gettext template (then update each locale's .po).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o service/web/locale/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i service/web/locale/messages.pot -d service/web/locale --ignore-obsolete

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
