"""Timers and memory probes that mean the same thing on CPU and CUDA.

Time: CUDA kernels run asynchronously, so a host clock around a call measures launch time only.
On CUDA the stream is synchronised first (earlier work must not leak in) and the interval is taken
between two CUDA events; on CPU it is `time.perf_counter`. Python's garbage collector is held off
inside a timed block so that a collection triggered by one variant is not billed to it.

Memory ("peak training memory"): the bytes of live torch tensors at the peak of one training step,
as a process holding only that variant would see them:

    peak = resident (weights + buffers + adapter + optimizer state, before the step)
         + step peak (largest rise of allocated tensor bytes above the pre-step level)

The step peak comes from the caching allocator on CUDA (`max_memory_allocated`) and, on CPU, from
the profiler's record of every torch CPU allocation and free (`profile_memory=True`): tracemalloc
does not see torch's allocator and RSS neither drops after a free nor isolates one variant. Neither
counts allocator fragmentation, Python objects or library scratch outside torch's allocator.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but CUDA is not available: use device=auto or device=cpu")
    return torch.device(name)


def autocast_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `dtype` (None: no autocast, run in the weights' dtype)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return torch.bfloat16 if name == "bf16" else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A fresh autocast context (or a no-op one); the training recipe uses bf16 autocast on CUDA."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """`with timer: work()` then `timer.seconds`; device-aware (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = float("nan")

    def __enter__(self) -> "Timer":
        self._gc = gc.isenabled()
        gc.disable()
        synchronize(self.device)
        if self.device.type == "cuda":
            self._start, self._end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self._end.record()
            self._end.synchronize()
            self.seconds = self._start.elapsed_time(self._end) / 1000.0
        else:
            self.seconds = time.perf_counter() - self._t0
        if self._gc:
            gc.enable()


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of distinct storages (shared and tied weights count once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if t.device.type != "meta":
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def resident_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Weights, buffers and optimizer state held between steps."""
    tensors = [*model.parameters(), *model.buffers()]
    if optimizer is not None:
        tensors += [v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]
    return tensor_bytes(tensors)


def step_peak_bytes(fn: Callable[[], None], device: torch.device) -> int | None:
    """Largest rise of allocated tensor bytes above the level before `fn()` (None: not measurable)."""
    if device.type == "cuda":
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return _cpu_step_peak(fn)


def _cpu_step_peak(fn: Callable[[], None]) -> int | None:
    """Replays the profiler's allocation/free events in time order and keeps the running maximum."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:  # the raw event list; the public EventList folds memory events into the enclosing ops
        events = prof.profiler.kineto_results.events()
    except AttributeError:
        return None
    deltas = sorted(
        ((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]" and e.device_type().name == "CPU"),
        key=lambda item: item[0],
    )
    if not deltas:
        return None
    running = peak = 0
    for _, nbytes in deltas:
        running += nbytes
        peak = max(peak, running)
    return peak
