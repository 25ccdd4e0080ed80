"""The search's progress bar: its final line reports the trials, failures, prunings and best score."""

import io
import re

import numpy as np
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.progress import SearchProgress
from sknas.runner import Runner
from sknas.search.random import RandomSearch
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace

COUNTS = re.compile(r"trials=(\d+), failed=(\d+), pruned=(\d+), best=(\S+)")


def final_line(text):
    """What a terminal shows last of a tqdm output: the text after the last carriage return."""
    return [chunk for chunk in re.split(r"[\r\n]", text) if chunk.strip()][-1]


def counts(line):
    match = COUNTS.search(line)
    assert match, line
    n, failed, pruned, best = match.groups()
    return int(n), int(failed), int(pruned), None if best == "-" else float(best)


def test_the_final_state_counts_every_status_over_the_trials():
    out = io.StringIO()
    progress = SearchProgress(time_budget=None, max_trials=5, file=out)
    for status, best in [("ok", 0.7), ("failed", 0.7), ("pruned", 0.7), ("ok", 0.85), ("failed", 0.85)]:
        progress.update(status, best)
    progress.close()
    assert progress.last_line == final_line(out.getvalue())
    assert "5/5 trials" in progress.last_line and "100%" in progress.last_line
    assert counts(progress.last_line) == (5, 2, 1, 0.85)


def test_a_time_bar_runs_over_the_budget_and_counts_earlier_trials():
    out = io.StringIO()
    earlier = [{"status": "ok"}, {"status": "pruned"}]  # a resumed checkpoint's rows
    progress = SearchProgress(time_budget=3600.0, max_trials=10, rows=earlier, file=out, refresh_interval=None)
    progress.update("ok", None)  # no trial may become the model yet (constraints): no best score
    progress.close()
    assert re.search(r"\| 0/3600s \[", progress.last_line), progress.last_line
    assert counts(progress.last_line) == (3, 0, 1, None)


class _Unshrinkable(JointSpace):
    """A space that knows no smaller network: proposals over a size limit are not repaired (they fail)."""

    def shrink(self, genotype):
        return None


def _runner(**kwargs):
    space = _Unshrinkable(MLPSpace(max_blocks=2, max_width=64), TrainingSpace())
    # trials over 1,500 parameters fail without training: a search with failures, fast
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=3,
                          classes=np.array([0, 1]), max_params=1500)
    return Runner(RandomSearch().setup(space, 0), evaluator, seed=0, **kwargs)


def _data(n=200):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 5)) + y[:, None]
    return TrialData(X[:150], y[:150], X[150:], y[150:])


def test_the_bar_advances_as_parallel_results_arrive(capsys):
    runner = _runner(max_trials=8, n_jobs=2, verbose=1)
    results = runner.run(_data()).to_dict()
    captured = capsys.readouterr()
    assert "[sknas] trial" not in captured.out  # per-trial lines are for verbose=2
    line = final_line(captured.err)
    statuses = results["status"]
    assert "8/8 trials" in line
    n, failed, pruned, best = counts(line)
    assert (n, failed, pruned) == (len(statuses), statuses.count("failed"), statuses.count("pruned"))
    assert 0 < failed < n  # the check above saw both kinds
    assert best == round(max(s for s in results["score"] if s is not None), 4)
    # one redraw per result at least: the trial count went through every value
    seen = {counts(chunk)[0] for chunk in re.split(r"[\r\n]", captured.err) if COUNTS.search(chunk)}
    assert seen >= set(range(1, 9))


def test_verbose_two_adds_a_line_per_trial_and_zero_is_silent(capsys):
    runner = _runner(max_trials=3, verbose=2)
    runner.run(_data())
    captured = capsys.readouterr()
    assert len(re.findall(r"^\[sknas\] trial +\d", captured.out, flags=re.M)) == 3
    assert counts(final_line(captured.err))[0] == 3
    runner = _runner(max_trials=2, verbose=0)
    runner.run(_data())
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "" and runner.progress is None
