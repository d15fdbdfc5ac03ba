# Two commands, as root (sudo or not): `sudo make run` and `sudo make test`.
# Each installs what is missing first (scripts/setup.sh; seconds when present).
PY := .venv/bin/python

.PHONY: setup run test test-unit lint selftest

setup:
	bash scripts/setup.sh

run: setup
	$(PY) run_emulation.py

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest -m "not root"

lint: setup
	$(PY) -m ruff check .

selftest: setup
	$(PY) run_emulation.py selftest
