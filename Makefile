# Two entry points for a fresh machine (Python 3.11+): `make demo` and `make test`.
# Both create .venv on first use. torch is installed first and pinned, so pip takes the
# local CPU build where one exists instead of resolving a multi-GB CUDA build.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
CORES ?= all

.PHONY: demo test lint format clean

$(BIN)/snakemake: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $@

demo: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES) results/demo/table1.csv

test: $(BIN)/snakemake
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest
	@# Float tolerances must hold with and without native bf16/AVX-512 kernels, whichever CPU
	@# this is: the precision-marked tests run again with oneDNN and ATen held to AVX2.
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 $(BIN)/python -m pytest -q -m precision

lint: $(BIN)/snakemake
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint

format: $(BIN)/snakemake
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf results resources logs .snakemake
