# Every public target does its own set-up: a fresh machine needs only Python 3.11, make and npm.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
TOOLS := .tools
# Node 22 LTS and the CDK CLI come from the npm registry into .tools/ (the machine's Node 20 is end-of-life
# and makes jsii print a banner).
NODE_VERSION := 22.23.3
CDK_CLI_VERSION := 2.1148.1
NODE_ARCH := $(shell uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')
NODE_PKG := node-linux-$(NODE_ARCH)

export PATH := $(CURDIR)/$(TOOLS)/node_modules/$(NODE_PKG)/bin:$(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

VENV_STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS)/.installed-$(NODE_VERSION)-$(CDK_CLI_VERSION)
CDK := $(CURDIR)/$(TOOLS)/node_modules/.bin/cdk --no-notices

.PHONY: help setup synth test lint pytest cfn-lint bench clean

help:
	@echo "make synth   set everything up and synthesize the sample app into cdk.out/"
	@echo "make test    set everything up and run every check (lint, types, tests, synth, cfn-lint, cdk-nag)"
	@echo "make bench   run the benchmarks (ratios against a baseline measured in the same run)"
	@echo "make lint    ruff and mypy only"

setup: $(VENV_STAMP) $(TOOLS_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt pyproject.toml setup.py batch_job/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --config-settings editable_mode=compat -e ./batch_job
	touch $@

$(TOOLS_STAMP):
	mkdir -p $(TOOLS)
	test -f $(TOOLS)/package.json || echo '{"name": "devops-blueprints-tools", "private": true}' > $(TOOLS)/package.json
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error \
		$(NODE_PKG)@$(NODE_VERSION) aws-cdk@$(CDK_CLI_VERSION)
	node --version | grep -q '^v22\.' || { echo "Node 22 from $(TOOLS) is not first on PATH" >&2; exit 1; }
	rm -f $(TOOLS)/.installed-*
	touch $@

synth: setup
	rm -rf cdk.out
	$(CDK) synth --quiet
	python -m tests.support.validation_report cdk.out

lint: setup
	ruff check .
	ruff format --check .
	mypy devops_blueprints app.py batch_job/batch_job
	for d in lambda_src/*/; do mypy --scripts-are-modules "$$d"index.py || exit 1; done

pytest: setup
	pytest -n 2 --dist loadfile

cfn-lint: synth
	find cdk.out -name '*.template.json' -print0 | xargs -0 --no-run-if-empty cfn-lint --non-zero-exit-code error --

test: lint pytest cfn-lint
	@echo "make test: all checks passed"

bench: setup
	python -m benchmarks

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
