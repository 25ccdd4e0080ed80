"""Cell-based search space (NASNet / DARTS): one cell searched, stacked ``n_cells`` times.

The same space serves dense rows and images; ``input_shape`` picks the mode.
The torch modules the genotypes become (:class:`~sknas.nn.cells.Cell`,
:class:`~sknas.nn.cells.CellNetwork`) live in :mod:`sknas.nn.cells`: the space
hands them the nodes and settings of a genotype, and ``nn`` never imports a space.
"""

from __future__ import annotations

import numbers

import numpy as np

# Cell and CellNetwork are what build() returns; as_images, head and stem stay importable from here for
# the hierarchical space, which shares them.
from ..nn.cells import Cell, CellNetwork, as_images, head, stem  # noqa: F401
from ..nn.ops import check_operations
from .base import SearchSpace
from .genotype import Genotype
from .params import Categorical, Int

__all__ = ["CellSpace", "reduction_cells"]

DENSE_CELL_OPS = ("linear", "glu", "skip_connect", "relu", "gelu", "silu", "layer_norm")
IMAGE_CELL_OPS = (
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3", "avg_pool_3x3",
    "skip_connect",
)
COMBINES = ("sum", "concat")


# -- settings shared with the hierarchical space ----------------------------------------
def parse_input_shape(owner, input_shape):
    """``None`` (dense rows) or a ``(C, H, W)`` tuple of positive ints."""
    if input_shape is None:
        return None
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") or len(input_shape) != 3 \
            or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in input_shape):
        raise ValueError(
            f"{owner}: input_shape must be None (dense rows) or a (channels, height, width) tuple "
            f"of positive ints. Got {input_shape!r} instead."
        )
    return tuple(int(d) for d in input_shape)


def range_param(owner, name, value, log=False):
    """``(Int parameter, None)`` for a searched ``(low, high)`` range, ``(None, value)`` for a fixed int."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1

    if is_int(value):
        return None, int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value) \
            and value[0] <= value[1]:
        low, high = int(value[0]), int(value[1])
        if low == high:
            return None, low
        return Int(name, low, high, log=log), None
    raise ValueError(
        f"{owner}: {name} must be an int >= 1 (fixed) or a (low, high) tuple of ints with "
        f"1 <= low <= high (searched). Got {value!r} instead."
    )


def check_int(owner, name, value, low):
    """``value`` must be an int >= ``low`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}. Got {value!r} instead.")


def check_final_cells(owner, final_cells):
    """``final_cells`` must be None (the searched depth) or an int >= 1."""
    if final_cells is not None and (
            isinstance(final_cells, bool) or not isinstance(final_cells, numbers.Integral) or final_cells < 1):
        raise ValueError(f"{owner}: final_cells must be None or an int >= 1. Got {final_cells!r} instead.")


def size_settings(owner, n_cells, width, defaults):
    """``(n_cells, width)`` settings, each ``(Int parameter or None, fixed value or None)`` (:func:`range_param`).

    ``defaults`` is ``(default n_cells, default width)``, used where the setting is None.
    """
    default_cells, default_width = defaults
    return (range_param(owner, "n_cells", default_cells if n_cells is None else n_cells),
            range_param(owner, "width", default_width if width is None else width, log=True))


def size_params(settings):
    """The searched ``n_cells`` and ``width`` parameters of a space's settings (the fixed ones are not)."""
    return [p for p in (settings["n_cells"][0], settings["width"][0]) if p is not None]


def size_entry(settings, n_cells, width):
    """The ``n_cells`` and ``width`` of a portfolio entry, clipped into the settings' ranges (:func:`clip`)."""
    return {"n_cells": clip(n_cells, *settings["n_cells"]), "width": clip(width, *settings["width"])}


def network_size(space, genotype, final=False):
    """``(n_cells, width)`` of the network ``genotype`` describes (the final one if ``final``)."""
    s = space._settings()
    n_cells = genotype.get("n_cells", s["n_cells"][1])
    if final and space.final_cells is not None:
        n_cells = space.final_cells
    return n_cells, genotype.get("width", s["width"][1])


def reduction_cells(n_cells):
    """Indices of the reduction cells among ``n_cells``: ``n // 3`` and ``2n // 3``, as in DARTS."""
    return sorted({n_cells // 3, 2 * n_cells // 3})


def check_n_inputs(owner, input_shape, n_inputs):
    if input_shape is not None:
        expected = input_shape[0] * input_shape[1] * input_shape[2]
        if n_inputs != expected:
            raise ValueError(
                f"{owner}: input_shape={input_shape} needs rows of {expected} features. Got "
                f"n_inputs={n_inputs} instead (did preprocessing add or drop columns?)."
            )


def valid_only(space, candidates):
    """Keep the portfolio entries (restricted to the space's parameters) that the space allows."""
    names = {p.name for p in space.params}
    out = []
    for c in candidates:
        try:
            g = space.validate(Genotype({k: v for k, v in c.items() if k in names}))
        except (TypeError, ValueError):
            continue
        if g not in out:
            out.append(g)
    return out


def plural_cells(n):
    return f"{n} cell" if n == 1 else f"{n} cells"


def clip(value, param, fixed):
    """``value`` clipped into a searched Int's range (the fixed value when not searched)."""
    if param is None:
        return fixed
    return int(min(max(value, param.low), param.high))


# -- the space -----------------------------------------------------------------------
class CellSpace(SearchSpace):
    """NASNet/DARTS-style cell search space for dense rows or images.

    A cell has two inputs, ``c[k-2]`` and ``c[k-1]`` (the outputs of the two
    previous cells, each first mapped to ``C`` channels by a ReLU-1x1
    conv-BN, or ReLU-Linear-BN for dense rows), and ``n_nodes`` intermediate
    nodes. Node ``k`` picks two inputs among the two cell inputs and the
    nodes before it, applies one operation to each, and combines the two
    results by a sum or a concatenation (projected back to ``C`` channels
    by a ReLU-1x1 conv-BN). The cell's output is the concatenation of all its
    intermediate nodes (as in DARTS), ``n_nodes * C`` channels.

    The network is a stem (3x3 convolution to ``3 * width`` channels for
    images, a linear layer to ``width`` features for rows), ``n_cells``
    cells, and a head (global average pooling and a linear layer for
    images, a linear layer for rows). For images, cells ``n_cells // 3``
    and ``2 * n_cells // 3`` are reduction cells (as in DARTS): their
    operations on the cell inputs have stride 2, so they halve the height
    and width and double the channels; the others are normal cells, which
    keep both. Normal and reduction cells have separate genotypes (the
    ``normal_*`` and ``reduce_*`` parameters). Dense rows only have normal
    cells.

    Parameters
    ----------
    input_shape : tuple (C, H, W) or None, default=None
        ``None``: rows are dense feature vectors. A ``(C, H, W)`` tuple:
        each row of ``X`` is an image of that shape, flattened in C order
        (``X.reshape(n, C, H, W)`` recovers the images); the network
        also accepts 4-D input.
    n_nodes : int, default=3
        Intermediate nodes per cell (``B`` in NASNet).
    n_cells : int or (int, int), default=None
        Cells in the network: an int fixes it, a ``(low, high)`` tuple
        searches it. ``None``: ``(1, 3)`` for rows, ``(2, 5)`` for images.
    width : int or (int, int), default=None
        Features of a node (rows) or channels of a node in the first stage
        (images); fixed or searched (log scale) like ``n_cells``. ``None``:
        ``(32, 256)`` for rows, ``(8, 32)`` for images.
    operations : tuple of str, default=None
        Candidate operations, names of :data:`sknas.nn.ops.OPS` valid for
        the mode. ``None``: ``("linear", "glu", "skip_connect", "relu",
        "gelu", "silu", "layer_norm")`` for rows and DARTS's seven
        operations (``sep_conv_3x3/5x5``, ``dil_conv_3x3/5x5``,
        ``max_pool_3x3``, ``avg_pool_3x3``, ``skip_connect``) for images.
        ``"none"`` (the zero op) may be added; it is left out by default
        because a discrete cell gains nothing from an edge that does nothing
        (DARTS's supernet has it; its ``derive`` drops it).
    combine : tuple of str, default=("sum", "concat")
        How a node combines its two inputs; searched when both are given.
    final_cells : int or None, default=None
        The search/evaluation depth gap (DARTS searches 8 cells and retrains
        20): the cells of the *final* network, the one built by
        ``build(genotype, n_inputs, n_outputs, final=True)`` for the refit
        after the search. ``None``: the final network has the genotype's
        ``n_cells``. Reduction cells are placed by the same rule at the
        final depth.

    Notes
    -----
    Parameter names: ``n_cells`` and ``width`` (when searched), then for each
    cell type ``t`` (``"normal"``, and ``"reduce"`` for images) and node
    ``k`` in ``0 .. n_nodes - 1``: ``{t}_n{k}_in0``, ``{t}_n{k}_op0``,
    ``{t}_n{k}_in1``, ``{t}_n{k}_op1`` and ``{t}_n{k}_combine`` (when
    searched); see :meth:`node_param`. An input is an int, numbered as in
    DARTS's genotypes: 0 is ``c[k-2]``, 1 is ``c[k-1]``, and ``2 + j`` is
    intermediate node ``j``.

    One-shot search (design for :mod:`sknas.search.oneshot`, not implemented
    here). A DARTS supernet reuses :class:`~sknas.nn.cells.CellNetwork` with its
    ``make_cell`` hook returning a *mixed* cell: for every cell type, node
    ``k`` and candidate input ``i`` in ``0 .. k + 1`` one mixed edge over
    ``operations + ("none",)``, built with ``make_op(op, C, stride,
    affine=False)`` and stride 2 for ``i < 2`` in reduction cells; node
    ``k`` sums its ``k + 2`` mixed edges. The architecture weights are one
    ``(n_edges, n_ops)`` matrix per cell type, edges ordered node by node
    and input by input (edge ``(k, i)`` is row ``k * (k + 3) // 2 + i``,
    DARTS's order). ``derive(alphas)`` maps them back to this space's
    parameter names: for node ``k`` of cell type ``t``, rank the inputs
    ``i`` by their best softmax weight over the operations other than
    ``"none"``, keep the two strongest (distinct) inputs, and write
    ``{t}_n{k}_in0 = i_best``, ``{t}_n{k}_op0 = argmax_op(i_best)``,
    ``{t}_n{k}_in1 = i_second``, ``{t}_n{k}_op1 = argmax_op(i_second)``,
    ``{t}_n{k}_combine = "sum"`` (the supernet sums; concatenation is not
    relaxed), plus ``n_cells`` and ``width`` when they are searched
    (typically the values the supernet was trained with, or the space's
    portfolio values), then call :meth:`validate`. :meth:`node_param`,
    :meth:`cell_types` and :meth:`node_inputs` give those names and
    choices, so a derive never spells them by hand. GDAS samples one edge
    per node pair with Gumbel-softmax over the same weights; ENAS's
    controller emits exactly :meth:`decisions`.

    References
    ----------
    Zoph, Vasudevan, Shlens, Le. "Learning Transferable Architectures for
    Scalable Image Recognition." CVPR 2018.
    Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search." ICLR 2019.

    Examples
    --------
    >>> import numpy as np, torch
    >>> space = CellSpace(input_shape=(1, 8, 8))
    >>> g = space.sample(np.random.default_rng(0))
    >>> net = space.build(g, 64, 10)
    >>> net(torch.randn(4, 64)).shape
    torch.Size([4, 10])
    """

    def __init__(self, input_shape=None, n_nodes=3, n_cells=None, width=None, operations=None,
                 combine=COMBINES, final_cells=None):
        self.input_shape = input_shape
        self.n_nodes = n_nodes
        self.n_cells = n_cells
        self.width = width
        self.operations = operations
        self.combine = combine
        self.final_cells = final_cells

    # -- settings ------------------------------------------------------------------
    def _settings(self):
        owner = type(self).__name__
        shape = parse_input_shape(owner, self.input_shape)
        image = shape is not None
        check_int(owner, "n_nodes", self.n_nodes, 1)
        n_cells, width = size_settings(owner, self.n_cells, self.width,
                                       ((2, 5), (8, 32)) if image else ((1, 3), (32, 256)))
        ops = self.operations if self.operations is not None else (IMAGE_CELL_OPS if image else DENSE_CELL_OPS)
        ops = check_operations(owner, ops, "image" if image else "dense")
        combine = self.combine
        if isinstance(combine, str) or not hasattr(combine, "__iter__") or not combine \
                or any(c not in COMBINES for c in combine) or len(set(combine)) != len(tuple(combine)):
            raise ValueError(f"{owner}: combine must be a non-empty tuple of {COMBINES}. Got {combine!r} instead.")
        check_final_cells(owner, self.final_cells)
        return {"shape": shape, "n_cells": n_cells, "width": width, "ops": ops, "combine": tuple(combine)}

    def cell_types(self):
        """``("normal",)`` for dense rows, ``("normal", "reduce")`` for images."""
        return ("normal", "reduce") if parse_input_shape(type(self).__name__, self.input_shape) else ("normal",)

    @staticmethod
    def node_param(cell, node, field):
        """Name of one node parameter, e.g. ``node_param("reduce", 2, "op1") == "reduce_n2_op1"``.

        ``field`` is one of ``"in0"``, ``"op0"``, ``"in1"``, ``"op1"``, ``"combine"``.
        """
        return f"{cell}_n{node}_{field}"

    @staticmethod
    def node_inputs(node):
        """The inputs node ``node`` may read: 0 (``c[k-2]``), 1 (``c[k-1]``), ``2 + j`` (node ``j``)."""
        return tuple(range(node + 2))

    def _params(self):
        s = self._settings()
        params = size_params(s)
        for cell in self.cell_types():
            for k in range(self.n_nodes):
                inputs = self.node_inputs(k)
                params += [
                    Categorical(self.node_param(cell, k, "in0"), inputs),
                    Categorical(self.node_param(cell, k, "op0"), s["ops"]),
                    Categorical(self.node_param(cell, k, "in1"), inputs),
                    Categorical(self.node_param(cell, k, "op1"), s["ops"]),
                ]
                if len(s["combine"]) > 1:
                    params.append(Categorical(self.node_param(cell, k, "combine"), s["combine"]))
        return params

    # -- reading a genotype ----------------------------------------------------------
    network_size = network_size

    def cell_nodes(self, genotype, cell="normal"):
        """The nodes of one cell type: a list of ``(in0, op0, in1, op1, combine)``."""
        combine = self._settings()["combine"][0]
        return [
            (genotype[self.node_param(cell, k, "in0")], genotype[self.node_param(cell, k, "op0")],
             genotype[self.node_param(cell, k, "in1")], genotype[self.node_param(cell, k, "op1")],
             genotype.get(self.node_param(cell, k, "combine"), combine))
            for k in range(self.n_nodes)
        ]

    def cell_kinds(self, n_cells):
        """``"normal"``/``"reduce"`` for each of ``n_cells`` cells of the network."""
        if not parse_input_shape(type(self).__name__, self.input_shape):
            return ["normal"] * n_cells
        reductions = reduction_cells(n_cells)
        return ["reduce" if i in reductions else "normal" for i in range(n_cells)]

    # -- building -------------------------------------------------------------------
    def build(self, genotype, n_inputs, n_outputs, final=False):
        """The network of ``genotype``; ``final=True`` builds it ``final_cells`` deep (see the class doc)."""
        genotype = self.validate(genotype)
        shape = self._settings()["shape"]
        check_n_inputs(type(self).__name__, shape, n_inputs)
        n_cells, width = self.network_size(genotype, final=final)
        nodes = {cell: self.cell_nodes(genotype, cell) for cell in self.cell_types()}

        def make_cell(kind, C_pp, C_p, C, reduction_prev):
            return Cell(nodes[kind], C_pp, C_p, C, reduction=kind == "reduce",
                        reduction_prev=reduction_prev, image=shape is not None)

        return CellNetwork(n_inputs, n_outputs, input_shape=shape, width=width,
                           cell_kinds=self.cell_kinds(n_cells), make_cell=make_cell)

    # -- reading it as a person -----------------------------------------------------
    @staticmethod
    def _input_label(i):
        return ("c[k-2]", "c[k-1]")[i] if i < 2 else f"n{i - 2}"

    def describe(self, genotype):
        """A multi-line text form of ``genotype``: the network, then each cell node by node."""
        genotype = self.validate(genotype)
        shape = self._settings()["shape"]
        n_cells, width = self.network_size(genotype)
        kinds = self.cell_kinds(n_cells)
        mode = "dense rows" if shape is None else f"images {shape}"
        lines = [f"CellSpace on {mode}: {plural_cells(n_cells)} of width {width} ({', '.join(kinds)})"]
        if self.final_cells is not None:
            final_kinds = self.cell_kinds(self.final_cells)
            lines.append(f"final network: {plural_cells(self.final_cells)} ({', '.join(final_kinds)})")
        for cell in self.cell_types():
            lines.append(f"{cell} cell (inputs c[k-2], c[k-1]):")
            for k, (in0, op0, in1, op1, comb) in enumerate(self.cell_nodes(genotype, cell)):
                a, b = f"{op0}({self._input_label(in0)})", f"{op1}({self._input_label(in1)})"
                lines.append(f"  n{k} = {a} + {b}" if comb == "sum" else f"  n{k} = concat({a}, {b})")
            lines.append("  out = concat(" + ", ".join(f"n{k}" for k in range(self.n_nodes)) + ")")
        return "\n".join(lines)

    def graphs(self, genotype):
        """Each cell as a graph for drawing: dicts with ``title``, ``nodes`` (in order),
        ``edges`` (``(source, target, label)``) and ``inputs`` (the two cell inputs)."""
        genotype = self.validate(genotype)
        out = []
        for cell in self.cell_types():
            nodes = ["c[k-2]", "c[k-1]"] + [f"n{k}" for k in range(self.n_nodes)] + ["out"]
            edges = []
            for k, (in0, op0, in1, op1, comb) in enumerate(self.cell_nodes(genotype, cell)):
                suffix = " (cat)" if comb == "concat" else ""
                edges.append((self._input_label(in0), f"n{k}", op0 + suffix))
                edges.append((self._input_label(in1), f"n{k}", op1 + suffix))
            edges += [(f"n{k}", "out", "") for k in range(self.n_nodes)]
            out.append({"title": f"{cell} cell", "nodes": nodes, "edges": edges, "inputs": nodes[:2]})
        return out

    # -- defaults -------------------------------------------------------------------
    def portfolio(self):
        """DARTS-V2's cells (first ``n_nodes`` nodes) for images; residual linear cells for rows."""
        s = self._settings()
        B = self.n_nodes

        def entry(n_cells, width, cells):
            g = size_entry(s, n_cells, width)
            for cell, nodes in cells.items():
                for k, (in0, op0, in1, op1, comb) in enumerate(nodes):
                    g.update({self.node_param(cell, k, "in0"): in0, self.node_param(cell, k, "op0"): op0,
                              self.node_param(cell, k, "in1"): in1, self.node_param(cell, k, "op1"): op1,
                              self.node_param(cell, k, "combine"): comb})
            return g

        if s["shape"] is not None:
            # DARTS (second order) V2 genotype, nodes beyond its four continue its pattern
            normal = [(0, "sep_conv_3x3", 1, "sep_conv_3x3"), (0, "sep_conv_3x3", 1, "sep_conv_3x3"),
                      (1, "sep_conv_3x3", 0, "skip_connect"), (0, "skip_connect", 2, "dil_conv_3x3")]
            reduce = [(0, "max_pool_3x3", 1, "max_pool_3x3"), (2, "skip_connect", 1, "max_pool_3x3"),
                      (0, "max_pool_3x3", 2, "skip_connect"), (2, "skip_connect", 1, "max_pool_3x3")]
            normal += [(k + 1, "sep_conv_3x3", 1, "skip_connect") for k in range(4, B)]
            reduce += [(k + 1, "skip_connect", 1, "max_pool_3x3") for k in range(4, B)]
            candidates = [entry(3, 16, {"normal": [n + ("sum",) for n in normal[:B]],
                                        "reduce": [n + ("sum",) for n in reduce[:B]]})]
        else:
            residual = [(k + 1, "linear", k + 1, "skip_connect", "sum") for k in range(B)]
            mixed = [(k + 1, "linear", k + 1 if k == 0 else k, "glu", "concat") for k in range(B)]
            candidates = [entry(2, 128, {"normal": residual}), entry(1, 64, {"normal": mixed})]
        return valid_only(self, candidates)

    # -- one-shot search -------------------------------------------------------------
    def supernet(self, n_inputs, n_outputs, base=None):
        """The DARTS supernet of this space (:class:`sknas.nn.supernet.CellSuperNet`).

        Built as described in the Notes: mixed edges over the operations
        plus ``"none"``, one ``(n_edges, n_ops)`` matrix of architecture
        weights per cell type, at the ``n_cells`` and ``width`` of ``base``
        (a genotype of this space, extra keys ignored; ``None``: the first
        portfolio entry).
        """
        from ..nn.supernet import CellSuperNet

        s = self._settings()
        check_n_inputs(type(self).__name__, s["shape"], n_inputs)
        names = {p.name for p in self.params}
        if base is None:
            portfolio = self.portfolio()
            base = portfolio[0] if portfolio else self.sample(0)
        base = self.validate(Genotype({k: v for k, v in base.items() if k in names}))
        op_names = s["ops"] if "none" in s["ops"] else s["ops"] + ("none",)
        return CellSuperNet(self, base, n_inputs, n_outputs, op_names)

    def derive(self, alphas, base=None, max_skips=None):
        """The genotype DARTS derives from architecture weights (see the Notes).

        For node ``k`` of each cell type, the inputs are ranked by their
        best softmax weight over the operations other than ``"none"``; the
        two strongest become ``in0`` and ``in1``, each with its strongest
        operation, and ``combine`` is ``"sum"`` when searched.

        Parameters
        ----------
        alphas : dict
            ``{cell type: (n_edges, n_ops) array of logits}``, operations in
            the order of the space's ``operations`` followed by ``"none"``
            (unless listed), as returned by the supernet's ``alphas()``.
        base : Genotype or None, default=None
            Gives ``n_cells`` and ``width`` when searched; ``None``: the
            first portfolio entry.
        max_skips : int or None, default=None
            At most this many ``skip_connect`` operations in the normal cell
            (the P-DARTS cap): the weakest extra ones are replaced by their
            edge's strongest other operation.
        """
        s = self._settings()
        op_names = s["ops"] if "none" in s["ops"] else s["ops"] + ("none",)
        names = {p.name for p in self.params}
        if base is None:
            portfolio = self.portfolio()
            base = portfolio[0] if portfolio else self.sample(0)
        g = {k: v for k, v in base.items() if k in ("n_cells", "width") and k in names}
        n_edges = sum(k + 2 for k in range(self.n_nodes))
        real = [j for j, op in enumerate(op_names) if op != "none"]
        for cell in self.cell_types():
            logits = np.asarray(alphas[cell], dtype=float)
            if logits.shape != (n_edges, len(op_names)):
                raise ValueError(
                    f"{type(self).__name__}.derive: alphas[{cell!r}] must have shape {(n_edges, len(op_names))} "
                    f"(edges, operations {op_names}). Got {logits.shape} instead."
                )
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            chosen = []  # (weight, node, slot, row)
            for k in range(self.n_nodes):
                rows = [k * (k + 3) // 2 + i for i in self.node_inputs(k)]
                best = [(weights[r, real].max(), i, r) for i, r in zip(self.node_inputs(k), rows)]
                best.sort(key=lambda t: (-t[0], t[1]))
                for slot, (w, i, r) in enumerate(best[:2]):
                    g[self.node_param(cell, k, f"in{slot}")] = i
                    g[self.node_param(cell, k, f"op{slot}")] = op_names[real[int(np.argmax(weights[r, real]))]]
                    chosen.append((w, k, slot, r))
                if len(s["combine"]) > 1:
                    g[self.node_param(cell, k, "combine")] = "sum"
            if max_skips is not None and cell == "normal" and "skip_connect" in op_names:
                skips = [c for c in chosen if g[self.node_param(cell, c[1], f"op{c[2]}")] == "skip_connect"]
                others = [j for j in real if op_names[j] != "skip_connect"]
                if others:
                    for _, k, slot, r in sorted(skips, key=lambda c: -c[0])[max_skips:]:
                        g[self.node_param(cell, k, f"op{slot}")] = op_names[others[int(np.argmax(weights[r, others]))]]
        return self.validate(g)
