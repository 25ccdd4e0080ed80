"""
Search a classifier and look at its search
==========================================

Fit :class:`sknas.AutoNASClassifier` on scikit-learn's breast-cancer data with a tiny
budget, print the leaderboard, and plot each trial's score and the best so far.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from sknas import AutoNASClassifier
from sknas.plotting import plot_search_history
from sknas.results import leaderboard

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

clf = AutoNASClassifier(time_budget=None, max_trials=6, max_epochs=15, search="random",
                        validation_fraction=0.5, random_state=0)
clf.fit(X_train, y_train)
print(leaderboard(clf.search_results_, top=5))
print("best genotype:", clf.best_genotype_)
print(f"held-out accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Each trial's validation score against the cumulative training time.
plot_search_history(clf)
plt.show()
