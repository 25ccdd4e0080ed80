"""Drawing a genotype's architecture with matplotlib (imported only when drawing)."""

from __future__ import annotations

__all__ = ["draw_genotype", "genotype_graphs"]


def genotype_graphs(space, genotype):
    """The graphs of ``genotype``'s network as plain data (what :func:`draw_genotype` draws).

    A list of dicts with ``title``, ``nodes`` (in topological order),
    ``edges`` (``(source, target, label)``) and optionally ``inputs`` (nodes
    drawn together in the first column). A :class:`~sknas.space.joint.JointSpace`
    is reduced to its architecture part. Spaces with a ``graphs`` method
    (cell, hierarchical) give their own; an :class:`~sknas.space.mlp.MLPSpace`
    is drawn as its chain of blocks with skips.
    """
    if hasattr(space, "arch_genotype"):
        genotype = space.arch_genotype(genotype)
        space = space.arch
    if hasattr(space, "graphs"):
        return space.graphs(genotype)
    if hasattr(space, "blocks"):
        blocks = space.blocks(genotype)
        nodes = ["input"] + [f"b{i}" for i in range(len(blocks))] + ["output"]
        edges = []
        for i, b in enumerate(blocks):
            label = f"{b['width']} {b['activation']}" + ("" if b["norm"] == "none" else f" {b['norm']}")
            edges.append((nodes[i], nodes[i + 1], label))
            if b["skip"] is not None:
                edges.append((nodes[b["skip"]], nodes[i + 1], "skip"))
        edges.append((nodes[-2], "output", "linear"))
        if genotype.get("wide"):  # Wide & Deep: a linear map of the input added to the output
            edges.append(("input", "output", "wide"))
        return [{"title": type(space).__name__, "nodes": nodes, "edges": edges}]
    raise TypeError(f"draw_genotype cannot draw a genotype of {type(space).__name__}: it has no graph form.")


_DX = 2.4  # horizontal spacing of nodes
_DY = 1.2  # vertical offsets of inputs and zigzag


def _layout(graph):
    inputs = [n for n in graph.get("inputs", []) if n in graph["nodes"]]
    pos = {}
    for k, name in enumerate(inputs):
        pos[name] = (0.0, _DY * ((len(inputs) - 1) / 2 - k) * 2)
    x0 = 1 if inputs else 0
    rest = [n for n in graph["nodes"] if n not in pos]
    for k, name in enumerate(rest):
        # a zigzag keeps edges that skip a node from running through it
        y = _DY * (-1) ** k if 0 < k < len(rest) - 1 else 0.0
        pos[name] = (_DX * (x0 + k), y)
    return pos


def _draw_one(ax, graph, offset):
    from matplotlib.patches import FancyArrowPatch

    pos = {n: (x + offset, y) for n, (x, y) in _layout(graph).items()}
    for n, (x, y) in pos.items():
        ax.text(x, y, n, ha="center", va="center", fontsize=9, zorder=3,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#dde8f5", "edgecolor": "#33669a"})
    parallel = {}
    for src, dst, label in graph["edges"]:
        key = (src, dst)
        parallel[key] = parallel.get(key, 0) + 1
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        hops = round(abs(x2 - x1) / _DX)
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
    ax.text((min(xs) + max(xs)) / 2, 1.9 * _DY, graph["title"], ha="center", va="bottom", fontsize=10,
            weight="bold")
    return max(xs)


def draw_genotype(space, genotype, ax=None):
    """Draw ``genotype``'s architecture: each cell (or motif) as a DAG with its operations on the edges.

    Parameters
    ----------
    space : SearchSpace
        A :class:`~sknas.space.cell.CellSpace`,
        :class:`~sknas.space.hierarchical.HierarchicalSpace`,
        :class:`~sknas.space.mlp.MLPSpace`, or a
        :class:`~sknas.space.joint.JointSpace` around one of them.
    genotype : Genotype
    ax : matplotlib Axes, sequence of Axes, or None, default=None
        ``None``: a new figure with one axes per graph (normal and
        reduction cell; each motif and the level-3 cell). A sequence: one
        axes per graph. A single Axes: all graphs side by side in it.

    Returns
    -------
    list of Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

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
                f"draw_genotype: ax must hold one axes per graph ({len(graphs)}: "
                f"{[g['title'] for g in graphs]}). Got {len(axes)} axes instead."
            )
    else:
        axes = [ax] * len(graphs)
    offset = 0.0
    for a, graph in zip(axes, graphs):
        right = _draw_one(a, graph, offset)
        if len(set(map(id, axes))) == 1:
            offset = right + 1.5 * _DX
    for a in {id(a): a for a in axes}.values():
        xs = [t.get_position()[0] for t in a.texts]
        a.set_xlim(min(xs) - 0.6 * _DX, max(xs) + 0.6 * _DX)
        a.set_ylim(-2.1 * _DY, 2.5 * _DY)
        a.set_axis_off()
    return axes
