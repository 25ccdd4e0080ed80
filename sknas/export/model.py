"""The whole fitted model as one ONNX graph: :func:`to_onnx`, :func:`export_onnx`, :func:`check_onnx`.

The preprocessing is made convertible step by step (the rules of
:mod:`sknas.export.registry`), then skl2onnx converts it and the network
(its converter is in :mod:`sknas.export.net`) as one ``Pipeline``. An
ensemble or a bag becomes one graph with an average node
(:mod:`sknas.export.ensemble`).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .ensemble import ensemble_leaves, ensemble_model, pipeline_parts
from .inputs import initial_types, onnx_inputs, prep_layout, union_layout
from .net import task_of
from .registry import DEFAULT_OPSET, Context, onnx_ready, registered_operators, skl2onnx_module

__all__ = ["check_onnx", "estimator_layout", "export_onnx", "preprocessing_to_onnx", "to_onnx"]


def single_parts(estimator, caller):
    """``(preprocessing, net)`` of an estimator that predicts with one pipeline; refuses an ensemble."""
    check_is_fitted(estimator, "best_estimator_")
    if getattr(estimator, "ensemble_", None) is not None:
        raise ValueError(
            f"{caller}: this estimator predicts with an ensemble of {len(estimator.ensemble_.estimators)} models "
            "(ensemble_size > 1); only single-network models can be exported this way (export_onnx exports "
            "ensembles as one graph; fit with ensemble_size=1 to export one network)."
        )
    return pipeline_parts(estimator.best_estimator_, caller)


def final_pipelines(estimator, caller):
    """The member pipelines the estimator predicts with: ``[best_estimator_]``, or the ensemble's."""
    check_is_fitted(estimator, "best_estimator_")
    ensemble = getattr(estimator, "ensemble_", None)
    if ensemble is None:
        pipeline_parts(estimator.best_estimator_, caller)
        return [estimator.best_estimator_]
    return ensemble_leaves(ensemble, caller)


def estimator_layout(estimator, caller="export_onnx"):
    """The input layout of a fitted estimator's graph (shared by an ensemble's members), None: one input."""
    pipelines = final_pipelines(estimator, caller)
    if getattr(estimator, "ensemble_", None) is None:
        return prep_layout(pipelines[0].named_steps["preprocessing"])
    return union_layout([p.named_steps["preprocessing"] for p in pipelines],
                        getattr(estimator, "feature_names_in_", None))


def preprocessing_to_onnx(prep, n_features, target_opset=DEFAULT_OPSET):
    """The ONNX ``ModelProto`` of a fitted preprocessing step alone (input ``X``: float64 ``(n, n_features)``).

    Its output ``variable`` equals ``prep.transform(X)`` (float32 when the
    step ends with sknas's float32 cast). A cleaned table with categorical
    or date columns has a second input, ``X_str`` (see :func:`onnx_inputs`).
    Used by :func:`to_onnx`, and handy to check a preprocessing on its own.
    """
    skl2onnx = skl2onnx_module()
    registered_operators()
    layout = prep_layout(prep)
    inner = onnx_ready(prep, "preprocessing", Context(layout))
    if isinstance(inner, str):
        raise ValueError("preprocessing_to_onnx: the preprocessing is a passthrough; there is nothing to convert.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skl2onnx.to_onnx(inner, initial_types=initial_types(layout, n_features),
                                 target_opset={"": target_opset, "ai.onnx.ml": 3})
    if layout is not None:
        model.doc_string = json.dumps({"input_layout": layout})
    return model


def _pipeline_model(prep, net, types, context, target_opset):
    """The single-model graph of one member pipeline (preprocessing and net) on the inputs ``types``."""
    skl2onnx = skl2onnx_module()
    inner = onnx_ready(prep, "preprocessing", context)
    steps = [("net", net)] if isinstance(inner, str) else [("preprocessing", inner), ("net", net)]
    options = {id(net): {"zipmap": False}} if task_of(net) == "classification" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skl2onnx.to_onnx(Pipeline(steps), initial_types=types,
                                target_opset={"": target_opset, "ai.onnx.ml": 3}, options=options)


def to_onnx(estimator, target_opset=DEFAULT_OPSET):
    """The ONNX ``ModelProto`` of a fitted estimator's whole pipeline (see :func:`export_onnx`).

    An estimator that predicts with an ensemble (or a bag of fold models)
    becomes one graph: every member on the same inputs, then their
    weighted average (:mod:`sknas.export.ensemble`).
    """
    skl2onnx_module()
    registered_operators()
    pipelines = final_pipelines(estimator, "export_onnx")
    first_prep, first_net = pipelines[0].named_steps["preprocessing"], pipelines[0].named_steps["net"]
    task = task_of(first_net)
    n_in = getattr(estimator, "n_features_in_", None) or getattr(first_prep, "n_features_in_", None)
    if n_in is None:
        raise ValueError("export_onnx: the number of input columns is unknown (no n_features_in_).")
    layout = estimator_layout(estimator)
    types = initial_types(layout, n_in)
    context = Context(layout)
    ensemble = getattr(estimator, "ensemble_", None)
    if ensemble is None:
        model = _pipeline_model(first_prep, first_net, types, context, target_opset)
    else:
        nets = [p.named_steps["net"] for p in pipelines]
        if any(task_of(net) != task for net in nets):
            raise ValueError("export_onnx: the ensemble mixes classifier and regressor networks.")
        classes = np.asarray(getattr(estimator, "classes_", first_net.classes_)) if task == "classification" \
            else None
        if classes is not None and any(not np.array_equal(np.asarray(net.classes_), classes) for net in nets):
            raise ValueError("export_onnx: the ensemble's members do not share the estimator's classes_.")
        model = ensemble_model(
            ensemble, lambda p: _pipeline_model(*pipeline_parts(p, "export_onnx"), types, context, target_opset),
            task, classes)
    model.doc_string = json.dumps(metadata(estimator, first_net, layout, n_members=len(pipelines)
                                           if ensemble is not None else None))
    return model


def metadata(estimator, net, layout, n_members=None):
    """What the ONNX file's (and the TorchScript archive's) ``doc_string`` JSON says about the model."""
    meta = {"sknas_estimator": type(estimator).__name__, "task": task_of(net),
            "n_features_in": int(getattr(estimator, "n_features_in_", net.module__n_inputs))}
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        meta["feature_names_in"] = [str(n) for n in names]
    if meta["task"] == "classification":
        meta["classes"] = np.asarray(net.classes_).tolist()
    genotype = getattr(estimator, "best_genotype_", None)
    if genotype is not None:
        meta["genotype"] = dict(genotype)
    if n_members is not None:
        meta["ensemble_members"] = int(n_members)
    if layout is not None:
        meta["input_layout"] = layout
    return meta


def check_onnx(estimator, path, X, atol=1e-5, rtol=1e-5):
    """Run the ONNX file with onnxruntime on ``X`` and compare with the estimator's own predictions.

    Classifier: ``probabilities`` against ``predict_proba`` (``atol``) and
    ``label`` against ``predict``; regressor: ``variable`` against
    ``predict`` (``rtol`` of the target's scale plus ``atol``). Returns the
    largest absolute difference; raises ``ValueError`` when over tolerance.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("checking an ONNX export needs onnxruntime: pip install onnxruntime") from None
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_inputs(path, X))
    if hasattr(estimator, "predict_proba"):
        label, proba = outputs
        diff = float(np.max(np.abs(proba - estimator.predict_proba(X)))) if len(proba) else 0.0
        if diff > atol:
            raise ValueError(f"check_onnx: ONNX probabilities differ from predict_proba by {diff:.3g} > {atol}.")
        expected = estimator.predict(X)
        if not np.array_equal(np.asarray(label).astype(str), np.asarray(expected).astype(str)):
            raise ValueError("check_onnx: ONNX labels differ from predict.")
        return diff
    pred = outputs[0].reshape(len(outputs[0]), -1)
    expected = np.asarray(estimator.predict(X)).reshape(len(pred), -1)
    diff = float(np.max(np.abs(pred - expected))) if len(pred) else 0.0
    net = estimator.best_estimator_.named_steps["net"]
    tolerance = atol + rtol * float(np.max(np.abs(np.asarray(net.target_scale_))) + np.max(np.abs(expected)))
    if diff > tolerance:
        raise ValueError(f"check_onnx: ONNX predictions differ from predict by {diff:.3g} > {tolerance:.3g}.")
    return diff


def export_onnx(estimator, path, target_opset=DEFAULT_OPSET, X_check=None):
    """Write a fitted estimator's whole pipeline (preprocessing and network) as one ONNX graph.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted. One that predicts with an ensemble (``ensemble_``, whose
        members may be bags of fold models) is written as one graph: every
        member on the same inputs, then their weighted average.
    path : str or path-like
        The ``.onnx`` file to write.
    target_opset : int, default=18
        ONNX opset of the default domain.
    X_check : array-like or None, default=None
        When given, the written file is run with onnxruntime on these rows
        and compared with the estimator's predictions (:func:`check_onnx`);
        a mismatch raises ``ValueError``.

    Returns
    -------
    path : str

    Notes
    -----
    The graph's input ``X`` is a float64 matrix of the training columns in
    their order; a table with categorical (string) or date columns adds
    ``X_str``, the categorical columns as strings (:func:`onnx_inputs`
    makes the feed from a DataFrame). A classifier's outputs are ``label``
    and ``probabilities`` (equal to ``predict_proba`` within float32
    rounding, about 1e-6); a regressor's is ``variable`` of shape
    ``(n, 1)``. Free-text columns and preprocessing steps without an ONNX
    converter raise a ``ValueError`` naming them.

    Examples
    --------
    >>> import onnxruntime as ort                                # doctest: +SKIP
    >>> export_onnx(clf, "model.onnx", X_check=X_test)           # doctest: +SKIP
    >>> session = ort.InferenceSession("model.onnx")             # doctest: +SKIP
    >>> label, proba = session.run(None, onnx_inputs("model.onnx", X_test))  # doctest: +SKIP
    """
    model = to_onnx(estimator, target_opset=target_opset)
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    if X_check is not None:
        check_onnx(estimator, path, X_check)
    return path


