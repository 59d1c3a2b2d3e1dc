# Two set-up commands on a fresh machine: `make demo` and `make test` (both create .venv/).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,report,s2cloudless,serve]"
	touch $@

# The official openEO client and openeo-test-suite, in their own environment: the client pins
# pandas < 3 (tests/e2e/test_openeo_client.py drives `vegcube serve` with them)
.venv-openeo/.installed:
	$(PYTHON) -m venv .venv-openeo
	.venv-openeo/bin/python -m pip install --quiet --upgrade pip
	.venv-openeo/bin/python -m pip install --quiet "openeo>=0.40" "openeo-test-suite>=0.2.2" scipy
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/vegcube demo --out demo-out

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

test: lint .venv-openeo/.installed
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_chain.py

clean:
	rm -rf $(VENV) .venv-openeo demo-out .pytest_cache .mypy_cache .ruff_cache
