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

.PHONY: install nightly test bench stop warehouse-stop prefect-stop clean lint

# Re-install only when the dependency declarations change (a second `make nightly` skips it).
# The wheel holds the asset layer only (`assetgraph`); this repo's own code (flows/, sync/,
# quality/, scheduling.py) goes on the venv's path through a .pth file naming the repo, as a
# team's repo would be: the library installed, the project code next to it.
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
PTH    := $(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "assetgraph_template.pth").write_text("$(CURDIR)\n")'
TEST_STAMP := $(VENV)/.installed-test

$(STAMP): pyproject.toml constraints.txt
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[template]'
	@$(PTH)
	@touch $(STAMP)

# the test tools (pytest, moto, playwright, ...) are the `test` extra, never runtime requirements
$(TEST_STAMP): $(STAMP)
	$(PIP) -e '.[template,test]'
	@touch $(TEST_STAMP)

install: $(STAMP)

# The `bench` extra (dlt, a P1 peer, and pyinstrument): for `make bench` and the tests of the
# benchmarks, not a runtime dependency (`make nightly` does without it).
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PIP) -e '.[template,bench]'
	@touch $(BENCH_STAMP)

nightly: install
	$(BIN)/python -m flows.nightly

# pytest exits 5 when it collects nothing: that is a broken setup, never a pass.
test: install $(TEST_STAMP) $(BENCH_STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

bench: install $(TEST_STAMP) $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/sqlfluff lint dbt_project/models

warehouse-stop: install
	$(BIN)/python -c "from assetgraph.warehouse import stop_embedded; print('stopped' if stop_embedded() else 'not running')"

# The local services `make nightly` and the CLI start and leave running: the embedded warehouse
# (.warehouse/) and the Prefect server (.prefect/, its UI at the URL each run prints).
stop: warehouse-stop prefect-stop

prefect-stop: install
	$(BIN)/python -m assetgraph._prefect_server stop

clean: stop
	rm -rf .warehouse .prefect reports data/signups dbt_project/target dbt_project/logs
