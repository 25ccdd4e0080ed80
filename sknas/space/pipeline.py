"""The searchable data-preparation and feature-engineering stage (``preprocessing="auto"``).

A pipeline genotype chooses, for one trial, how raw data becomes the
network's input and how that input is augmented during training:

====================  ============================================  ==============================
parameter             choices                                       active when
====================  ============================================  ==============================
``scaler``            standard, quantile, robust, power             always
``clip``              none, winsorize, smooth                       scaler is not quantile
``encoder``           onehot, target, ordinal                       always
``select``            none, variance, mutual_info, f_test, l1       always
``select_k``          2 .. 256 columns (log)                        select is mutual_info / f_test
``select_c``          0.01 .. 1 (log), inverse L1 strength          select is l1
``construct``         none, poly, spline                            always
``construct_top``     2 .. 16 top columns (log)                     construct is not none
``extract``           none, pca, svd, nystroem                      always
``extract_dim``       4 .. 128 components (log)                     extract is not none
``augment``           none, mixup, noise, corrupt                   always
``augment_strength``  0.05 .. 0.5 (log)                             augment is not none
``class_weight``      none, balanced                                classification
``oversample``        none, smote, borderline_smote, adasyn         classification, when allowed
``text``              none, tfidf, hashing                          the data has free text
``text_dim``          4 .. 64 components (log)                      text is not none
====================  ============================================  ==============================

A parameter with a single allowed choice is left out of the genotype (its
one value is used). ``text`` encodes each free-text column (see
:class:`~sknas.prep.cleaning.TableCleaner`) by TF-IDF or hashing of word and
character n-grams and a truncated SVD to ``text_dim`` columns
(:class:`~sknas.prep.text.TextEncoder`); :meth:`PipelineSpace.for_data`
fixes it to ``"none"`` for data without free text. :meth:`PipelineSpace.build` turns the data choices into
one sklearn ``Pipeline`` (cleaning, encoding and scaling, selection,
construction, extraction, float32), so a fitted model stays a plain,
inspectable sklearn pipeline; ``augment`` and ``class_weight`` act during
training and are read by :func:`sknas.evaluation.trainer.make_net`;
``oversample`` adds synthetic minority rows to the preprocessed training
rows of a trial (never to its validation rows), through
:func:`sknas.prep.imbalance.resample_training`. Oversampling is not searched
by default (``oversamplers=("none",)``): name it to search it, e.g.
``PipelineSpace(oversamplers=("none", "smote"))`` or
``preprocessing=[..., "smote"]``.
"""

from __future__ import annotations

import difflib

from ..prep.augment import AUGMENTATIONS
from ..prep.clipping import CLIP_METHODS
from ..prep.construction import CONSTRUCTORS
from ..prep.extraction import EXTRACTORS
from ..prep.imbalance import OVERSAMPLERS
from ..prep.selection import SELECTORS
from ..prep.tabular import ENCODERS, SCALERS
from ..prep.text import TEXT_ENCODERS
from .base import SearchSpace
from .genotype import Genotype
from .params import Categorical, Float, Int

__all__ = ["SCALERS", "STEP_GROUPS", "PipelineSpace"]

# Every choice of every stage, by the constructor argument that allows it;
# "none" is the choice that skips an optional stage.
STEP_GROUPS = {
    "scalers": SCALERS,
    "clips": ("none",) + CLIP_METHODS,
    "encoders": ENCODERS,
    "selectors": ("none",) + SELECTORS,
    "constructors": ("none",) + CONSTRUCTORS,
    "extractors": ("none",) + EXTRACTORS,
    "augmentations": ("none",) + AUGMENTATIONS,
    "class_weights": ("none", "balanced"),
    "oversamplers": ("none",) + OVERSAMPLERS,
    "texts": ("none",) + TEXT_ENCODERS,
}
_REQUIRED_DEFAULTS = {"scalers": "quantile", "encoders": "onehot"}
_GENE = {  # constructor argument -> genotype key
    "scalers": "scaler", "clips": "clip", "encoders": "encoder", "selectors": "select",
    "constructors": "construct", "extractors": "extract", "augmentations": "augment",
    "class_weights": "class_weight", "oversamplers": "oversample", "texts": "text",
}
_DEFAULTS = {  # the value of a parameter absent from a genotype; the portfolio's choices
    "scaler": "quantile", "clip": "none", "encoder": "onehot", "select": "none", "select_k": 32,
    "select_c": 0.1, "construct": "none", "construct_top": 8, "extract": "none", "extract_dim": 32,
    "augment": "none", "augment_strength": 0.1, "class_weight": "none", "oversample": "none",
    "text": "tfidf", "text_dim": 32,
}
_UNIVARIATE = ("mutual_info", "f_test")


class PipelineSpace(SearchSpace):
    """Data preparation and feature engineering choices made part of the genotype.

    Every argument is the tuple of allowed choices of one stage (see the
    module docstring for what each does). Optional stages include
    ``"none"``; a tuple of one choice fixes that stage.

    Parameters
    ----------
    task : {"auto", "classification", "regression"}, default="auto"
        Target kind, for supervised selection and target encoding ("auto"
        guesses it from ``y``). ``class_weight`` is searched unless
        ``task="regression"``.
    scalers : tuple of str, default=("standard", "quantile", "robust", "power")
    clips : tuple of str, default=("none", "winsorize", "smooth")
    encoders : tuple of str, default=("onehot", "target", "ordinal")
    selectors : tuple of str, default=("none", "variance", "mutual_info", "f_test", "l1")
    constructors : tuple of str, default=("none", "poly", "spline")
    extractors : tuple of str, default=("none", "pca", "svd", "nystroem")
    augmentations : tuple of str, default=("none", "mixup", "noise", "corrupt")
    class_weights : tuple of str, default=("none", "balanced")
    oversamplers : tuple of str, default=("none",)
        Synthetic oversampling of the minority classes in the training rows
        (classification): any of ``"none"``, ``"smote"``,
        ``"borderline_smote"``, ``"adasyn"``. Off by default; see
        :func:`sknas.prep.imbalance.oversample`.
    max_categories : int, default=32
        One-hot columns per categorical column; above it, "target" encodes.
    texts : tuple of str, default=("none", "tfidf", "hashing")
        Encoding of free-text columns besides their length and word count
        (:class:`~sknas.prep.text.TextEncoder`); the searched width is
        ``text_dim``. Inert on data without free text: see :meth:`for_data`.

    Examples
    --------
    >>> from sknas.space.pipeline import PipelineSpace
    >>> space = PipelineSpace.from_allowed(["quantile", "f_test", "pca"])
    >>> [p.name for p in space.params]
    ['scaler', 'select', 'select_k', 'extract', 'extract_dim', 'class_weight']
    """

    def __init__(self, task="auto", scalers=STEP_GROUPS["scalers"], clips=STEP_GROUPS["clips"],
                 encoders=STEP_GROUPS["encoders"], selectors=STEP_GROUPS["selectors"],
                 constructors=STEP_GROUPS["constructors"], extractors=STEP_GROUPS["extractors"],
                 augmentations=STEP_GROUPS["augmentations"], class_weights=STEP_GROUPS["class_weights"],
                 max_categories=32, oversamplers=("none",), texts=STEP_GROUPS["texts"]):
        self.task = task
        self.scalers = scalers
        self.clips = clips
        self.encoders = encoders
        self.selectors = selectors
        self.constructors = constructors
        self.extractors = extractors
        self.augmentations = augmentations
        self.class_weights = class_weights
        self.max_categories = max_categories
        self.oversamplers = oversamplers
        self.texts = texts

    @classmethod
    def from_allowed(cls, names, task="auto"):
        """The space whose stages may only use the named steps.

        ``names`` lists step names of any stage (``"quantile"``, ``"target"``,
        ``"mutual_info"``, ``"pca"``, ``"mixup"``, ``"balanced"``, ``"smote"``...). A stage
        with no named step is fixed: scaling to ``"quantile"``, encoding to
        ``"onehot"``, optional stages to ``"none"``; an optional stage with
        named steps may also be skipped (``"none"`` stays allowed).

        Raises
        ------
        ValueError
            For an unknown name, with the closest known names.
        """
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"PipelineSpace.from_allowed: names must be a list of str. Got {names!r} instead.")
        known = {choice: group for group, choices in STEP_GROUPS.items() for choice in choices if choice != "none"}
        unknown = [n for n in names if n != "none" and n not in known]
        if unknown:
            hints = {n: difflib.get_close_matches(n, list(known), n=2) for n in unknown}
            hint = "; ".join(f"{n!r}: did you mean {h}?" for n, h in hints.items() if h)
            raise ValueError(
                f"PipelineSpace: unknown preprocessing step(s) {unknown}{' (' + hint + ')' if hint else ''}. "
                f"Known steps: {sorted(known)}."
            )
        kwargs = {}
        for group, choices in STEP_GROUPS.items():
            chosen = tuple(c for c in choices if c in names and c != "none")
            if group in _REQUIRED_DEFAULTS:
                kwargs[group] = chosen or (_REQUIRED_DEFAULTS[group],)
            else:
                kwargs[group] = ("none",) + chosen
        return cls(task=task, **kwargs)

    # -- the space -----------------------------------------------------------------------
    def _check(self):
        name = type(self).__name__
        if self.task not in ("auto", "classification", "regression"):
            raise ValueError(
                f"{name}: task must be 'auto', 'classification' or 'regression'. Got {self.task!r} instead."
            )
        for group, known in STEP_GROUPS.items():
            values = getattr(self, group)
            if isinstance(values, str) or not values or any(v not in known for v in values) \
                    or len(set(values)) != len(values):
                raise ValueError(
                    f"{name}: {group} must be a non-empty tuple of distinct choices among {known}. "
                    f"Got {values!r} instead."
                )

    def _params(self):
        self._check()
        params = []

        def add(group, when=None):
            choices = tuple(getattr(self, group))
            if len(choices) > 1:
                params.append(Categorical(_GENE[group], choices, when=when))
            return choices

        scalers = tuple(self.scalers)
        params.append(Categorical("scaler", scalers))  # always present: the stage every trial has
        not_quantile = tuple(s for s in scalers if s != "quantile")
        if not_quantile:  # a quantile transform makes clipping moot: it only ranks values
            add("clips", when={"scaler": not_quantile})
        add("encoders")

        def tuned(group, values, make):
            # a stage's numeric setting is searched where one of ``values`` is chosen
            choices = tuple(getattr(self, group))
            active = tuple(c for c in choices if c in values)
            if active:
                params.append(make({_GENE[group]: active} if len(choices) > 1 else None))

        add("selectors")
        tuned("selectors", _UNIVARIATE, lambda when: Int("select_k", 2, 256, log=True, when=when))
        tuned("selectors", ("l1",), lambda when: Float("select_c", 0.01, 1.0, log=True, when=when))
        add("constructors")
        tuned("constructors", CONSTRUCTORS, lambda when: Int("construct_top", 2, 16, log=True, when=when))
        add("extractors")
        tuned("extractors", EXTRACTORS, lambda when: Int("extract_dim", 4, 128, log=True, when=when))
        add("augmentations")
        tuned("augmentations", AUGMENTATIONS,
              lambda when: Float("augment_strength", 0.05, 0.5, log=True, when=when))
        if self.task != "regression":
            add("class_weights")
            add("oversamplers")
        add("texts")
        if params[-1].name == "text" and "none" in params[-1].choices:
            # added after genotypes were saved: a genotype without it (an older model or
            # checkpoint) validates as it was trained, without a text step
            object.__setattr__(params[-1], "absent_default", "none")
        tuned("texts", TEXT_ENCODERS, lambda when: Int("text_dim", 4, 64, log=True, when=when))
        return params

    def for_data(self, X):
        """This space for the table ``X``: the text step is fixed to ``"none"`` when no column is free text.

        Returns ``self`` when ``X`` has a free-text column (see
        :func:`~sknas.prep.cleaning.find_text_columns`), or when the text
        step is fixed already; otherwise a copy whose ``texts`` is
        ``("none",)``, so that no trial is spent on a choice that changes nothing.
        """
        from sklearn.base import clone

        from ..prep.cleaning import find_text_columns

        if tuple(self.texts) == ("none",) or find_text_columns(X):
            return self
        return clone(self).set_params(texts=("none",))

    def choices(self, genotype):
        """Every pipeline decision of ``genotype``, defaults filled in for the fixed ones."""
        fixed = {_GENE[group]: tuple(getattr(self, group))[0] for group in STEP_GROUPS}
        out = dict(_DEFAULTS)
        out.update(fixed)
        out.update({k: v for k, v in genotype.items() if k in _DEFAULTS})
        return out

    def build(self, genotype, n_inputs=None, n_outputs=None):
        """The unfitted sklearn ``Pipeline`` a pipeline genotype describes.

        This is the seam between the searched preprocessing and training: the
        evaluator calls it for every trial (``n_inputs``/``n_outputs`` are
        accepted for symmetry with network spaces and unused). The steps are
        ``clean`` (:class:`~sknas.prep.cleaning.TableCleaner`, with the chosen text step), ``encode``
        (:class:`~sknas.prep.tabular.TabularPreprocessor`), then ``select``,
        ``construct`` and ``extract`` when chosen, and ``to_float32``.
        """
        from sklearn.pipeline import Pipeline

        from ..prep.cleaning import TableCleaner
        from ..prep.construction import FeatureConstructor
        from ..prep.extraction import FeatureExtractor
        from ..prep.selection import FeatureSelector
        from ..prep.tabular import AsFloat32, TabularPreprocessor

        c = self.choices(genotype)
        steps = [
            ("clean", TableCleaner(text_encoder=c["text"], text_components=int(c["text_dim"]))),
            ("encode", TabularPreprocessor(
                scaler=c["scaler"], clip=c["clip"] if c["scaler"] != "quantile" else "none",
                encoder=c["encoder"], max_categories=self.max_categories, task=self.task,
            )),
        ]
        if c["select"] != "none":
            steps.append(("select", FeatureSelector(
                method=c["select"], k=int(c["select_k"]), C=float(c["select_c"]), task=self.task,
            )))
        if c["construct"] != "none":
            steps.append(("construct", FeatureConstructor(
                method=c["construct"], n_top=int(c["construct_top"]), task=self.task,
            )))
        if c["extract"] != "none":
            steps.append(("extract", FeatureExtractor(method=c["extract"], n_components=int(c["extract_dim"]))))
        steps.append(("to_float32", AsFloat32()))
        return Pipeline(steps)

    def training_options(self, genotype):
        """The training-time choices of ``genotype``: ``augment``, ``augment_strength``, ``class_weight``."""
        c = self.choices(genotype)
        class_weight = c["class_weight"] if self.task != "regression" else "none"
        return {"augment": c["augment"], "augment_strength": float(c["augment_strength"]),
                "class_weight": class_weight}

    def oversampling(self, genotype):
        """The oversampling ``genotype`` chose (``"none"`` for regression).

        Read by :func:`sknas.prep.imbalance.resample_training`, the evaluator's hook.
        """
        return self.choices(genotype)["oversample"] if self.task != "regression" else "none"

    def portfolio(self):
        """The fast, strong default first: quantile scaling, one-hot, no selection, construction or extraction."""
        values = {}
        for p in self.params:
            if not p.is_active(values):
                continue
            default = _DEFAULTS[p.name]
            values[p.name] = default if _allows(p, default) else p.levels(2)[0]
        return [self.validate(Genotype(values))]


def _allows(param, value):
    try:
        param.validate(value)
        return True
    except (TypeError, ValueError):
        return False
