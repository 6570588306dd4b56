# chaoslab — two entry points: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Recursive (=) on purpose: looked up again after the `uv` target may have installed it.
UV = $(shell command -v uv 2>/dev/null || { [ -x $(HOME)/.local/bin/uv ] && echo $(HOME)/.local/bin/uv; } || echo python3 -m uv)
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin))
APT_PACKAGES :=
ifeq ($(PG_BIN),)
APT_PACKAGES += postgresql
endif
ifeq ($(shell command -v prometheus 2>/dev/null),)
APT_PACKAGES += prometheus
endif
ifeq ($(shell command -v promtool 2>/dev/null),)
APT_PACKAGES += prometheus
endif
ifeq ($(shell command -v prometheus-alertmanager 2>/dev/null),)
APT_PACKAGES += prometheus-alertmanager
endif
ifeq ($(shell command -v chromium 2>/dev/null),)
APT_PACKAGES += chromium
endif
ifeq ($(shell command -v docker-compose 2>/dev/null),)
APT_PACKAGES += docker-compose
endif
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help run test deps system-deps uv lint typecheck rules-test unit integration

help:
	@echo "make run   - install what is missing and run the default scenario (pool-exhaustion)"
	@echo "make test  - install what is missing and run lint, type checks and the whole test suite"

uv:
	@if ! command -v uv >/dev/null 2>&1 && [ ! -x "$(HOME)/.local/bin/uv" ]; then \
		echo "==> installing uv"; \
		python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv; \
	fi

system-deps:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then \
		echo "==> installing Debian packages:$(sort $(APT_PACKAGES))"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(sort $(APT_PACKAGES)); \
	fi

deps: uv system-deps
	@$(UV) sync --frozen --quiet

lint: deps
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: deps
	$(UV) run mypy

# The whole suite, the whole catalog with its control runs included (on one `chaoslab up` stack).
test: lint typecheck
	$(UV) run pytest

run: deps
	$(UV) run chaoslab run pool-exhaustion
