# One entry point. A fresh machine needs only:
#   make lab    - prepare the host, build/reuse images, bring up (or keep) the 6-host lab, run site.yml
#   make test   - everything CI runs (lint, unit, sanity, compat, molecule scenarios)
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv host lab lab-reset lab-down test lint unit sanity compat molecule bench

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: ## Python venv with the pinned toolchain, collection linked into .collections
	@scripts/venv.sh

host: ## Install podman and its helpers, write containers.conf (idempotent, needs root)
	@lab/labctl prepare-host

lab: venv host ## Build/reuse images, start the 6-host lab (or keep the one there, with its data), run site.yml, print the endpoint
	@lab/labctl deploy

lab-reset: venv host ## Like lab, but recreate the lab first (its data is lost)
	@lab/labctl deploy --reset

lab-down: ## Remove the lab's containers and network (safe to run twice)
	@lab/labctl down

test: ## Everything CI runs
	@scripts/test.sh

lint: venv ## ansible-lint (production profile)
	@scripts/test.sh lint

unit: venv ## pytest unit tests for the plugins
	@scripts/test.sh unit

sanity: venv ## ansible-test sanity (the parts that work offline)
	@scripts/test.sh sanity

compat: venv ## Unit and sanity tests on ansible-core 2.17, 2.18, 2.19 and 2.20 (a venv each in .venvs/)
	@scripts/test.sh compat

molecule: venv host ## Every molecule scenario, one after another
	@scripts/test.sh molecule

bench: ## Every benchmark (deploy speed, failover, HAProxy overhead) into docs/benchmarks.md, ~45 min
	@benchmarks/run_all.sh
