# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
DEMO_DIR ?= $(CURDIR)/.demo-city

.PHONY: run test lint system-packages demo clean installer installer-smoke

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,server,installer]'
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

# The one-folder bundle of the console in dist/beacon (PyInstaller, build_installer.spec).
installer: $(STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller build_installer.spec

# Builds the bundle and runs it as IT would after installing it (CI does this after the tests).
installer-smoke: system-packages installer
	scripts/smoke_installer.sh dist/beacon

clean:
	rm -rf $(VENV) $(DEMO_DIR) dist build/pyinstaller
