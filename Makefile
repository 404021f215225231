# psremoting.core developer entry points. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
VBIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTION_LINK := $(BUILD)/ansible_collections/psremoting/core
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 4
# CI runs everything it can install, the 200-host reliability test included
export PSREMOTING_RUN_SLOW ?= 1
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export PATH := $(VBIN):$(PATH)

.PHONY: help demo test test-matrix system-deps venv collection-link lint ps1-check sanity pytest unit integration core-target build bench clean

help:
	@echo "make demo   - start simulated Windows hosts dc01, sql02, web01 and run the one-to-many demo"
	@echo "make test   - the whole test suite: lint, mypy, ansible-lint, sanity, .ps1 syntax, pytest, ansible-core's psrp target"
	@echo "make test-matrix - a test subset against the oldest and newest supported ansible-core"
	@echo "make bench  - benchmarks against ansible.builtin.psrp (bench/run)"

## System packages (Kerberos headers for gssapi, MIT KDC for winhost). apt-get when root.
system-deps:
	@tools/system-deps.sh

## Virtual environment with runtime + test requirements and winhost (editable).
$(VENV)/.stamp: requirements.txt test-requirements.txt tests/winhost/pyproject.toml
	@test -x $(VBIN)/python || $(PYTHON) -m venv $(VENV)
	$(VBIN)/python -m pip install --quiet --upgrade pip
	$(VBIN)/python -m pip install --quiet -r test-requirements.txt
	$(VBIN)/python -m pip install --quiet -e tests/winhost
	@touch $@

venv: system-deps $(VENV)/.stamp collection-link

## ansible_collections/psremoting/core -> this checkout, so Ansible and Python find the collection.
collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../.. $(COLLECTION_LINK)

demo: venv
	$(VBIN)/python tools/demo.py

lint: venv
	$(VBIN)/ruff check .
	$(VBIN)/ruff format --check .
	$(VBIN)/mypy
	$(VBIN)/python tools/check_ps1.py
	$(VBIN)/ansible-lint --offline roles playbooks
	$(VBIN)/antsibull-changelog lint

ps1-check: venv
	$(VBIN)/python tools/check_ps1.py

## ansible-test needs the collection at a real ansible_collections/<ns>/<name> path: copy it there.
sanity: venv
	@tools/sanity.sh

pytest: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

unit: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/unit $(PYTEST_ARGS)

integration: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/integration tests/conformance $(PYTEST_ARGS)

## ansible-core's own connection_psrp integration target against winhost, for ansible.builtin.psrp
## and psremoting.core.psrp (known winhost gaps: tools/ansible-core-psrp-known-failures.txt).
core-target: venv
	tools/ansible-core-psrp-target.sh

test: venv lint sanity pytest core-target

## The oldest and newest ansible-core lines meta/runtime.yml claims, each in its own venv under
## .build/matrix (tools/version-matrix.sh; PSREMOTING_MATRIX="2.20:3.12" picks others).
test-matrix: venv
	tools/version-matrix.sh

build: venv
	$(VBIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist

bench: venv
	bench/run

clean:
	rm -rf $(BUILD) .mypy_cache .ruff_cache
