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

.PHONY: help demo test test-matrix system-deps venv collection-link activate-hook lint ps1-check sanity pytest unit integration build bench clean

help:
	@echo "make demo   - start simulated Windows hosts dc01, sql02, web01 and run the one-to-many demo"
	@echo "make test   - the whole test suite: lint, mypy, ansible-lint, sanity, .ps1 syntax, pytest"
	@echo "make test-matrix - a test subset against the oldest and newest supported ansible-core"
	@echo "make bench  - benchmarks against ansible.builtin.psrp (bench/run)"

## System packages (Kerberos headers for gssapi, MIT KDC for winhost). apt-get when root.
system-deps:
	@tools/system-deps.sh

## Virtual environment, in two stages so that `make demo` starts without compiling anything:
## 1. everything but pypsrp's Kerberos extra (wheels only: about 1 to 2 minutes from PyPI);
## 2. the Kerberos extra (pyspnego[kerberos]: gssapi and krb5). PyPI has no Linux wheels of gssapi
##    or krb5 (only macOS/Windows), so pip compiles them against libkrb5-dev: about 5 to 7 minutes
##    on 2 CPUs. `make test` and `make venv` need it; the demo (NTLM) does not.
REQ_NO_KERBEROS := $(BUILD)/requirements-no-kerberos
$(VENV)/.stamp-base: requirements.txt test-requirements.txt tests/winhost/pyproject.toml
	@echo "==> [1/3] Python virtual environment $(VENV) ($(PYTHON))"
	@test -x $(VBIN)/python || $(PYTHON) -m venv $(VENV)
	$(VBIN)/python -m pip install --upgrade pip
	@echo "==> [2/3] ansible-core, ansible, pypsrp (NTLM, CredSSP), test tools, winhost: wheels, about 1-2 minutes"
	@mkdir -p $(REQ_NO_KERBEROS)
	@sed 's/\[kerberos,credssp\]/[credssp]/' requirements.txt > $(REQ_NO_KERBEROS)/requirements.txt
	@! grep -q '^[^#]*kerberos' $(REQ_NO_KERBEROS)/requirements.txt || \
		{ echo "Makefile: cannot leave the Kerberos extra out of requirements.txt; update REQ_NO_KERBEROS" >&2; exit 1; }
	@cp test-requirements.txt $(REQ_NO_KERBEROS)/
	$(VBIN)/python -m pip install -r $(REQ_NO_KERBEROS)/test-requirements.txt -e tests/winhost
	@touch $@

$(VENV)/.stamp: $(VENV)/.stamp-base
	@echo "==> [3/3] pypsrp's Kerberos extra: gssapi and krb5 have no Linux wheels on PyPI and compile"
	@echo "    from source against libkrb5-dev (make system-deps): about 5-7 minutes on 2 CPUs"
	$(VBIN)/python -m pip install -r requirements.txt
	@touch $@

venv: system-deps $(VENV)/.stamp collection-link activate-hook

## ansible_collections/psremoting/core -> this checkout, so Ansible and Python find the collection;
## the venv's activate script puts it on ANSIBLE_COLLECTIONS_PATH (ansible-doc psremoting.core.*).
collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../.. $(COLLECTION_LINK)

ACTIVATE_HOOK := export ANSIBLE_COLLECTIONS_PATH="$(BUILD):$${ANSIBLE_COLLECTIONS_PATH:-$$HOME/.ansible/collections:/usr/share/ansible/collections}"  \# psremoting.core checkout
activate-hook:
	@grep -qF '# psremoting.core checkout' $(VENV)/bin/activate || echo '$(ACTIVATE_HOOK)' >> $(VENV)/bin/activate

demo: $(VENV)/.stamp-base collection-link activate-hook
	@echo "==> Demo (. $(VENV)/bin/activate, then ansible-doc psremoting.core.invoke_command, ansible-playbook ...)"
	$(VBIN)/python tools/demo.py

## ansible-test needs the collection at a real ansible_collections/<ns>/<name> path: copy it there.
sanity: venv
	@tools/sanity.sh

pytest: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

unit: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/unit $(PYTEST_ARGS)

integration: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/integration tests/conformance $(PYTEST_ARGS)

test: venv lint sanity pytest

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
