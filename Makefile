# The commands README and CI use. `make run` and `make test` work on a fresh machine:
# both call `setup`, which is idempotent and quick when nothing changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Two workers, one test file each at a time (module fixtures stay on one worker): most tests
# wait on builds and sandboxes, so the suite takes about 11 minutes instead of 19 on 2 cores.
PYTEST_ARGS ?= -n 2 --dist loadfile
# aws-cdk-lib runs on Node.js through jsii, which prints a banner on Node releases it no longer
# supports; Debian's Node 18/20 synthesize correctly, so keep the output readable.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 18,20

.PHONY: help setup system-deps run doctor test lint format typecheck pytest synth layer openapi clean console

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

NODE_STAMP := node_modules/.installed-stamp
CONSOLE := layers/core/assay/console/static/index.html
CONSOLE_SOURCES := $(shell find console -type f -not -path '*/node_modules/*')

setup: system-deps $(STAMP) $(NODE_STAMP) $(CONSOLE)  ## Create .venv, install Assay and its tools, and what tests need

# System tools; and Rust mutation testing (cargo-mutants) where cargo is and it is not yet.
system-deps:
	@scripts/ensure-system-deps
	@if command -v cargo >/dev/null 2>&1 && ! cargo mutants --version >/dev/null 2>&1; then \
	  echo "setup: installing cargo-mutants (cargo install --locked; takes a few minutes)"; \
	  cargo install --locked --quiet cargo-mutants \
	    || echo "setup: cargo-mutants not installed; Rust analyses run without mutation testing"; \
	fi

# Reinstall only when the project's metadata changed.
$(STAMP): pyproject.toml
	@py=$$(scripts/find-python) && \
	  { [ -x $(BIN)/python ] || $$py -m venv $(VENV); }
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,cdk]"
	@touch $(STAMP)
	@echo "setup: $$($(BIN)/assay --version) installed in $(VENV)"

EXAMPLE_OUT ?= $(or $(ASSAY_HOME),$(HOME)/.assay)/runs/example-shop-$(shell date +%Y%m%d-%H%M%S)
# The console and the Node tools for the tests (asl-validator), pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The console, built into the package: `assay serve` serves it, the CDK app publishes it.
$(CONSOLE): $(NODE_STAMP) $(CONSOLE_SOURCES)
	@npm run --silent build -- --logLevel warn
	@echo "setup: console built into $(dir $(CONSOLE))"

console: $(NODE_STAMP)  ## Rebuild the console (console/ → layers/core/assay/console/static)
	@npm run --silent build

run: setup  ## Analyze the example project with the offline engine and print the summary
	$(BIN)/assay doctor
	$(BIN)/assay analyze examples/shop --engine offline --budget 120 --out "$(EXAMPLE_OUT)"
	@echo
	@cat "$(EXAMPLE_OUT)/summary.md"
	@echo
	@echo "The console: $(BIN)/assay serve, then open http://127.0.0.1:8080/ with the key it prints."

doctor: run

test: setup lint typecheck pytest  ## Lint, format check, type check and the whole test suite

lint:  ## ruff, the formatter check, the architecture's import rules and the console's type check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	npm run --silent typecheck

format:  ## Apply ruff's formatter and autofixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:  ## mypy, strict for the library
	$(BIN)/mypy

pytest:  ## The test suite (starts its own Redis on a free port)
	$(BIN)/pytest $(PYTEST_ARGS)

openapi: setup  ## Regenerate the committed openapi.json from the app
	$(BIN)/python scripts/openapi.py

synth: layer  ## Build the layer, then synthesize the CDK app into cdk.out (no AWS account or Docker)
	CDK_OUTDIR=cdk.out $(BIN)/python app.py
	@echo "synth: templates written to cdk.out/"

# The Lambda layer: the assay wheel and its dependencies, built for the Lambda runtime
# (Python 3.12, manylinux) whatever Python or OS builds it. LAMBDA_ARCH=aarch64 for Graviton.
LAMBDA_ARCH ?= x86_64
layer: setup  ## Build the Lambda layer into build/layer (python/ + assay and its dependencies)
	rm -rf build/layer build/wheels
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps -w build/wheels .
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	  --target build/layer/python --implementation cp --python-version 3.12 \
	  --platform manylinux2014_$(LAMBDA_ARCH) --only-binary=:all: build/wheels/assay-*.whl
	find build/layer -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "layer: $$(du -sm build/layer | cut -f1) MB unzipped in build/layer"
	$(BIN)/python scripts/check-lambda-size build/layer functions/*/

clean:  ## Remove build outputs (keeps .venv)
	rm -rf cdk.out build dist .mypy_cache .ruff_cache .pytest_cache test-artifacts \
	  layers/core/assay/console/static
