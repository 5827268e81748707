# jetad: the two commands (see README.md)
#   make lab    set up .venv from requirements.lock, make the student workspace (workspace/:
#               exercises/ for answers, solutions/) and open JupyterLab there
#   make test   set up .venv, then unit tests, doctests and every notebook in fast mode
#
# Settings: PYTHON=python3.12 (interpreter used to create the venv), VENV=.venv,
#           FAST=1 (make lab: the notebooks' small, quick settings; default full mode),
#           WORKSPACE=~/my-answers (make lab: where the workspace is; WORKSPACE=notebooks
#           opens the repository's notebooks instead, for editing the tutorials),
#           LAB_ARGS="--port=8890 --ip=0.0.0.0" (extra JupyterLab options),
#           PYTEST_ARGS="-k metrics" (extra pytest options).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
LOCK := requirements.lock
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jetad-installed
# no browser on CI or on a Linux box without a display (JupyterLab prints the URL + token)
NO_BROWSER := $(if $(CI),--no-browser,$(if $(DISPLAY)$(WAYLAND_DISPLAY),,$(if $(filter Linux,$(shell uname -s)),--no-browser,)))
# Jupyter refuses to run as root unless told (containers, cloud VMs)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=
FAST ?=
WORKSPACE ?= workspace
# JupyterLab settings for everyone using this venv: no news pop-up, widget state saved
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
PYTEST_ARGS ?=
BOOK_ARGS ?=
# where make test keeps the notebooks nbval executed, for make test-book (no second execution)
EXECUTED ?= build/executed
# node's configurable-http-proxy, the proxy JupyterHub needs (tests/test_hub.py), pinned, in the venv
CHP_VERSION := 5.3.0
CHP := $(VENV)/node/node_modules/.bin/configurable-http-proxy

.PHONY: help setup lab lint test test-unit test-full exercises record clean-venv book test-book test-hub test-browser hub-proxy test-mutations

help:
	@echo "make lab    - set up .venv (first time only), make workspace/ (your exercise copies and the"
	@echo "              solutions) and open JupyterLab there; make lab FAST=1 for the quick settings"
	@echo "make test   - set up .venv and run unit tests, doctests and all notebooks (fast mode)"
	@echo "make test-unit - the inner loop: unit tests, doctests and the lint (no notebooks, no servers; < 3 min)"
	@echo "make lint   - ruff on the package, the tests and the notebooks (make test runs it first)"
	@echo "make test-full - full-mode checks (tests marked slow: full-size scans and trainings, hours)"
	@echo "make test-mutations - only the mutation check: planted bugs must each fail a notebook check (make test runs it too)"
	@echo "make exercises - regenerate notebooks/exercises/ from the solution notebooks"
	@echo "make record - re-run the notebooks (fast mode), store their check outputs, rebuild exercises"
	@echo "make book   - execute every notebook and render a static HTML site in build/book/"
	@echo "make test-book - build the whole book in fast mode and check it (CI runs it after make test)"
	@echo "make test-hub / test-browser - only the JupyterHub or browser test (part of make test)"

# Creates the venv if missing; reinstalls only when requirements.lock or pyproject.toml changed.
setup:
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	    echo "error: jetad needs Python >= 3.11 (its pinned numpy/scipy/scikit-learn require it);" >&2; \
	    echo "       '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Run e.g. 'make $(MAKECMDGOALS) PYTHON=python3.11'." >&2; \
	    exit 1; }; \
	  echo ">>> creating $(VENV) with $$($(PYTHON) --version)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	fi; \
	want=$$(cat $(LOCK) pyproject.toml | $(PY) -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'); \
	if [ "$$want" = "$$(cat $(STAMP) 2>/dev/null)" ]; then \
	  echo ">>> $(VENV) is up to date with $(LOCK)"; \
	else \
	  echo ">>> installing $(LOCK) into $(VENV) (a few minutes the first time)"; \
	  rm -f $(STAMP); \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r $(LOCK) 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); \
	  $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); \
	  echo "$$want" > $(STAMP); \
	fi; \
	mkdir -p "$(dir $(LAB_OVERRIDES))"; cmp -s binder/lab-overrides.json "$(LAB_OVERRIDES)" || cp binder/lab-overrides.json "$(LAB_OVERRIDES)"

lab: setup
	@set -e; \
	case "$(FAST)" in ""|0|1) ;; *) echo "error: FAST=$(FAST): use make lab FAST=1 (quick settings) or leave it out (full mode)" >&2; exit 2;; esac; \
	if [ "$(WORKSPACE)" != notebooks ]; then $(VENV)/bin/jetad-exercises start "$(WORKSPACE)" | grep -v '^kept'; fi; \
	if [ "$(FAST)" = 1 ]; then echo ">>> FAST mode (JETAD_FAST=1): small samples and epochs, a minute or a few per notebook"; \
	else echo ">>> FULL mode: the paper-sized settings (minutes to an hour per notebook; make lab FAST=1 for the quick ones)"; fi; \
	echo ">>> starting JupyterLab on $(WORKSPACE)/ (stop it with Ctrl-C)"
	$(if $(filter 1,$(FAST)),JETAD_FAST=1 ,)$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(WORKSPACE) $(NO_BROWSER) $(ALLOW_ROOT) $(LAB_ARGS)

# Style: ruff (pycodestyle, pyflakes, import order, bugbear, pyupgrade; pyproject.toml), notebooks included.
lint: setup
	$(VENV)/bin/ruff check .

# The inner loop: unit tests and doctests only (no notebook, no server, no real Pythia run, no
# cluster; those are marked notebook / integration), then the lint. Under 3 minutes on 2 cores.
test-unit: setup
	@ckpt=$$(mktemp -d); \
	JETAD_FAST=1 JETAD_CHECKPOINTS=$$ckpt $(PY) -m pytest jetad_utils tests \
	  -m "not notebook and not slow and not mutation and not integration" $(PYTEST_ARGS); \
	status=$$?; rm -rf "$$ckpt"; [ $$status = 0 ] && $(VENV)/bin/ruff check .

# Checkpoints go to a fresh temporary directory, so every run really trains (fast mode).
# No TQDM_MININTERVAL: the notebooks must finish unattended without it (tests/test_unattended.py).
test: setup hub-proxy
	@$(VENV)/bin/ruff check . || { echo "make test: ruff found the problems above (ruff check --fix repairs some)" >&2; exit 1; }
	@ckpt=$$(mktemp -d); \
	JETAD_FAST=1 JETAD_CHECKPOINTS=$$ckpt JETAD_EXECUTED=$(EXECUTED) $(PY) -m pytest jetad_utils tests \
	  --nbval-lax --nbval-current-env --nbval-cell-timeout=900 notebooks/[0-9]*.ipynb -m "not slow" \
	  --durations=25 $(PYTEST_ARGS); \
	status=$$?; rm -rf "$$ckpt"; exit $$status

# Mutation check (tests/mutation_check.py): each deliberate fault (wrong score sign, no KL term,
# shuffled CWoLa labels, top and QCD swapped by the data loader) is applied to a temporary copy and
# must fail the checks of a notebook run in fast mode; fresh checkpoints per fault, data read from
# data/ (or $JETAD_DATA). About 3 min on 2 cores (7 on a busy machine). make test runs it too;
# this target runs it alone, printing each fault's result as it ends.
test-mutations: setup
	JETAD_FAST=1 $(PY) -m pytest tests/test_mutations.py -s $(PYTEST_ARGS)

# Full-mode checks: the slow tests run the full-size scans/trainings (or load their cached results).
test-full: setup
	$(PY) -m pytest tests -m slow $(PYTEST_ARGS)

# Static HTML site of every notebook: cached full-mode results where they exist, else fast mode
# (see jetad_utils/book.py). BOOK_ARGS="--mode fast" or "--run-full 01 07" change that.
book: setup
	$(PY) -m jetad_utils.book $(BOOK_ARGS)

# The whole book built in fast mode and checked. Notebooks that make test executed (kept in
# $(EXECUTED)) are shown from there; only the others are executed (10-25 min on 2 cores if none
# is kept). CI runs it after make test.
test-book: setup
	JETAD_FAST=1 JETAD_BOOK_TEST=1 JETAD_EXECUTED=$(EXECUTED) $(PY) -m pytest tests/test_book.py $(PYTEST_ARGS)

# The workshop tests alone (make test runs them too).
test-hub: setup hub-proxy
	JETAD_FAST=1 $(PY) -m pytest tests/test_hub.py $(PYTEST_ARGS)

# needs Debian's chromium (apt-get install chromium; .ci/run installs it when missing)
test-browser: setup
	JETAD_FAST=1 $(PY) -m pytest tests/test_browser.py $(PYTEST_ARGS)

# configurable-http-proxy $(CHP_VERSION) from npm into $(VENV)/node (skipped, with a note, without npm)
hub-proxy:
	@if [ -x "$(CHP)" ] && [ "$$($(CHP) --version 2>/dev/null)" = "$(CHP_VERSION)" ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo ">>> installing configurable-http-proxy $(CHP_VERSION) into $(VENV)/node (JupyterHub test)"; \
	  npm install --prefix "$(VENV)/node" --no-audit --no-fund --loglevel=error \
	    "configurable-http-proxy@$(CHP_VERSION)" >/dev/null; \
	else \
	  echo ">>> npm not found: the JupyterHub test (tests/test_hub.py) will be skipped"; \
	fi

exercises: setup
	$(PY) -m jetad_utils.exercises build

# after editing a notebook: store the outputs of its "# NBVAL_CHECK_OUTPUT" cells, rebuild exercises
record: setup
	$(PY) -m jetad_utils.nbtools record notebooks/[0-9]*.ipynb
	$(PY) -m jetad_utils.exercises build

clean-venv:
	rm -rf $(VENV)
