"""``SearchResults``: one row per trial, shaped like sklearn's ``cv_results_``."""

from __future__ import annotations

__all__ = ["SearchResults", "leaderboard"]

_COLUMNS = (
    "trial", "genotype", "score", "status", "error", "fit_time", "n_params", "flops", "latency_ms",
    "latency_batch_ms", "n_epochs", "best_epoch", "n_folds", "stop_reason", "epochs", "data_fraction",
    "source", "learning_curve", "predicted_score", "train_mode", "repaired",
)


class SearchResults:
    """Collects trials and exports them as a dict of equal-length columns.

    Besides the fixed columns (``trial``, ``genotype``, ``score``,
    ``status``, ``error``, ``fit_time``, ``n_params``, ``flops``,
    ``latency_ms``, ``latency_batch_ms``, ``n_epochs``, ``best_epoch``,
    ``n_folds``, ``stop_reason``, the fidelity ``epochs`` and
    ``data_fraction``, ``source`` -- "portfolio", "searcher" or
    "full_fidelity" -- the validation-loss ``learning_curve``, the
    ``predicted_score`` of a predictor filter and ``train_mode``, how a
    cross-validated trial's folds were trained), every
    parameter of the space gets a ``param_<name>`` column, ``None`` where it
    was inactive.
    """

    def __init__(self):
        self.rows = []

    def __len__(self):
        return len(self.rows)

    def add(self, candidate, result, source="searcher"):
        row = {
            "trial": len(self.rows),
            "genotype": candidate.genotype,
            "score": result.score,
            "status": result.status,
            "error": result.error,
            "fit_time": float(result.fit_time),
            "n_params": result.n_params,
            "flops": result.flops,
            "latency_ms": result.latency_ms,
            "latency_batch_ms": result.latency_batch_ms,
            "n_epochs": result.n_epochs,
            "best_epoch": result.best_epoch,
            "n_folds": result.n_folds,
            "stop_reason": result.stop_reason,
            "epochs": candidate.epochs,
            "data_fraction": candidate.data_fraction,
            "source": source,
            "learning_curve": list(result.learning_curve),
            "predicted_score": dict(candidate.meta).get("predicted_score"),
            "train_mode": result.train_mode,
            # the genotype the searcher proposed, when it was shrunk to fit the size limits before the trial
            "repaired": dict(candidate.meta).get("proposed") is not None,
        }
        self.rows.append(row)
        return row["trial"]

    def to_dict(self):
        names = []
        for row in self.rows:
            for key in row["genotype"]:
                if key not in names:
                    names.append(key)
        out = {col: [row.get(col) for row in self.rows] for col in _COLUMNS}
        for name in names:
            out[f"param_{name}"] = [row["genotype"].get(name) for row in self.rows]
        return out


def leaderboard(search_results, top=10):
    """Text table of the best successful trials of a ``search_results_`` dict."""
    rows = [
        i for i, status in enumerate(search_results["status"]) if status == "ok"
    ]
    rows.sort(key=lambda i: -search_results["score"][i])
    lines = [f"{'rank':>4} {'trial':>5} {'score':>8} {'fit_time':>8} {'n_params':>9} {'epochs':>6}  genotype"]
    for rank, i in enumerate(rows[:top], start=1):
        g = str(search_results["genotype"][i])
        if len(g) > 90:
            g = g[:87] + "..."
        lines.append(
            f"{rank:>4} {search_results['trial'][i]:>5} {search_results['score'][i]:>8.4f} "
            f"{search_results['fit_time'][i]:>7.2f}s {search_results['n_params'][i]:>9} "
            f"{search_results['n_epochs'][i]:>6}  {g}"
        )
    n_failed = sum(s != "ok" for s in search_results["status"])
    if n_failed:
        lines.append(f"({n_failed} trial(s) did not succeed)")
    return "\n".join(lines)
