# One entry point. The README's two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EX     ?= 1
REQ    ?=
NB     ?=

# The same environment for `make notebooks`, nbval and JupyterLab, so committed
# outputs are what validation expects (mirrors mlpractice/notebooks.py NOTEBOOK_ENV).
export TQDM_DISABLE=1
export PYTHONHASHSEED=0
export PYDEVD_DISABLE_FILE_VALIDATION=1
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_HUB_DISABLE_PROGRESS_BARS=1
export TRANSFORMERS_VERBOSITY=error
export TOKENIZERS_PARALLELISM=false
export OMP_NUM_THREADS=1

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup lab test test-solutions test-stubs test-notebooks test-mutants test-side lane-starters lane-notebooks test-isolation interview interview-report stale check exercises reset notebooks nbval doctor bench versions mutants

help:
	@echo "make lab        set up .venv (first time) and open JupyterLab on notebooks/ (LAB_ARGS=\"...\" passes options)"
	@echo "make test       every check: stale starter code, tests, untouched-starter check, notebooks"
	@echo "make test-isolation  every part graded alone at both levels (make test grades a share)"
	@echo "make check EX=N your scoreboard for exercise N (1-4) against exercises/ (REQ=N.M: one requirement)"
	@echo "make reset EX=N restore exercise N's starter code (your version is backed up)"
	@echo "make doctor     OK/FAIL table of the environment"
	@echo "make exercises  regenerate exercises/ from solutions/ (maintainers)"
	@echo "make notebooks  re-execute and clean the notebooks (maintainers; NB=name for one)"
	@echo "make bench      run the benchmarks"
	@echo "make mutants    how many plausible wrong answers the graded tests catch (EX=N, REQ=N.M: fewer)"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] < (3, 14), f"Python 3.10-3.13 needed, found {sys.version.split()[0]}"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $@

setup: $(VENV)/.installed

# JupyterLab refuses to start as root (containers, dev boxes) unless told --allow-root.
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

versions: setup
	@$(PY) -c 'import importlib.metadata as m, platform; print("python", platform.python_version()); print(*(f"{p} {m.version(p)}" for p in ["torch","transformers","sentence-transformers","sacrebleu","rouge-score","fastapi","uvicorn","pandas","numpy","duckdb","jupyterlab","nbval","pytest","hypothesis"]), sep="\n")'

stale: setup
	$(PY) -m mlpractice make-exercises --check

test-solutions: setup
	$(PY) -m pytest tests --impl=solutions -p no:nbval --durations=15 $(SOLUTIONS_ARGS)

# tests that each run starters in a subprocess: `make test` runs them beside the suite's second half
INTERVIEW_STUBS := tests/scaffold/test_levels.py::test_the_untouched_interview_starter_reads_not_attempted_for_every_graded_test
SIDE_TESTS := tests/scaffold/test_interview.py::test_a_mock_interview_from_start_to_report_and_back \
	tests/scaffold/test_notebooks_partial.py

# The isolation check (tests/scaffold/test_isolation.py) grades every part alone, at both levels. `make test`
# grades the guided level of every exercise and the interview level of one exercise per commit, in turn
# (all four would add three minutes); `make test-isolation` grades everything.
ISOLATION := tests/scaffold/test_isolation.py::test_each_part_done_alone_reads_passed_or_blocked_and_nothing_else_moves
TURN := $(shell h=$$(git rev-parse --short=7 HEAD 2>/dev/null || echo 0); echo $$(( 0x$$h % 4 + 1 )))
NOT_THIS_TURN := $(foreach n,1 2 3 4,$(if $(filter $(n),$(TURN)),,$(ISOLATION)[interview-$(n)]))

# the untouched-starter check at both levels: every graded test reaches a stub
test-stubs: setup
	$(PY) -m pytest tests --impl=exercises --expect-stubs -m "not scaffold" -q -p no:warnings -p no:nbval -p no:cacheprovider --tb=short -rN
	$(PY) -m pytest $(INTERVIEW_STUBS) --impl=solutions -p no:nbval -q

test-isolation: setup
	$(PY) -m pytest $(ISOLATION) --impl=solutions -p no:nbval -q

test-notebooks: setup
	$(PY) -m pytest $(NBVAL) notebooks

# CI's share of the mutant catalogue (`make mutants` runs all of it): the mutants of the solution files
# the last commit changed, and a sample that rotates with the commit; at most 3 in all
test-mutants: setup
	$(PY) -m mlpractice mutants --changed-since HEAD~1 --sample 1 --seed "$$(git rev-parse HEAD 2>/dev/null || echo 0)" --limit 3

test-side: setup
	$(PY) -m pytest $(SIDE_TESTS) --impl=solutions -p no:nbval -q

# `make test`'s two lanes after the suite, of about equal length on two cores: the starter checks then
# the side tests (both mostly start processes and wait on them); nbval then the mutants (both compute)
lane-starters: test-stubs
	@$(MAKE) --no-print-directory test-side
lane-notebooks: test-notebooks
	@$(MAKE) --no-print-directory test-mutants

test: stale
	@$(MAKE) --no-print-directory test-solutions SOLUTIONS_ARGS="$(addprefix --deselect=,$(INTERVIEW_STUBS) $(SIDE_TESTS) $(NOT_THIS_TURN))"
	@$(MAKE) --no-print-directory -j2 --output-sync=target lane-starters lane-notebooks
	@echo "make test: all checks passed"

check: setup
	$(PY) -m mlpractice check $(EX) $(if $(REQ),--req=$(REQ))

interview: setup
	$(PY) -m mlpractice interview $(EX)

interview-report: setup
	$(PY) -m mlpractice interview-report $(EX)

exercises: setup
	$(PY) -m mlpractice make-exercises

reset: setup
	$(PY) -m mlpractice reset $(EX)

notebooks: setup
	$(PY) -m mlpractice notebooks $(NB)

nbval: setup
	$(PY) -m pytest $(NBVAL) notebooks/$(NB)

doctor: setup
	$(PY) -m mlpractice doctor

mutants: setup
	$(PY) -m mlpractice mutants $(if $(filter command line,$(origin EX)),$(EX)) $(if $(REQ),--req=$(REQ))

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
