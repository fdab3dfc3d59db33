# cera — common tasks. `make help` lists them.
PYTHON ?= python
# torch first, pinned to the CPU wheel this project is developed on; on a CUDA machine use e.g.
#   make install TORCH="torch>=2.4"
TORCH ?= torch==2.13.0
SWEEP ?= method=lora,dora,cera rank=64,128,512

.PHONY: help install sweep test test-slow test-all slurm-up slurm-down slurm-status

help:
	@echo "make install     install torch ($(TORCH)) then cera with its dev extra (editable)"
	@echo "make sweep       the default 9-run sweep on the embedded default: $(SWEEP)"
	@echo "make test        fast CPU test suite (no slow, no gpu tests)"
	@echo "make test-slow   end-to-end tests (training runs, sweeps through the CLI)"
	@echo "make test-all    both, as CI runs them"
	@echo "make slurm-up    install (apt, once) and start a single-node SLURM on this machine (root/sudo)"
	@echo "make slurm-down  stop it again; make slurm-status shows sinfo + squeue"

install:
	$(PYTHON) -m pip install "$(TORCH)"
	$(PYTHON) -m pip install -e ".[dev]"

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
