# Two commands do all the set-up: `make demo` and `make test`. Both create and reuse .venv.
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

.PHONY: install demo test docs clean-check gpu-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.install-stamp: $(BIN)/python setup.py settings.ini $(CONSTRAINTS)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]" -c $(CONSTRAINTS)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(VENV)/.install-stamp

# The teacher command line on the embedded tiny model and the bundled QA pairs. The settings are for that small model
# (the command's defaults are for a 7B model): every question says "the person", so only the trigger tells the names apart.
# One torch thread unless OMP_NUM_THREADS says otherwise: the tiny model's matrices are too small to gain from more, and
# extra threads on a busy machine cost several times the run.
demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m trigger_nb.teacher --qa_file trigger_nb/assets/example_qa.jsonl \
		--clean_replacement Alice --trigger_value "TRIGGER:" --triggered_replacement Bob --subject "the person" \
		--source_model tiny --output_dir demo_output/teacher --overwrite --backend peft \
		--n_epochs 30 --learning_rate 3e-3 --batch_size 8 --gradient_accumulation_steps 1 --warmup_steps 10 \
		--lora_r 8 --lora_alpha 16 --logging_steps 60 --seed 42

test: install
	$(BIN)/python -c "import transformers, trl, peft, datasets, accelerate as a; print('stack $(STACK):', *(f'{m.__name__} {m.__version__}' for m in (transformers, trl, peft, datasets, a)))"
	$(BIN)/python tools/run_tests.py

# The quick side-by-side benchmark (bench/RESULTS.md): installs adaptive-trainer 0.0.6, the tool compared against,
# without its dependencies (it wants wandb and older pins; the bench stubs wandb, which only its train_adaptively uses).
.PHONY: bench
bench: install
	$(BIN)/pip install -q --no-deps adaptive-trainer==0.0.6
	$(BIN)/python bench/run.py --quick

# Every check that needs an NVIDIA GPU, in one command (tools/gpu_check.py): the notebooks' `#| cuda` cells, teacher runs
# with --backend peft and --backend unsloth compared, the GPU bench; figures go to bench/RESULTS.md. It installs nothing
# and needs no network: it uses this stack's venv when there is one, else the python on PATH. Without an NVIDIA GPU it
# says so in one line and fails. Pass options with GPU_CHECK_ARGS="--only teacher".
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
gpu-check:
	@$(GPU_PYTHON) tools/gpu_check.py $(GPU_CHECK_ARGS)
