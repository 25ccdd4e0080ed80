"""Running one trial in a process: readying the process, the trial's job, starting a worker pool warm."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import NamedTuple

from joblib import Parallel, delayed

__all__ = ["TrialJob"]


_PROCESS_READY = set()

LOST_AGAIN = ("worker lost while running the trial: its worker died and the scheduler started the trial "
              "again on another one; it is not run again, as it may be what killed the worker")


def _prepare_process(runner_pid):
    """Once per process that runs trials: what must not be charged to its first trial.

    - The first torch optimizer imports ``torch._dynamo`` (seconds of CPU);
      done here, before the trial's clock starts.
    - In a worker process (not the runner's), Ctrl-C is ignored (the usual
      pool idiom): the runner's process stops the trials through their
      :class:`~sknas.evaluation.trial.StopSignal`, and an idle loky worker
      killed by the terminal's Ctrl-C would break the pool and lose the other
      trials in flight.
    - In a worker started with ``MALLOC_TRIM_THRESHOLD_`` (Dask's nanny sets
      65536), glibc no longer adapts its mmap threshold, so every tensor over
      128 KiB is mapped and unmapped at each batch (100x the page faults;
      trials about 2x slower). glibc's adaptive ceiling is restored: blocks
      under 32 MiB come from the heap, which is trimmed above 64 MiB.
    """
    key = (os.getpid(), runner_pid)
    if key in _PROCESS_READY:
        return
    _PROCESS_READY.add(key)
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    if os.getpid() == runner_pid:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if ("MALLOC_TRIM_THRESHOLD_" in os.environ and "MALLOC_MMAP_THRESHOLD_" not in os.environ
            and sys.platform.startswith("linux")):
        try:
            mallopt = ctypes.CDLL("libc.so.6").mallopt
            mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
            mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD
        except (OSError, AttributeError):  # not glibc
            pass


def _warm_worker(runner_pid):
    """A job that only readies a worker process (imports, ``torch._dynamo``); returns its pid."""
    _prepare_process(runner_pid)
    return os.getpid()


class _WorkerWarmup:
    """Start a loky worker pool in the background and ready its processes.

    A cold loky worker starts its first trial seconds after dispatch
    (spawning Python, importing torch and sknas, the first optimizer's
    ``torch._dynamo``): 7.6 s at load 1.3 and about 16 s at load 5 on a
    2-core machine (``benchmarks/results/parallel.md``). At a 10-20 s budget
    that left no time for the first parallel trials. While this warm-up
    runs, the runner trains trials in its own process; once every worker is
    ready, trials go to the pool. Workers already warm (loky keeps them
    between fits of a session) answer within milliseconds, and the search
    is parallel from its start. Other joblib backends (Dask, Ray) bring
    their own running workers and are not warmed.
    """

    GRACE = 0.3  # seconds the runner waits for a pool that may already be warm

    def __init__(self, n_workers):
        self.error = None
        self._thread = threading.Thread(target=self._warm, args=(n_workers, os.getpid()),
                                        name="sknas-worker-warmup", daemon=True)
        self._thread.start()
        self._thread.join(self.GRACE)

    @staticmethod
    def applies():
        from joblib.parallel import get_active_backend

        return type(get_active_backend()[0]).__name__ == "LokyBackend"

    def _warm(self, n_workers, runner_pid):
        try:
            Parallel(n_jobs=n_workers, batch_size=1)(delayed(_warm_worker)(runner_pid) for _ in range(n_workers))
        except BaseException as exc:  # noqa: BLE001 - the parallel phase meets the same failure and reports it
            self.error = exc

    def ready(self):
        """Whether the pool is warm (or the warm-up ended in an error the parallel phase will meet)."""
        return not self._thread.is_alive()


def _first_attempt(marker):
    """False when ``marker`` exists: the trial already started once, on a worker that died since."""
    if marker is None:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # no shared directory (a worker on another machine): cannot tell
        pass
    return True


class TrialJob(NamedTuple):
    """What one trial needs, in the runner's process or a worker's (pickled to the worker)."""

    evaluator: object
    candidate: object
    data: object
    clock: object  # a _TrialClock, or None without a time budget
    seed: int
    key: int  # the runner's key for the trial in flight
    incumbent_loss: float | None
    stop: object = None  # the StopSignal of the runner
    marker: str | None = None  # the trial's start marker (parallel trials)
    runner_pid: int | None = None


def _run_trial(job):
    """One trial, in the runner's process or a worker's; returns ``(job.key, result)``."""
    from ..evaluation.trial import TrialResult

    _prepare_process(os.getpid() if job.runner_pid is None else job.runner_pid)
    if not _first_attempt(job.marker):
        return job.key, TrialResult.failed(LOST_AGAIN)
    deadline = None if job.clock is None else job.clock.deadline(time.time())
    result = job.evaluator.evaluate(job.candidate, job.data, deadline=deadline, seed=job.seed,
                                    incumbent_loss=job.incumbent_loss, stop=job.stop)
    if job.stop is not None and job.stop.is_set() and result.status == "failed":
        result.status = "interrupted"  # stopped before its first epoch ended: run it again on resume
    return job.key, result


