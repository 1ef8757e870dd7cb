# One entry point. A fresh machine needs only:
#   make check  - lint, unit, sanity: minutes, no root, nothing on the host beyond the venv
#   make lab    - prepare the host, build/reuse images, bring up (or keep) the 6-host lab, run site.yml
#   make test   - everything CI runs (the checks, integration, labctl, compat, molecule scenarios)
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv host lab lab-reset lab-down check test lint unit sanity integration lab-tests readme-test compat molecule bench

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

check: ## Before every commit: lint, unit, sanity (no root, no podman; ~3 min)
	@scripts/test.sh check

test: ## Everything CI runs (root, podman; ~35 min)
	@scripts/test.sh

lint: ## ansible-lint (production profile)
	@scripts/test.sh lint

unit: ## pytest tests/unit: pure Python, no processes
	@scripts/test.sh unit

sanity: ## ansible-test sanity (every test, offline)
	@scripts/test.sh sanity

integration: ## pytest tests/integration: the real haproxy and ansible-playbook on loopback (needs make host)
	@scripts/test.sh integration

lab-tests: ## labctl's own tests on small labs (root, podman)
	@scripts/test.sh lab

readme-test: ## The README's minimal inventory deployed on a 7-host lab of its own, then re-run: 0 changed (root, podman)
	@scripts/test.sh readme

compat: venv ## Unit and sanity tests on ansible-core 2.17, 2.18, 2.19 and 2.20 (a venv each in .venvs/)
	@scripts/test.sh compat

molecule: venv host ## Every molecule scenario, one after another
	@scripts/test.sh molecule

bench: ## Every benchmark (deploy speed, failover, HAProxy overhead) into docs/benchmarks.md, ~45 min
	@benchmarks/run_all.sh
