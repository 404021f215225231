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

.PHONY: help demo test test-matrix system-deps venv collection-link activate-hook lint ps1-check sanity pytest unit integration core-target build bench clean

help:
	@echo "make demo   - start simulated Windows hosts dc01, sql02, web01 and run the one-to-many demo"
	@echo "make test   - the whole test suite: lint, mypy, ansible-lint, sanity, .ps1 syntax, pytest, ansible-core's psrp target, matrix"
	@echo "make test-matrix - a test subset against the oldest and newest supported ansible-core"
	@echo "make bench  - benchmarks against ansible.builtin.psrp (bench/run)"

## System packages (Kerberos headers for gssapi, MIT KDC for winhost). apt-get when root.
system-deps:
	@tools/system-deps.sh

## Virtual environment, in two stages so that `make demo` starts after installing wheels only:
## 1. what the demo runs: the runtime requirements without pypsrp's Kerberos extra, ansible-core,
##    ansible (ansible.windows, ansible.posix), psrpcore and winhost (about 1.5 minutes);
## 2. for `make test`/`make venv`: the test tools and the Kerberos extra (pyspnego[kerberos]:
##    gssapi and krb5). PyPI has no Linux wheels of gssapi or krb5 (only macOS/Windows), so pip
##    compiles them against libkrb5-dev: about 5 to 7 minutes on 2 CPUs.
REQ_NO_KERBEROS := $(BUILD)/requirements-no-kerberos.txt
DEMO_REQUIREMENTS := $(shell grep -E '^(ansible-core|ansible|psrpcore)[<>=]' test-requirements.txt)
$(VENV)/.stamp-demo: requirements.txt test-requirements.txt tests/winhost/pyproject.toml
	@echo "==> [1/4] Python virtual environment $(VENV) ($(PYTHON)) and the latest pip"
	@test -x $(VBIN)/python || $(PYTHON) -m venv $(VENV)
	$(VBIN)/python -m pip install --upgrade pip
	@echo "==> [2/4] For the demo: ansible-core, ansible, pypsrp (NTLM, CredSSP), psrpcore, winhost (wheels only)"
	@mkdir -p $(BUILD)
	@sed 's/\[kerberos,credssp\]/[credssp]/' requirements.txt > $(REQ_NO_KERBEROS)
	@! grep -q '^[^#]*kerberos' $(REQ_NO_KERBEROS) || \
		{ echo "Makefile: cannot leave the Kerberos extra out of requirements.txt; update REQ_NO_KERBEROS" >&2; exit 1; }
	$(VBIN)/python -m pip install -r $(REQ_NO_KERBEROS) $(foreach r,$(DEMO_REQUIREMENTS),'$(r)') -e tests/winhost
	@touch $@

$(VENV)/.stamp: $(VENV)/.stamp-demo
	@echo "==> [3/4] Test tools (test-requirements.txt: pytest, ruff, mypy, ansible-lint, ...)"
	@echo "==> [4/4] and pypsrp's Kerberos extra: gssapi and krb5 have no Linux wheels on PyPI, pip compiles"
	@echo "    them from source against libkrb5-dev (make system-deps): about 5-7 minutes on 2 CPUs"
	$(VBIN)/python -m pip install -r test-requirements.txt -e tests/winhost
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

demo: $(VENV)/.stamp-demo collection-link activate-hook
	@echo "==> Demo (then: . $(VENV)/bin/activate; ansible-doc psremoting.core.invoke_command)"
	$(VBIN)/python tools/demo.py

## Static checks (a wip merge once dropped this target while `test` still named it: make ran
## nothing for it; tests/unit/test_makefile.py now checks every target `test` depends on has a rule).
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

## Two phases: everything but the `serial` tests in parallel, then those one at a time. The serial
## ones (1,000 and 200 simulated hosts) load every CPU themselves: beside the parallel phase on a
## 2-CPU CI machine they starved it and were starved (read timeouts, a 3-5x slower suite).
## With PYTEST_ARGS naming some tests, a phase may find none of them (pytest's exit code 5): fine
## then; without PYTEST_ARGS exit code 5 fails as any other.
NO_TESTS_OK := { rc=$$?; [ $$rc -eq 5 ] && [ -n "$(strip $(PYTEST_ARGS))" ] || exit $$rc; }
pytest: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not serial" $(PYTEST_ARGS) || $(NO_TESTS_OK)
	$(VBIN)/python -m pytest -n 0 -m serial $(PYTEST_ARGS) || $(NO_TESTS_OK)

unit: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/unit $(PYTEST_ARGS)

integration: venv
	$(VBIN)/python -m pytest -n $(PYTEST_WORKERS) tests/integration tests/conformance $(PYTEST_ARGS)

## ansible-core's own connection_psrp integration target against winhost, for ansible.builtin.psrp
## and psremoting.core.psrp (known winhost gaps: tools/ansible-core-psrp-known-failures.txt).
core-target: venv
	tools/ansible-core-psrp-target.sh

test: venv lint sanity pytest core-target test-matrix

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
