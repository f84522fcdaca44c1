# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
DEMO_DIR ?= $(CURDIR)/.demo-city

.PHONY: run test lint system-packages demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,server]'
	rm -f $(VENV)/.installed-*
	touch $@

system-packages:
	scripts/system-packages.sh

# Opens the console; with no settings file and no data yet it builds the demo city first.
run: $(STAMP)
	$(BIN)/beacon demo ensure --data-dir $(DEMO_DIR)
	$(BIN)/beacon --config $(DEMO_DIR)/settings.toml --data-dir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check app server tests bench
	$(BIN)/ruff format --check app server tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: system-packages $(STAMP) lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO_DIR)
