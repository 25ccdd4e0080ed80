"""The progress bar of a search (``verbose >= 1``): a ``tqdm.auto`` bar the runner feeds.

The bar runs over the time budget (elapsed seconds of the fit out of
``time_budget``) or, without a budget, over ``max_trials``; with neither it
counts trials. Its postfix tells the trials done, how many failed and were
pruned, and the best score so far::

    sknas search:  45%|████▌     | 27/60s [00:27<00:33], trials=14, failed=1, pruned=2, best=0.9650

The runner calls :meth:`SearchProgress.update` from :meth:`Runner._record
<sknas.runner.Runner._record>`, i.e. whenever a result arrives, in the
order they arrive (also with ``n_jobs > 1`` or a Dask backend, where results
come back from the workers to the process that runs the search). A time
bar also moves between results: a daemon thread redraws it once a second,
so a long trial does not freeze it. Per-trial lines (``verbose=2``) go
through :meth:`SearchProgress.write`, which prints above the bar.

This module sits beside the runner (it is part of the runner's stage, the
"progress" of DESIGN.md's ``runner.py``): it imports nothing of sknas, so
the runner may import it without breaking the layers.
"""

from __future__ import annotations

import math
import sys
import threading
import time

__all__ = ["SearchProgress"]

_TIME_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}s [{elapsed}<{remaining}]{postfix}"
_TRIAL_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} trials [{elapsed}<{remaining}]{postfix}"
_OPEN_FORMAT = "{desc}: {n_fmt} trials [{elapsed}]{postfix}"


class SearchProgress:
    """A progress bar over a search's budget, with trial counts and the best score.

    Parameters
    ----------
    time_budget : float or None
        Seconds of the whole fit; the bar runs over them when set.
    max_trials : int or None
        The bar runs over the trials when there is no time budget.
    start : float or None, default=None
        ``time.time()`` when the fit started (the bar's elapsed time counts
        from it); None: now.
    rows : list of dict, default=()
        Trials recorded before (a resumed checkpoint or a warm start): they
        count in the totals.
    file : file-like or None, default=None
        Where the bar is drawn; None: ``sys.stderr`` (tqdm's default).
    refresh_interval : float or None, default=1.0
        Seconds between redraws of a time bar while no result arrives;
        None: redraw only when a result arrives.

    Attributes
    ----------
    n_trials, n_failed, n_pruned : int
        Trials recorded so far, and how many of them failed or were pruned.
    best_score : float or None
        The best score of a trial that may become the model (the runner
        passes it, constraints considered).
    last_line : str or None
        The bar's final text, once :meth:`close` drew it.
    """

    def __init__(self, time_budget=None, max_trials=None, *, start=None, rows=(), file=None,
                 refresh_interval=1.0):
        from tqdm.auto import tqdm

        self.time_budget = time_budget
        self.max_trials = max_trials
        self.start = time.time() if start is None else start
        self.n_trials = len(rows)
        self.n_failed = sum(row["status"] == "failed" for row in rows)
        self.n_pruned = sum(row["status"] == "pruned" for row in rows)
        self.best_score = None
        self.last_line = None
        self._lock = threading.Lock()
        self._by_time = time_budget is not None
        if self._by_time:
            total, fmt, initial = float(time_budget), _TIME_FORMAT, min(self._elapsed(), float(time_budget))
        elif max_trials is not None:
            total, fmt, initial = int(max_trials), _TRIAL_FORMAT, self.n_trials
        else:
            total, fmt, initial = None, _OPEN_FORMAT, self.n_trials
        self.bar = tqdm(total=total, initial=initial, desc="sknas search", bar_format=fmt,
                        file=sys.stderr if file is None else file, dynamic_ncols=True, leave=True,
                        mininterval=0.2)
        self.bar.start_t = self.start  # elapsed and remaining count from the start of the fit
        self.bar.set_postfix_str(self._postfix(), refresh=True)
        self._stop = threading.Event()
        self._ticker = None
        if self._by_time and refresh_interval:
            self._ticker = threading.Thread(target=self._tick, args=(refresh_interval,), daemon=True,
                                            name="sknas-progress")
            self._ticker.start()

    def _elapsed(self):
        return max(0.0, time.time() - self.start)

    def _postfix(self):
        best = "-" if self.best_score is None else f"{self.best_score:.4f}"
        return f"trials={self.n_trials}, failed={self.n_failed}, pruned={self.n_pruned}, best={best}"

    def _advance(self):
        # called under the lock: the bar's position is the elapsed time or the trial count
        self.bar.n = min(self._elapsed(), self.bar.total) if self._by_time else self.n_trials
        self.bar.set_postfix_str(self._postfix(), refresh=False)
        self.bar.refresh()

    def _tick(self, interval):
        while not self._stop.wait(interval):
            with self._lock:
                if self.bar.disable:
                    return
                self._advance()

    def update(self, status, best_score=None):
        """Count one recorded trial (``status``: "ok", "failed" or "pruned") and the best score so far."""
        with self._lock:
            self.n_trials += 1
            self.n_failed += status == "failed"
            self.n_pruned += status == "pruned"
            if best_score is not None and math.isfinite(best_score):
                self.best_score = float(best_score)
            self._advance()

    def write(self, line, file=None):
        """Print ``line`` (to ``sys.stdout`` by default) above the bar, which is redrawn below it."""
        with self._lock:
            self.bar.write(line, file=sys.stdout if file is None else file)

    def close(self):
        """Draw the final state and leave it on screen."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if not self.bar.disable:
                self._advance()
                self.last_line = str(self.bar)
                self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
