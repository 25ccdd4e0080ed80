"""
Accuracy against size
=====================

With ``objectives=("score", "params")`` the search records a Pareto front of trials
trading accuracy for network size; :func:`sknas.plotting.plot_pareto_front` draws it.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_wine

from sknas import AutoNASClassifier
from sknas.plotting import plot_pareto_front

X, y = load_wine(return_X_y=True)
clf = AutoNASClassifier(time_budget=None, max_trials=8, max_epochs=10, search="random",
                        objectives=("score", "params"), validation_fraction=0.5, random_state=0)
clf.fit(X, y)
print("Pareto-optimal trials:", clf.pareto_front_)
plot_pareto_front(clf)
plt.show()
