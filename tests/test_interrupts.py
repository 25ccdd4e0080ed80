"""Ctrl-C (serial, parallel, during cross-validation), resume after it, starved and lost parallel trials."""

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification

from conftest import warm_pool
from sknas import AutoNASClassifier

FAST = dict(time_budget=None, random_state=0, search="random")


def _interrupt_after(seconds):
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


class MarkStart:
    """A scaler whose fit leaves a file in ``folder`` (one per fit, from any process): a trial has started."""

    def __init__(self, folder):
        self.folder = folder

    def get_params(self, deep=True):
        return {"folder": self.folder}

    def set_params(self, **params):
        self.folder = params.get("folder", self.folder)
        return self

    def fit(self, X, y=None):
        open(os.path.join(self.folder, uuid.uuid4().hex), "w").close()
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)

    def fit_transform(self, X, y=None):
        return self.fit(X, y).transform(X)


def _interrupt_when_started(folder, n, then=1.0, timeout=300):
    """Ctrl-C ``then`` seconds after ``n`` fits were marked in ``folder``."""

    def wait():
        end = time.time() + timeout
        while len(os.listdir(folder)) < n and time.time() < end:
            time.sleep(0.05)
        time.sleep(then)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_with_parallel_trials_keeps_what_they_trained(tmp_path):
    """Ctrl-C while two parallel trials train: both stop at once, come back interrupted with their
    best epoch, and the fit returns one of them (it used to fail: 'all 2 trials failed')."""
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=10, random_state=0)
    clf = AutoNASClassifier(max_trials=50, max_epochs=2000, n_jobs=2, preprocessing=MarkStart(str(tmp_path)),
                            **FAST)
    warm_pool(2)  # both trials in workers (a cold pool runs the first trials in this process)
    waiter = _interrupt_when_started(str(tmp_path), 2, then=3.0)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        clf.fit(X, y)
    waiter.join()
    res = clf.search_results_
    interrupted = [i for i, s in enumerate(res["status"]) if s == "interrupted"]
    assert interrupted, res["status"]
    assert len(res["status"]) <= 4  # no trial started after the Ctrl-C
    trained = [i for i in interrupted if res["n_epochs"][i] >= 1]
    assert trained, [res["error"][i] for i in interrupted]
    for i in trained:  # usable: scored with its best epoch
        assert res["score"][i] > 0.5 and res["stop_reason"][i] == "interrupted"
        assert len(res["learning_curve"][i]) == res["n_epochs"][i]
    for i in set(interrupted) - set(trained):
        assert "interrupted before the first epoch ended" in res["error"][i]
    assert clf.score(X, y) > 0.6


def test_ctrl_c_during_cross_validation_stops_at_once_and_resume_reruns_it(iris, tmp_path):
    """Ctrl-C in the second trial's cross-validation: no further fold runs, the trial is 'interrupted'
    (it used to finish all folds and be 'ok'), the searcher is not told, and a resumed fit runs that
    candidate again first."""
    X, y = iris
    calls, at_signal = [], []
    arm = [True]

    def scorer(est, X_, y_):
        calls.append(time.time())
        if arm[0] and len(calls) == 6:  # trial 0 scores its 5 folds; trial 1's first fold scores now
            arm[0] = False
            threading.Timer(0.2, lambda: (at_signal.append(len(calls)), os.kill(os.getpid(), signal.SIGINT))).start()
        return float(np.mean(est.predict(X_) == y_))

    path = tmp_path / "search.ckpt"
    params = dict(FAST, max_epochs=30, scoring=scorer, checkpoint=str(path))
    clf = AutoNASClassifier(max_trials=4, **params)
    with pytest.warns(RuntimeWarning, match="interrupted after 2 trials"):
        clf.fit(X, y)
    res = clf.search_results_
    assert res["status"] == ["ok", "interrupted"], res["error"]
    assert res["n_folds"][0] == 5 and res["n_folds"][1] < 5
    assert len(calls) - at_signal[0] <= 1  # at most the fold in training when Ctrl-C came is scored
    interrupted = res["genotype"][1]
    assert [c.genotype for c, _ in clf.searcher_.history_] == res["genotype"][:1]  # not told

    from sknas.estimators import _read_checkpoint

    saved = _read_checkpoint(path)["runner"]
    assert [row["status"] for row in saved["rows"]] == ["ok"]  # as if the interrupted trial never started

    resumed = AutoNASClassifier(max_trials=2, **params).fit(X, y)
    again = resumed.search_results_
    assert resumed.n_trials_ == 2 and again["status"] == ["ok", "ok"]
    assert again["genotype"] == [res["genotype"][0], interrupted]  # the interrupted candidate, run again
    assert again["n_folds"][1] == 5


class SlowToStart(MarkStart):
    """A scaler that takes ``seconds`` to unpickle, once in each worker process (as a cold worker's imports do)."""

    _ready = set()

    def __init__(self, folder, seconds=0.0, main_pid=None):
        super().__init__(folder)
        self.seconds = seconds
        self.main_pid = main_pid

    def get_params(self, deep=True):
        return {"folder": self.folder, "seconds": self.seconds, "main_pid": self.main_pid}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if os.getpid() != self.main_pid and self.folder not in SlowToStart._ready:
            SlowToStart._ready.add(self.folder)
            time.sleep(self.seconds)

    def fit(self, X, y=None):
        return self


def test_parallel_trials_that_start_late_keep_their_time(iris, tmp_path):
    """A trial's share of the budget counts from when it starts in its worker, not from its dispatch:
    workers that take 45 % of the budget to start used to fail both first trials on their deadline."""
    X, y = iris
    clf = AutoNASClassifier(time_budget=16, max_epochs=10, n_jobs=2, random_state=0, search="random",
                            preprocessing=SlowToStart(str(tmp_path), seconds=0.45 * 16, main_pid=os.getpid()))
    clf.fit(X, y)
    res = clf.search_results_
    assert res["status"][:2] == ["ok", "ok"], res["error"][:2]
    assert min(res["n_epochs"][:2]) >= 1


def test_trial_processes_keep_glibc_adaptive_malloc(tmp_path):
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns glibc's adaptive mmap
    threshold off: every tensor over 128 KiB is then mapped and unmapped (page faults), and Dask trials ran
    about 2x slower than loky ones. A process that runs trials for a runner elsewhere restores it."""
    script = textwrap.dedent("""
        import resource
        import torch

        def faults():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(200):
                block = torch.ones(256 * 1024)  # 1 MiB
                del block
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

        faults()
        plain = faults()
        from sknas.runner import TrialJob, _run_trial
        from sknas.evaluation.trial import TrialResult

        class Nothing:
            def evaluate(self, candidate, data, **kwargs):
                return TrialResult(score=1.0)

        _run_trial(TrialJob(Nothing(), None, None, None, 0, 0, None, runner_pid=-1))  # as in a worker
        print(plain, faults())
    """)
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    plain, tuned = map(int, out.stdout.split())
    assert plain > 20_000 and tuned < plain / 10, (plain, tuned)


class DieOnce(MarkStart):
    """A scaler whose first fit anywhere kills its worker process (as an OOM kill would)."""

    def fit(self, X, y=None):
        try:
            os.close(os.open(os.path.join(self.folder, "died"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return self
        os._exit(1)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_dask_worker_killed_mid_trial_is_a_lost_worker(iris, tmp_path):
    """Dask restarts the task of a dead worker on another one; that trial used to fail as 'the deadline
    passed before the first epoch ended' (its deadline ran from the first start) or pass as if nothing happened."""
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    X, y = iris
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster):
        with parallel_config(backend="dask"):
            clf = AutoNASClassifier(max_trials=4, max_epochs=5, n_jobs=2, preprocessing=DieOnce(str(tmp_path)),
                                    **FAST).fit(X, y)
    res = clf.search_results_
    assert clf.n_trials_ == 4
    lost = [e for e in res["error"] if e and "worker lost" in e]
    assert len(lost) == 1 and "worker died" in lost[0], res["error"]
    assert res["status"].count("ok") == 3


@pytest.mark.slow
def test_terminal_ctrl_c_reaches_every_process(tmp_path):
    """Ctrl-C in a terminal signals the whole process group (the fit and its loky workers): the
    workers ignore it and the fit stops them, so the trials in flight still come back interrupted."""
    folder = tmp_path / "marks"
    folder.mkdir()
    script = textwrap.dedent(f"""
        import warnings
        from sklearn.datasets import make_classification
        from sknas import AutoNASClassifier
        from test_interrupts import MarkStart
        X, y = make_classification(n_samples=3000, n_features=20, n_informative=10, random_state=0)
        clf = AutoNASClassifier(max_trials=50, max_epochs=2000, n_jobs=2, preprocessing=MarkStart({str(folder)!r}),
                                time_budget=None, random_state=0, search="random")
        with warnings.catch_warnings(record=True):
            clf.fit(X, y)
        print("STATUS", clf.search_results_["status"], clf.score(X, y))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        end = time.time() + 300
        while len(os.listdir(folder)) < 2 and time.time() < end and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(1.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-3000:]
    line = [row for row in out.splitlines() if row.startswith("STATUS")][0]
    assert "interrupted" in line and "failed" not in line, line


@contextlib.contextmanager
def pythons_ctrl_c():
    """Python's own Ctrl-C handling (KeyboardInterrupt) inside, whatever an earlier test in this process left
    installed; the previous handler is restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class CtrlCOnAllRows(TransformerMixin, BaseEstimator):
    """A scaler that presses Ctrl-C when it is fit on ``n`` rows or more: the refit on all the data."""

    def __init__(self, n=0):
        self.n = n

    def fit(self, X, y=None):
        if len(X) >= self.n:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the KeyboardInterrupt is raised here
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)


def test_ctrl_c_during_the_refit_keeps_the_trials_model():
    X, y = make_classification(n_samples=1200, n_features=6, random_state=0)  # holdout: the winner is refit
    clf = AutoNASClassifier(max_trials=1, max_epochs=3, ensemble_size=1, preprocessing=CtrlCOnAllRows(1200),
                            **FAST)
    with pythons_ctrl_c(), pytest.warns(RuntimeWarning, match="Ctrl-C during the refit of trial 0"):
        clf.fit(X, y)
    assert clf.refit_ is False and clf.ensemble_ is None
    assert clf.search_results_["status"] == ["ok"]
    assert clf.score(X, y) > 0.6


def _ctrl_c_in_the_ensemble(estimator, X, y):
    """Accuracy; pressing Ctrl-C when asked to score fixed predictions (only the ensemble selection does)."""
    if type(estimator).__name__.startswith("_Precomputed"):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)  # the KeyboardInterrupt is raised here
    return float(np.mean(estimator.predict(X) == y))


def test_ctrl_c_during_the_ensemble_keeps_the_best_model(iris):
    """The search is over and its best model (a bag) is final: Ctrl-C while the ensemble is selected used to
    throw the whole fit away (KeyboardInterrupt out of ``fit``)."""
    X, y = iris
    clf = AutoNASClassifier(max_trials=3, max_epochs=3, scoring=_ctrl_c_in_the_ensemble, **FAST)
    with pythons_ctrl_c(), pytest.warns(RuntimeWarning, match="Ctrl-C during the ensemble selection"):
        clf.fit(X, y)
    assert clf.ensemble_ is not None and clf.ensemble_members_ == [clf.best_index_]  # the best trial's bag
    assert clf.search_results_["status"] == ["ok"] * 3
    assert clf.predict(X).shape == y.shape


def test_a_cold_pool_does_not_starve_a_short_parallel_fit(iris, tmp_path, monkeypatch):
    """Issue 18: with ``n_jobs=2`` and cold workers that take longer to start than the whole budget (7.6-16 s
    were measured on a loaded 2-core machine), every trial used to fail on its deadline and the fit raised
    "all trials failed". Trials now run in the fitting process while the pool starts."""
    from joblib.externals.loky import get_reusable_executor

    X, y = iris
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import time\ntime.sleep(20)\n")  # every new worker starts 20 s late
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    get_reusable_executor(kill_workers=True).shutdown(wait=True, kill_workers=True)  # no warm worker left
    try:
        clf = AutoNASClassifier(time_budget=6, max_epochs=5, n_jobs=2, random_state=0, search="random")
        clf.fit(X, y)
    finally:
        get_reusable_executor(kill_workers=True).shutdown(wait=True, kill_workers=True)  # the late workers
    res = clf.search_results_
    assert res["status"].count("ok") >= 1, res["error"]
    assert clf.score(X, y) > 0.6
