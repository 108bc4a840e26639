# Set-up and entry points. `make demo` and `make test` work on a fresh machine.
PY        ?= python3
VENV      ?= .venv
BIN        = $(VENV)/bin
DATA_ROOT ?= $(abspath ../shared/data)
export CSLIB_DATA_ROOT ?= $(DATA_ROOT)
export HF_HUB_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: setup demo shards quick test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of exactly this version is on disk; any other spec pulls CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dicts,align,ray,hub,dev,tensorboard,spacy,onnx]'
	touch $@

setup: $(BIN)/.installed

# The main job: an en->ja code-switched shard set with examples, then the quick mCL-NER recipe
# (10 PAN-X targets, 6 ablation rows, report in runs/panx_quick/report.md; about 15 min on 2 cores).
demo: shards quick

shards: setup
	$(BIN)/cslib build --src en --tgt ja --out data/cs/en-ja --workers 2 --examples 10
	$(BIN)/cslib validate data/cs/en-ja

quick: setup
	$(BIN)/python -m pipelines run pipelines/panx_quick.yaml

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/build_throughput.py

clean:
	rm -rf $(VENV) data runs
