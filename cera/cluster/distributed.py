"""One run on several processes (DDP): the process group comes from submitit's job environment.

With ``hydra.launcher.tasks_per_node=N`` every task of a SLURM (or submitit-local) job runs the
same Hydra job. Right before training, ``setup_distributed`` exports ``MASTER_ADDR``/``MASTER_PORT``/
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from ``submitit.helpers.TorchDistributedEnvironment``; the
Trainer (accelerate) then initialises the process group itself (NCCL on GPUs, gloo on CPU) and
shards every global batch over the ranks. Not earlier: a first job builds the embedded backbone
with a Trainer of its own, which must stay a single process. Only rank 0 writes the run directory.

CUDA_VISIBLE_DEVICES is left alone: accelerate picks ``cuda:<LOCAL_RANK>`` among the GPUs SLURM
made visible, which stays right when SLURM already narrowed them (submitit's own option would
replace them with ``<LOCAL_RANK>``).
"""

from __future__ import annotations

import os


def _submitit_env():
    import submitit

    try:
        return submitit.JobEnvironment()
    except RuntimeError:  # not inside a submitit job
        return None


def job_rank() -> int:
    """This process's global rank: from submitit inside one of its jobs, else ``RANK`` (torchrun), else 0."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    env = _submitit_env()
    return env.global_rank if env is not None else 0


def is_main_process() -> bool:
    return job_rank() == 0


def setup_distributed() -> int:
    """Export the torch env:// variables when this process is one of several tasks of a submitit
    job; return the world size (1 outside such a job; torchrun's own variables are kept)."""
    if "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    env = _submitit_env()
    if env is None or env.num_tasks == 1:
        return 1
    import submitit

    submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    return env.num_tasks
