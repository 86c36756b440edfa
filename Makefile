# Two entry points for a newcomer: `make demo` and `make test`.
# Both create .venv and install embrec into it first; every install goes
# through constraints.txt, which pins the CPU build of torch.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The real MovieLens files live outside the project (their license forbids
# redistribution). Point EMBREC_DATA_DIR at them; ../shared/data when present.
EMBREC_DATA_DIR ?= $(abspath $(wildcard ../shared/data))
export EMBREC_DATA_DIR

.PHONY: setup demo test lint clean

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
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
