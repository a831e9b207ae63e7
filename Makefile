# paperfeed's developer commands.  The README's two are `make demo` (runs the
# service on SQLite with the bundled sample papers) and `make test` (runs the
# suite on SQLite, then again on a throwaway PostgreSQL); CI runs `make test`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned and installed on its own, first: the CPU wheel is in the local
# wheelhouse, and a resolver left to choose pulls gigabytes of CUDA libraries.
TORCH := torch==2.13.0
# Optional dependency groups (pyproject.toml) that `make install` installs; add new ones here.
EXTRAS := search,test,mcp
comma := ,
# Reinstalls when pyproject.toml or EXTRAS change; otherwise `make install` does nothing.
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install demo test lint bench-ingest

help:
	@echo "make demo          run paperfeed on SQLite with the bundled sample papers (DEMO_ARGS='--port 8001')"
	@echo "make test          run the test suite on SQLite, then on a throwaway PostgreSQL (PYTEST_ARGS='-x -k ingest')"
	@echo "make install       create .venv with paperfeed and its extras ($(EXTRAS))"
	@echo "make lint          ruff check"
	@echo "make bench-ingest  ingestion benchmark (BENCH_ARGS=...)"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar off '$(TORCH)'
	$(BIN)/python -m pip install --progress-bar off -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(BIN)/paperfeed demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .

# Benchmarks score retrieval with ranx, which is too heavy to install for every test run.
bench-ingest: install
	$(BIN)/python benchmarks/ingest.py $(BENCH_ARGS)

# Tests never reach the Hugging Face hub: models come from installed packages.
test: export HF_HUB_OFFLINE := 1
test: export TOKENIZERS_PARALLELISM := false

# The whole suite once per database, both passes at once: most tests wait on a browser, a
# server or a subprocess, so two passes on two cores take ~60% of their time one after the
# other.  The SQLite pass prints as it goes; the PostgreSQL pass's output is kept in a file and
# printed when both are done.  Exit status 5 (no tests collected) is a failure like any other.
# The PostgreSQL pass is skipped, saying so, only when no PostgreSQL server is installed and
# this is not CI (CI=true makes it an error).
test: install
	@failed=()
	skipped=
	run_pass() {  # run_pass NAME ENV-ARGS...: run the suite with `env ENV-ARGS...`
	    local name=$$1 start=$$SECONDS rc=0
	    shift
	    echo "== make test: $$name pass"
	    env "$$@" $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?
	    if [[ $$rc == 5 ]]; then
	        echo "make test: the $$name pass collected no tests, which counts as a failure"
	    fi
	    echo "== make test: $$name pass exited $$rc after $$((SECONDS - start)) s"
	    return $$rc
	}
	pg_pid=
	if bash scripts/postgres.sh bindir >/dev/null 2>&1; then
	    pgdir=$$(mktemp -d "$${TMPDIR:-/tmp}/paperfeed-pg.XXXXXX")
	    cleanup() {
	        [[ -z "$$pg_pid" ]] || kill "$$pg_pid" 2>/dev/null || true
	        bash scripts/postgres.sh stop "$$pgdir" || true
	        rm -rf "$$pgdir"
	    }
	    trap cleanup EXIT
	    trap 'exit 130' INT TERM
	    start=$$SECONDS
	    if url=$$(bash scripts/postgres.sh start "$$pgdir"); then
	        echo "== make test: PostgreSQL $$($$(bash scripts/postgres.sh bindir)/postgres --version | awk '{print $$3}') at $$url, started in $$((SECONDS - start)) s; its pass runs alongside, output in $$pgdir/pass.log"
	        run_pass PostgreSQL PAPERFEED_TEST_POSTGRES_URL="$$url" >"$$pgdir/pass.log" 2>&1 </dev/null &
	        pg_pid=$$!
	    else
	        echo "make test: could not start PostgreSQL (see above)"
	        failed+=(PostgreSQL)
	    fi
	elif [[ -n "$${CI:-}" && "$${CI}" != false && "$${CI}" != 0 ]]; then
	    echo "make test: no PostgreSQL server (initdb, pg_ctl, postgres) found, and CI must run the PostgreSQL pass: install postgresql"
	    failed+=(PostgreSQL)
	else
	    skipped=" (PostgreSQL pass SKIPPED, see above)"
	    echo "make test: PostgreSQL pass SKIPPED: no PostgreSQL server (initdb, pg_ctl, postgres) found via pg_config --bindir, /usr/lib/postgresql/*/bin or PATH; install it (Debian: apt-get install postgresql) to run the suite on PostgreSQL too"
	fi
	run_pass SQLite -u PAPERFEED_TEST_POSTGRES_URL || failed+=(SQLite)
	if [[ -n "$$pg_pid" ]]; then
	    rc=0
	    wait "$$pg_pid" || rc=$$?
	    pg_pid=
	    cat "$$pgdir/pass.log"
	    [[ $$rc == 0 ]] || failed+=(PostgreSQL)
	fi
	if (($${#failed[@]})); then
	    echo "make test: FAILED: $${failed[*]}"
	    exit 1
	fi
	echo "make test: passed$${skipped:- on SQLite and PostgreSQL}"
