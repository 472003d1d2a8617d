# Entry points. `make demo` shows ddb-audit working; `make test` runs every check CI runs.
# Every target that needs the pinned Python tools (moto, pytest, sam, cargo-lambda, cfn-lint,
# checkov) finds them in .tools/bin, which `make setup` (scripts/setup) fills.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
export DDB_AUDIT_TOOLS := $(TOOLS)

# The steps of `make test`, in order.
TEST_STEPS := setup lint rust-test py-test template-check

.PHONY: help setup demo lint fmt clippy unit rust-test py-test template-check test

help:
	@echo "make setup           install the pinned tools into .tools/ (idempotent)"
	@echo "make demo            set up, then run scripts/demo"
	@echo "make test            every check: $(TEST_STEPS)"
	@echo "make lint            cargo fmt --check and clippy -D warnings"
	@echo "make rust-test       cargo test (alias: unit)"
	@echo "make py-test         pytest tests/py"
	@echo "make template-check  scripts/check-template (template lint, build, tests)"

setup:
	scripts/setup

demo: setup
	scripts/demo

# Both checks run even when the first fails, so one run shows every problem.
lint:
	@rc=0; \
	echo "cargo fmt --all -- --check"; cargo fmt --all -- --check || rc=1; \
	echo "cargo clippy --all-targets -- -D warnings"; cargo clippy --all-targets -- -D warnings || rc=1; \
	exit $$rc

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --all-targets -- -D warnings

unit rust-test:
	cargo test

py-test:
	@if compgen -G 'tests/py/test_*.py' >/dev/null; then \
	  echo "pytest tests/py"; pytest -q tests/py; \
	else echo "py-test: no tests/py/test_*.py, nothing to run"; fi

template-check:
	@if [[ -f scripts/check-template ]]; then \
	  echo "scripts/check-template"; bash scripts/check-template; \
	else echo "template-check: no scripts/check-template yet, nothing to run"; fi

# Runs every step even after a failure (so one run shows every problem), except that nothing
# runs after a failed setup; prints a summary; fails if any step failed.
test:
	@failed=(); summary=(); \
	for step in $(TEST_STEPS); do \
	  echo; echo "===== make $$step"; start=$$SECONDS; \
	  if $(MAKE) --no-print-directory $$step; then result=PASS; else result=FAIL; failed+=($$step); fi; \
	  summary+=("$$(printf '%-4s  %-15s %4ds' $$result $$step $$((SECONDS - start)))"); \
	  if [[ $$step == setup && $$result == FAIL ]]; then summary+=("SKIP  (everything after setup)"); break; fi; \
	done; \
	echo; echo "===== make test summary"; printf '  %s\n' "$${summary[@]}"; \
	if (($${#failed[@]})); then echo "make test: FAILED: $${failed[*]}"; exit 1; fi; \
	echo "make test: all passed"
