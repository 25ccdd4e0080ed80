"""Supernets: every categorical architecture decision of a space as a mixed operation.

A supernet holds two kinds of parameters, kept apart as in DARTS: the network
weights (:meth:`SuperNet.weight_parameters`) and the architecture weights
(:meth:`SuperNet.arch_parameters`, one vector of logits per decision, held in
the ``arch_weights`` :class:`torch.nn.ParameterDict`). How a forward pass mixes the
choices of a decision is the supernet's ``mode``:

``"softmax"`` (DARTS)
    every choice runs, weighted by the softmax of its logits;
``"gumbel"`` (GDAS)
    one choice per decision is drawn by Gumbel-softmax with temperature
    ``tau``; only it runs, scaled by the straight-through one-hot weight, so
    the gradient reaches the logits while the forward pass stays discrete;
``"fixed"`` (ENAS, and scoring a derived genotype)
    the choices of one genotype (:meth:`SuperNet.use_genotype`) run, with
    no architecture weight at all: a child network sharing the supernet's
    weights.

Two supernets are defined here, each built by its space's ``supernet``
method: :class:`MLPSuperNet` (:class:`sknas.space.mlp.MLPSpace`) and
:class:`CellSuperNet` (:class:`sknas.space.cell.CellSpace`). Every supernet
also offers what the one-shot searchers need besides the forward pass:
``alphas()`` (the logits in the format the space's ``derive`` reads),
``genotype_decisions()`` (the discrete decisions an ENAS controller emits),
``genotype_of(values)`` and ``extract(genotype)`` (the discrete network of a
genotype with the supernet's weights copied in, for one-stage fine-tuning).

References
----------
Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search." ICLR 2019.
Dong, Yang. "Searching for a Robust Neural Architecture in Four GPU Hours."
CVPR 2019 (GDAS).
Pham, Guan, Zoph, Le, Dean. "Efficient Neural Architecture Search via
Parameter Sharing." ICML 2018 (ENAS).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .cells import Cell, CellNetwork, as_images
from .ops import make_activation, make_norm, make_op

__all__ = [
    "MODES", "CellSuperNet", "MLPSuperNet", "MixedCell", "SuperNet", "gumbel_perturbed", "mix",
    "recalibrate_batchnorm",
]

MODES = ("softmax", "gumbel", "fixed")


def mix(gates, choice_output):
    """``sum(weight * choice_output(i))`` over the gates ``[(i, weight)]``.

    A ``None`` weight means "unweighted" (fixed mode); a ``None`` output
    means "contributes nothing" (the zero operation, no skip). Returns
    ``None`` when nothing contributes.
    """
    out = None
    for i, weight in gates:
        y = choice_output(i)
        if y is None:
            continue
        if weight is not None:
            y = y * weight
        out = y if out is None else out + y
    return out


class SuperNet(nn.Module):
    """Base of the supernets: architecture logits, the mixing mode and the gates.

    Subclasses create ``self.arch_weights`` (a ``ParameterDict``) and implement
    ``_logits(key)`` (the logits of one decision), ``_fixed_choices(genotype)``
    (decision key -> list of choice indices), ``forward``, ``alphas``,
    ``genotype_decisions``, ``genotype_of`` and ``extract``.
    """

    def __init__(self):
        super().__init__()
        self.mode = "softmax"
        self.tau = 1.0
        self.skip_dropout = 0.0
        self._fixed = None

    # -- the two kinds of parameters ------------------------------------------------
    def arch_parameters(self):
        """The architecture logits (optimized on the validation part by DARTS and GDAS)."""
        return list(self.arch_weights.parameters())

    def weight_parameters(self):
        """Every parameter but the architecture logits (optimized on the training part)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # -- the mixing mode ------------------------------------------------------------
    def set_mode(self, mode, tau=None):
        """``"softmax"``, ``"gumbel"`` (with temperature ``tau``) or ``"fixed"`` (after :meth:`use_genotype`)."""
        if mode not in MODES:
            raise ValueError(f"{type(self).__name__}: mode must be one of {MODES}. Got {mode!r} instead.")
        if mode == "fixed" and self._fixed is None:
            raise ValueError(f"{type(self).__name__}: call use_genotype(genotype) before mode='fixed'.")
        self.mode = mode
        if tau is not None:
            if not tau > 0:
                raise ValueError(f"{type(self).__name__}: tau must be > 0. Got {tau!r} instead.")
            self.tau = float(tau)
        return self

    def use_genotype(self, genotype):
        """Run the child network of ``genotype`` (an architecture genotype of the space): fixed mode."""
        self._fixed = self._fixed_choices(genotype)
        self.mode = "fixed"
        return self

    def gates(self, key):
        """``[(choice index, weight or None)]``: the choices of decision ``key`` that run now."""
        if self.mode == "fixed":
            return [(i, None) for i in self._fixed[key]]
        logits = self._logits(key)
        if self.mode == "softmax":
            weights = torch.softmax(logits, dim=-1)
            return [(i, weights[i]) for i in range(len(logits))]
        hard = F.gumbel_softmax(logits, tau=self.tau, hard=True)
        i = int(hard.argmax())
        return [(i, hard[i])]

    def _skip_dropout(self, y):
        if self.training and self.skip_dropout > 0:
            return F.dropout(y, p=self.skip_dropout, training=True)
        return y


def gumbel_perturbed(alphas, rng):
    """``alphas`` (a nested dict of logits) plus independent standard Gumbel noise.

    The argmax of perturbed logits is a sample of the softmax distribution,
    so ``space.derive(gumbel_perturbed(alphas, rng))`` draws a genotype from
    the learned architecture distribution.
    """
    if isinstance(alphas, dict):
        return {k: gumbel_perturbed(v, rng) for k, v in alphas.items()}
    values = np.asarray(alphas, dtype=float)
    if values.ndim == 0:
        return float(values + rng.gumbel())
    return values + rng.gumbel(size=values.shape)


@torch.no_grad()
def recalibrate_batchnorm(module, X, batch_size=256):
    """Re-estimate the running statistics of every batch norm of ``module`` on ``X``.

    Weights copied out of a supernet saw the inputs of the mixed network; the
    child's own inputs differ, so its batch-norm statistics are recomputed
    (a cumulative average over ``X``) before it is scored.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(X) < 2:
        return module
    was_training = module.training
    saved = [(m, m.momentum) for m in norms]
    module.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for start in range(0, len(X), batch_size):
        batch = X[start:start + batch_size]
        if len(batch) > 1:
            module(batch)
    for m, momentum in saved:
        m.momentum = momentum
    module.train(was_training)
    return module


# -- dense entire-structure networks (MLPSpace) ---------------------------------------
class MLPSuperNet(SuperNet):
    """The supernet of :class:`sknas.space.mlp.MLPSpace`: a chain of mixed dense blocks.

    Block ``i`` is one linear layer to its largest candidate width, then a
    mixed normalization (``norm_i`` over the space's norms), a mixed
    activation (``act_i``), the base genotype's dropout, and a mixed width
    (``width_i``): a soft mask keeping the first ``w`` features for each
    candidate width ``w``. Its mixed skip (``skip_i``, ``i > 0``) adds, for
    each earlier node ``j``, a bias-free linear map of node ``j`` weighted by
    that choice's architecture weight: since ``Linear(concat(a, b)) =
    W_a a + W_b b``, this is exactly the concatenating skip of
    :class:`~sknas.nn.builders.DenseDAG` when one choice has all the weight.
    The head reads the mixture of the block outputs over ``n_blocks``.

    With one choice per decision (fixed mode), the supernet computes exactly
    the network :meth:`extract` builds (layer normalization takes its
    statistics over the kept features of each candidate width).

    Parameters
    ----------
    space : MLPSpace
    base : Genotype
        An architecture genotype of ``space``: the depth of the supernet
        (its ``n_blocks``), each block's largest width and its dropout.
    n_inputs, n_outputs : int
    width_factors : tuple of float, default=(0.25, 0.5, 1.0)
        Candidate widths of block ``i``: these shares of the base width,
        clipped to the space's range (duplicates dropped). ``(1.0,)`` fixes
        the widths.
    mix_depth : bool, default=True
        Relax ``n_blocks`` over ``1 .. base n_blocks`` (when the space searches it).
        The linear model (``n_blocks=0``) is not a choice of the supernet,
        nor is the wide part (``wide``): :meth:`extract` zeroes a wide
        part's weights, so that the child computes the supernet's function.
    """

    def __init__(self, space, base, n_inputs, n_outputs, width_factors=(0.25, 0.5, 1.0), mix_depth=True):
        super().__init__()
        self.space = space
        self.base = base
        self.n_inputs, self.n_outputs = int(n_inputs), int(n_outputs)
        blocks = space.blocks(base)
        self.depth = len(blocks)
        self.choices = {}
        if self.depth < 1:
            raise ValueError("MLPSuperNet: the base genotype must have blocks (n_blocks >= 1). Got n_blocks=0 instead.")
        lowest = max(1, getattr(space, "min_blocks", 1))
        if space.max_blocks > lowest and mix_depth and self.depth > lowest:
            self.choices["n_blocks"] = tuple(range(lowest, self.depth + 1))
        factors = tuple(width_factors)
        if not factors or any(not (isinstance(f, (int, float)) and 0 < f <= 1) for f in factors):
            raise ValueError(
                "MLPSuperNet: width_factors must be a non-empty tuple of numbers in (0, 1]. "
                f"Got {width_factors!r} instead."
            )
        for i, spec in enumerate(blocks):
            widths = {min(max(round(spec["width"] * f), space.min_width), space.max_width) for f in factors}
            self.choices[f"width_{i}"] = tuple(sorted(widths))
            self.choices[f"act_{i}"] = tuple(space.activations)
            self.choices[f"norm_{i}"] = tuple(space.norms)
            if i > 0:
                self.choices[f"skip_{i}"] = ("none",) + tuple(range(i))
        self.arch_weights = nn.ParameterDict(
            {name: nn.Parameter(1e-3 * torch.randn(len(c))) for name, c in self.choices.items()}
        )
        self.dropouts = [spec["dropout"] for spec in blocks]
        self.max_widths = [self.choices[f"width_{i}"][-1] for i in range(self.depth)]
        node_widths = [self.n_inputs] + self.max_widths
        self.linears = nn.ModuleList(nn.Linear(node_widths[i], self.max_widths[i]) for i in range(self.depth))
        self.skip_linears = nn.ModuleList(
            nn.ModuleList(nn.Linear(node_widths[j], self.max_widths[i], bias=False) for j in range(i))
            for i in range(self.depth)
        )
        self.norm_ops = nn.ModuleList(
            nn.ModuleList(make_norm(n, self.max_widths[i]) for n in space.norms) for i in range(self.depth)
        )
        self.act_ops = nn.ModuleList(
            nn.ModuleList(make_activation(a) for a in space.activations) for i in range(self.depth)
        )
        for i in range(self.depth):
            masks = torch.zeros(len(self.choices[f"width_{i}"]), self.max_widths[i])
            for k, w in enumerate(self.choices[f"width_{i}"]):
                masks[k, :w] = 1.0
            self.register_buffer(f"masks_{i}", masks)
        self.head = nn.Linear(self.max_widths[-1] if "n_blocks" not in self.choices else max(self.max_widths),
                              self.n_outputs)
        self._head_width = self.head.in_features

    # -- decisions ----------------------------------------------------------------------
    def _logits(self, key):
        return self.arch_weights[key]

    def _choice_index(self, name, value):
        for k, c in enumerate(self.choices[name]):
            if type(c) is type(value) and c == value:
                return k
        raise ValueError(f"MLPSuperNet: {name}={value!r} is not one of the supernet's choices {self.choices[name]}.")

    def _fixed_choices(self, genotype):
        n = self.space.n_blocks(genotype)
        if "n_blocks" not in self.choices and n != self.depth:
            raise ValueError(f"MLPSuperNet: the supernet has {self.depth} blocks; the genotype has {n}.")
        fixed = {}
        if "n_blocks" in self.choices:
            fixed["n_blocks"] = [self._choice_index("n_blocks", n)]
        for i in range(n):
            for field in ("width", "act", "norm") + (("skip",) if i > 0 else ()):
                name = f"{field}_{i}"
                fixed[name] = [self._choice_index(name, genotype[name])]
        return fixed

    def _gate_or_fixed(self, name, default):
        if name in self.choices:
            return self.gates(name)
        return [(default, None)]

    def _norm(self, block, choice, h, width_gates):
        norm = self.norm_ops[block][choice]
        if not isinstance(norm, nn.LayerNorm) or len(self.choices[f"width_{block}"]) == 1:
            return norm(h)
        # layer statistics over the kept features only, so that a one-hot width is exact
        widths = self.choices[f"width_{block}"]

        def kept(k):
            w = widths[k]
            return _pad(F.layer_norm(h[:, :w], (w,), norm.weight[:w], norm.bias[:w], norm.eps), h.shape[1])

        return mix(width_gates, kept)

    def forward(self, x):
        depth_gates = self._gate_or_fixed("n_blocks", self.depth - 1)
        needed = max(i for i, _ in depth_gates) + 1
        nodes = [x]
        for i in range(needed):
            nodes.append(self._block(i, nodes))
        out = mix(depth_gates, lambda d: _pad(nodes[d + 1], self._head_width))
        return self.head(out)

    def _block(self, i, nodes):
        """Output of block ``i`` (node ``i + 1``) from the nodes before it."""
        h = self.linears[i](nodes[i])
        if i > 0:
            skips = self.skip_linears[i]
            extra = mix(self.gates(f"skip_{i}"), lambda c: None if c == 0 else skips[c - 1](nodes[c - 1]))
            if extra is not None:
                h = h + self._skip_dropout(extra)
        width_gates = self.gates(f"width_{i}")  # one draw per block, shared by the norm and the mask
        normed = mix(self.gates(f"norm_{i}"), lambda c: self._norm(i, c, h, width_gates))
        acts = self.act_ops[i]
        h = mix(self.gates(f"act_{i}"), lambda c: acts[c](normed))
        if self.dropouts[i] > 0:
            h = F.dropout(h, p=self.dropouts[i], training=self.training)
        masks = getattr(self, f"masks_{i}")
        return h * mix(width_gates, lambda c: masks[c])

    # -- genotypes --------------------------------------------------------------------
    def alphas(self):
        """The logits as ``{parameter name: {choice: logit}}``, the format of ``MLPSpace.derive``."""
        out = {}
        for name, choices in self.choices.items():
            logits = self.arch_weights[name].detach().cpu().numpy()
            out[name] = {c: float(v) for c, v in zip(choices, logits)}
        return out

    def genotype_decisions(self):
        """``[(parameter name, choices)]``: the decisions a controller emits, in order."""
        return list(self.choices.items())

    def genotype_of(self, values):
        """The architecture genotype of ``values`` (name -> choice), the rest from the base."""
        n = values.get("n_blocks", self.depth) if "n_blocks" in self.choices else self.depth
        g = {"n_blocks": n} if "n_blocks" in {p.name for p in self.space.params} else {}
        for i in range(n):
            g[f"width_{i}"] = values.get(f"width_{i}", self.max_widths[i])
            g[f"act_{i}"] = values.get(f"act_{i}", self.base[f"act_{i}"])
            g[f"norm_{i}"] = values.get(f"norm_{i}", self.base[f"norm_{i}"])
            g[f"dropout_{i}"] = self.dropouts[i]
            if i > 0:
                g[f"skip_{i}"] = values.get(f"skip_{i}", "none")
        return self.space.validate(g)

    @torch.no_grad()
    def extract(self, genotype):
        """The :class:`~sknas.nn.builders.DenseDAG` of ``genotype`` with the supernet's weights."""
        genotype = self.space.validate(genotype)
        self._fixed_choices(genotype)  # checks that the supernet can express it
        net = self.space.build(genotype, self.n_inputs, self.n_outputs)
        blocks = self.space.blocks(genotype)
        widths = [self.n_inputs] + [b["width"] for b in blocks]
        for i, spec in enumerate(blocks):
            w, w_in = spec["width"], widths[i]
            linear = net.blocks[i][0]
            parts = [self.linears[i].weight[:w, :w_in]]
            if spec["skip"] is not None:
                j = spec["skip"]
                parts.append(self.skip_linears[i][j].weight[:w, :widths[j]])
            linear.weight.copy_(torch.cat(parts, dim=1))
            linear.bias.copy_(self.linears[i].bias[:w])
            source = self.norm_ops[i][list(self.space.norms).index(spec["norm"])]
            _copy_sliced(source, net.blocks[i][1], w)
        net.head.weight.copy_(self.head.weight[:, :widths[-1]])
        net.head.bias.copy_(self.head.bias)
        if net.wide is not None:  # the supernet has no wide part: the child starts without one's contribution
            net.wide.weight.zero_()
        return net


def _pad(h, width):
    if h.shape[1] == width:
        return h
    return F.pad(h, (0, width - h.shape[1]))


def _copy_sliced(source, target, width):
    """Copy a norm's parameters and buffers, keeping the first ``width`` features."""
    src = source.state_dict()
    dst = target.state_dict()
    for key, value in dst.items():
        if key in src:
            v = src[key]
            value.copy_(v[:width] if v.dim() > 0 else v)


# -- cell-based networks (CellSpace) --------------------------------------------------------
class MixedCell(nn.Module):
    """A DARTS search cell: every node sums one mixed edge from each earlier state.

    Edge ``(k, i)`` (node ``k``, input ``i`` in ``0 .. k + 1``) is row
    ``k * (k + 3) // 2 + i`` of its cell type's architecture weights and
    mixes every operation of ``op_names`` (built with ``affine=False``;
    stride 2 on the cell inputs of a reduction cell).
    """

    def __init__(self, kind, n_nodes, op_names, C_pp, C_p, C, reduction, reduction_prev, image):
        super().__init__()
        self.kind = kind
        # the discrete cell's input preprocessing, shared with it (no node of its own)
        skeleton = Cell([], C_pp, C_p, C, reduction=reduction, reduction_prev=reduction_prev, image=image,
                        affine=False)
        self.preprocess0, self.preprocess1 = skeleton.preprocess0, skeleton.preprocess1
        self.n_nodes = n_nodes
        self.op_names = tuple(op_names)
        self.edges = nn.ModuleList()
        for k in range(n_nodes):
            for i in range(k + 2):
                stride = 2 if reduction and i < 2 else 1
                self.edges.append(nn.ModuleList(make_op(op, C, stride, affine=False) for op in op_names))
        self.out_channels = n_nodes * C

    @staticmethod
    def edge_row(node, source):
        return node * (node + 3) // 2 + source

    def forward(self, s0, s1, gates, skip_dropout=None):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(self.n_nodes):
            node = None
            for i in range(k + 2):
                row = self.edge_row(k, i)
                ops, x = self.edges[row], states[i]

                def run(o, ops=ops, x=x):
                    name = self.op_names[o]
                    if name == "none":
                        return None
                    y = ops[o](x)
                    if name == "skip_connect" and skip_dropout is not None:
                        y = skip_dropout(y)
                    return y

                y = mix(gates[row], run)
                if y is not None:
                    node = y if node is None else node + y
            if node is None:  # every edge chose the zero operation
                node = self.edges[self.edge_row(k, 0)][0](states[0]).mul(0.0)
            states.append(node)
        return torch.cat(states[2:], dim=1)


class CellSuperNet(SuperNet):
    """The DARTS supernet of :class:`sknas.space.cell.CellSpace`.

    The skeleton is the space's :class:`~sknas.nn.cells.CellNetwork` (stem,
    stacked cells, head) at the base genotype's ``n_cells`` and ``width``,
    with :class:`MixedCell` cells. The architecture weights are one
    ``(n_edges, n_ops)`` matrix per cell type (``arch_weights["normal"]``,
    and ``arch_weights["reduce"]`` for images), shared by every cell of that type, as
    in DARTS. Nodes sum their inputs (concatenation is not relaxed).

    Parameters
    ----------
    space : CellSpace
    base : Genotype
        Architecture genotype giving ``n_cells`` and ``width``.
    n_inputs, n_outputs : int
    op_names : tuple of str
        The space's operations plus ``"none"``.
    """

    def __init__(self, space, base, n_inputs, n_outputs, op_names):
        super().__init__()
        self.space = space
        self.base = base
        self.n_inputs, self.n_outputs = int(n_inputs), int(n_outputs)
        self.op_names = tuple(op_names)
        self.input_shape = space._settings()["shape"]
        self.n_nodes = space.n_nodes
        self.cell_types = space.cell_types()
        self.n_edges = sum(k + 2 for k in range(self.n_nodes))
        n_cells, width = space.network_size(base)
        self.arch_weights = nn.ParameterDict({
            t: nn.Parameter(1e-3 * torch.randn(self.n_edges, len(self.op_names))) for t in self.cell_types
        })
        image = self.input_shape is not None

        def make_cell(kind, C_pp, C_p, C, reduction_prev):
            return MixedCell(kind, self.n_nodes, self.op_names, C_pp, C_p, C, reduction=kind == "reduce",
                             reduction_prev=reduction_prev, image=image)

        self.body = CellNetwork(self.n_inputs, self.n_outputs, input_shape=self.input_shape, width=width,
                                cell_kinds=space.cell_kinds(n_cells), make_cell=make_cell)

    def _logits(self, key):
        kind, row = key
        return self.arch_weights[kind][row]

    def alphas(self):
        """The logits as ``{cell type: (n_edges, n_ops) array}``, the format of ``CellSpace.derive``."""
        return {t: self.arch_weights[t].detach().cpu().numpy().copy() for t in self.cell_types}

    def _op_index(self, op):
        try:
            return self.op_names.index(op)
        except ValueError:
            raise ValueError(f"CellSuperNet: operation {op!r} is not one of {self.op_names}.") from None

    def _fixed_choices(self, genotype):
        fixed = {(t, r): [] for t in self.cell_types for r in range(self.n_edges)}
        for t in self.cell_types:
            for k, (in0, op0, in1, op1, _) in enumerate(self.space.cell_nodes(genotype, t)):
                for source, op in ((in0, op0), (in1, op1)):
                    if op != "none":
                        fixed[(t, MixedCell.edge_row(k, source))].append(self._op_index(op))
        return fixed

    def forward(self, x):
        gates = {t: [self.gates((t, r)) for r in range(self.n_edges)] for t in self.cell_types}
        body = self.body
        s0 = s1 = body.stem(as_images(x, self.input_shape))
        dropout = self._skip_dropout if self.skip_dropout > 0 else None
        for cell in body.cells:
            s0, s1 = s1, cell(s0, s1, gates[cell.kind], dropout)
        return body.head(s1)

    # -- genotypes --------------------------------------------------------------------
    def genotype_decisions(self):
        """``[(parameter name, choices)]``: inputs and operations of every node (not ``combine``)."""
        ops = tuple(op for op in self.space._settings()["ops"])
        out = []
        for t in self.cell_types:
            for k in range(self.n_nodes):
                inputs = self.space.node_inputs(k)
                for field, choices in (("in0", inputs), ("op0", ops), ("in1", inputs), ("op1", ops)):
                    out.append((self.space.node_param(t, k, field), choices))
        return out

    def genotype_of(self, values):
        """The architecture genotype of ``values``: nodes combine by ``"sum"``, size from the base."""
        g = {p.name: self.base[p.name] for p in self.space.params if p.name in ("n_cells", "width")}
        g.update(values)
        combine = self.space._settings()["combine"]
        if len(combine) > 1:
            for t in self.cell_types:
                for k in range(self.n_nodes):
                    g.setdefault(self.space.node_param(t, k, "combine"), "sum")
        return self.space.validate(g)

    @torch.no_grad()
    def extract(self, genotype):
        """The discrete :class:`~sknas.nn.cells.CellNetwork` of ``genotype`` with the supernet's weights.

        Stem, head, cell preprocessing and the chosen operation of each edge
        are copied; normalizations the supernet has without affine
        parameters keep the identity ones. A ``concat`` combiner keeps its
        fresh initialization.
        """
        genotype = self.space.validate(genotype)
        net = self.space.build(genotype, self.n_inputs, self.n_outputs)
        net.stem.load_state_dict(self.body.stem.state_dict())
        net.head.load_state_dict(self.body.head.state_dict())
        for mixed, cell in zip(self.body.cells, net.cells):
            cell.preprocess0.load_state_dict(mixed.preprocess0.state_dict(), strict=False)
            cell.preprocess1.load_state_dict(mixed.preprocess1.state_dict(), strict=False)
            nodes = self.space.cell_nodes(genotype, mixed.kind)
            for k, (in0, op0, in1, op1, _) in enumerate(nodes):
                for e, (source, op) in enumerate(((in0, op0), (in1, op1))):
                    source_op = mixed.edges[MixedCell.edge_row(k, source)][self._op_index(op)]
                    cell.edges[2 * k + e].load_state_dict(source_op.state_dict(), strict=False)
        return net
