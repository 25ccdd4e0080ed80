"""Test-session settings and what several test files share.

- one torch thread for every test (the machines have 2 cores, shared): set at
  import and re-set around each test by the autouse ``one_torch_thread``
  fixture, so that a test changing it cannot leak into the next;
- ``SPACES``: the registry of search spaces the space property suite
  (tests/space/test_properties.py), the supernet tests (tests/nn/test_supernet.py)
  and the one-shot rows of the searcher suite draw from;
- the data sets more than one file fits on (``iris``, ``bench``);
- ``fake_clock``: ``time.time`` replaced by a clock that moves one second per
  call, for deadline checks that a busy machine cannot break.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread during each test, the previous count restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the registry of search spaces ----------------------------------------------------------------
class SpaceCase(NamedTuple):
    """A space to test: ``make()`` builds it; ``input_shape`` is None for rows of any width.

    ``supernet``: the number of input features its supernet is tested with
    (tests/nn/test_supernet.py), None for the spaces of the property suite
    (tests/space/test_properties.py).
    """

    make: object
    input_shape: tuple | None = None
    supernet: int | None = None


def _spaces():
    from sknas.nn.ops import OPS
    from sknas.space.cell import CellSpace
    from sknas.space.hierarchical import HierarchicalSpace
    from sknas.space.joint import JointSpace
    from sknas.space.mlp import MLPSpace, ResNetSpace
    from sknas.space.pipeline import PipelineSpace
    from sknas.space.training import TrainingSpace

    image_ops = tuple(op for op in OPS if op in (
        "none", "skip_connect", "sep_conv_3x3", "dil_conv_5x5", "avg_pool_3x3", "conv_1x1"))
    return {
        # mlp and resnet
        "mlp": SpaceCase(lambda: JointSpace(MLPSpace(), TrainingSpace("classification"), PipelineSpace())),
        "mlp-small": SpaceCase(lambda: JointSpace(MLPSpace(max_blocks=2, max_width=64), TrainingSpace("regression"))),
        "resnet": SpaceCase(lambda: JointSpace(ResNetSpace(max_blocks=3), TrainingSpace("classification"),
                                               PipelineSpace())),
        "mlp-supernet": SpaceCase(lambda: MLPSpace(max_blocks=3, max_width=64), supernet=6),
        "mlp-one-block": SpaceCase(lambda: MLPSpace(max_blocks=1, min_width=4, max_width=16), supernet=6),
        # cells (DARTS)
        "cell": SpaceCase(lambda: JointSpace(CellSpace(), TrainingSpace("classification"))),
        "cell-fixed": SpaceCase(lambda: CellSpace(n_nodes=2, n_cells=2, width=8, operations=("linear", "none", "glu"),
                                                  combine=("concat",), final_cells=3)),
        "cell-digits": SpaceCase(lambda: CellSpace(input_shape=(1, 8, 8), width=(4, 12)), (1, 8, 8)),
        "cell-rgb-odd": SpaceCase(lambda: CellSpace(input_shape=(3, 7, 5), n_nodes=2, width=(4, 8), n_cells=(1, 4),
                                                    final_cells=5, operations=image_ops), (3, 7, 5)),
        "cell-supernet": SpaceCase(lambda: CellSpace(n_nodes=2, n_cells=2, width=8), supernet=6),
        "cell-image-supernet": SpaceCase(lambda: CellSpace(input_shape=(1, 6, 6), n_nodes=2, n_cells=3, width=4,
                                                           operations=("skip_connect", "conv_1x1", "max_pool_3x3")),
                                         (1, 6, 6), supernet=36),
        # hierarchical
        "hierarchical": SpaceCase(lambda: JointSpace(HierarchicalSpace(), TrainingSpace("regression"))),
        "hierarchical-deep": SpaceCase(lambda: HierarchicalSpace(
            n_motifs=2, motif_nodes=4, cell_nodes=3, width=8, n_cells=(1, 3),
            primitives=("linear", "glu", "none", "gelu"), final_cells=2)),
        "hierarchical-digits": SpaceCase(lambda: HierarchicalSpace(input_shape=(1, 8, 8), width=(4, 12)), (1, 8, 8)),
        "hierarchical-rgb-odd": SpaceCase(lambda: HierarchicalSpace(input_shape=(3, 7, 5), n_motifs=2, width=(4, 8),
                                                                    n_cells=(1, 5), final_cells=4), (3, 7, 5)),
    }


SPACES = _spaces()
#: the supernet cases (tests/nn/test_supernet.py); the others are the searchable spaces of the property suite
SUPERNET_SPACES = sorted(name for name, case in SPACES.items() if case.supernet is not None)
PROPERTY_SPACES = sorted(name for name, case in SPACES.items() if case.supernet is None)


# -- data sets -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def iris():
    """``(X, y)`` of scikit-learn's iris (150 rows, 3 classes), shared by the session: do not change it in place."""
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def bench():
    """The tabulated benchmark (sknas.benchmark.tabulated.TabularBenchmark), loaded once."""
    from sknas.benchmark.tabulated import TabularBenchmark

    return TabularBenchmark()


# -- a clock of the test's own ---------------------------------------------------------------------
class FakeClock:
    """A ``time.time`` that starts at 0 and moves one second per call (``now``: the last value given)."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        self.now += 1.0
        return self.now


@pytest.fixture
def fake_clock(monkeypatch):
    """``time.time`` is a :class:`FakeClock` during the test: deadlines count calls (e.g. batches), not seconds."""
    clock = FakeClock()
    monkeypatch.setattr(time, "time", clock.time)
    return clock


def warm_pool(n_jobs=2):
    """Start (or reuse) joblib's loky workers and ready them, as a fit's warm-up does.

    With a cold pool a fit with ``n_jobs > 1`` runs its first trials in its own process while the workers
    start (:class:`sknas.runner._WorkerWarmup`); tests about trials in workers warm the pool first.
    """
    import os

    from joblib import Parallel, delayed

    from sknas.runner import _warm_worker

    Parallel(n_jobs=n_jobs)(delayed(_warm_worker)(os.getpid()) for _ in range(n_jobs))
