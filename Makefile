# Two entry points for a newcomer: `make demo` and `make test`.
# Both create .venv and install embrec into it first; every install goes
# through constraints.txt, the lock of every dependency (CPU build of torch).
# `make test` is the fast default (no test marked slow); `make test-all` runs
# everything and is what CI (.ci/run) runs. `make lock` rewrites constraints.txt
# from the versions installed in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The real MovieLens files live outside the project (their license forbids
# redistribution). Point EMBREC_DATA_DIR at them; ../shared/data when present.
# Without it the tests fetch ml-100k into the embrec cache as `make demo` does
# and skip, saying so, the tests of data sets that are not fetched.
EMBREC_DATA_DIR ?= $(abspath $(wildcard ../shared/data))
export EMBREC_DATA_DIR

.PHONY: setup demo test test-all lock lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/embrec data info ml-100k
	$(BIN)/embrec train --dataset ml-100k --split u1 --model mf-bias --out runs/demo-mf-bias
	$(BIN)/embrec recommend runs/demo-mf-bias --user 1 -n 10
	$(BIN)/embrec recommend runs/demo-mf-bias -n 10 \
		--rate "Star Wars (1977)=5" --rate "Fargo (1996)=5" --rate "Pulp Fiction (1994)=5" \
		--rate "Toy Story (1995)=4" --rate "Titanic (1997)=2"

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lock: $(STAMP)
	$(BIN)/python tools/lock.py constraints.txt

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
