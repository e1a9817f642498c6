# make       — set up .venv, build the JupyterLab extension (npm), install the kernelspecs
# make lab   — set up .venv and open JupyterLab with the jido kernel on notebooks/
# make test  — set up .venv and run the whole test suite, notebooks included
# make bench — set up .venv and run the benchmarks (ratios against their targets)
# make lint  — ruff (format and lint) and mypy, as CI runs them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The JupyterLab extension (labextension/), built with npm into the package; the wheel ships it.
LABEXT := jido_kernel/labextension/package.json
LABEXT_SOURCES := $(wildcard labextension/package*.json labextension/build.js labextension/src/* labextension/style/*) \
	jido_kernel/display/jido.css
# Jupyter Server refuses to run as root unless told to (containers and VMs often are root).
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: all lab test bench lint kernelspec labextension clean

all: kernelspec labextension

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(LABEXT): $(LABEXT_SOURCES)
	cd labextension && npm ci --no-audit --no-fund && npm run build

$(STAMP): $(BIN)/python pyproject.toml hatch_build.py jido_kernel/lua/worker/native.c $(LABEXT)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[lab,test,dev]"
	# The editable package's bytecode, so kernels and workers start without compiling it
	# (also where PYTHONDONTWRITEBYTECODE is set).
	$(BIN)/python -m compileall -q jido_kernel
	touch $(STAMP)

kernelspec: $(STAMP)
	$(BIN)/python -m jido_kernel install --sys-prefix

# JupyterLab finds the extension of the editable install through a link to the built one.
labextension: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter labextension develop --overwrite .

lab: kernelspec labextension
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
	rm -rf $(VENV) build dist .pytest_cache .hypothesis jido_kernel/labextension labextension/node_modules \
		jido_kernel/lua/worker/libnative.so
