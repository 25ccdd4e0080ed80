"""The fitted network alone as a TorchScript archive (:func:`export_torchscript`)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .inputs import prep_layout
from .model import metadata, single_parts
from .net import inference_module, task_of

__all__ = ["export_torchscript"]


def _scriptable_head(net):
    import torch

    class SknasScriptedNet(torch.nn.Module):
        """The fitted network followed by softmax (classifier) or de-standardization (regressor)."""

        def __init__(self, module, classification: bool, mean, scale):
            super().__init__()
            self.module = module
            self.classification = classification
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float64))
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))

        def forward(self, x):
            out = self.module(x)
            if self.classification:
                return torch.softmax(out, dim=-1)
            return out.to(torch.float64) * self.scale + self.mean

    classification = task_of(net) == "classification"
    mean = np.zeros(1) if classification else np.asarray(net.target_mean_, dtype=np.float64).reshape(1, -1)
    scale = np.ones(1) if classification else np.asarray(net.target_scale_, dtype=np.float64).reshape(1, -1)
    return SknasScriptedNet(inference_module(net), classification, mean, scale).eval()


def export_torchscript(estimator, path):
    """Write the fitted network (without the preprocessing) as a TorchScript archive.

    The scripted module takes the *preprocessed* float32 matrix
    (``estimator.best_estimator_[:-1].transform(X)``) and returns class
    probabilities (classifier) or float64 predictions of shape ``(n, 1)`` on
    the target's scale (regressor). The archive's extra file ``sknas.json``
    holds the classes, feature names and genotype; read it with
    ``torch.jit.load(path, _extra_files={"sknas.json": ""})``.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted.
    path : str or path-like

    Returns
    -------
    path : str
    """
    import torch

    prep, net = single_parts(estimator, "export_torchscript")
    head = _scriptable_head(net)
    example = torch.zeros(2, int(net.module__n_inputs))
    path = os.fspath(path)
    extra = {"sknas.json": json.dumps(metadata(estimator, net, prep_layout(prep)))}
    with warnings.catch_warnings():  # torch.jit is deprecated in recent torch, but works
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(head, (example,), check_trace=False)
        torch.jit.save(traced, path, _extra_files=extra)
    return path
