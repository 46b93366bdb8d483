# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi
APT_PACKAGES := nginx libnginx-mod-http-brotli-static chromium wrk caddy

.PHONY: run test test-fast lint bench services system-deps install clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Start the app on SQLite with in-process jobs and the sandbox payment provider.
# Links in mails and checkout return URLs follow the port, unless PUBLIC_URL says otherwise.
run: export PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: install
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) demo
	@echo "Lavish is running at $$PUBLIC_URL/"
	$(FLASK) run --port $(PORT)

## Debian packages the tests drive for real: Nginx and its brotli static module (hosted sites'
## precompressed files), Chromium, Caddy (on-demand TLS for custom domains), wrk (benchmarks).
system-deps:
	@missing=""; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	ls /usr/lib/nginx/modules/ngx_http_brotli_static_module.so >/dev/null 2>&1 \
		|| missing="$$missing libnginx-mod-http-brotli-static"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v caddy >/dev/null || missing="$$missing caddy"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## PostgreSQL and Redis on loopback, started when they are not running.
services:
	@pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done

lint: install
	$(BIN)/ruff check lavish jobs tests bench wsgi.py

## The whole suite, against real PostgreSQL and Redis and against SQLite.
test: install system-deps services lint
	$(BIN)/pytest

bench: install system-deps services
	$(BIN)/python -m bench.hosting
	$(BIN)/python -m bench.portal

clean:
	rm -rf $(VENV) instance/lavish.db
