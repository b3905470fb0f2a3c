# Commonroom: `make run` serves the demo, `make test` runs every check. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export COMMONROOM_DATA_DIR ?= $(CURDIR)/var
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test install install-test browser libreoffice oidc-provider litmus nginx topology topology-down lint typecheck checks test-sqlite test-postgres bench vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: create .venv, install, migrate the embedded SQLite database, seed the demo, serve on :8000
run: install
	$(BIN)/commonroom migrate --noinput -v 0
	$(BIN)/commonroom demo
	$(BIN)/commonroom serve

## browser: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## libreoffice: LibreOffice Writer, the independent reader of the Word files office/ writes and
## the renderer of certificate PDFs, with the fonts the certificate page is set in (DejaVu Sans,
## Droid Sans Fallback for Chinese, Japanese, Korean names)
## (after browser: two apt-get runs at once would fight over dpkg's lock)
libreoffice: | browser
	@command -v soffice >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-writer >/dev/null; }
	@test -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf -a -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-dejavu-core fonts-droid-fallback >/dev/null; }

## oidc-provider: the real OpenID provider the single sign-on tests start on loopback
## (tests/oidc: panva's certified oidc-provider, pinned by its lockfile; Node.js from Debian)
oidc-provider:
	@command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@test -d tests/oidc/node_modules/oidc-provider || npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error

## litmus: the WebDAV conformance suite the /dav/ tests run against a real server (Debian's
## package; after oidc-provider: two apt-get runs at once would fight over dpkg's lock)
litmus: | oidc-provider
	@command -v litmus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq litmus >/dev/null; }

## nginx: Debian's nginx, the reverse proxy of the production topology (run as this user with
## its own configuration under var/topology/nginx; the system's site and service are left alone;
## after litmus: two apt-get runs at once would fight over dpkg's lock)
nginx: | litmus
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

## topology: the production topology on loopback (scripts/topology.sh, docs/deploy.md): nginx on
## :8480 in front of two app processes, two workers, PostgreSQL, Redis and an S3 server
topology: install-test nginx
	TOPOLOGY_PYTHON=$(CURDIR)/$(BIN)/python scripts/topology.sh up

topology-down:
	scripts/topology.sh down

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

typecheck: install-test
	$(BIN)/mypy src

test-sqlite: install-test browser libreoffice oidc-provider litmus nginx
	COMMONROOM_TEST_SHARE=sqlite $(BIN)/pytest -p no:cacheprovider -q --durations=40

test-postgres: install-test browser libreoffice oidc-provider litmus nginx
	COMMONROOM_TEST_SHARE=postgres scripts/with-postgres.sh "$(PG_URL)" $(BIN)/pytest -p no:cacheprovider -q --durations=40

## test: lint and types, and the whole suite on SQLite and on PostgreSQL, side by side (the
## checks in a third slot, a minute or two; each part's output printed whole when it ends; any
## failure fails the whole). COMMONROOM_TEST_SHARE lets the two runs share what the database
## cannot change (conftest.py): browser tests in the SQLite run, tests that reach no database
## (the deploy files' among them) and the topology's in the PostgreSQL run, and tests marked
## one_run in the run they name; every other test runs in both.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target checks test-sqlite test-postgres

checks: lint typecheck

## bench: figures written to docs/benchmarks.md (never a pass/fail on timing); bench.inprocess,
## cheap (about 30 s), only prints: the pages' CPU per request in one process, which the
## hand-written sections of docs/benchmarks.md cite
bench: install-test
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.upload_floor
	$(BIN)/python -m bench.inprocess
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.previews
	$(BIN)/python -m bench.watermarks
	$(BIN)/python -m bench.chains
	$(BIN)/python -m bench.amend
	$(BIN)/python -m bench.certificate
	$(BIN)/python -m bench.webdav
	$(BIN)/python -m bench.audit_trail
	$(BIN)/python -m bench.api_lists
	$(BIN)/python -m bench.small_uploads
	$(BIN)/python -m bench.topology_load
	$(BIN)/python -m bench.topology_throughput

## vendor: refresh the committed front-end files from the npm lockfile (needs Node.js)
vendor:
	npm ci && npm run vendor

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
