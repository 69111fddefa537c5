# The two commands: `make run` starts the studio, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What `make run` needs (requirements.txt), and what tests and linters add (requirements-dev.txt).
RUNTIME := $(VENV)/.runtime-$(shell cat requirements.txt pyproject.toml | md5sum | cut -c1-12)
DEV := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | md5sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint format check-deploy chromium tools sandbox clean

$(RUNTIME): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned requirements into $(VENV)…"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -r requirements.txt
	@$(BIN)/python -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.runtime-* $(VENV)/.installed-*
	@touch $(RUNTIME)

$(DEV): $(RUNTIME) requirements-dev.txt
	@echo "Installing the test and lint requirements into $(VENV)…"
	@$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.dev-*
	@touch $(DEV)

run: $(RUNTIME) sandbox
	@$(BIN)/python manage.py runstudio

test: $(DEV) chromium tools sandbox
	$(BIN)/python -m tests.run_suite $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Django's deployment checklist with production-like settings.
check-deploy: $(RUNTIME)
	DEBUG=false STUDIO_HTTPS=true SECRET_KEY="$$(head -c 48 /dev/urandom | base64)" \
	  ALLOWED_HOSTS=studio.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

# Browser tests use Debian's Chromium; Playwright never downloads a browser of its own.
chromium:
	@test -x $(CHROMIUM) || { echo "Installing Chromium from Debian…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# User code (jobs, environment builds) runs in a bubblewrap sandbox; without it the studio is single-user.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(uname -s)" = Linux ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing bubblewrap from Debian (the sandbox for user code)…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap is not installed: jobs will run without a sandbox and the studio stays single-user."; \
	    echo "  Install it with: sudo apt-get install bubblewrap  (Fedora: sudo dnf install bubblewrap)"; \
	  fi; }

# Azurite (Azure Blob Storage emulator) for the storage tests, pinned in .tools/package-lock.json.
tools: .tools/node_modules/.bin/azurite-blob

.tools/node_modules/.bin/azurite-blob: .tools/package.json .tools/package-lock.json
	@cd .tools && npm ci --no-audit --no-fund --silent
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
