"""Plots of a search and of its networks (matplotlib, imported only when plotting).

Every function draws on ``ax`` (a new figure's axes when None) and returns
the matplotlib ``Axes``:

- :func:`plot_search_history`: each trial's score and the best so far,
  against the cumulative fit time;
- :func:`plot_pareto_front`: score against size (or another column), the
  non-dominated trials joined;
- :func:`plot_genotype`: the network a genotype describes, blocks as boxes
  and skip connections as arcs, or (cell and hierarchical spaces) each cell
  as a DAG with its operations on the edges (:func:`genotype_graphs`);
- :func:`plot_learning_curves`: loss curves per epoch;
- :func:`plot_decision_importance`: each searched decision's share of the
  variance of trial scores (fANOVA, :func:`sknas.inspect.decision_importance`);
- :func:`plot_ablation`: each decision's contribution to the winner's
  validation score (ablation, :func:`sknas.inspect.ablation`);
- :func:`plot_feature_importance`: permutation importance of the input
  columns, removed columns marked (:func:`sknas.inspect.feature_importance`).

matplotlib is optional: ``pip install sknas[plot]`` (or ``pip install matplotlib``).
"""

from __future__ import annotations

import math

import numpy as np

from .evaluation.objectives import pareto_front

__all__ = ["genotype_graphs", "plot_ablation", "plot_decision_importance", "plot_feature_importance", "plot_genotype",
           "plot_learning_curves", "plot_pareto_front", "plot_search_history"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("sknas.plotting needs matplotlib: pip install sknas[plot] (or pip install matplotlib)") from None
    return plt


def _axes(ax, figsize=(7, 4.5)):
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _columns(search_results, needed, caller):
    if hasattr(search_results, "search_results_"):  # a fitted estimator
        search_results = search_results.search_results_
    if hasattr(search_results, "to_dict") and hasattr(search_results, "columns"):  # a DataFrame
        search_results = search_results.to_dict(orient="list")
    if not isinstance(search_results, dict):
        raise TypeError(f"{caller}: expected a search_results_ dict (or a fitted estimator). "
                        f"Got {type(search_results).__name__} instead.")
    missing = [c for c in needed if c not in search_results]
    if missing:
        raise ValueError(f"{caller}: search_results lacks the column(s) {missing}; "
                         f"it has {sorted(search_results)}.")
    return search_results


def _ok_rows(res):
    return [i for i, (status, score) in enumerate(zip(res["status"], res["score"]))
            if status == "ok" and score is not None and math.isfinite(score)]


def plot_search_history(search_results, ax=None, time_axis=True):
    """Each trial's score and the best score so far, against cumulative fit time.

    Parameters
    ----------
    search_results : dict, DataFrame or fitted estimator
        ``search_results_`` of a fitted sknas estimator.
    ax : matplotlib Axes or None, default=None
    time_axis : bool, default=True
        x is the cumulative ``fit_time`` (summed over trials in order; with
        ``n_jobs > 1`` trials overlapped, so it exceeds the wall clock);
        False: the trial number.

    Returns
    -------
    ax : matplotlib Axes
    """
    res = _columns(search_results, ("score", "status", "fit_time"), "plot_search_history")
    ax = _axes(ax)
    n = len(res["score"])
    times = np.cumsum([float(t or 0.0) for t in res["fit_time"]]) if time_axis else np.arange(1, n + 1)
    ok = _ok_rows(res)
    failed = [i for i in range(n) if i not in set(ok)]
    scores = np.array([res["score"][i] for i in ok], dtype=float)
    if ok:
        ax.scatter(times[ok], scores, s=18, alpha=0.6, color="tab:blue", label="trial")
        best, xs, ys = -np.inf, [], []
        for i in ok:
            best = max(best, float(res["score"][i]))
            xs.append(times[i])
            ys.append(best)
        xs.append(times[-1])
        ys.append(best)
        ax.step(xs, ys, where="post", color="tab:orange", linewidth=2, label="best so far")
    if failed:
        y_fail = scores.min() if len(scores) else 0.0
        ax.scatter(times[failed], np.full(len(failed), y_fail), marker="x", color="tab:red",
                   label="failed / pruned")
    ax.set_xlabel("cumulative fit time (s)" if time_axis else "trial")
    ax.set_ylabel("validation score")
    ax.set_title(f"Search history ({len(ok)} of {n} trials succeeded)")
    if n:
        ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    return ax


def plot_pareto_front(search_results, x="n_params", ax=None, log_x=None):
    """Score against ``x`` (model size by default), the non-dominated trials joined.

    Parameters
    ----------
    search_results : dict, DataFrame or fitted estimator
    x : str, default="n_params"
        A numeric column of ``search_results`` to minimize ("n_params",
        "fit_time", "flops", "latency_ms"...).
    ax : matplotlib Axes or None, default=None
    log_x : bool or None, default=None
        Logarithmic x axis; None: when the values span more than 20x.

    Returns
    -------
    ax : matplotlib Axes
    """
    res = _columns(search_results, ("score", "status", x), "plot_pareto_front")
    ax = _axes(ax)
    rows = [i for i in _ok_rows(res) if res[x][i] is not None and math.isfinite(float(res[x][i]))]
    xs = [float(res[x][i]) for i in rows]
    ys = [float(res["score"][i]) for i in rows]
    if rows:
        ax.scatter(xs, ys, s=18, alpha=0.5, color="tab:blue", label="trial")
        # the non-dominated trials (size minimized, score maximized), along the x axis for the step line
        front = sorted(pareto_front([[x_, -y_] for x_, y_ in zip(xs, ys)]), key=lambda i: (xs[i], -ys[i]))
        fx = [xs[i] for i in front]
        fy = [ys[i] for i in front]
        ax.step(fx, fy, where="post", color="tab:orange", linewidth=2)
        ax.scatter(fx, fy, s=40, color="tab:orange", zorder=3, label="Pareto front")
        positive = [v for v in xs if v > 0]
        if log_x is None:
            log_x = bool(positive) and len(positive) == len(xs) and max(positive) / min(positive) > 20
        if log_x:
            ax.set_xscale("log")
        ax.legend(loc="lower right")
    ax.set_xlabel(x)
    ax.set_ylabel("validation score")
    ax.set_title(f"Score vs {x} ({len(rows)} successful trials)")
    ax.grid(True, alpha=0.3)
    return ax


# ---------------------------------------------------------------------------------------
# genotypes
# ---------------------------------------------------------------------------------------
def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _mlp_nodes(g):
    """(boxes, skips) of an MLPSpace genotype: DenseDAG node i+1 is block i's output."""
    n_blocks = int(g.get("n_blocks", 1))
    boxes = ["input"]
    skips = []
    for i in range(n_blocks):
        parts = [f"block {i}", f"width {g[f'width_{i}']}", str(g.get(f"act_{i}", ""))]
        norm = g.get(f"norm_{i}", "none")
        if norm != "none":
            parts.append(f"{norm} norm")
        dropout = float(g.get(f"dropout_{i}", 0.0) or 0.0)
        if dropout > 0:
            parts.append(f"dropout {dropout:.2f}")
        boxes.append("\n".join(parts))
        skip = g.get(f"skip_{i}", "none") if i > 0 else "none"
        if skip not in ("none", None):
            skips.append((int(skip), i + 1))  # node skip -> block i's box (node i + 1)
    if g.get("wide"):  # Wide & Deep: a linear map of the input added to the head's output
        skips.append((0, n_blocks + 1))
        boxes.append("linear head\n+ wide (linear)")
    else:
        boxes.append("linear head" if n_blocks else "linear head\n(linear model)")
    return boxes, skips


def _resnet_nodes(g):
    n_blocks = int(g["n_blocks"])
    width = g["width"]
    hidden = max(1, int(round(width * float(g.get("hidden_factor", 1.0)))))
    boxes = ["input", f"stem\nlinear {width}"]
    for i in range(n_blocks):
        boxes.append(f"residual {i}\n{g.get('norm', '')} norm\n{width}>{hidden}>{width}\n{g.get('act', '')}")
    boxes.append(f"{g.get('norm', '')} norm\n{g.get('act', '')}\nlinear head")
    skips = [(k, k + 2) for k in range(1, n_blocks + 1)]  # a block's input bypasses it and is added to its output
    return boxes, skips


def _split_genotype(genotype, space):
    """(architecture part, other decisions) of a genotype."""
    g = dict(genotype)
    if space is not None and hasattr(space, "arch_genotype"):
        arch = dict(space.arch_genotype(genotype))
        return arch, {k: v for k, v in g.items() if k not in arch}
    if "width_0" in g or g.get("n_blocks") == 0:
        keys = {k for k in g if k in ("n_blocks", "wide") or k.split("_")[0] in ("width", "act", "norm", "dropout", "skip")}
    elif "hidden_factor" in g:
        keys = {"n_blocks", "width", "hidden_factor", "norm", "act", "hidden_dropout", "residual_dropout"}
    else:
        keys = set()
    return {k: v for k, v in g.items() if k in keys}, {k: v for k, v in g.items() if k not in keys}


def genotype_graphs(space, genotype):
    """The graphs of ``genotype``'s network as plain data (what :func:`plot_genotype` draws for graph spaces).

    A list of dicts with ``title``, ``nodes`` (in topological order),
    ``edges`` (``(source, target, label)``) and optionally ``inputs`` (nodes
    drawn together in the first column). A :class:`~sknas.space.joint.JointSpace`
    is reduced to its architecture part; the space gives the graphs (its
    ``graphs`` method: cell, hierarchical). MLP and ResNet genotypes have no
    graph form: :func:`plot_genotype` draws them as chains of boxes.
    """
    if hasattr(space, "arch_genotype"):
        genotype = space.arch_genotype(genotype)
        space = space.arch
    if hasattr(space, "graphs"):
        return space.graphs(genotype)
    raise TypeError(f"genotype_graphs: {type(space).__name__} has no graph form (no graphs method).")


_GRAPH_DX = 2.4  # horizontal spacing of nodes
_GRAPH_DY = 1.2  # vertical offsets of inputs and zigzag


def _graph_layout(graph):
    inputs = [n for n in graph.get("inputs", []) if n in graph["nodes"]]
    pos = {}
    for k, name in enumerate(inputs):
        pos[name] = (0.0, _GRAPH_DY * ((len(inputs) - 1) / 2 - k) * 2)
    x0 = 1 if inputs else 0
    rest = [n for n in graph["nodes"] if n not in pos]
    for k, name in enumerate(rest):
        # a zigzag keeps edges that skip a node from running through it
        y = _GRAPH_DY * (-1) ** k if 0 < k < len(rest) - 1 else 0.0
        pos[name] = (_GRAPH_DX * (x0 + k), y)
    return pos


def _draw_graph(ax, graph, offset):
    from matplotlib.patches import FancyArrowPatch

    pos = {n: (x + offset, y) for n, (x, y) in _graph_layout(graph).items()}
    for n, (x, y) in pos.items():
        ax.text(x, y, n, ha="center", va="center", fontsize=9, zorder=3,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#dde8f5", "edgecolor": "#33669a"})
    parallel = {}
    for src, dst, label in graph["edges"]:
        key = (src, dst)
        parallel[key] = parallel.get(key, 0) + 1
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        hops = round(abs(x2 - x1) / _GRAPH_DX)
        # edges that skip nodes, and repeated (parallel) edges, bow more so that labels do not overlap
        n = parallel[key]
        rad = (0.12 + 0.08 * max(hops - 1, 0) + 0.15 * ((n - 1) // 2 + (n > 1))) * (1 if n % 2 else -1)
        ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                     mutation_scale=10, shrinkA=12, shrinkB=12, color="#555555", zorder=1))
        if label:
            # the midpoint of arc3's quadratic Bezier curve
            dx, dy = x2 - x1, y2 - y1
            lx, ly = (x1 + x2) / 2 + rad * dy / 2, (y1 + y2) / 2 - rad * dx / 2
            ax.text(lx, ly, label, ha="center", va="center", fontsize=7, zorder=2,
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    xs = [x for x, _ in pos.values()]
    ax.text((min(xs) + max(xs)) / 2, 1.9 * _GRAPH_DY, graph["title"], ha="center", va="bottom", fontsize=10,
            weight="bold")
    return max(xs)


def _draw_graphs(space, genotype, ax=None):
    """Draw ``genotype``'s graphs (:func:`genotype_graphs`): each cell (or motif) as a DAG, operations on the edges.

    ``ax``: None (a new figure with one axes per graph), a sequence of
    axes (one per graph) or one Axes (every graph side by side in it).
    Returns the list of axes drawn on.
    """
    plt = _pyplot()

    graphs = genotype_graphs(space, genotype)
    if ax is None:
        widths = [max(len(g["nodes"]) - len(g.get("inputs", [])) + (1 if g.get("inputs") else 0), 2) for g in graphs]
        fig, axes = plt.subplots(1, len(graphs), figsize=(1.5 * sum(widths) + 1, 3.6), squeeze=False,
                                 gridspec_kw={"width_ratios": widths})
        axes = list(axes[0])
    elif hasattr(ax, "__len__") or hasattr(ax, "flat"):
        axes = list(getattr(ax, "flat", ax))
        if len(axes) != len(graphs):
            raise ValueError(
                f"plot_genotype: ax must hold one axes per graph ({len(graphs)}: "
                f"{[g['title'] for g in graphs]}). Got {len(axes)} axes instead."
            )
    else:
        axes = [ax] * len(graphs)
    offset = 0.0
    for a, graph in zip(axes, graphs):
        right = _draw_graph(a, graph, offset)
        if len(set(map(id, axes))) == 1:
            offset = right + 1.5 * _GRAPH_DX
    for a in {id(a): a for a in axes}.values():
        xs = [t.get_position()[0] for t in a.texts]
        a.set_xlim(min(xs) - 0.6 * _GRAPH_DX, max(xs) + 0.6 * _GRAPH_DX)
        a.set_ylim(-2.1 * _GRAPH_DY, 2.5 * _GRAPH_DY)
        a.set_axis_off()
    return axes


def plot_genotype(genotype, space=None, ax=None, show_other=True):
    """Draw the network a genotype describes: blocks as boxes, skip connections as arcs.

    Parameters
    ----------
    genotype : Genotype or dict
        E.g. ``estimator.best_genotype_``. MLP genotypes (``n_blocks``,
        ``width_i``, ``act_i``, ``norm_i``, ``dropout_i``, ``skip_i``) and
        ResNet genotypes are drawn as chains of boxes; skips (residual
        additions for ResNet) as arcs above them.
    space : SearchSpace or None, default=None
        The genotype's space (``estimator.space_``); it tells the
        architecture keys apart, and spaces with a graph form (cell,
        hierarchical: :func:`genotype_graphs`) are drawn as their graphs:
        each cell (or motif) a DAG with its operations on the edges.
    ax : matplotlib Axes, sequence of Axes, or None, default=None
        For a graph space: one axes per graph, or one Axes for all of them
        side by side; None: a new figure.
    show_other : bool, default=True
        Print the non-architecture decisions (training, preprocessing) below.

    Returns
    -------
    ax : matplotlib Axes (a list of Axes, one per graph, for a graph space)
    """
    _pyplot()  # a clear message when matplotlib is missing
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    arch_space = getattr(space, "arch", space)
    if arch_space is not None and hasattr(arch_space, "graphs"):
        return _draw_graphs(space, genotype, ax=ax)
    arch, other = _split_genotype(genotype, space)
    if "width_0" in arch or arch.get("n_blocks") == 0:
        boxes, skips = _mlp_nodes(arch)
        title = "MLP (DenseDAG): skips concatenate an earlier node"
    elif "hidden_factor" in arch:
        boxes, skips = _resnet_nodes(arch)
        title = "Residual MLP: each block adds its input"
    else:
        raise ValueError(
            "plot_genotype draws MLP and ResNet genotypes (keys n_blocks, width_i... or width, hidden_factor...), "
            f"or any space with a graph form. Got keys {sorted(dict(genotype))!r} instead."
        )
    n = len(boxes)
    ax = _axes(ax, figsize=(max(6.0, 1.9 * n), 3.6))
    w, h = 1.45, 1.3
    xs = [i * 1.9 for i in range(n)]
    for x, label in zip(xs, boxes):
        color = "#dde8f5" if label not in ("input", "linear head") else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x - w / 2, -h / 2), w, h, boxstyle="round,pad=0.05",
                                    facecolor=color, edgecolor="#335577"))
        ax.text(x, 0, label, ha="center", va="center", fontsize=8)
    for a, b in zip(xs[:-1], xs[1:]):
        ax.add_patch(FancyArrowPatch((a + w / 2 + 0.05, 0), (b - w / 2 - 0.05, 0), arrowstyle="-|>",
                                     mutation_scale=12, color="#335577"))
    top = h / 2 + 0.05
    for k, (src, dst) in enumerate(skips):
        rad = -0.45 - 0.1 * (dst - src - 1) / max(1, n)
        ax.add_patch(FancyArrowPatch((xs[src], top), (xs[dst], top), connectionstyle=f"arc3,rad={rad}",
                                     arrowstyle="-|>", mutation_scale=12, color="tab:orange", linewidth=1.5))
    span = max((dst - src for src, dst in skips), default=0)
    ax.set_xlim(xs[0] - w, xs[-1] + w)
    ax.set_ylim(-h / 2 - (1.1 if show_other and other else 0.4), top + 0.35 + 0.5 * span)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    if show_other and other:
        text = "  ".join(f"{k}={_fmt(v)}" for k, v in other.items())
        ax.text(xs[0] - w / 2, -h / 2 - 0.35, _wrap(text, 130), ha="left", va="top", fontsize=7, color="#444444")
    return ax


def _wrap(text, width):
    words, lines, line = text.split("  "), [], ""
    for word in words:
        if line and len(line) + len(word) + 2 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line}  {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# learning curves
# ---------------------------------------------------------------------------------------
def _curves_of(source):
    """``[(label, values), ...]`` from the accepted inputs of :func:`plot_learning_curves`."""
    if hasattr(source, "best_estimator_"):  # a fitted estimator: its final network's history
        net = source.best_estimator_.named_steps["net"] if hasattr(source.best_estimator_, "named_steps") else None
        history = getattr(net, "history_", None)
        if not history:
            raise ValueError("plot_learning_curves: the estimator's network has no training history.")
        out = []
        for key in ("train_loss", "valid_loss"):
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                out.append((key, [np.nan if v is None else float(v) for v in values]))
        return out
    if isinstance(source, dict) and "status" in source:  # search_results_
        if "learning_curve" not in source:
            raise ValueError(
                "plot_learning_curves: this search_results_ has no 'learning_curve' column (this version of "
                "sknas does not record it); pass a list of curves instead, or the fitted estimator for its "
                "final network's losses."
            )
        return [(f"trial {source.get('trial', range(len(source['status'])))[i]}", list(c))
                for i, c in enumerate(source["learning_curve"]) if c]
    if isinstance(source, dict):
        return [(str(k), list(v)) for k, v in source.items()]
    curves = list(source)
    if curves and np.isscalar(curves[0]):
        curves = [curves]
    return [(f"curve {i}", list(c)) for i, c in enumerate(curves)]


def plot_learning_curves(curves, ax=None, labels=None, ylabel="loss", log_y=False):
    """Loss (or score) per epoch, one line per curve.

    Parameters
    ----------
    curves : list of sequences, dict, ``search_results_`` dict or fitted estimator
        A list of curves (one value per epoch), a dict ``label -> curve``,
        a ``search_results_`` with a ``learning_curve`` column (this version
        of sknas does not record one: a ``ValueError`` says so), or a fitted
        estimator, whose final network's ``train_loss``/``valid_loss`` are drawn.
    ax : matplotlib Axes or None, default=None
    labels : list of str or None, default=None
        Legend labels, overriding the defaults.
    ylabel : str, default="loss"
    log_y : bool, default=False

    Returns
    -------
    ax : matplotlib Axes
    """
    pairs = _curves_of(curves)
    if not pairs:
        raise ValueError("plot_learning_curves: there is no curve to plot.")
    if labels is not None:
        if len(labels) != len(pairs):
            raise ValueError(f"plot_learning_curves: {len(labels)} labels for {len(pairs)} curves.")
        pairs = [(label, values) for label, (_, values) in zip(labels, pairs)]
    ax = _axes(ax)
    for label, values in pairs:
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) < 30 else None,
                markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if len(pairs) <= 12:
        ax.legend()
    ax.set_title("Learning curves")
    ax.grid(True, alpha=0.3)
    return ax


def plot_decision_importance(estimator_or_results, ax=None, top=15, **kwargs):
    """Each searched decision's share of the variance of trial scores, as horizontal bars.

    Parameters
    ----------
    estimator_or_results : fitted estimator, ``search_results_`` dict or DataFrame, or the
        DataFrame :func:`sknas.inspect.decision_importance` returned.
    ax : matplotlib Axes or None, default=None
    top : int, default=15
        The most important decisions drawn.
    **kwargs
        Passed to :func:`sknas.inspect.decision_importance` (``n_trees``, ``random_state``...).

    Returns
    -------
    ax : matplotlib Axes
    """
    from .inspect import decision_importance

    frame = estimator_or_results
    if not (hasattr(frame, "columns") and {"decision", "importance"} <= set(frame.columns)):
        frame = decision_importance(estimator_or_results, **kwargs)
    frame = frame.head(int(top)).iloc[::-1]  # the most important on top
    ax = _axes(ax, figsize=(7, max(2.5, 0.35 * len(frame) + 1)))
    ax.barh(frame["decision"], frame["importance"], xerr=frame["std"] if "std" in frame else None,
            color="tab:blue", alpha=0.8)
    ax.set_xlabel("share of the variance of trial scores")
    ax.set_xlim(0, 1)
    n = frame.attrs.get("n_trials")
    ax.set_title("Decision importance (fANOVA)" + (f", {n} trials" if n else ""))
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_ablation(table, ax=None, top=15):
    """Each decision's contribution to the winner's validation score, as horizontal bars.

    Parameters
    ----------
    table : DataFrame
        What :func:`sknas.inspect.ablation` returned (either method).
    ax : matplotlib Axes or None, default=None
    top : int, default=15
        The first ``top`` rows of the table are drawn (leave-one-out: the
        largest contributions; path: the first steps). Decisions without a
        contribution (not measured, failed, cut by the time limit) get no
        bar and their status in the label.

    Returns
    -------
    ax : matplotlib Axes
    """
    if not (hasattr(table, "columns") and {"decision", "contribution", "status"} <= set(table.columns)):
        raise TypeError("plot_ablation: expected the DataFrame sknas.inspect.ablation returned. "
                        f"Got {type(table).__name__} instead.")
    frame = table.head(int(top)).iloc[::-1]  # the first row on top
    labels = [d if s == "ok" else f"{d} ({s.split(':')[0]})" for d, s in zip(frame["decision"], frame["status"])]
    if "step" in frame:
        labels = [f"{int(k)}. {lab}" if k == k and k is not None else lab for k, lab in zip(frame["step"], labels)]
    values = np.nan_to_num(frame["contribution"].to_numpy(dtype=float), nan=0.0)
    ax = _axes(ax, figsize=(7, max(2.5, 0.35 * len(frame) + 1)))
    ax.barh(labels, values, color=["tab:blue" if v >= 0 else "tab:red" for v in values], alpha=0.8)
    ax.axvline(0.0, color="black", lw=0.8)
    method = table.attrs.get("method", "")
    ax.set_xlabel("winner score - ablated score" if method != "path" else "score gained by the step")
    winner, default = table.attrs.get("winner_score"), table.attrs.get("default_score")
    title = "Ablation of the winner" + (" (path)" if method == "path" else " (leave-one-out)" if method else "")
    if winner is not None:
        title += f": winner {winner:.3f}"
        if default is not None and default == default:
            title += f", default {default:.3f}"
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_feature_importance(importance, ax=None, top=15):
    """Permutation importance of the input columns as horizontal bars; removed columns marked as such.

    Parameters
    ----------
    importance : DataFrame
        What :func:`sknas.inspect.feature_importance` returned.
    ax : matplotlib Axes or None, default=None
    top : int, default=15
        The most important used columns drawn; every removed column is
        drawn after them (no bar, its reason in the label).

    Returns
    -------
    ax : matplotlib Axes
    """
    if not (hasattr(importance, "columns") and {"feature", "importance", "status"} <= set(importance.columns)):
        raise TypeError("plot_feature_importance: expected the DataFrame sknas.inspect.feature_importance "
                        f"returned. Got {type(importance).__name__} instead.")
    import pandas as pd

    used = importance[importance["status"] != "removed"].head(int(top))
    removed = importance[importance["status"] == "removed"]
    frame = pd.concat([used, removed]).iloc[::-1]
    labels = [f if s != "removed" else f"{f} (removed: {r})"
              for f, s, r in zip(frame["feature"], frame["status"], frame.get("reason", [""] * len(frame)))]
    values = np.where(frame["status"] == "removed", 0.0, frame["importance"].to_numpy(dtype=float))
    errors = np.where(frame["status"] == "removed", 0.0, frame["std"].to_numpy(dtype=float)) \
        if "std" in frame else None
    ax = _axes(ax, figsize=(7, max(2.5, 0.35 * len(frame) + 1)))
    ax.barh(labels, values, xerr=errors, color="tab:green", alpha=0.8)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel("drop of the score when the column is shuffled")
    baseline = importance.attrs.get("baseline_score")
    ax.set_title("Permutation importance" + (f" (score {baseline:.3f})" if baseline is not None else ""))
    ax.grid(True, axis="x", alpha=0.3)
    return ax
