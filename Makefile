# The two commands: `make demo` and `make test`. Each creates .venv when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help demo test check bench soak fmt lint types imports venv deps bytecode clean

help:
	@echo "make demo   start a simulated house headless and open gwtui on it"
	@echo "make test   run the whole test suite (installs mosquitto and tmux if it can)"
	@echo "make check  format check, lint, types, import contracts, tests"
	@echo "make bench  run the benchmarks under bench/ and print their figures"
	@echo "make soak   a simulated week of the largest house under a fault an hour (SOAK_ARGS)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (apt-get install python3 python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): install python3-venv (apt-get install python3-venv)"; exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plot]'
	@touch $(STAMP)

venv: $(STAMP)

# Compiled up front (only what changed): with bytecode writing off (PYTHONDONTWRITEBYTECODE,
# as in CI), every `scada serve` and `sim atn` the tests start would compile the packages
# again, about a third of a second each.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 scada sim gwtui tests bench >/dev/null

# The tests run a real mosquitto broker and a real terminal (tmux). Install them when we can.
deps:
	@missing=""; \
	for pkg in mosquitto:mosquitto mosquitto_sub:mosquitto-clients tmux:tmux openssl:openssl; do \
		tool=$${pkg%%:*}; \
		command -v $$tool >/dev/null 2>&1 || test -x /usr/sbin/$$tool || missing="$$missing $${pkg#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "the tests need:$$missing — install with: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi

demo: bytecode
	$(BIN)/python -m sim.demo

test: bytecode deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

check: lint types imports test

bench: bytecode deps
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

SOAK_ARGS ?=
soak: bytecode deps
	$(BIN)/sim soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info

# Install / remove the SCADA as the systemd service gwscada on a Raspberry Pi (README:
# "Running on a Raspberry Pi"). The installer is standard-library Python, so it runs with the
# system's python3 before any virtual environment exists; it asks for sudo when not root.
.PHONY: install-pi uninstall-pi
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
INSTALL_ARGS ?=

install-pi:
	$(SUDO) python3 -B -m scada.install install $(INSTALL_ARGS)

uninstall-pi:
	$(SUDO) python3 -B -m scada.install uninstall $(INSTALL_ARGS)
