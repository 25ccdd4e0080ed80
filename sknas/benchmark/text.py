"""A synthetic table with a free-text column whose words decide the label (the text-column test and benchmark)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["text_frame"]

POS = ["excellent", "great", "love", "perfect", "happy", "recommend"]
NEG = ["awful", "broken", "hate", "poor", "refund", "disappointed"]
FILL = ("the a it this product was is arrived box after days week store price color size delivery "
        "package item order bought used very quite really also my for with and of to in").split()


def text_frame(n=600, seed=0):
    """``(X, y)``: a review of 6-11 words, one or two of which (sentiment words) decide ``y`` (``"pos"`` or
    ``"neg"``), the rest filler, and three numeric columns of noise (``x1``, ``x2``, ``x3``)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        words = list(rng.choice(FILL, rng.integers(5, 10)))
        for word in rng.choice(POS if label else NEG, rng.integers(1, 3), replace=False):
            words.insert(rng.integers(0, len(words) + 1), word)
        texts.append(" ".join(words))
    X = pd.DataFrame({"review": texts, "x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "x3": rng.integers(0, 5, n).astype(float)})
    return X, np.where(labels == 1, "pos", "neg")
