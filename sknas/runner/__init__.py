"""The runner layer: the search loop, its budget, the phases after it, and trial execution.

- :mod:`~sknas.runner.loop`: :class:`Runner`, the search loop (asks the
  searcher, dispatches trials, records results, Ctrl-C, the resumable state);
- :mod:`~sknas.runner.budget`: :class:`Budget`, the clock and the reserve;
- :mod:`~sknas.runner.post`: :class:`PostSearch`, full fidelity, refit and
  ensemble after the search, returning a :class:`FinalModel`;
- :mod:`~sknas.runner.trials`: one trial in a process (:class:`TrialJob`),
  readying worker processes and warming a cold pool.
"""

from .budget import SAFETY, Budget
from .loop import LibraryEntry, Runner, SearchAborted
from .post import FinalModel, PostSearch
from .trials import TrialJob, _prepare_process, _run_trial, _warm_worker, _WorkerWarmup

__all__ = ["SAFETY", "Budget", "FinalModel", "LibraryEntry", "PostSearch", "Runner", "SearchAborted", "TrialJob"]
