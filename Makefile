# The README's two commands: `make demo` (set up, `dvc repro` on the generated demo data, then `mfdan summary`) and
# `make test` (set up, then the test suite). Both work on a fresh clone with nothing but Python >= 3.10.
# --no-compile: bytecode is written on first import, for the modules actually used (install 46 s -> 22 s here).
# Bytecode: an environment with PYTHONDONTWRITEBYTECODE set makes every stage process recompile torch and the
# rest from source (~1 s each, 18 stage processes in `dvc repro`); Python's default, writing it once, holds here.
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean-venv

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	. $(BIN)/activate && dvc repro && mfdan summary

test: $(STAMP)
	. $(BIN)/activate && python -m pytest

clean-venv:
	rm -rf $(VENV)
