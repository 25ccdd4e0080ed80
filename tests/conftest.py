"""Test-session settings: one torch thread (the machines have 2 cores, shared)."""

import torch

torch.set_num_threads(1)


def warm_pool(n_jobs=2):
    """Start (or reuse) joblib's loky workers and ready them, as a fit's warm-up does.

    With a cold pool a fit with ``n_jobs > 1`` runs its first trials in its own process while the workers
    start (:class:`sknas.runner._WorkerWarmup`); tests about trials in workers warm the pool first.
    """
    import os

    from joblib import Parallel, delayed

    from sknas.runner import _warm_worker

    Parallel(n_jobs=n_jobs)(delayed(_warm_worker)(os.getpid()) for _ in range(n_jobs))
