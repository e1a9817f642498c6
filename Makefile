# make lab   — set up .venv and open JupyterLab with the jido kernel on notebooks/
# make test  — set up .venv and run the whole test suite, notebooks included
# make bench — set up .venv and run the benchmarks (ratios against their targets)
# make lint  — ruff (format and lint) and mypy, as CI runs them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Jupyter Server refuses to run as root unless told to (containers and VMs often are root).
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test bench lint kernelspec clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[lab,test,dev]"
	touch $(STAMP)

kernelspec: $(STAMP)
	$(BIN)/python -m jido_kernel install --sys-prefix

lab: kernelspec
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_FLAGS)

test: kernelspec
	$(BIN)/python -m pytest --nbval-lax --nbval-kernel-name jido tests notebooks

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: kernelspec
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
