"""What one trial is: the data it sees and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TrialData", "TrialResult"]


@dataclass
class TrialData:
    """Raw (not yet preprocessed) training and validation parts of the data."""

    X_train: object
    y_train: object
    X_valid: object
    y_valid: object


@dataclass
class TrialResult:
    """The outcome of evaluating one candidate.

    ``status`` is ``"ok"`` or ``"failed"`` (with ``error``); ``score`` is the
    validation score (larger is better) or ``None`` when the trial failed.
    ``stop_reason`` tells why training ended: ``"early_stopping"``,
    ``"max_epochs"`` or ``"time_limit"``. ``model`` is the fitted pipeline
    (preprocessing and net) when the runner asked to keep it; with
    cross-validation, ``n_folds`` folds were trained (``fit_time`` is their
    total) and ``model`` is the first fold's.
    """

    score: float | None = None
    status: str = "ok"
    error: str | None = None
    fit_time: float = 0.0
    n_params: int | None = None
    n_epochs: int = 0
    best_epoch: int | None = None
    stop_reason: str | None = None
    learning_curve: list = field(default_factory=list)
    n_folds: int = 1
    model: object = field(default=None, repr=False)

    @classmethod
    def failed(cls, error, fit_time=0.0, **kwargs):
        return cls(score=None, status="failed", error=error, fit_time=fit_time, **kwargs)
