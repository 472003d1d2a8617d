# Entry points. `make demo` shows ddb-audit working; `make test` runs every check CI runs.
# Every target that needs the pinned Python tools (moto, pytest, sam, cargo-lambda, cfn-lint,
# checkov) finds them in .tools/bin, which `make setup` (scripts/setup) fills.
# Every step that can take minutes runs under scripts/alive, which passes its output through
# and prints a line after each 10 s of silence, so no step looks hung.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
export DDB_AUDIT_TOOLS := $(TOOLS)
ALIVE := scripts/alive

# The steps of `make test`, in order.
TEST_STEPS := setup lint fuzz-check rust-test py-test template-check

.PHONY: help setup demo lint fuzz-check fmt clippy unit rust-test py-test template-check release-check test

help:
	@echo "make setup           install the pinned tools into .tools/ (idempotent)"
	@echo "make demo            scripts/demo: installs only what it uses (moto, cargo-lambda), then runs"
	@echo "make test            every check: $(TEST_STEPS)"
	@echo "make lint            cargo fmt --check and clippy -D warnings"
	@echo "make fuzz-check      the fuzz targets still build (cargo check in fuzz/)"
	@echo "make rust-test       cargo test (alias: unit)"
	@echo "make py-test         pytest tests/py"
	@echo "make template-check  scripts/check-template (template lint, dev-profile sam build, tests)"
	@echo "make release-check   scripts/check-template --release (sam build as for a deployment)"

setup:
	scripts/setup

# The demo runs `scripts/setup --only test,cargo-lambda` itself: it needs nothing else.
demo:
	scripts/demo

# Both checks run even when the first fails, so one run shows every problem.
lint:
	@rc=0; \
	echo "cargo fmt --all -- --check"; cargo fmt --all -- --check || rc=1; \
	echo "cargo clippy --workspace --all-targets -- -D warnings"; \
	  $(ALIVE) --tty-direct "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings || rc=1; \
	exit $$rc

# The fuzz targets build against ddb-audit-core; checking them here keeps them from rotting
# (running them needs cargo-fuzz: docs/fuzzing.md).
fuzz-check:
	cd fuzz && $(CURDIR)/$(ALIVE) "cargo check (fuzz)" cargo check --quiet

fmt:
	cargo fmt --all -- --check

clippy:
	$(ALIVE) --tty-direct "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings

# Compiling shows cargo's progress (a bar on a terminal); the run prints a line after each 10 s
# of silence (the property tests run for a minute or two).
unit rust-test:
	$(ALIVE) --tty-direct "cargo test (build)" cargo test --workspace --no-run
	$(ALIVE) "cargo test" cargo test --workspace --no-fail-fast

# The binaries the Python tests run are built first, in view (the fixtures' own builds are then
# no-ops and would otherwise compile inside pytest, silently).
py-test:
	@if compgen -G 'tests/py/test_*.py' >/dev/null; then \
	  echo "cargo build --bin ddb-audit --bin ddb-audit-lambda"; \
	  $(ALIVE) --tty-direct "cargo build" cargo build --bin ddb-audit --bin ddb-audit-lambda && \
	  echo "pytest tests/py" && $(ALIVE) pytest pytest -q tests/py; \
	else echo "py-test: no tests/py/test_*.py, nothing to run"; fi

template-check:
	@if [[ -f scripts/check-template ]]; then \
	  echo "scripts/check-template"; bash scripts/check-template; \
	else echo "template-check: no scripts/check-template yet, nothing to run"; fi

# Not in `make test`: the release build `sam build` makes for a deployment (the slowest build).
release-check:
	bash scripts/check-template --release

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
