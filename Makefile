# Every public target does its own set-up: a fresh machine needs only Python 3.11, make and npm.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
TOOLS := .tools
# Node 22 LTS and the CDK CLI come from the npm registry into .tools/, exactly as .tools/package-lock.json
# records them (the machine's Node 20 is end-of-life and makes jsii print a banner).
NODE_ARCH := $(shell uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')
NODE_PKG := node-linux-$(NODE_ARCH)

export PATH := $(CURDIR)/$(TOOLS)/node_modules/$(NODE_PKG)/bin:$(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

VENV_STAMP := $(VENV)/.installed
# The security scan's tools (bandit and semgrep), from the two scan locks, as every pipeline's SecurityScan step
# installs them: semgrep's pins do not fit the dev lock (requirements-semgrep.in).
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
# The embeddings benchmark's peer, Ray Data, in a venv of its own (requirements-bench.in says why).
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
TOOLS_STAMP := $(TOOLS)/node_modules/.installed
# The guardrails oracle test's independent IAM evaluator (@cloud-copilot/iam-simulate), from its own npm lock.
ORACLE := tests/guardrails/oracle
ORACLE_STAMP := $(ORACLE)/node_modules/.installed
# The local AWS emulator of `make deploy-local` and `make test-deploy` (MiniStack), in its own virtualenv: it pins
# its own botocore. Built from its hashed lock like the dev venv.
MINISTACK_VENV := .venv-ministack
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed
CDK := $(CURDIR)/$(TOOLS)/node_modules/.bin/cdk --no-notices

# `make lock`: uv compiles the declared requirements (*.in, pyproject.toml) into hashed locks. torch's CPU
# build is not on PyPI: it is found through pip's find-links where the machine has them (these machines:
# a local wheel), else on PyPI's neighbour, PyTorch's CPU wheel page. UPGRADE=1 moves every pin to the
# newest release the declared requirements admit; without it, uv keeps the locked versions it can.
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" \
	--find-links $(TORCH_FIND_LINKS) $(if $(UPGRADE),--upgrade)

.PHONY: help setup lock synth test lint pytest cfn-lint bench clean ministack deploy-local destroy-local test-deploy bench-setup

help:
	@echo "make synth   set everything up and synthesize the sample app into cdk.out/"
	@echo "make test    set everything up and run every check (lint, types, tests, synth, cfn-lint, cdk-nag)"
	@echo "make bench   run the benchmarks (ratios against a baseline measured in the same run)"
	@echo "make deploy-local    deploy every sample stage into a local AWS emulator (no account needed)"
	@echo "make destroy-local   destroy what deploy-local deployed and stop the emulator"
	@echo "make test-deploy     the deploy tests: deploy, update, destroy and end-to-end flows in the emulator"
	@echo "make lint    ruff, mypy and the security scan (bandit, semgrep) only"
	@echo "make lock    recompile the lock files from requirements*.in (UPGRADE=1: newest allowed releases)"

setup: $(VENV_STAMP) $(TOOLS_STAMP) $(ORACLE_STAMP) $(SCAN_STAMP)

# The venv holds exactly the dev lock: it is built anew whenever the lock changes (pip adds, it never
# removes), from hashes only, with the two editable packages built by the locked setuptools.
$(VENV_STAMP): requirements-dev.txt pyproject.toml setup.py batch_job/pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat -e ./batch_job
	$(VENV)/bin/python -m pip check
	touch $@

$(SCAN_STAMP): requirements-scan.txt requirements-semgrep.txt
	rm -rf $(SCAN_VENV)
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-scan.txt -r requirements-semgrep.txt
	$(SCAN_VENV)/bin/python -m pip check
	touch $@

ministack: $(MINISTACK_STAMP)

$(MINISTACK_STAMP): requirements-ministack.txt
	rm -rf $(MINISTACK_VENV)
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-ministack.txt
	$(MINISTACK_VENV)/bin/python -m pip check
	touch $@

$(TOOLS_STAMP): $(TOOLS)/package.json $(TOOLS)/package-lock.json
	npm ci --prefix $(TOOLS) --no-audit --no-fund --loglevel=error
	node --version | grep -q '^v22\.' || { echo "Node 22 from $(TOOLS) is not first on PATH" >&2; exit 1; }
	touch $@

$(ORACLE_STAMP): $(ORACLE)/package.json $(ORACLE)/package-lock.json $(TOOLS_STAMP)
	npm ci --prefix $(ORACLE) --no-audit --no-fund --loglevel=error
	touch $@

# The dev lock first (it holds everything); every other lock is compiled against it, so the synth install,
# the job's images and the tests run the same versions. The GPU image runs Ubuntu 24.04's Python 3.12. torch
# stays out of the export lock: the images install its CPU build by the exact version (see the Dockerfiles).
lock: $(VENV_STAMP)
	$(UV_COMPILE) --python-version 3.11 pyproject.toml requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) --python-version 3.11 pyproject.toml requirements.in -c requirements-dev.txt -o requirements.txt
	$(UV_COMPILE) --python-version 3.11 requirements-scan.in -c requirements-dev.txt -o requirements-scan.txt
	$(UV_COMPILE) --python-version 3.11 requirements-semgrep.in -c requirements-scan.txt -o requirements-semgrep.txt
	$(UV_COMPILE) --python-version 3.11 requirements-bench.in -c requirements-dev.txt -o requirements-bench.txt
	$(UV_COMPILE) --python-version 3.11 batch_job/requirements.in -c requirements-dev.txt \
		-o batch_job/requirements.txt
	$(UV_COMPILE) --python-version 3.11 requirements-ministack.in -o requirements-ministack.txt
	$(UV_COMPILE) --python-version 3.11 --no-emit-package torch batch_job/requirements-export.in \
		-c requirements-dev.txt -o batch_job/requirements-export.txt
	$(UV_COMPILE) --python-version 3.12 --python-platform x86_64-manylinux_2_39 batch_job/requirements-gpu.in \
		-c requirements-dev.txt -o batch_job/requirements-gpu.txt
	cd $(TOOLS) && npm install --package-lock-only --no-audit --no-fund --loglevel=error

synth: setup
	rm -rf cdk.out
	$(CDK) synth --quiet
	python -m tests.support.validation_report cdk.out

lint: setup
	ruff check .
	ruff format --check .
	mypy devops_blueprints app.py batch_job/batch_job
	bandit --quiet -c pyproject.toml -r .
	$(SCAN_VENV)/bin/semgrep scan --config .semgrep.yml --metrics off --disable-version-check --error --quiet --exclude tests --exclude benchmarks .
	for d in lambda_src/*/; do mypy --scripts-are-modules "$$d"index.py || exit 1; done

pytest: setup
	pytest -n 2 --dist loadfile -m "not deploy"

# Deploys into the emulator with the real CDK CLI from .tools (state under .local-deploy/).
deploy-local: setup $(MINISTACK_STAMP)
	python -m tests.support.local_deploy deploy

destroy-local: setup $(MINISTACK_STAMP)
	python -m tests.support.local_deploy destroy

test-deploy: setup $(MINISTACK_STAMP)
	pytest -m deploy tests/deploy -q

cfn-lint: synth
	find cdk.out -name '*.template.json' -print0 | xargs -0 --no-run-if-empty cfn-lint --non-zero-exit-code error --

test: lint pytest cfn-lint
	@echo "make test: all checks passed"

$(BENCH_STAMP): requirements-bench.txt batch_job/pyproject.toml
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat -e ./batch_job
	touch $@

bench-setup: $(BENCH_STAMP)

bench: setup bench-setup
	python -m benchmarks

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
