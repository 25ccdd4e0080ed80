"""A free-text column whose words decide the label: the searched text step against what came before.

The table (:func:`sknas.benchmark.text.text_frame`): a review of 6-11 words, one or two of which
say whether the label is ``pos`` or ``neg`` (the rest are filler), and three
numeric columns that carry nothing. ``AutoNASClassifier`` (``time_budget``
seconds, one seed per repeat) is fitted three ways and scored on held-out rows:

- ``text step`` (``preprocessing="auto"``): the review is detected as free text
  and encoded by the searched TF-IDF / hashing + SVD step;
- ``length and words`` (the text step fixed to none, the encoding before
  the text step existed): the review becomes its length and word count;
- ``categorical``: the review read as a categorical column (every review
  its own level, target-encoded), the encoding of a cleaner that does not detect text
  (and keeps identifier-like columns).

    python benchmarks/bench_text.py [--budget 30] [--repeats 3]

Writes ``benchmarks/results/text_columns.md``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from sknas import AutoNASClassifier
from sknas.benchmark.text import text_frame
from sknas.prep.cleaning import TableCleaner
from sknas.prep.tabular import AsFloat32, TabularPreprocessor

WAYS = {
    "text step": "auto",
    "length and words": ["standard", "quantile", "onehot", "target"],  # no text step named: fixed to none
    "categorical": Pipeline([("clean", TableCleaner(text_min_words=np.inf, drop_ids=False)),
                             ("encode", TabularPreprocessor(encoder="target")), ("to_float32", AsFloat32())]),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scores = {way: [] for way in WAYS}
    for seed in range(args.repeats):
        X, y = text_frame(800, seed)
        X_train, y_train, X_test, y_test = X.iloc[:600], y[:600], X.iloc[600:], y[600:]
        for way, preprocessing in WAYS.items():
            clf = AutoNASClassifier(time_budget=args.budget, preprocessing=preprocessing, random_state=seed)
            clf.fit(X_train, y_train)
            scores[way].append(clf.score(X_test, y_test))
            print(f"seed {seed} {way:17s} test accuracy {scores[way][-1]:.3f} ({clf.n_trials_} trials)", flush=True)
    lines = [f"Text column benchmark: `python benchmarks/bench_text.py --budget {args.budget:g} "
             f"--repeats {args.repeats}`", "",
             "600 training rows, 200 test rows; test accuracy of AutoNASClassifier, mean (min-max) over seeds.", "",
             "| encoding of the review | test accuracy |", "|---|---|"]
    for way, values in scores.items():
        lines.append(f"| {way} | {statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f}) |")
    table = "\n".join(lines) + "\n"
    print(table)
    out = Path(__file__).parent / "results" / "text_columns.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table)


if __name__ == "__main__":
    main()
