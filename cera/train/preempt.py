"""Checkpoint at once when the cluster signals a job (preemption or time limit), then requeue it.

SLURM jobs launched by submitit get SIGUSR2 (``signal_delay_s`` before the time limit, or on
preemption); submitit's handler requeues the job and exits on the spot, so all that survives is the
last *periodic* checkpoint, possibly hours old. ``PreemptionGuard`` chains a handler in front of the
one installed (submitit's, or any other) that only raises a flag. ``CheckpointOnSignal`` sees the
flag at the end of the current optimizer step and makes the Trainer save a checkpoint and stop;
``fit`` then calls ``hand_over``, which runs the displaced handler: submitit requeues the job, and
the requeued job resumes from that checkpoint in the same run directory (the run directory name is
a function of the config). A signal outside training goes straight to the displaced handler.

On a local run, SIGTERM (``kill``) and SIGINT (Ctrl-C) take the same path when nobody else handles
them (their handlers are still Python's defaults; submitit installs its own, which we leave alone):
the current step ends, a checkpoint is saved, and ``fit`` raises ``Interrupted``; the run is recorded
as ``interrupted`` and a relaunch resumes from that checkpoint. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import torch
from transformers import TrainerCallback

log = logging.getLogger(__name__)


def preemption_signal() -> signal.Signals:
    """The signal submitit uses for preemption/time-out (``SUBMITIT_PREEMPT_SIGNAL``, default USR2)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]


class Preempted(BaseException):
    """Raised after the checkpoint when the displaced handler returned (e.g. submitit on rank > 0).

    A ``BaseException`` on purpose: the run is interrupted, not failed, so ``execute`` must not
    record it as ``failed``; its status stays ``running`` until the requeued job finishes it.
    """


class Interrupted(BaseException):
    """SIGTERM or Ctrl-C on a local run, raised by ``fit`` after the checkpoint; the run is
    ``interrupted`` (not failed) and a relaunch resumes. ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, signum: int, step: int):
        self.signum, self.step = signal.Signals(signum), step
        self.exit_code = 128 + int(signum)
        super().__init__(f"stopped by {self.signum.name} after step {step}; checkpoint saved, relaunch to resume")


_DEFAULT_HANDLERS = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


def local_stop_signals() -> list[signal.Signals]:
    """SIGTERM / SIGINT when they still have Python's default handlers (a local run, not submitit's)."""
    return [s for s, default in _DEFAULT_HANDLERS.items() if signal.getsignal(s) is default]


class PreemptionGuard:
    """Context manager: while active, the preemption signal (and ``extra`` signals) only set
    ``signalled``; ``received`` is the first one that came."""

    def __init__(self, signum: int | None = None, extra: tuple[int, ...] = ()):
        self.signum = signal.Signals(signum) if signum is not None else preemption_signal()
        self.extra = [signal.Signals(s) for s in extra if signal.Signals(s) != self.signum]
        self.signalled = False
        self.received: signal.Signals | None = None
        self.previous = None
        self.previous_extra: dict = {}
        self.active = False

    def __enter__(self) -> "PreemptionGuard":
        # signal handlers can only be set from the main thread; an ignored signal stays ignored
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(self.signum) is not signal.SIG_IGN:
                self.previous = signal.signal(self.signum, self._handle)
                self.active = True
            for s in self.extra:
                if signal.getsignal(s) is not signal.SIG_IGN:
                    self.previous_extra[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            signal.signal(self.signum, self.previous)
            self.active = False
        for s, handler in self.previous_extra.items():
            signal.signal(s, handler)
        self.previous_extra = {}

    def _handle(self, signum, frame) -> None:
        if self.signalled and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without waiting for the step to end
        if not self.signalled:
            hint = " (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""
            log.warning("caught %s: checkpointing at the end of this step%s", signal.Signals(signum).name, hint)
            self.received = signal.Signals(signum)
        self.signalled = True

    @property
    def local_stop(self) -> bool:
        """The signal that stopped training was SIGTERM/SIGINT (a local stop), not the preemption one."""
        return self.received is not None and self.received != self.signum

    def hand_over(self) -> None:
        """Run the handler we displaced, as if it had received the signal itself; never returns."""
        self.__exit__()
        previous = self.previous
        if callable(previous):
            previous(self.signum, None)  # submitit: requeue this job, then sys.exit
        elif previous in (signal.SIG_DFL, None):
            os.kill(os.getpid(), self.signum)  # what the signal would have done without us
        raise Preempted(f"stopped by {self.signum.name} after a checkpoint; resume by re-launching")


class CheckpointOnSignal(TrainerCallback):
    """At the first step end after the signal: save a checkpoint now and stop training.

    Under DDP the flag is OR-ed over ranks, so every rank stops at the same step (the save is
    collective; ranks stopping at different steps would deadlock).
    """

    def __init__(self, guard: PreemptionGuard):
        self.guard = guard

    def _any_rank(self, device) -> bool:
        flag = self.guard.signalled
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            t = torch.tensor([int(flag)], device=device)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            flag = bool(t.item())
            self.guard.signalled = flag
        return flag

    def on_step_end(self, args, state, control, **kwargs):
        if self._any_rank(args.device):
            control.should_save = True
            control.should_training_stop = True
        return control
