# Yuqing: `make run` sets everything up and serves the desk; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run run-cluster install assets test test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,cluster]'
	touch $@

$(VENV)/.installed-cluster: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[cluster]'
	touch $@

install: $(VENV)/.installed assets

# Third-party browser code (HTMX) comes from the npm registry, pinned in package-lock.json,
# and is copied into the package's static folder; it is never committed.
assets: src/yuqing/web/static/vendor/.stamp

src/yuqing/web/static/vendor/.stamp: package.json package-lock.json | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && $(BIN)/python scripts/vendor_assets.py && touch $@; \
	else \
		echo "npm 不可用：页面仍可使用，只是没有 HTMX 的局部刷新（安装 Node.js 后重新运行 make）"; \
	fi

run: install
	$(BIN)/yuqing init
	$(BIN)/yuqing demo
	$(BIN)/yuqing serve

# Queue mode on one machine: the API, two analysis workers, the ordered consumer and a
# notification worker against local PostgreSQL and Redis (docs/scaling.md).
run-cluster: $(VENV)/.installed-cluster assets
	BIN=$(BIN) bash scripts/run_cluster.sh

test: $(VENV)/.installed-test assets
	$(BIN)/python -m pytest -q

test-postgres: $(VENV)/.installed-test assets
	YUQING_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -q -m "not browser"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/fixtures.py

clean:
	rm -rf $(VENV) node_modules src/yuqing/web/static/vendor
