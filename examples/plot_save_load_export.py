"""
Save, load and export a model
=============================

A fitted estimator is saved as one pickle-free file (:func:`sknas.io.save`), loaded back
with identical predictions (:func:`sknas.io.load`), and exported -- preprocessing and
network together -- as one ONNX graph run by onnxruntime
(:func:`sknas.export.export_onnx`).
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from sknas import AutoNASRegressor
from sknas.io import load, save
from sknas.plotting import plot_learning_curves

X, y = load_diabetes(return_X_y=True)
reg = AutoNASRegressor(time_budget=None, max_trials=2, max_epochs=20, validation_fraction=0.5,
                       random_state=0).fit(X, y)

folder = tempfile.mkdtemp()
path = save(reg, os.path.join(folder, "diabetes.sknas"))
loaded = load(path)
print("identical predictions after load:", np.array_equal(loaded.predict(X), reg.predict(X)))

# %%
# The whole pipeline as one ONNX graph (needs skl2onnx, onnx, onnxscript and onnxruntime).
try:
    import onnxruntime as ort

    from sknas.export import export_onnx, onnx_input

    onnx_path = export_onnx(reg, os.path.join(folder, "diabetes.onnx"), X_check=X)
    (pred,) = ort.InferenceSession(onnx_path).run(None, {"X": onnx_input(X)})
    print("largest ONNX difference:", float(np.abs(pred.ravel() - reg.predict(X)).max()))
except ImportError as exc:
    print("ONNX export skipped:", exc)

# %%
# The final network's training loss per epoch.
plot_learning_curves(reg)
plt.show()
