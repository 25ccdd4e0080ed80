"""Neural architecture optimization: gradient steps in a learned continuous space of genotypes."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from .base import Candidate, Searcher, draw_new, result_score

__all__ = ["NAOSearch"]

_MAX_REDRAWS = 10


class NAOSearch(Searcher):
    """Neural Architecture Optimization (Luo et al. 2018).

    A genotype is read as the sequence of the space's decisions
    (``space.decisions(n_levels)``: one token per decision, the chosen
    choice or level, or an extra "inactive" token for a decision that does
    not apply). Three small torch networks are trained jointly:

    - an **encoder** mapping the token sequence to a continuous vector
      ``z`` (an MLP on the one-hot tokens: per-position embeddings summed,
      tanh, a linear layer);
    - a **performance predictor** ``f(z)`` (an MLP) fitted to the scores
      told so far (standardized);
    - a **decoder** mapping ``z`` back to one softmax per decision,
      trained to reconstruct the input sequence.

    The loss is ``trade_off * MSE(f(z), score) + (1 - trade_off) * CE(decoder(z), tokens)``;
    the reconstruction term also sees ``n_unlabelled`` random genotypes
    drawn at setup (they have no score). To propose, the encoding of the
    best genotype told so far is moved by gradient ascent on the predictor,
    ``z <- z + eta * df/dz``, with ``eta`` doubled after every step whose
    decoding is unchanged, until the decoded genotype is one not proposed
    or told before (up to ``max_steps`` steps); when it leads to nothing
    new, the next of the ``n_seeds`` best genotypes is moved instead.
    Decoding takes, for every decision, its most likely real choice (never
    "inactive"), and ``space.from_decisions`` keeps the active ones, so
    every proposal is a valid genotype of any space; a numeric decision
    decoded to the seed's own level keeps the seed's exact value. When no seed yields a
    new genotype, a mutation of the best one (``space.mutate``) is proposed.

    Parameters
    ----------
    n_initial : int, default=8
        Successful results needed before the model proposes; until then
        candidates are drawn at random.
    n_seeds : int, default=5
        Best genotypes whose encodings may be moved, best first (the
        paper's top-K, all of which it moves).
    hidden_size : int, default=32
        Width of ``z`` and of the hidden layers of the three networks.
    n_levels : int, default=5
        Levels of each numeric parameter in the decision sequence.
    train_steps : int, default=100
        Adam steps (full batch) each time new results arrived; the networks
        keep their weights from one fit to the next.
    lr : float, default=0.005
        Adam learning rate of the three networks.
    trade_off : float, default=0.8
        Weight of the predictor loss against the reconstruction loss
        (``lambda`` of the paper), in (0, 1).
    step_size : float, default=1.0
        First ``eta`` of the gradient ascent.
    max_steps : int, default=12
        Gradient steps per seed and proposal.
    n_unlabelled : int, default=64
        Random genotypes added to the reconstruction loss.
    random_fraction : float, default=0.1
        Share of the proposals drawn at random instead (as BOHB and SMAC
        interleave random configurations): gradient steps only explore
        near the best genotypes, and a choice never seen cannot be predicted.

    Attributes
    ----------
    model_ : torch.nn.Module
        Encoder, predictor and decoder (on the CPU).
    n_fits_ : int
        How many times the model was fitted.

    Notes
    -----
    Simplified from the paper: the encoder is an MLP on the token sequence
    instead of an LSTM whose outputs are mean-pooled (a sequence of a
    fixed length, the space's decisions, needs no recurrence, and the MLP
    costs a fraction of the LSTM's time in a search whose overhead counts);
    the decoder is a non-autoregressive MLP (one softmax per decision read
    from ``z``) instead of an attention LSTM, so that a moved ``z`` alone
    determines the decoded genotype; numeric parameters are discretized into ``n_levels`` levels
    (the proposals use those levels); the reconstruction loss also uses
    random unscored genotypes (as the later semi-supervised NAO does with
    unlabelled architectures); a failed trial counts as the lowest score
    seen; no symmetry augmentation of the training set; the seeds are
    moved best first rather than all at once (greedier: on small budgets
    the best seed's neighbourhood paid off in our tests); a share
    ``random_fraction`` of the proposals is random (an addition). Each proposal
    carries its predicted score (``search_results_["predicted_score"]``).

    Randomness: the networks are initialized under
    ``torch.random.fork_rng``, seeded from the searcher's generator; training
    is full-batch, so the search is reproducible and the global torch state
    untouched. The number of torch threads is left as it is.

    References
    ----------
    Luo, Tian, Qin, Chen, Liu. "Neural Architecture Optimization." NeurIPS 2018.
    Luo, Tan, Wang, Qin, Chen, Liu. "Semi-Supervised Neural Architecture
    Search." NeurIPS 2020 (unlabelled architectures in the autoencoder).
    """

    _parameter_constraints: dict = {
        "n_initial": [Interval(Integral, 2, None, closed="left")],
        "n_seeds": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
        "train_steps": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "trade_off": [Interval(Real, 0, 1, closed="neither")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "n_unlabelled": [Interval(Integral, 0, None, closed="left")],
        "random_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, n_initial=8, n_seeds=5, hidden_size=32, n_levels=5, train_steps=100, lr=0.005,
                 trade_off=0.8, step_size=1.0, max_steps=12, n_unlabelled=64, random_fraction=0.1):
        self.n_initial = n_initial
        self.n_seeds = n_seeds
        self.hidden_size = hidden_size
        self.n_levels = n_levels
        self.train_steps = train_steps
        self.lr = lr
        self.trade_off = trade_off
        self.step_size = step_size
        self.max_steps = max_steps
        self.n_unlabelled = n_unlabelled
        self.random_fraction = random_fraction

    # -- setup -----------------------------------------------------------------------
    def _setup(self):
        params = {p.name: p for p in self.space_.params}
        # Plain (name, choices) tuples: they pickle, where Decision does not.
        self._decisions = [(d.name, tuple(d.choices)) for d in self.space_.decisions(int(self.n_levels))]
        self._numeric = {}  # decision index -> unit positions of its levels (numeric parameters)
        for i, (dname, choices) in enumerate(self._decisions):
            p = params.get(dname)
            if p is not None and not hasattr(p, "choices"):
                self._numeric[i] = np.array([float(p.encode(v)[0]) for v in choices])
        self._params = params
        seed = int(self.rng_.integers(2**63 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model_ = _NAOModel([len(c) for _, c in self._decisions], int(self.hidden_size))
        self._optimizer = torch.optim.Adam(self.model_.parameters(), lr=float(self.lr), foreach=True)
        self._unlabelled = [self._tokens(self.space_.sample(self.rng_)) for _ in range(int(self.n_unlabelled))]
        self._told = {}  # genotype -> score (None: failed)
        self._order = []
        self._proposed = set()
        self._fitted_on = 0  # results told when the model was last fitted
        self._n_results = 0
        self.n_fits_ = 0

    # -- genotype <-> tokens ---------------------------------------------------------------
    def _tokens(self, genotype):
        out = []
        for i, (dname, choices) in enumerate(self._decisions):
            if dname not in genotype:
                out.append(len(choices))  # the "inactive" token
                continue
            value = genotype[dname]
            if i in self._numeric:
                unit = float(self._params[dname].encode(value)[0])
                out.append(int(np.argmin(np.abs(self._numeric[i] - unit))))
            else:
                out.append(next(j for j, c in enumerate(choices) if type(c) is type(value) and c == value))
        return out

    def _decode(self, logits, seed=None):
        """The genotype of one row of decoder logits: each decision's most likely real choice.

        With a ``seed`` genotype, a numeric decision decoded to the seed's own level keeps the
        seed's exact value (only the decisions the step changed are snapped to levels).
        """
        values = {}
        seed_tokens = self._tokens(seed) if seed is not None else None
        for i, ((dname, choices), part) in enumerate(zip(self._decisions, self.model_.slices())):
            token = int(torch.argmax(logits[part][: len(choices)]))
            if seed_tokens is not None and token == seed_tokens[i] and dname in seed:
                values[dname] = seed[dname]
            else:
                values[dname] = choices[token]
        return self.space_.from_decisions(values)

    # -- ask / tell ----------------------------------------------------------------------
    def _tell(self, candidate, result):
        genotype = candidate.genotype
        self._proposed.add(genotype)
        if genotype not in self._told:
            self._order.append(genotype)
        self._told[genotype] = result_score(result)
        self._n_results += 1

    def _ask(self, n):
        successes = [g for g in self._order if self._told[g] is not None]
        if len(successes) < self.n_initial:
            return [Candidate(self._random_new()) for _ in range(n)]
        if self._fitted_on != self._n_results:
            self._fit()
        seeds = sorted(successes, key=lambda g: -self._told[g])[: self.n_seeds]
        out = []
        while len(out) < n:
            if self.random_fraction > 0 and float(self.rng_.random()) < self.random_fraction:
                out.append(Candidate(self._random_new()))
                continue
            found = None
            for seed in seeds:  # the best first; the next when a seed leads to nothing new
                found = self._ascend(seed)
                if found is not None:
                    break
            if found is None:
                genotype = self._mutant(seeds[0])
                self._proposed.add(genotype)
                out.append(Candidate(genotype))
                continue
            genotype, predicted = found
            self._proposed.add(genotype)
            out.append(Candidate(genotype, meta=(("predicted_score", predicted),)))
        return out

    def _ascend(self, seed):
        """Gradient ascent on the predictor from ``seed``'s encoding to a new genotype, or None."""
        model = self.model_
        with torch.no_grad():
            z = model.encode(torch.tensor([self._tokens(seed)]))
        previous = seed
        eta = float(self.step_size)
        for _ in range(int(self.max_steps)):
            z = z.detach().requires_grad_(True)
            predicted = model.predict(z).sum()
            (grad,) = torch.autograd.grad(predicted, z)
            z = z + eta * grad
            with torch.no_grad():
                genotype = self._decode(model.decode(z)[0], seed)
                score = float(model.predict(z)) * self._scale + self._mean
            if genotype not in self._proposed and genotype not in self._told:
                return genotype, score
            if genotype == previous:
                eta *= 2.0
            previous = genotype
        return None

    def _mutant(self, genotype):
        for _ in range(_MAX_REDRAWS):
            child = self.space_.mutate(genotype, self.rng_)
            if child not in self._proposed:
                return child
        return self._random_new()

    def _random_new(self):
        genotype = draw_new(self.space_, self.rng_, self._proposed, _MAX_REDRAWS)
        self._proposed.add(genotype)
        return genotype

    # -- the model -------------------------------------------------------------------------
    def _fit(self):
        scores = [self._told[g] for g in self._order]
        successes = np.array([s for s in scores if s is not None])
        floor = float(successes.min())
        y = np.array([floor if s is None else s for s in scores], dtype=float)
        self._mean = float(y.mean())
        self._scale = float(y.std()) if y.std() > 1e-12 else 1.0
        labelled = torch.tensor([self._tokens(g) for g in self._order])
        target = torch.tensor((y - self._mean) / self._scale, dtype=torch.float32)
        everything = torch.cat([labelled, torch.tensor(self._unlabelled, dtype=torch.long).reshape(-1, labelled.shape[1])])
        model, w = self.model_, float(self.trade_off)
        model.train()
        for _ in range(int(self.train_steps)):
            z = model.encode(everything)
            prediction_loss = nn.functional.mse_loss(model.predict(z[: len(labelled)]), target)
            reconstruction_loss = model.reconstruction_loss(model.decode(z), everything)
            loss = w * prediction_loss + (1.0 - w) * reconstruction_loss
            self._optimizer.zero_grad()
            loss.backward()
            self._optimizer.step()
        model.eval()
        self._fitted_on = self._n_results
        self.n_fits_ += 1


class _NAOModel(nn.Module):
    """Encoder (MLP on the tokens), predictor (MLP) and decoder (MLP, one softmax per decision)."""

    def __init__(self, n_choices, hidden_size):
        super().__init__()
        self.n_choices = list(n_choices)
        # one embedding table per position (offsets into one table); the last token of each is "inactive"
        self.offsets = [0]
        for k in self.n_choices:
            self.offsets.append(self.offsets[-1] + k + 1)
        # summing per-position embeddings is a linear layer on the one-hot encoding of the sequence
        self.embedding = nn.EmbeddingBag(self.offsets[-1], hidden_size, mode="sum")
        self.encoder = nn.Sequential(nn.Tanh(), nn.Linear(hidden_size, hidden_size))
        self.predictor = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(), nn.Linear(hidden_size, 1))
        self.decoder = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(),
                                     nn.Linear(hidden_size, self.offsets[-1]))
        # decision i's logits gathered into row i of a (decisions, max choices + 1) grid, the rest masked
        width = max(self.n_choices) + 1
        index = torch.zeros(len(self.n_choices), width, dtype=torch.long)
        mask = torch.ones(len(self.n_choices), width, dtype=torch.bool)
        for i, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            index[i, : b - a] = torch.arange(a, b)
            mask[i, : b - a] = False
        self.register_buffer("pad_index", index)
        self.register_buffer("pad_mask", mask)
        self.register_buffer("offset_row", torch.tensor(self.offsets[:-1]).unsqueeze(0))

    def encode(self, tokens):
        return self.encoder(self.embedding(tokens + self.offset_row))

    def predict(self, z):
        return self.predictor(z).squeeze(-1)

    def decode(self, z):
        """Logits of every decision side by side, ``(batch, sum(n_choices + 1))``; see :meth:`slices`."""
        return self.decoder(z)

    def slices(self):
        return [slice(a, b) for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def reconstruction_loss(self, logits, tokens):
        """Mean over decisions of the cross-entropy of each decision's softmax (one padded gather)."""
        width = self.pad_index.shape[1]
        padded = logits[:, self.pad_index].masked_fill(self.pad_mask, -1e9)  # (batch, decisions, width)
        return nn.functional.cross_entropy(padded.reshape(-1, width), tokens.reshape(-1))
