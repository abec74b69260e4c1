# The two set-up commands of the README: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: install demo test test-fast lint typecheck ui reset clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The dbt reports' manifest, which the code location loads the report assets from: a build step
# (`npnflow reports prepare`, i.e. `dbt parse`), never run at import. Redone when dbt_reports
# changes. Called through the module so it works whatever npnflow/cli.py registers.
DBT_MANIFEST := dbt_reports/target/manifest.json
DBT_PROJECT_FILES := $(shell find dbt_reports -path dbt_reports/target -prune -o -path dbt_reports/logs -prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print)

$(DBT_MANIFEST): $(STAMP) $(DBT_PROJECT_FILES)
	$(BIN)/python -m npnflow.reports_cli prepare

install: $(STAMP) $(DBT_MANIFEST)

## Run the main job end to end on the embedded default (SQLite, local bucket, NIPR sandbox of the
## data folder's world). Again on the same data folder, it continues there and says so.
demo: install
	$(BIN)/npnflow demo

## Run the test suite (PostgreSQL tests need a server on 127.0.0.1:5432; CI=true makes them required).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Everything but the daemon, browser and webserver tests (the slow end-to-end ones): a few minutes.
test-fast: install
	$(BIN)/python -m pytest -m "not daemon and not browser and not webserver" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Type-check the product (strict on the rule modules and schemas/; see [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

## The Dagster UI on the persistent local instance, with the NIPR sandbox of the data folder's
## world and the README's sensors running. `npnflow ui` first fails the runs a killed UI or demo
## left Started (`npnflow runs clean-dead`), so they do not fill the run queue.
ui: install
	$(BIN)/npnflow ui

## Delete the data folder (NPNFLOW_DATA_DIR, else .npnflow/): database, bucket, Dagster runs,
## outbox and its NIPR world; the next `make demo` starts a new world. .venv stays.
## A folder with none of the data folder's files in it is refused (a mistyped NPNFLOW_DATA_DIR).
DATA_DIR := $(or $(NPNFLOW_DATA_DIR),.npnflow)
reset:
	@if [ ! -e "$(DATA_DIR)" ]; then echo "No data folder $(DATA_DIR): nothing to delete."; \
	elif [ -e "$(DATA_DIR)/npnflow.db" ] || [ -e "$(DATA_DIR)/nipr_world.yaml" ] || \
	     [ -e "$(DATA_DIR)/dagster_home" ] || [ -e "$(DATA_DIR)/bucket" ]; then \
	  rm -rf -- "$(DATA_DIR)" && \
	  echo "Deleted the data folder $(DATA_DIR); the next make demo starts a new world."; \
	else echo "$(DATA_DIR) holds no npnflow data (no npnflow.db, nipr_world.yaml, dagster_home or bucket): not deleted." >&2; exit 1; fi

## Delete .venv and .npnflow/ (the environment is rebuilt on next use).
clean:
	rm -rf $(VENV) .npnflow
