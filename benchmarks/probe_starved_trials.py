"""Parallel trials at small budgets: every trial's status, epochs and data fraction, and the test accuracy.

Issue 18's case: a 20,000 x 50 table (16,000 training rows) at ``time_budget=10`` or ``20``, where the
first parallel trials failed on their deadline and the model returned was a low-fidelity one.

    python benchmarks/probe_starved_trials.py BUDGET N_JOBS
"""

import sys
import time
import warnings

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from sknas import AutoNASClassifier


def main():
    warnings.filterwarnings("ignore")
    budget, n_jobs = float(sys.argv[1]), int(sys.argv[2])
    X, y = make_classification(n_samples=20_000, n_features=50, n_informative=20, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    start = time.time()
    clf = AutoNASClassifier(time_budget=budget, n_jobs=n_jobs, random_state=0).fit(X_train, y_train)
    res = clf.search_results_
    for i in range(len(res["trial"])):
        print(i, res["status"][i], res["score"][i], round(res["fit_time"][i], 2), res["n_epochs"][i],
              res["data_fraction"][i], res["source"][i], (res["error"][i] or "").splitlines()[:1])
    print(f"budget {budget} n_jobs {n_jobs}: accuracy {clf.score(X_test, y_test):.4f}, wall {time.time() - start:.1f} s, "
          f"time_spent_ { {k: round(v, 1) for k, v in clf.time_spent_.items()} }")


if __name__ == "__main__":
    main()
