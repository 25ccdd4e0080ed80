"""Class imbalance: class weights in the loss, and synthetic oversampling of the training rows.

Two searched remedies for scarce classes (both classification only):

- ``class_weight="balanced"``: :class:`BalancedClassWeight` weights the loss;
- ``oversample``: :func:`oversample` adds synthetic rows of the minority
  classes (SMOTE and its family, through imbalanced-learn) to the
  *preprocessed training rows* of a trial, the survey's data-collection
  remedy. :func:`resample_training` is the hook the evaluator calls right
  after preprocessing; validation rows are never resampled, so scores stay
  measured on real data only.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["OVERSAMPLERS", "BalancedClassWeight", "balanced_class_weights", "oversample", "resample_training"]

#: Oversampling methods (imbalanced-learn's SMOTE family), by the name a pipeline genotype uses.
OVERSAMPLERS = ("smote", "borderline_smote", "adasyn")


def balanced_class_weights(y, classes):
    """``n / (n_classes * count)`` of each class (sklearn's ``class_weight="balanced"``).

    Classes absent from ``y`` get weight 1 (they never enter the loss).
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    if not np.all(classes[idx] == y):
        raise ValueError(f"y has labels outside classes {classes!r}.")
    counts = np.bincount(idx, minlength=len(classes))
    return np.where(counts > 0, len(y) / (len(classes) * np.maximum(counts, 1)), 1.0)


class BalancedClassWeight(Callback):
    """Weight each class in the loss by ``n / (n_classes * count)`` in its training data.

    At the start of every ``fit`` it sets the ``weight`` of the net's
    criterion (``CrossEntropyLoss``) from the training labels, so that
    every class contributes equally to the loss, as sklearn's
    ``class_weight="balanced"`` does. The validation loss (and early
    stopping) use the same weights. Combine with
    ``scoring="balanced_accuracy"`` to rank candidates the same way.

    Attributes
    ----------
    weights_ : ndarray
        Weight of each class, in the order of ``net.classes_``.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if y is None:
            return
        classes = np.asarray(net.classes_)
        if isinstance(y, torch.Tensor):  # already class indices
            y = classes[y.cpu().numpy().astype(np.int64)]
        self.weights_ = balanced_class_weights(y, classes)
        net.criterion_.weight = torch.as_tensor(self.weights_, dtype=torch.float32, device=net.device)


def oversample(X, y, method="smote", random_state=None, k_neighbors=5):
    """Synthetic minority rows: ``(X, y)`` followed by new rows until every class is as large as the largest.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Numeric rows (the output of the preprocessing); dtype is kept.
    y : array-like of shape (n_samples,)
        Class labels of any type.
    method : {"smote", "borderline_smote", "adasyn"}, default="smote"
        imbalanced-learn's ``SMOTE`` (interpolation between a minority row
        and one of its ``k_neighbors`` nearest minority neighbours),
        ``BorderlineSMOTE`` (only from minority rows near the class border)
        or ``ADASYN`` (more rows where the minority is harder to learn).
        ADASYN refuses data where no minority row has a neighbour of another
        class (nothing is hard); SMOTE is used then, as imbalanced-learn's
        own message advises.
    random_state : int or None, default=None
    k_neighbors : int, default=5
        Lowered to ``count - 1`` for the smallest resampled class.

    Returns
    -------
    X_resampled, y_resampled : ndarrays
        The original rows first, in their order, then the synthetic ones.
        Classes with a single row (no neighbour to interpolate with) are
        left as they are; without a class to grow, ``(X, y)`` is returned.

    References
    ----------
    Chawla, Bowyer, Hall, Kegelmeyer. "SMOTE: Synthetic Minority
    Over-sampling Technique." JAIR 2002.
    Han, Wang, Mao. "Borderline-SMOTE." ICIC 2005.
    He, Bai, Garcia, Li. "ADASYN." IJCNN 2008.
    Lemaitre, Nogueira, Aridas. "Imbalanced-learn." JMLR 2017.
    """
    if method not in OVERSAMPLERS:
        raise ValueError(f"oversample: method must be one of {OVERSAMPLERS}. Got {method!r} instead.")
    try:
        from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE
    except ImportError:
        raise ImportError("Oversampling needs imbalanced-learn: pip install imbalanced-learn.") from None

    X = np.asarray(X)
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    largest = counts.max()
    grow = {c: int(largest) for c, n in zip(classes, counts) if 2 <= n < largest}
    if not grow:
        return X, y
    k = int(min(k_neighbors, min(counts[np.isin(classes, list(grow))]) - 1))
    # imbalanced-learn wants the keys as they appear in y (numpy scalars compare equal to them)
    if method == "smote":
        sampler = SMOTE(sampling_strategy=grow, k_neighbors=k, random_state=random_state)
    elif method == "borderline_smote":
        sampler = BorderlineSMOTE(sampling_strategy=grow, k_neighbors=k, m_neighbors=max(k, 1) * 2,
                                  random_state=random_state)
    else:
        sampler = ADASYN(sampling_strategy=grow, n_neighbors=k, random_state=random_state)
    try:
        X_new, y_new = sampler.fit_resample(X, y)
    except RuntimeError:
        if method != "adasyn":
            raise
        X_new, y_new = SMOTE(sampling_strategy=grow, k_neighbors=k, random_state=random_state).fit_resample(X, y)
    return np.asarray(X_new, dtype=X.dtype), np.asarray(y_new, dtype=y.dtype)


def resample_training(space, genotype, X, y, seed=None):
    """The training rows a trial trains on: oversampled when ``genotype`` asks for it.

    The hook between the searched pipeline and training: the evaluator
    calls it on the *preprocessed training rows* of every trial and refit,
    never on validation rows. ``space`` is the trial's (joint) space; its
    pipeline part says what ``genotype`` chose
    (:meth:`sknas.space.pipeline.PipelineSpace.oversampling`). Returns
    ``(X, y)`` unchanged when there is no pipeline part, for regression, and
    for ``oversample="none"``.
    """
    pipeline = getattr(space, "pipeline", None)
    if pipeline is None or not hasattr(pipeline, "oversampling"):
        return X, y
    method = pipeline.oversampling(space.pipeline_genotype(genotype))
    if method == "none":
        return X, y
    return oversample(X, y, method=method, random_state=seed)
