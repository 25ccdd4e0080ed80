"""The front door: ``AutoNASClassifier`` and ``AutoNASRegressor``."""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d, validate_data

from .evaluation.ensembles import EnsembleClassifier, EnsembleRegressor, leaves
from .evaluation.pretext import MaskedFeaturePretext
from .evaluation.trainer import Evaluator
from .evaluation.trial import TrialData
from .prep.cleaning import UnparsedValueWarning
from .prep.tabular import TabularPreprocessor, infer_column_kinds, numeric_block, to_frame
from .runner import PostSearch, Runner
from .search.base import Searcher, make_searcher
from .search.metanas import meta_features
from .space.base import SearchSpace
from .space.joint import JointSpace
from .prep.images import ImageScaler
from .space.cell import CellSpace
from .space.hierarchical import HierarchicalSpace
from .space.mlp import MLPSpace, ResNetSpace
from .space.pipeline import PipelineSpace
from .space.training import TrainingSpace
from .evaluation.objectives import OBJECTIVE_COLUMNS, MnasReward, pareto_front

__all__ = ["AutoNASClassifier", "AutoNASRegressor"]

SPACES = {"mlp": MLPSpace, "resnet": ResNetSpace, "cell": CellSpace, "hierarchical": HierarchicalSpace}
IMAGE_SPACES = ("cell", "hierarchical")  # built with input_shape; the others see flattened pixels
KNOWN_OBJECTIVES = ("score", "params", "flops", "latency")
CONSTRAINT_COLUMNS = {"params": "n_params", "flops": "flops", "latency_ms": "latency_ms"}
ROWS_PER_BUDGET_SECOND = 200  # low-fidelity threshold: rows a trial may use per second of budget
CV_MAX_SAMPLES = 1000  # below this many rows candidates are scored by k-fold cross-validation
ENSEMBLE_STEPS = 25  # ensemble_size="auto": greedy steps of Caruana selection (the best prefix is kept)
AUTO_LIBRARY_SIZE = 10  # ensemble_size="auto": the best complete trials kept as candidate members
MIN_TRAIN_ROWS = 2  # the preprocessing's cleaner tells what varies from at least two rows
PARTIAL_FIT_MAX_EPOCHS = 20  # partial_fit's default epochs: the best trial's best epoch, at most this
WARM_START_PRIORS = 5  # warm_start on new data: the earlier best genotypes re-evaluated first


class BaseAutoNAS(BaseEstimator):
    """Shared machinery of the two estimators (see their docstrings)."""

    _parameter_constraints = {
        "space": [StrOptions({"mlp", "resnet", "cell", "hierarchical"}), SearchSpace],
        "search": [str, Searcher],
        "time_budget": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "max_trials": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "preprocessing": [StrOptions({"auto", "none"}), HasMethods(["fit", "transform"]), list, tuple],
        "objectives": [tuple, list],
        "constraints": [dict, None],
        "ensemble_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "scoring": [str, callable, None],
        "input_shape": [tuple, None],
        "device": [str],
        "n_jobs": [Interval(numbers.Integral, None, -1, closed="right"), Interval(numbers.Integral, 1, None, closed="left"),
                   None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "checkpoint": [str, os.PathLike, None],
        "pruning": ["boolean"],
        "unlabeled": [numbers.Real, str, None],
    }

    _task = None

    def __init__(self, space="mlp", search="tpe", time_budget=60.0, max_trials=None, max_epochs=100,
                 validation_fraction=0.2, preprocessing="auto", objectives=("score",), constraints=None,
                 ensemble_size="auto", scoring=None, input_shape=None, device="cpu", n_jobs=None,
                 random_state=None, verbose=0, warm_start=False, checkpoint=None, pruning=False, unlabeled=None):
        self.space = space
        self.search = search
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.preprocessing = preprocessing
        self.objectives = objectives
        self.constraints = constraints
        self.ensemble_size = ensemble_size
        self.scoring = scoring
        self.input_shape = input_shape
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint = checkpoint
        self.pruning = pruning
        self.unlabeled = unlabeled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True  # text columns are one-hot encoded
        tags.input_tags.categorical = True
        tags.non_deterministic = self.time_budget is not None
        return tags

    # -- validation ------------------------------------------------------------------
    def _check_params(self):
        self._validate_params()
        name = type(self).__name__
        if self.time_budget is None and self.max_trials is None:
            raise ValueError(
                f"{name}: set time_budget or max_trials (or both); with neither the search would "
                "never end. Got time_budget=None, max_trials=None instead."
            )
        objectives = tuple(self.objectives)
        unknown = [o for o in objectives if o not in KNOWN_OBJECTIVES]
        if unknown or "score" not in objectives:
            raise ValueError(
                f"{name}: objectives must include 'score' and may add {KNOWN_OBJECTIVES[1:]}. "
                f"Got {self.objectives!r} instead."
            )
        for key, limit in (self.constraints or {}).items():
            if key not in CONSTRAINT_COLUMNS:
                raise ValueError(
                    f"{name}: unknown constraint {key!r}; known: 'params', 'flops', 'latency_ms'. "
                    f"Got constraints={self.constraints!r} instead."
                )
            if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or limit <= 0:
                raise ValueError(f"{name}: constraint {key!r} must be a positive number. Got {limit!r} instead.")
        if self.constraints and self.ensemble_size != "auto" and self.ensemble_size > 1:
            raise ValueError(
                f"{name}: constraints={self.constraints!r} limit the one network that predicts, and an ensemble "
                f"of ensemble_size={self.ensemble_size!r} members (each a bag of fold models) would predict with "
                f"several; use ensemble_size=1 or 'auto' (one network under constraints)."
            )
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) != 3 or not all(isinstance(v, numbers.Integral) and v > 0 for v in shape):
                raise ValueError(
                    f"{name}: input_shape must be (channels, height, width) of positive ints. "
                    f"Got {self.input_shape!r} instead."
                )
        if self.device not in ("cpu", "auto") and not self.device.startswith("cuda"):
            raise ValueError(f"{name}: device must be 'cpu', 'cuda[:N]' or 'auto'. Got {self.device!r} instead.")
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(
                    f"{name}: device={self.device!r} but CUDA is not available on this machine; "
                    "use device='cpu', or device='auto' to fall back to the CPU automatically."
                )

    def _check_X(self, X, reset):
        """Validate raw tabular X; returns a numpy array or a DataFrame, kept raw.

        With ``input_shape``, 4-D image batches are flattened to rows and
        the number of columns must match the shape.
        """
        if self.input_shape is not None and not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
            if X.ndim == 4:
                if tuple(X.shape[1:]) != tuple(self.input_shape):
                    raise ValueError(
                        f"{type(self).__name__}: images of shape {X.shape[1:]} do not match "
                        f"input_shape={tuple(self.input_shape)}."
                    )
                X = X.reshape(len(X), -1)
            if X.ndim == 2 and X.shape[1] != int(np.prod(self.input_shape)):
                raise ValueError(
                    f"{type(self).__name__}: rows have {X.shape[1]} values but input_shape="
                    f"{tuple(self.input_shape)} needs {int(np.prod(self.input_shape))}."
                )
        if isinstance(X, pd.DataFrame):
            frame = X
            if frame.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required.")
            if frame.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.")
            out = frame
        else:
            out = check_array(X, dtype=None, ensure_all_finite=False, accept_sparse=False)
            if out.dtype.kind not in "biufOUSMm":
                raise TypeError(f"{type(self).__name__}: unsupported data type {out.dtype} of X.")
            if out.dtype.kind in "US":
                out = out.astype(object)
            frame = to_frame(out)
        validate_data(self, X, reset=reset, skip_check_array=True)
        numeric = infer_column_kinds(frame)["numeric"]
        if numeric:
            if isinstance(out, np.ndarray) and out.dtype.kind == "f":
                bad = np.zeros(out.shape[1], dtype=bool)
                for start in range(0, len(out), 65536):  # no full-size temporary on large arrays
                    bad |= np.isinf(out[start:start + 65536]).any(axis=0)
            else:
                bad = np.isinf(numeric_block(frame, numeric)).any(axis=0)
            if bad.any():
                raise ValueError(
                    f"Input X contains infinity in column(s) {[c for c, b in zip(numeric, bad) if b]}; "
                    "only NaN marks missing values."
                )
        return out

    def _check_y(self, y, n_samples):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y_arr = column_or_1d(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy(), warn=True)
        check_consistent_length(np.empty(n_samples), y_arr)
        return y_arr

    def _separate_unlabeled(self, X, y):
        """``X, y`` of the labeled rows and the raw unlabeled rows (None without ``unlabeled``).

        A row is unlabeled when its target equals ``unlabeled`` (or is NaN
        when ``unlabeled`` is NaN), scikit-learn's semi-supervised convention
        (``SelfTrainingClassifier``, ``LabelSpreading``), opt-in so that -1
        stays a class by default.
        """
        if self.unlabeled is None:
            return X, y, None
        name = type(self).__name__
        mask = _unlabeled_mask(y, self.unlabeled)
        n_unlabeled = int(mask.sum())
        if n_unlabeled == 0:
            return X, y, None
        n_labeled = len(y) - n_unlabeled
        if n_labeled == 0:
            raise ValueError(f"{name}: every row of y is unlabeled (y == unlabeled={self.unlabeled!r}); "
                             "at least some rows need a label.")
        needed = self._min_samples()
        if n_labeled < needed:
            raise ValueError(
                f"{name} needs at least {needed} labeled rows with validation_fraction="
                f"{self.validation_fraction!r}; got {n_labeled} labeled and {n_unlabeled} unlabeled "
                f"(y == unlabeled={self.unlabeled!r}) rows.")
        labeled = np.flatnonzero(~mask)
        X_unlabeled = _safe_indexing(X, np.flatnonzero(mask))
        X = _safe_indexing(X, labeled)
        return X, y[labeled], X_unlabeled

    def _split(self, X, y, seed):
        """The data candidates are scored on: a holdout split, or folds on small data.

        With fewer than ``CV_MAX_SAMPLES`` rows, a single holdout of
        ``validation_fraction`` is too small to rank candidates reliably, so
        each candidate is scored by k-fold cross-validation with
        ``k = round(1 / validation_fraction)`` folds (at most 10), each
        holding out that same share. Returns a list of :class:`TrialData`.
        """
        n = len(y)
        needed = self._min_samples()
        if n < needed:
            raise ValueError(
                f"{type(self).__name__} needs at least {needed} samples with validation_fraction="
                f"{self.validation_fraction!r} (each candidate trains on at least {MIN_TRAIN_ROWS} rows and is "
                f"scored on at least {self._min_valid_rows()} held-out row(s)); got n_samples = {n}."
            )
        n_valid = max(1, int(round(self.validation_fraction * n)))
        stratified = False
        if self._task == "classification":
            _, counts = np.unique(y, return_counts=True)
            stratified = counts.min() >= 2 and n_valid >= len(counts) and n - n_valid >= len(counts)
        n_folds = min(10, int(round(1 / self.validation_fraction)))
        if n < CV_MAX_SAMPLES and n_folds >= 2 and n >= 5 * n_folds:
            if stratified and np.unique(y, return_counts=True)[1].min() >= n_folds:
                splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            else:
                splitter = KFold(n_folds, shuffle=True, random_state=seed)
            splits = list(splitter.split(np.zeros(n), y))
        else:
            splits = [train_test_split(np.arange(n), test_size=n_valid, random_state=seed,
                                       stratify=y if stratified else None)]
        return [TrialData(_safe_indexing(X, tr), y[tr], _safe_indexing(X, va), y[va]) for tr, va in splits]

    def _min_valid_rows(self):
        # R^2 (the regressors' default) is undefined on a single row
        return 2 if self._task == "regression" and self.scoring in (None, "r2") else 1

    def _min_samples(self):
        """The fewest rows whose holdout split (the split of small data when k-fold does not apply) leaves
        ``MIN_TRAIN_ROWS`` to train on and ``_min_valid_rows()`` to score on."""
        n = 2
        while n < 100_000:
            n_valid = max(1, int(round(self.validation_fraction * n)))
            if n - n_valid >= MIN_TRAIN_ROWS and n_valid >= self._min_valid_rows():
                return n
            n += 1
        return n

    # -- fit -------------------------------------------------------------------------
    def _build_space(self, X=None):
        if isinstance(self.space, str):
            kwargs = {"input_shape": tuple(self.input_shape)} if self.space in IMAGE_SPACES and self.input_shape else {}
            arch = SPACES[self.space](**kwargs)
        else:
            arch = clone(self.space)
        if isinstance(arch, JointSpace):
            return arch
        if self.input_shape is not None:
            pipeline = None  # image rows keep their shape: a fixed pixel scaler, see _preprocessing
        elif isinstance(self.preprocessing, (list, tuple)):
            pipeline = PipelineSpace.from_allowed(list(self.preprocessing), task=self._task)
        elif isinstance(self.preprocessing, str) and self.preprocessing == "auto":
            pipeline = PipelineSpace(task=self._task)
        else:
            pipeline = None
        if pipeline is not None and X is not None:
            pipeline = pipeline.for_data(X)  # no text step searched on data without free text
        return JointSpace(arch=arch, training=TrainingSpace(task=self._task), pipeline=pipeline)

    def _preprocessing(self):
        """The preprocessing handed to the evaluator: images get a fixed pixel scaler."""
        if self.input_shape is not None and isinstance(self.preprocessing, (str, list, tuple)):
            return ImageScaler(input_shape=tuple(self.input_shape))
        if isinstance(self.preprocessing, (list, tuple)):
            return "auto"  # searched, within the allowed steps
        return self.preprocessing

    def _fit(self, X, y, classes=None):
        start = time.time()
        self._check_params()
        X = self._check_X(X, reset=True)
        y = self._check_y(y, X.shape[0])
        X, y, X_unlabeled = self._separate_unlabeled(X, y)
        y = self._prepare_y(y)
        if classes is not None:  # a first partial_fit declared classes that may come later
            self.classes_ = classes

        rng = check_random_state(self.random_state)
        split_seed, searcher_seed, runner_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        data = self._split(X, y, split_seed)
        n_train = len(data[0].y_train)

        space = self._build_space(X)
        searcher = clone(make_searcher(self.search))
        if "meta_features" in searcher.get_params(deep=False) and searcher.meta_features is None:
            # search="metanas": the prior ranks the genotypes of the meta-training tables most like this one
            searcher.set_params(meta_features=meta_features(X, y, self._task))
        self.searcher_ = searcher.setup(space, searcher_seed)
        self.space_ = space
        scorer = self._scorer()
        constraints = dict(self.constraints or {})
        objectives = tuple(self.objectives)
        evaluator = self._make_evaluator(
            space, scorer, keep_predictions=self._ensembling(), prune=self.pruning, bag=self._ensembling(),
            measure_latency="latency" in objectives or "latency_ms" in constraints,
        )
        self.n_unlabeled_ = 0 if X_unlabeled is None else int(X_unlabeled.shape[0])
        if X_unlabeled is not None:  # UnNAS: each trial pre-trains on them (sknas.evaluation.pretext)
            evaluator.pretext = MaskedFeaturePretext(X_unlabeled)
        data_fraction = self._plan_data_fraction(n_train)
        fingerprint = (self._fingerprint(X if X_unlabeled is None else (X, X_unlabeled), y)
                       if self.checkpoint is not None else None)
        warm_key = self._warm_start_key(X, y) if self.warm_start else None
        priors = self._warm_start_priors(space, warm_key)
        runner = Runner(
            self.searcher_, evaluator, time_budget=self.time_budget, max_trials=self.max_trials,
            n_jobs=self.n_jobs, start=start, portfolio=priors or space.portfolio(), seed=runner_seed,
            verbose=self.verbose, accept=_constraint_check(constraints) if constraints else None,
            reward=MnasReward.for_objectives(objectives, constraints), n_train=n_train, n_refit=len(y),
            data_fraction=data_fraction, library_size=self._library_size(),
            on_trial=None if fingerprint is None else (
                lambda r: _write_checkpoint(self.checkpoint, fingerprint, r, self._own_classes())),
        )
        state = self._previous_state(fingerprint, warm_key)
        if state is not None:
            runner.restore(state)
            self.searcher_ = runner.searcher
        if fingerprint is not None:  # before any trial: a state the checkpoint cannot hold fails now, not mid-search
            try:
                _write_checkpoint(self.checkpoint, fingerprint, runner, self._own_classes())
            except ValueError as exc:
                raise ValueError(f"{type(self).__name__}: checkpoint={self.checkpoint!r} cannot hold this "
                                 f"search: {exc}") from None
        results = runner.run(data)
        del data  # the runner keeps the split until the post-search frees it before the refit
        if priors and state is None:  # the portfolio was the earlier fit's best genotypes
            for row in results.rows:
                if row["source"] == "portfolio":
                    row["source"] = "warm_start"
        self._search_state = {"key": warm_key, "runner": runner.state()} if self.warm_start else None
        self.partial_fits_ = []
        self.data_fraction_ = data_fraction
        if runner.best_result is None:
            self.search_results_ = results.to_dict()
            raise ValueError(self._no_success_message(results, constraints))
        steps = (ENSEMBLE_STEPS if self.ensemble_size == "auto" else self.ensemble_size) if self._ensembling() else 0
        done = PostSearch(runner).run(X, y, ensemble_steps=steps, scorer=scorer,
                                      classes=getattr(self, "classes_", None))
        self.best_index_ = runner.best_index  # after a full-fidelity retrain, that trial
        self.best_score_ = float(runner.best_result.score)
        self.best_genotype_ = results.rows[runner.best_index]["genotype"]
        best, self.refit_ = done.best, done.refitted
        # a bag (the fold models of a cross-validated trial) or an ensemble predicts; best_estimator_ stays
        # the best trial's own pipeline (its first fold's, for a bag)
        self.best_estimator_ = best.estimators[0] if isinstance(best, (EnsembleClassifier, EnsembleRegressor)) else best
        self.ensemble_ = done.model if done.model is not self.best_estimator_ else None
        if self.ensemble_ is not None:
            self.ensemble_members_, self.ensemble_weights_ = done.members, done.weights
        self.search_results_ = results.to_dict()
        self.n_trials_ = len(results)
        self.n_samples_fit_ = int(X.shape[0])
        self.pareto_front_ = self._pareto_front()
        self.fit_time_ = time.time() - start
        # the parts add up to the fit's time: the search ends where the post-search starts, and the
        # ensemble part holds what follows the refit
        spent = {"search": done.started - start, "full_fidelity": done.times["full_fidelity"],
                 "refit": done.times["refit"]}
        self.time_spent_ = {**spent, "ensemble": self.fit_time_ - sum(spent.values()), "total": self.fit_time_}
        if self.verbose:
            print(f"[sknas] {self.n_trials_} trials in {self.fit_time_:.1f}s; best score {self.best_score_:.4f}"
                  f" (trial {self.best_index_}){'; refit on all data' if self.refit_ else ''}", flush=True)
        return self

    def _scorer(self):
        """The scorer trials are ranked by: ``scoring``, or the task's default."""
        return check_scoring(self, scoring=self._default_scoring() if self.scoring is None else self.scoring)

    def _make_evaluator(self, space, scorer, **options):
        """The Evaluator of a search on ``space`` (the estimator's task, epochs, classes, preprocessing,
        device and size limits); ``options`` are the search's own (ensembling, pruning, latency) or a
        caller's (:mod:`sknas.inspect` keeps no models)."""
        constraints = dict(self.constraints or {})
        return Evaluator(
            space, self._task, scorer, max_epochs=self.max_epochs, classes=getattr(self, "classes_", None),
            preprocessing=self._preprocessing(), n_threads=1, device=self._torch_device(),
            max_params=constraints.get("params"), max_flops=constraints.get("flops"), **options,
        )

    def _ensembling(self):
        # a cost constraint limits the network that predicts: one network, refit, no bag
        if self.constraints:
            return False
        return self.ensemble_size == "auto" or self.ensemble_size > 1

    def _library_size(self):
        """How many of the best complete trials keep their model and validation predictions for the ensemble."""
        if not self._ensembling():
            return 0
        if self.ensemble_size == "auto":
            return AUTO_LIBRARY_SIZE
        return max(10, 3 * self.ensemble_size) if self.ensemble_size > 1 else 0

    def _torch_device(self):
        """The torch device trials train on: ``"auto"`` is CUDA where available, else the CPU."""
        if self.device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _fingerprint(self, X, y):
        """What a checkpoint must match to be resumed: the data and the search settings."""
        import joblib

        ignored = {"checkpoint", "verbose", "n_jobs", "time_budget", "max_trials", "warm_start"}
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ignored}
        return joblib.hash((type(self).__name__, repr(sorted(params.items())), X, y))

    def _own_classes(self):
        """The classes of the objects given as ``space``, ``search`` and ``preprocessing``: a checkpoint of
        this fit may hold objects of them (the user's own searcher or transformer)."""
        values = (self.space, self.search, self.preprocessing)
        return tuple(type(v) for v in values if not isinstance(v, (str, list, tuple)))

    def _previous_state(self, fingerprint, warm_key=None):
        """The search to continue: a checkpoint file, else (warm_start) the last fit's on the same data.

        A warm start on other data (or other search settings) does not
        continue the earlier search: :meth:`_warm_start_priors` seeds a new
        one with its best genotypes instead.
        """
        if self.checkpoint is not None and os.path.exists(self.checkpoint):
            return _read_checkpoint(self.checkpoint, fingerprint, owner=type(self).__name__,
                                    trusted=self._own_classes())["runner"]
        previous = getattr(self, "_search_state", None) if self.warm_start else None
        if previous is not None and previous["key"] == warm_key:
            return previous["runner"]
        return None

    def _warm_start_key(self, X, y):
        """What a warm start must match to continue the earlier search: the rows (in any order) and the
        search settings (those a checkpoint ignores are ignored here too)."""
        import joblib

        ignored = {"checkpoint", "verbose", "n_jobs", "time_budget", "max_trials", "warm_start"}
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ignored}
        return joblib.hash((type(self).__name__, repr(sorted(params.items())), _rows_digest(X, y)))

    def _warm_start_priors(self, space, warm_key):
        """The earlier fit's best genotypes, to evaluate first when a warm start meets new data.

        With ``warm_start=True`` and data (or settings) other than the last
        fit's, the earlier search is a prior, not a state to continue: the
        genotypes of its ``WARM_START_PRIORS`` best successful trials, best
        first (by their old score; ties keep the earlier trial), still valid
        in the new ``space``, replace the space's portfolio. They are trained
        and scored again on the new data, and a fresh searcher learns from
        those new scores before it proposes its own candidates; the old
        scores are kept by nobody. Empty when the search simply continues
        (same data and settings), and without an earlier warm-start fit.
        """
        previous = getattr(self, "_search_state", None) if self.warm_start else None
        if previous is None or previous["key"] == warm_key or (
                self.checkpoint is not None and os.path.exists(self.checkpoint)):
            return []
        rows = [row for row in previous["runner"]["rows"] if row["status"] == "ok" and row["score"] is not None]
        rows.sort(key=lambda row: (-row["score"], row["trial"]))
        priors, seen = [], set()
        for row in rows:
            try:
                genotype = space.validate(row["genotype"])
            except (ValueError, KeyError, TypeError):  # a decision the new space does not have
                continue
            if genotype not in seen:
                seen.add(genotype)
                priors.append(genotype)
            if len(priors) == WARM_START_PRIORS:
                break
        return priors

    def _plan_data_fraction(self, n_train):
        """Low fidelity for data too large for the budget: each trial sees at most
        ``max(2000, ROWS_PER_BUDGET_SECOND * time_budget)`` training rows (the winner is then
        retrained on all of them)."""
        if self.time_budget is None:
            return 1.0
        max_rows = max(2000, ROWS_PER_BUDGET_SECOND * self.time_budget)
        return 1.0 if n_train <= max_rows else max_rows / n_train

    def _no_success_message(self, results, constraints):
        name = type(self).__name__
        if not len(results):
            return (f"{name}: no trial could run within time_budget={self.time_budget!r}; "
                    "increase the budget.")
        ok = [row for row in results.rows if row["status"] == "ok"]
        if constraints and ok:
            broken = sorted({key for row in ok for key, limit in constraints.items()
                             if _cost(row, key) is not None and _cost(row, key) > limit})
            return (f"{name}: no trial met the constraints; every successful trial broke "
                    f"{', '.join(f'{k} <= {constraints[k]}' for k in broken) or 'a limit'}.")
        if any(row["status"] == "interrupted" for row in results.rows):
            return (f"{name}: the search was interrupted before any trial trained an epoch "
                    f"({len(results)} trials); there is no model to keep.")
        errors = [row["error"] for row in results.rows if row["status"] == "failed" and row["error"]]
        if "params" in constraints and errors and all("exceeds the constraint" in e for e in errors):
            return (f"{name}: no trial met the constraint params <= {constraints['params']} in "
                    f"{len(results)} trials; loosen the limit or search a space of smaller networks.")
        first = errors[0].splitlines()[0] if errors else "unknown error"
        return f"{name}: all {len(results)} trials failed; the first error was: {first}"

    def _pareto_front(self):
        res = self.search_results_
        keys = [OBJECTIVE_COLUMNS[o] for o in self.objectives if o != "score"]
        rows = [i for i in range(len(res["trial"])) if res["status"][i] == "ok" and res["score"][i] is not None
                and all(res[k][i] is not None for k in keys)]
        points = [[-res["score"][i]] + [res[k][i] for k in keys] for i in rows]
        return [rows[j] for j in pareto_front(points)] if rows else []

    # -- data that keeps coming ------------------------------------------------------------
    def _partial_fit(self, X, y, classes=None, epochs=None, time_limit=None, update_preprocessing=True):
        """Shared body of the two ``partial_fit`` methods (see :meth:`AutoNASClassifier.partial_fit`)."""
        self._check_params()
        name = type(self).__name__
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral)
                                   or epochs < 1):
            raise ValueError(f"{name}.partial_fit: epochs must be a positive int or None. Got {epochs!r} instead.")
        if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real)
                                       or not time_limit > 0):
            raise ValueError(f"{name}.partial_fit: time_limit must be a positive number of seconds or None. "
                             f"Got {time_limit!r} instead.")
        if not hasattr(self, "best_estimator_"):
            return self._first_partial_fit(X, y, classes)
        start = time.time()
        X = self._check_X(X, reset=False)
        y = self._check_y(y, X.shape[0])
        y = self._check_partial_y(y, classes)
        if len(y) < 2:
            raise ValueError(f"{name}.partial_fit needs at least 2 rows (a batch of one row cannot train a network "
                             f"with batch normalization); got n_samples = {len(y)}.")
        if epochs is None:
            best_epoch = self.search_results_["best_epoch"][self.best_index_]
            epochs = int(min(PARTIAL_FIT_MAX_EPOCHS, max(1, best_epoch or 1)))
        limit = self.time_budget if time_limit is None else time_limit
        deadline = None if limit is None else start + float(limit)
        # train copies: a failure (a non-finite loss, say) leaves the estimator as it was; one deepcopy of
        # both keeps what they share (best_estimator_ is a member of the bag or the ensemble)
        best, ensemble = copy.deepcopy((self.best_estimator_, getattr(self, "ensemble_", None)))
        models = _unique([best] + (leaves(ensemble) if ensemble is not None else []))
        updated = []
        if update_preprocessing:
            for prep in _unique([model.named_steps["preprocessing"] for model in models]):
                updated += _update_statistics(prep, X)
        seed = self._partial_fit_seed()
        trained, reached = [], False
        with _warnings_once_per_call(), torch_rng(seed):
            for i, model in enumerate(models):
                # the time left is shared out equally among the networks not trained yet
                member_deadline = None if deadline is None else time.time() + (deadline - time.time()) / (len(models) - i)
                n, cut = _continue_training(model, X, y, epochs, member_deadline, self._task)
                trained.append(n)
                reached = reached or cut
        self.best_estimator_ = best
        if ensemble is not None:
            self.ensemble_ = ensemble
        self.partial_fits_ = list(getattr(self, "partial_fits_", [])) + [{
            "n_samples": int(len(y)), "epochs": int(epochs), "n_networks": len(models),
            "epochs_trained": int(min(trained)), "time_limit_reached": bool(reached),
            "statistics_updated": len(updated), "fit_time": float(time.time() - start),
        }]
        return self

    def _first_partial_fit(self, X, y, classes):
        """``partial_fit`` on an unfitted estimator: a whole ``fit`` (search included) on these rows."""
        return self._fit(X, y)

    def _check_partial_y(self, y, classes):
        return self._prepare_y(y)

    def _partial_fit_seed(self):
        """A seed for this call's batch order and dropout: from ``random_state`` and the number of calls."""
        base = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        return (base + 7919 * (len(getattr(self, "partial_fits_", [])) + 1)) % (2**31 - 1)

    # -- prediction ------------------------------------------------------------------
    def _check_predict_X(self, X):
        check_is_fitted(self, "best_estimator_")
        return self._check_X(X, reset=False)

    @property
    def _final(self):
        ensemble = getattr(self, "ensemble_", None)
        return self.best_estimator_ if ensemble is None else ensemble

    def predict(self, X):
        """Predict with the best model found by the search (``ensemble_`` when set, else ``best_estimator_``)."""
        X = self._check_predict_X(X)
        with _warnings_once_per_call():
            return self._final.predict(X)

    def save(self, path, metadata=None):
        """Write the fitted estimator to ``path`` as one pickle-free file (see :func:`sknas.io.save`)."""
        from .io import save

        return save(self, path, metadata=metadata)

    def export_onnx(self, path, X_check=None):
        """Write the whole fitted pipeline as one ONNX graph (see :func:`sknas.export.export_onnx`)."""
        from .export import export_onnx

        return export_onnx(self, path, X_check=X_check)


class AutoNASClassifier(ClassifierMixin, BaseAutoNAS):
    """Neural architecture search for classification behind a scikit-learn estimator.

    ``fit`` searches a space of networks jointly with their training
    hyperparameters and preprocessing, within a time budget, and keeps the
    best pipeline (preprocessing followed by a skorch-trained PyTorch
    network) as ``best_estimator_``.

    Parameters
    ----------
    space : {"mlp", "resnet", "cell", "hierarchical"} or SearchSpace, default="mlp"
        What is searched. "mlp": DAGs of 1-8 dense blocks with their own
        width, activation, normalization, dropout and skips; "resnet": the
        residual MLP of Gorishniy et al. (2021); "cell": NASNet/DARTS cells
        stacked N times (convolutional with ``input_shape``, dense
        otherwise); "hierarchical": the motifs of Liu et al. (2018).
    search : str or Searcher, default="tpe"
        How the space is searched: "random", "grid", "tpe" (hyperopt),
        "evolution" (regularized evolution), "reinforce" (Zoph & Le
        controller), "smbo" (surrogate + expected improvement),
        "hyperband", "bohb", "pnas", "nao"; weight sharing: "darts",
        "gdas", "enas" (on the "mlp" and "cell" spaces), "morphism" (on
        "mlp"), "proxyless", "ofa" where available; or a Searcher instance
        (e.g. ``RegularizedEvolution(population_size=20)`` or
        ``PredictorFilter("evolution")``). An unknown name's error lists
        the available ones.
    time_budget : float or None, default=60.0
        Seconds for the whole ``fit`` (search and refit). None: no limit.
    max_trials : int or None, default=None
        Cap on the number of evaluated candidates.
    max_epochs : int, default=100
        Epoch cap per candidate; early stopping acts inside it.
    validation_fraction : float, default=0.2
        Share of the data held out to score candidates.
    preprocessing : "auto", "none", list of str or transformer, default="auto"
        "auto": cleaning (type inference, constant/duplicate/ID-like columns
        removed and listed), scaling and clipping, encoding, feature
        selection, construction and extraction, training-time augmentation
        and class weights are searched with the network; a list of step
        names (e.g. ``["quantile", "mutual_info", "pca"]``) limits that
        search to them; "none": fixed imputation, standard scaling and
        one-hot encoding; or any sklearn transformer producing a numeric
        matrix.
    objectives : tuple of str, default=("score",)
        Add "params", "flops" or "latency" (measured, ms for one row) for a
        multi-objective search: the searcher is told a MnasNet-style
        scalarized reward and ``pareto_front_`` lists the trade-offs. The
        chosen ``best_estimator_`` is still the best-scoring model that meets
        the constraints.
    constraints : dict or None, default=None
        Hard limits the chosen model must meet: ``"params"`` and ``"flops"``
        (one row's forward pass), both known from the genotype before any
        training, and ``"latency_ms"`` (batch of one row, measured after
        training). A proposal over a ``params`` or ``flops`` limit is shrunk
        to fit before it is trained (no snapshot or TabM copies, no
        embedding, narrower, then shallower; ``repaired`` in
        ``search_results_``), so the search spends its budget among feasible
        networks; the searcher is told the score under its own proposal.
        Under constraints one network predicts (``ensemble_size="auto"``
        means 1; ``ensemble_size > 1`` is an error).
    ensemble_size : "auto" or int, default="auto"
        Greedy ensemble selection (Caruana et al. 2004) with repetition over
        the best complete trials' validation predictions (out-of-fold with
        cross-validation): ``"auto"`` takes up to 25 greedy steps and keeps
        the prefix that scored best on validation (as large as helps);
        ``k > 1`` at most ``k`` steps. With cross-validation every member
        is a bag (its trial's fold models, averaged); on holdout data
        members are refit on all data when the budget allows. ``1`` keeps
        one network: the single best trial, refit on all the data when the
        budget allows (no bag, no ensemble).
    scoring : str, callable or None, default=None
        sklearn scorer ranking candidates; None means accuracy.
    input_shape : tuple or None, default=None
        ``(C, H, W)``: rows of X are flattened images (4-D X is accepted
        too); the "cell" and "hierarchical" spaces then use convolutional
        operations, and pixels are standardized per channel
        (:class:`~sknas.prep.images.ImageScaler`) instead of the searched
        tabular preprocessing.
    device : str, default="cpu"
        torch device for training: "cpu", "cuda[:N]" (a clear error when
        CUDA is missing) or "auto" (CUDA where available, else the CPU).
    n_jobs : int or None, default=None
        Trials run in parallel through joblib (a Dask joblib backend
        distributes them); -1 uses every core. 0 is refused.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the searcher and every trial. Same seed, ``n_jobs=1``,
        ``max_trials`` set and ``time_budget=None`` give identical results.
    verbose : int, default=0
        0: silent. 1: a progress bar (``tqdm.auto``, notebook-aware) over
        the time budget, or over ``max_trials`` without one, showing the
        trials done, failed and pruned and the best score so far; it
        advances as results arrive, also with ``n_jobs > 1``; then a
        closing summary line. 2: also one line per trial.
    warm_start : bool, default=False
        True: a new ``fit`` builds on the previous fit's search. On the same
        rows (in any order) and search settings it continues that search
        (its searcher state, trials and best model; ``max_trials`` counts all
        of them) with the new budget. On new data (or other settings) the
        earlier search is a prior: the genotypes of its 5 best trials
        (``WARM_START_PRIORS``), best first by their old score, are trained
        and scored again on the new data before a fresh searcher, told those
        new scores, proposes its own; the old scores and models are dropped
        (``search_results_`` holds the new fit's trials only, the re-evaluated
        ones with ``source="warm_start"``, and ``max_trials`` counts them).
        See "Data that keeps coming" in the user guide, and
        :meth:`partial_fit` to train the fitted networks on new rows
        without any search.
    checkpoint : str or path or None, default=None
        After every trial the search state and results are written there
        atomically (write, then rename); a later fit given the same path and
        the same data and settings resumes the search (after a crash, even
        ``kill -9``, only the trials in flight are lost). ``max_trials``
        counts the resumed trials; ``time_budget`` applies to each fit. The
        file holds no pickle (:mod:`sknas.checkpoint`); a damaged, edited
        or foreign file, or another fit's, is refused with a ``ValueError``.
    pruning : bool, default=False
        Stop trials whose validation-loss curve, extrapolated with
        parametric learning-curve models (Domhan et al. 2015), cannot reach
        the best trial's loss; they are recorded with ``status="pruned"``.
    unlabeled : int, float, str or None, default=None
        The target value that marks a row without a label (scikit-learn's
        semi-supervised convention: ``-1`` for ``SelfTrainingClassifier``).
        None: every row is labeled (``-1`` is then an ordinary class). Set,
        the rows whose ``y`` equals it (NaN matches NaN) are not a class and
        are never predicted; each trial first pre-trains its network on
        masked-feature reconstruction over its labeled training rows and the
        unlabeled rows, then trains on its labeled rows (UnNAS, Liu et al.
        2020; :mod:`sknas.evaluation.pretext`). The split, the scores and
        the refit use the labeled rows only.

    Attributes
    ----------
    best_estimator_ : sklearn.pipeline.Pipeline
        The fitted preprocessing followed by the fitted skorch net: the
        best trial's refit pipeline, or its first fold's (a bag's first
        member) with cross-validation.
    best_genotype_ : Genotype
    best_score_ : float
        Validation score of the best trial.
    best_index_ : int
        Row of the best trial in ``search_results_``.
    search_results_ : dict of lists
        One row per trial (``pd.DataFrame(search_results_)``): ``genotype``,
        ``score``, ``status``, ``error``, ``fit_time``, ``n_params``,
        ``n_epochs``, ``best_epoch``, ``stop_reason``, fidelity and
        ``param_<name>`` columns.
    n_trials_ : int
    pareto_front_ : list of int
        Rows of ``search_results_`` not dominated by another successful trial.
    refit_ : bool
        Whether ``best_estimator_`` was refit on all the data (True) or is
        the best trial's model (False: a cross-validated trial, whose bag
        predicts, or the budget did not allow a refit).
    classes_ : ndarray
    n_features_in_ : int
    n_samples_fit_ : int
        Labeled rows of X the fit was given (split between the trials'
        training and validation parts).
    n_unlabeled_ : int
        Rows of X marked ``unlabeled`` (0 without ``unlabeled``).
    feature_names_in_ : ndarray
        Column names, when X had string column names.
    searcher_ : Searcher
        The fitted clone of ``search``.
    ensemble_ : EnsembleClassifier or None
        What ``predict`` uses when it is not ``best_estimator_`` alone: the
        best trial's bag (cross-validated fits) or the selected ensemble;
        ``ensemble_members_`` and ``ensemble_weights_`` give its trials and
        weights. None when the single refit pipeline predicts.
    data_fraction_ : float
        Share of the training rows each trial used (below 1 when the data
        was too large for the budget; the winner is then retrained on all
        of it).
    fit_time_ : float
        Seconds the whole ``fit`` took.
    partial_fits_ : list of dict
        One entry per :meth:`partial_fit` call since the last ``fit``:
        ``n_samples``, ``epochs`` (asked), ``epochs_trained`` (the fewest
        any network trained: fewer when ``time_limit_reached``),
        ``n_networks``, ``statistics_updated`` (scalers updated) and
        ``fit_time``.
    time_spent_ : dict
        How ``fit_time_`` divided between ``"search"`` (the trials),
        ``"full_fidelity"`` (retraining a low-fidelity winner on all its
        rows), ``"refit"`` (the winner on all the data) and ``"ensemble"``
        (refitting ensemble members); see the user guide's budget page.

    See Also
    --------
    AutoNASRegressor : the same for regression.

    Notes
    -----
    Under 1,000 rows candidates are cross-validated and (unless
    ``ensemble_size=1``) a trial keeps its fold models: the estimator
    predicts with their average (k-fold bagging, Erickson et al. 2020),
    with no refit. On larger data (or with ``ensemble_size=1``) the best trial's
    network is trained on ``1 - validation_fraction`` of the data with early
    stopping on the rest; when the remaining budget allows it, the best
    genotype is then refit on all the data for the number of epochs early
    stopping chose (``refit_ = True``): more data usually helps more than the
    validated stopping point, and that point is reused. By default the
    best trials are then ensembled (``ensemble_size="auto"``).

    References
    ----------
    He, Zhao, Chu. "AutoML: A survey of the state-of-the-art."
    Knowledge-Based Systems 212 (2021).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sknas import AutoNASClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = AutoNASClassifier(time_budget=None, max_trials=2, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _task = "classification"

    def _default_scoring(self):
        return "accuracy"

    def _check_labels(self, y):
        """``y`` is a classification target with no missing or infinite label (a clear ValueError if not)."""
        type_of_target(y, input_name="y", raise_unknown=True)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{type(self).__name__}: y contains NaN or infinity.")
        if y.dtype == object and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y):
            raise ValueError(f"{type(self).__name__}: y contains missing values (None or NaN).")
        check_classification_targets(y)

    def _prepare_y(self, y):
        self._check_labels(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: {self.classes_[0]!r}."
            )
        return y

    def predict_proba(self, X):
        """Class probabilities of the best pipeline, columns ordered as ``classes_``."""
        X = self._check_predict_X(X)
        with _warnings_once_per_call():
            return self._final.predict_proba(X)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def fit(self, X, y):
        """Search, then keep the best pipeline. Returns self."""
        return self._fit(X, y)

    def partial_fit(self, X, y, classes=None, *, epochs=None, time_limit=None, update_preprocessing=True):
        """Continue training the fitted network(s) on new rows, without a new search.

        Every network that predicts is trained further on ``X, y``: the
        single pipeline (``ensemble_size=1``), each fold model of a bag, and
        each member of an ensemble (each bag member of an ensemble of bags);
        ``best_estimator_`` too. Each continues from its current weights and
        optimizer state with skorch's ``partial_fit``, for ``epochs`` epochs
        over the new rows, its learning rate annealed from the genotype's
        ``lr`` to 0 by a cosine schedule over those epochs (the trained
        schedule, a snapshot-ensemble cycle or early stopping, which would
        need validation rows, are not used). There is no validation: a fixed
        number of epochs, bounded by ``time_limit``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            New rows, with the columns (and names) ``fit`` saw; at least 2.
        y : array-like of shape (n_samples,)
            Their labels, all of them in ``classes_``.
        classes : array-like or None, default=None
            Every label ``y`` may ever hold. Required on the first call, when
            the estimator is not fitted: that call runs a whole :meth:`fit`
            (search included) on ``X, y``, and the networks get one output per
            declared class (a class absent from these rows can come in later
            calls). On later calls it may be omitted; if given, it must equal
            ``classes_``.
        epochs : int or None, default=None
            Epochs over the new rows. None: the best trial's early-stopped
            epoch count, at most ``PARTIAL_FIT_MAX_EPOCHS`` (20).
        time_limit : float or None, default=None
            Seconds for the whole call, shared equally among the networks
            still to train; a network stops at its share (after the batch
            that passed it). None: the estimator's ``time_budget`` (no limit
            when that is None).
        update_preprocessing : bool, default=True
            Update the preprocessing statistics that can be updated in
            place: the mean and variance of a ``"standard"`` numeric scaler
            (sklearn's ``StandardScaler.partial_fit``: running statistics over
            every row seen). The rest is kept as fitted: the cleaner's column
            decisions, imputation medians, clipping bounds, quantile, robust
            and power scalers, encoders' levels (an unseen level goes to the
            one-hot "infrequent" column, or all zeros without one; to -1
            with the ordinal encoder; to the target mean with the target
            encoder), feature selection, construction and extraction, and
            the fixed pixel scaler of images.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On the first call without ``classes`` or with ``classes`` missing
            a label of ``y``; later, for a label outside ``classes_`` (the
            networks' output layer has one unit per class: fit again to add
            one), ``classes`` other than ``classes_``, or ``X`` with other
            features than ``fit`` saw. When training fails (a non-finite
            loss) the estimator is left as it was.

        Notes
        -----
        A regression net keeps the target mean and scale it was fitted with
        (the new rows are standardized with them). The genotype's
        oversampling is not applied to the new rows; its class weights
        (``class_weight="balanced"``) are, computed on the new rows. Every
        call is recorded in ``partial_fits_``. ``n_samples_fit_``,
        ``search_results_`` and ``best_score_`` describe the search and do
        not change.
        """
        return self._partial_fit(X, y, classes, epochs=epochs, time_limit=time_limit,
                                 update_preprocessing=update_preprocessing)

    def _first_partial_fit(self, X, y, classes):
        name = type(self).__name__
        if classes is None:
            raise ValueError(f"{name}.partial_fit: classes must be passed on the first call to partial_fit "
                             "(all labels y may ever hold), as in scikit-learn.")
        declared = np.unique(np.asarray(classes))
        if len(declared) < 2:
            raise ValueError(f"{name}.partial_fit needs at least 2 classes; got classes={classes!r}.")
        y_arr = self._check_y(y, len(y) if hasattr(y, "__len__") else 0)
        missing = _labels_outside(y_arr, declared)
        if missing:
            raise ValueError(f"{name}.partial_fit: y holds label(s) {missing} not in classes={declared!r}.")
        return self._fit(X, y, classes=declared)

    def _check_partial_y(self, y, classes):
        name = type(self).__name__
        self._check_labels(y)
        if classes is not None:
            declared = np.unique(np.asarray(classes))
            if len(declared) != len(self.classes_) or _labels_outside(declared, self.classes_):
                raise ValueError(f"{name}.partial_fit: classes={declared!r} is not the same as the classes_ "
                                 f"the estimator was fitted with, {self.classes_!r}.")
        unseen = _labels_outside(y, self.classes_)
        if unseen:
            raise ValueError(
                f"{name}.partial_fit: y holds class(es) {unseen} never seen in fit (classes_ = {self.classes_!r}); "
                "the networks have one output per class of classes_, so partial_fit cannot add one. Fit again "
                "on data that holds it, or declare every class with classes= on the first partial_fit call."
            )
        return y


class AutoNASRegressor(RegressorMixin, BaseAutoNAS):
    """Neural architecture search for regression behind a scikit-learn estimator.

    The same as :class:`AutoNASClassifier` (see its parameters and
    attributes), for a numeric target; the default scoring is R^2. The
    target is standardized inside the network's training and restored in
    ``predict``. ``unlabeled=np.nan`` marks the rows with a NaN target as
    unlabeled (without it a NaN target is an error).

    See Also
    --------
    AutoNASClassifier

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknas import AutoNASRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoNASRegressor(time_budget=None, max_trials=2, max_epochs=5, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _task = "regression"

    def _default_scoring(self):
        return "r2"

    def _prepare_y(self, y):
        try:
            y = check_array(y, ensure_2d=False, dtype="numeric", ensure_all_finite=True, input_name="y")
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: y must be numeric and finite ({exc}).") from None
        return y.astype(np.float64)

    def fit(self, X, y):
        """Search, then keep the best pipeline. Returns self."""
        return self._fit(X, y)

    def partial_fit(self, X, y, *, epochs=None, time_limit=None, update_preprocessing=True):
        """Continue training the fitted network(s) on new rows, without a new search.

        As :meth:`AutoNASClassifier.partial_fit` (see its parameters), for a
        numeric target. On an unfitted estimator the first call runs a whole
        :meth:`fit` on ``X, y``. Each network keeps the target mean and scale
        it was fitted with: the new targets are standardized with them, so
        that its outputs keep their meaning (a drifting target level is
        learned by the network, not by refitting the scaling).
        """
        return self._partial_fit(X, y, None, epochs=epochs, time_limit=time_limit,
                                 update_preprocessing=update_preprocessing)


@contextlib.contextmanager
def _warnings_once_per_call():
    """Each member of a bag or an ensemble cleans the same X: report what they find once per call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnparsedValueWarning)
        yield
    seen = set()
    for w in caught:
        if (w.category, str(w.message)) not in seen:
            seen.add((w.category, str(w.message)))
            warnings.warn(w.message, w.category, stacklevel=3)


def _unlabeled_mask(y, unlabeled):
    """Which rows of ``y`` carry the ``unlabeled`` marker (NaN matches NaN)."""
    if isinstance(unlabeled, numbers.Real) and not isinstance(unlabeled, numbers.Integral) and np.isnan(unlabeled):
        if y.dtype.kind == "f":
            return np.isnan(y)
        return np.array([isinstance(v, float) and np.isnan(v) for v in y], dtype=bool)
    if y.dtype.kind in "biuf" and isinstance(unlabeled, numbers.Real):
        return y == unlabeled
    if y.dtype.kind in "biuf" or isinstance(unlabeled, numbers.Real) and y.dtype.kind in "US":
        return np.zeros(len(y), dtype=bool)  # a string marker among numbers (or the reverse) matches no row
    return np.array([bool(v == unlabeled) for v in y.tolist()], dtype=bool)


def _labels_outside(y, classes):
    """The distinct labels of ``y`` that are not in ``classes``, as a list."""
    y = np.asarray(y)
    outside = y[~np.isin(y, np.asarray(classes))]
    return list(dict.fromkeys(outside.tolist()))


def _unique(objects):
    """``objects`` without repeats (by identity), in order: members of a bag or an ensemble may share one."""
    seen, out = set(), []
    for obj in objects:
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)
    return out


@contextlib.contextmanager
def torch_rng(seed):
    """torch's CPU random stream seeded with ``seed`` inside, restored after (the user's stream is untouched)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _update_statistics(prep, X):
    """Update in place the statistics of ``prep`` that can be updated from new raw rows ``X``.

    What can: the ``StandardScaler`` of the numeric columns of a
    :class:`~sknas.prep.tabular.TabularPreprocessor` (the ``encode`` step of
    a searched pipeline, or the whole preprocessing with
    ``preprocessing="none"``), through its ``partial_fit`` on the new rows
    as they reach it (cleaned, imputed and clipped by the fitted steps
    before it). Returns the scalers updated.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(prep, TabularPreprocessor):
        encoder, rows = prep, X
    elif isinstance(prep, Pipeline) and isinstance(prep.named_steps.get("encode"), TabularPreprocessor):
        position = list(prep.named_steps).index("encode")
        encoder = prep.steps[position][1]
        rows = prep[:position].transform(X) if position else X
    else:
        return []
    numeric = encoder.column_transformer_.named_transformers_.get("numeric")
    if numeric is None or not isinstance(numeric, Pipeline):
        return []
    scaler = numeric.steps[-1][1]
    if type(scaler) is not StandardScaler:
        return []
    n_num = len(encoder.numeric_columns_)
    values = encoder._blocks(to_frame(rows))[:, :n_num].astype(np.float64)  # the block fit gave the scaler's pipeline
    scaler.partial_fit(numeric[:-1].transform(values))
    return [scaler]


def _continue_training(model, X, y, epochs, deadline, task):
    """Train the net of one fitted pipeline ``epochs`` more epochs on raw rows ``X, y`` (skorch's ``partial_fit``).

    The net's own callbacks are swapped for this call's: the loss guard and
    balanced class weights are kept; early stopping, learning-curve pruning
    and the plain validation loss (no validation rows here), the trained
    learning-rate schedule and a snapshot collector are left out; a
    :class:`~sknas.evaluation.trainer.Deadline` at ``deadline`` and a cosine
    annealing of the learning rate from the genotype's ``lr`` to 0 over
    ``epochs`` come in. The net's callbacks are restored after. Returns
    ``(epochs trained, deadline reached)``.
    """
    import torch
    from skorch.callbacks import LRScheduler

    from .evaluation.trainer import Deadline

    net = model.named_steps["net"]
    Xt = model.named_steps["preprocessing"].transform(X)
    target = y if task == "classification" else np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    original = list(net.callbacks)
    kept = [(name, cb) for name, cb in original if name in ("finite_loss", "class_weight")]
    deadline_cb = Deadline(deadline)
    schedule = LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=int(epochs), last_epoch=-1)
    if not net.initialized_:
        net.initialize()
    # set directly: skorch's set_params(callbacks=...) initializes the callbacks before replacing the list
    net.callbacks = kept + [("deadline", deadline_cb), ("lr_schedule", schedule)]
    net.initialize_callbacks()
    try:
        for group in net.optimizer_.param_groups:  # the schedule starts from the genotype's learning rate
            group["lr"] = group["initial_lr"] = net.lr
        before = len(net.history)
        net.partial_fit(Xt, target, epochs=int(epochs))
        return len(net.history) - before, bool(getattr(deadline_cb, "reached_", False))
    finally:
        net.callbacks = original
        net.initialize_callbacks()


def _rows_digest(X, y):
    """A digest of the rows of ``X, y`` that does not depend on their order (warm start's "same data")."""
    import joblib

    frame = to_frame(X)
    try:
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        target = pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False).to_numpy(dtype=np.uint64)
    except TypeError:  # values pandas cannot hash: the order then counts
        return joblib.hash((X, y))
    with np.errstate(over="ignore"):
        combined = np.sort(rows * np.uint64(0x9E3779B97F4A7C15) ^ target)
    return joblib.hash(([str(c) for c in frame.columns], [str(t) for t in frame.dtypes], combined))


def _cost(row, key):
    """The value a constraint ``key`` limits, from a results row or a TrialResult."""
    column = CONSTRAINT_COLUMNS[key]
    return row[column] if isinstance(row, dict) else getattr(row, column)


def _constraint_check(constraints):
    def accept(result):
        for key, limit in constraints.items():
            value = _cost(result, key)
            if value is None or value > limit:
                return False
        return True

    return accept


def _write_checkpoint(path, fingerprint, runner, trusted=()):
    """Write the search state atomically, without pickle: a crash leaves the previous checkpoint whole."""
    from .checkpoint import write_checkpoint

    write_checkpoint(path, fingerprint, runner.state(), trusted=trusted)


def _read_checkpoint(path, fingerprint=None, owner="sknas", trusted=()):
    """``{"fingerprint": ..., "runner": state}`` of a checkpoint file, read without unpickling anything.

    With ``fingerprint``, a checkpoint written for other data or settings is
    refused before its state is decoded.
    """
    from .checkpoint import open_checkpoint

    checkpoint = open_checkpoint(path)
    if fingerprint is not None and checkpoint.fingerprint != fingerprint:
        raise ValueError(
            f"{owner}: the checkpoint {os.fspath(path)!r} was written by a fit "
            "with other data or other search settings; delete it or choose another path."
        )
    return {"fingerprint": checkpoint.fingerprint, "runner": checkpoint.state(trusted=trusted)}
