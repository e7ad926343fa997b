# Two commands matter: `make nightly` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# platformdirs warns when this is unset (containers, CI) and then uses this very directory
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)

.PHONY: install nightly test bench warehouse-stop clean lint

# Re-install only when the dependency declarations change (a second `make nightly` skips it).
$(STAMP): pyproject.toml constraints.txt
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	@touch $(STAMP)

install: $(STAMP)

# The `bench` extra (dlt, a P1 peer, and pyinstrument): for `make bench` and the tests of the
# benchmarks, not a runtime dependency (`make nightly` does without it).
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	@touch $(BENCH_STAMP)

nightly: install
	$(BIN)/python -m flows.nightly

# pytest exits 5 when it collects nothing: that is a broken setup, never a pass.
test: install $(BENCH_STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

bench: install $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/sqlfluff lint dbt_project/models

warehouse-stop: install
	$(BIN)/python -c "from assetgraph.warehouse import stop_embedded; print('stopped' if stop_embedded() else 'not running')"

clean: warehouse-stop
	rm -rf .warehouse reports data/signups dbt_project/target dbt_project/logs
