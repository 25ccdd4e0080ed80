"""A search report: one self-contained HTML file about a fitted sknas estimator.

``sknas.report(estimator, "report.html")`` (or ``sknas report MODEL -o
report.html`` on the command line) writes one HTML file that opens offline
in any browser: the plots are PNG images embedded as base64 ``data:`` URIs,
the style sheet is inline, and nothing is fetched from anywhere. Its
sections, each a ``<section id="...">``:

``summary``
    The estimator, its search and space, best score, trials and fit time.
``leaderboard``
    The best successful trials, and how many failed or were pruned.
``history``
    Each trial's score and the best so far over the search
    (:func:`sknas.plotting.plot_search_history`).
``genotype``
    The best genotype, drawn (:func:`sknas.plotting.plot_genotype`) and
    written out.
``learning-curves``
    The validation-loss curves of the best trials, and the final network's
    training history (:func:`sknas.plotting.plot_learning_curves`).
``pareto``
    Only for a multi-objective search (``objectives`` beyond "score"): score
    against each other objective, the non-dominated trials joined
    (:func:`sknas.plotting.plot_pareto_front`), and ``pareto_front_``.
``time``
    How ``fit_time_`` divided (``time_spent_``).
``data``
    Rows and columns seen by the fit, the columns by kind, and the columns
    the cleaning step removed, with the reason.

The decision importance of the search is not reported yet (``sknas.inspect``
does not exist). Needs matplotlib (``pip install sknas[plot]``).

The package exports :func:`report` as ``sknas.report``, which hides this
module's name on the package: import other names of the module with
``from sknas.report import render_report``.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
import os

from sklearn.utils.validation import check_is_fitted

__all__ = ["SECTIONS", "render_report", "report"]

SECTIONS = ("summary", "leaderboard", "history", "genotype", "learning-curves", "pareto", "time", "data")
_TIME_PARTS = ("search", "full_fidelity", "refit", "ensemble")

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 3em; background: #fff; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #dde3ea; padding-bottom: 0.2em; margin-top: 1.8em; }
p.meta { color: #666; margin-top: 0; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f0f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.genotype, code.genotype { font-family: monospace; font-size: 0.85em; word-break: break-all; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
.bar { display: flex; height: 1.6em; border-radius: 4px; overflow: hidden; margin: 0.6em 0; }
.bar span { display: block; height: 100%; }
.note { color: #666; font-size: 0.9em; }
"""
_TIME_COLORS = {"search": "#4c78a8", "full_fidelity": "#72b7b2", "refit": "#f58518", "ensemble": "#e45756",
                "other": "#bab0ac"}


# ---------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------
def _esc(value):
    return html.escape(str(value), quote=True)


def _num(value, digits=4):
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def _table(header, rows, numeric=()):
    out = ["<table>", "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = []
        for name, value in zip(header, row):
            cls = ' class="num"' if name in numeric else (' class="genotype"' if name == "genotype" else "")
            cells.append(f"<td{cls}>{_esc(value)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _figure(figsize):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=figsize, dpi=100)
    return fig, fig.subplots()


def _png(fig):
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.15)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(fig, alt):
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _plot(draw, alt, figsize=(8, 4.5)):
    """An ``<img>`` of what ``draw(ax)`` draws, or a note saying why it could not be drawn."""
    fig, ax = _figure(figsize)
    try:
        draw(ax)
    except (ValueError, KeyError, TypeError) as exc:
        return f'<p class="note">No {_esc(alt)}: {_esc(exc)}</p>'
    return _image(fig, alt)


def _section(key, title, body):
    return f'<section id="{key}">\n<h2>{_esc(title)}</h2>\n{body}\n</section>'


def _ok_rows(res):
    rows = [i for i, (status, score) in enumerate(zip(res["status"], res["score"]))
            if status == "ok" and score is not None and math.isfinite(score)]
    return sorted(rows, key=lambda i: (-res["score"][i], i))


# ---------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------
def _summary(est):
    params = est.get_params(deep=False)
    res = est.search_results_
    statuses = list(res["status"])
    search, space = params["search"], params["space"]
    rows = [
        ("estimator", type(est).__name__),
        ("task", "classification" if hasattr(est, "classes_") else "regression"),
        ("search", search if isinstance(search, str) else type(search).__name__),
        ("space", space if isinstance(space, str) else type(space).__name__),
        ("objectives", ", ".join(params["objectives"])),
        ("best score", f"{est.best_score_:.4f} (trial {est.best_index_})"),
        ("trials", f"{len(statuses)}: {statuses.count('ok')} ok, {statuses.count('failed')} failed, "
                   f"{statuses.count('pruned')} pruned"),
        ("time budget", "none" if params["time_budget"] is None else f"{params['time_budget']:g} s"),
        ("fit time", f"{getattr(est, 'fit_time_', float('nan')):.1f} s"),
        ("final model", ("refit on all the data" if getattr(est, "refit_", False) else "the best trial's model")
         + ("" if getattr(est, "ensemble_", None) is None
            else f"; ensemble of trials {list(est.ensemble_members_)} (weights {list(est.ensemble_weights_)})")),
    ]
    if hasattr(est, "classes_"):
        rows.insert(2, ("classes", ", ".join(map(str, est.classes_))))
    return _section("summary", "Summary", _table(("", "value"), rows))


def _leaderboard(est, top):
    res = est.search_results_
    ok = _ok_rows(res)
    extra = [c for c in ("flops", "latency_ms") if c in res and any(res[c][i] is not None for i in ok)]
    header = ["rank", "trial", "score", "fit time (s)", "n_params", *extra, "epochs", "source", "genotype"]
    rows = []
    for rank, i in enumerate(ok[:top], start=1):
        rows.append([rank, res["trial"][i], _num(res["score"][i]), _num(res["fit_time"][i], 2),
                     _num(res["n_params"][i]), *(_num(res[c][i], 3) for c in extra), res["n_epochs"][i],
                     res["source"][i], str(res["genotype"][i])])
    body = _table(header, rows, numeric={"rank", "trial", "score", "fit time (s)", "n_params", "epochs", *extra})
    others = [i for i, s in enumerate(res["status"]) if s != "ok"]
    if others:
        lines = [[res["trial"][i], res["status"][i], _num(res["fit_time"][i], 2),
                  (res["error"][i] or res["stop_reason"][i] or "").splitlines()[0] if
                  (res["error"][i] or res["stop_reason"][i]) else ""] for i in others[:top]]
        body += f"\n<p>{len(others)} trial(s) did not succeed" + (f" (the first {top} below)" if len(others) > top
                                                                     else "") + ":</p>\n"
        body += _table(("trial", "status", "fit time (s)", "reason"), lines, numeric={"trial", "fit time (s)"})
    note = f"<p class=\"note\">The best {min(top, len(ok))} of {len(ok)} successful trials, by validation score.</p>"
    return _section("leaderboard", "Leaderboard", note + "\n" + body)


def _history(est):
    from .plotting import plot_search_history

    img = _plot(lambda ax: plot_search_history(est.search_results_, ax=ax), "search history")
    return _section("history", "Score over the search", img)


def _genotype(est):
    from .plotting import plot_genotype

    genotype = est.best_genotype_
    n_blocks = int(dict(genotype).get("n_blocks", 3) or 3)
    width = min(16.0, max(7.0, 1.9 * (n_blocks + 2)))
    img = _plot(lambda ax: plot_genotype(genotype, space=getattr(est, "space_", None), ax=ax),
                "best genotype", figsize=(width, 4.2))
    text = f'<p><code class="genotype">{_esc(genotype)}</code></p>'
    return _section("genotype", f"Best genotype (trial {est.best_index_})", img + "\n" + text)


def _learning_curves(est, n_curves=5):
    from .plotting import plot_learning_curves

    res = est.search_results_
    curves = {f"trial {res['trial'][i]} ({res['score'][i]:.4f})": res["learning_curve"][i]
              for i in _ok_rows(res)[:n_curves] if res.get("learning_curve") and res["learning_curve"][i]}
    parts = []
    if curves:
        parts.append(f"<p>Validation loss per epoch of the {len(curves)} best trials.</p>")
        parts.append(_plot(lambda ax: plot_learning_curves(curves, ax=ax, ylabel="validation loss"),
                           "learning curves of the best trials"))
    else:
        parts.append('<p class="note">The trials recorded no learning curve.</p>')
    net = getattr(est.best_estimator_, "named_steps", {}).get("net")
    if getattr(net, "history_", None):
        parts.append("<p>Training history of the final network.</p>")
        parts.append(_plot(lambda ax: plot_learning_curves(est, ax=ax), "final network's training history"))
    return _section("learning-curves", "Learning curves", "\n".join(parts))


def _pareto(est):
    from .evaluation.objectives import OBJECTIVE_COLUMNS
    from .plotting import plot_pareto_front

    objectives = [o for o in est.get_params(deep=False)["objectives"] if o != "score"]
    res = est.search_results_
    parts = []
    for objective in objectives:
        column = OBJECTIVE_COLUMNS.get(objective, objective)
        parts.append(_plot(lambda ax, c=column: plot_pareto_front(res, x=c, ax=ax),
                           f"Pareto front of score and {column}"))
    front = list(getattr(est, "pareto_front_", []))
    columns = [OBJECTIVE_COLUMNS.get(o, o) for o in objectives]
    rows = [[res["trial"][i], _num(res["score"][i]), *(_num(res[c][i], 3) for c in columns), str(res["genotype"][i])]
            for i in front]
    parts.append(f"<p>{len(front)} non-dominated trial(s) (<code>pareto_front_</code>):</p>")
    parts.append(_table(("trial", "score", *columns, "genotype"), rows, numeric={"trial", "score", *columns}))
    return _section("pareto", "Pareto front", "\n".join(parts))


def _time(est):
    spent = dict(getattr(est, "time_spent_", {}) or {})
    total = float(spent.get("total", getattr(est, "fit_time_", 0.0)) or 0.0)
    parts = [(name, float(spent.get(name, 0.0) or 0.0)) for name in _TIME_PARTS]
    other = total - sum(t for _, t in parts)
    if other > 1e-3:
        parts.append(("other", other))  # validation, splitting, bookkeeping
    bar = "".join(
        f'<span title="{name}: {t:.2f} s" style="width:{100 * t / total:.2f}%;background:{_TIME_COLORS[name]}"></span>'
        for name, t in parts if total > 0 and t > 0
    )
    legend = " ".join(f'<span style="color:{_TIME_COLORS[name]}">&#9632;</span> {name}' for name, _ in parts)
    rows = [(name, f"{t:.2f}", f"{100 * t / total:.1f} %" if total > 0 else "") for name, t in parts]
    rows.append(("total", f"{total:.2f}", "100 %" if total > 0 else ""))
    budget = est.get_params(deep=False)["time_budget"]
    note = "" if budget is None else f'<p class="note">Time budget: {budget:g} s.</p>'
    return _section("time", "Time split", f'<div class="bar">{bar}</div>\n<p class="note">{legend}</p>\n'
                    + _table(("part", "seconds", "share"), rows, numeric={"seconds", "share"}) + note)


def _cleaner_of(preprocessing):
    steps = getattr(preprocessing, "steps", [("preprocessing", preprocessing)])
    for _, step in steps:
        if hasattr(step, "column_kinds_"):
            return step
    return None


def _data(est):
    n_rows = getattr(est, "n_samples_fit_", None)
    rows = [("rows", "unknown (a model from an older sknas)" if n_rows is None else n_rows),
            ("columns", est.n_features_in_)]
    preprocessing = getattr(est.best_estimator_, "named_steps", {}).get("preprocessing")
    cleaner = _cleaner_of(preprocessing)
    parts = []
    if cleaner is not None:
        by_kind = {}
        for column, kind in cleaner.column_kinds_.items():
            by_kind.setdefault(kind, []).append(str(column))
        for kind, columns in sorted(by_kind.items()):
            shown = ", ".join(columns[:12]) + (f", ... ({len(columns) - 12} more)" if len(columns) > 12 else "")
            rows.append((f"{kind} columns", f"{len(columns)}: {shown}"))
        rows.append(("columns after cleaning", len(cleaner.feature_names_out_)))
    for _, step in getattr(preprocessing, "steps", []):
        if hasattr(step, "n_features_out_"):
            rows.append(("features into the network", step.n_features_out_))
    parts.append(_table(("", "value"), rows))
    if cleaner is None:
        parts.append('<p class="note">The preprocessing has no cleaning step (image rows or a given '
                     "transformer): no column kinds to report.</p>")
    elif cleaner.removed_columns_:
        parts.append(f"<p>{len(cleaner.removed_columns_)} column(s) removed by the cleaning step:</p>")
        parts.append(_table(("column", "reason"), sorted(cleaner.removed_columns_.items(), key=lambda kv: str(kv[0]))))
    else:
        parts.append("<p>No column was removed.</p>")
    return _section("data", "Data", "\n".join(parts))


# ---------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------
def render_report(estimator, top=10, title=None):
    """The report of a fitted estimator as one HTML string (see :func:`report`)."""
    from . import __version__
    from .plotting import _pyplot

    check_is_fitted(estimator, "best_estimator_")
    _pyplot()  # a clear message when matplotlib is missing
    objectives = [o for o in estimator.get_params(deep=False)["objectives"] if o != "score"]
    sections = [_summary(estimator), _leaderboard(estimator, top), _history(estimator), _genotype(estimator),
                _learning_curves(estimator)]
    if objectives:
        sections.append(_pareto(estimator))
    sections += [_time(estimator), _data(estimator)]
    title = title or f"sknas search report: {type(estimator).__name__}"
    names = {"summary": "Summary", "leaderboard": "Leaderboard", "history": "Score over time",
             "genotype": "Best genotype", "learning-curves": "Learning curves", "pareto": "Pareto front",
             "time": "Time split", "data": "Data"}
    present = [s for s in SECTIONS if s != "pareto" or objectives]
    nav = " ".join(f'<a href="#{s}">{names[s]}</a>' for s in present)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">Written by sknas {_esc(__version__)} on {stamp}.</p>',
        f"<nav>{nav}</nav>",
        *sections,
        "</main>",
        "</body>",
        "</html>",
        "",
    ])


def report(estimator, path, top=10, title=None):
    """Write one self-contained HTML report of a fitted search to ``path``.

    The file opens offline in any browser: plots are embedded PNG images,
    the style is inline, nothing is fetched. It has the sections summary,
    leaderboard, score over time, the best genotype drawn, learning curves
    of the best trials, the Pareto front (multi-objective searches only),
    the time split (``time_spent_``) and the data summary (rows, columns by
    kind, removed columns). See :mod:`sknas.report` for each section.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted (or read back with :func:`sknas.load`).
    path : str or path-like
        The HTML file to write (overwritten).
    top : int, default=10
        Rows of the leaderboard.
    title : str or None, default=None
        The page's title; None: "sknas search report: <class>".

    Returns
    -------
    path : str
        The path written.

    Examples
    --------
    >>> import sknas
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = sknas.AutoNASClassifier(time_budget=None, max_trials=2, max_epochs=3, random_state=0).fit(X, y)
    >>> sknas.report(clf, "report.html")  # doctest: +SKIP
    'report.html'
    """
    text = render_report(estimator, top=top, title=title)
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
