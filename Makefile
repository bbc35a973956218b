# `make run` and `make test` work on a fresh machine: they create .venv when it is missing.
# `make run` installs only what Paperboy needs to run; `make test` adds the test tools (the `dev` extra).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: run test bench clean

# Create .venv on a first run and say what is happening before the quiet install (about a minute);
# then install $(1): Paperboy alone, or with its test tools.
define install
	@if [ -x $(BIN)/python ]; then echo "Installing $(2) into $(VENV)…"; \
	else echo "First run: installing $(2) into $(VENV) (about a minute)…" && \
	     $(PYTHON) -m venv $(VENV) && $(PIP) install --upgrade pip; fi
	@$(PIP) install -e '$(1)'
endef
TEST_TOOLS := Paperboy and its test tools (pytest, hypothesis, pgserver…)

# Each stamp is redone when pyproject.toml changes; installing the test tools satisfies `make run` too.
$(RUN_STAMP): pyproject.toml
	$(call install,.,Paperboy)
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	$(call install,.[dev],$(TEST_TOOLS))
	@touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/paperboy

# Two workers, each taking whole files: most tests wait on sockets and subprocesses, not the CPU.
# Files go out in collection order, tests/conftest.py's LONGEST_FIRST first (xdist's default sends the
# files with the most tests first, and so the one-test crash files last, where one leaves a worker idle).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
