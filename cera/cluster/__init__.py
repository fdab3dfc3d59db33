"""Running sweeps on SLURM: the local single-node cluster script (``local_slurm.sh``) and the
detached sweep driver (``driver.py``, used by ``python -m cera.submit``). See README.md here."""
