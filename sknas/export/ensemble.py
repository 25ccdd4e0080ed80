"""Ensembles and bags as one graph: every member on the same inputs, then a weighted average.

The fitted estimator predicts with ``ensemble_`` when it has one: an
:class:`~sknas.ensemble.EnsembleClassifier` / :class:`~sknas.ensemble.EnsembleRegressor`
whose members are fitted ``Pipeline([("preprocessing", ...), ("net", ...)])``
objects or, for a bag (the fold models of one trial), nested ensembles of
them. Its prediction is the weighted mean of its members' ``predict_proba``
(classifier) or ``predict`` (regressor), weights normalised.

Here each member pipeline is converted on its own (the single-model path)
and its graph copied under a prefix into one graph whose inputs all members
share (a pipeline met twice is converted once); then every ensemble,
innermost first, becomes ``Sum(Mul(member_i, w_i)) / sum(w)`` in float64,
as numpy computes it. A classifier's ``probabilities`` are that
average cast to float32 (as a single model's are) and its ``label`` the
class of the average's ``ArgMax``; a regressor's ``variable`` is the
average, float64 ``(n, n_targets)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline

from ..ensemble import EnsembleClassifier, EnsembleRegressor

__all__ = ["ENSEMBLES", "ensemble_leaves", "ensemble_model", "pipeline_parts"]

ENSEMBLES = (EnsembleClassifier, EnsembleRegressor)


def pipeline_parts(model, caller, what="best_estimator_"):
    """``(preprocessing, net)`` of a fitted member pipeline, or a ValueError naming what it is."""
    if not isinstance(model, Pipeline) or list(model.named_steps) != ["preprocessing", "net"]:
        raise ValueError(
            f"{caller}: {what} must be a Pipeline of the steps ['preprocessing', 'net']. "
            f"Got {model!r} instead."
        )
    return model.named_steps["preprocessing"], model.named_steps["net"]


def ensemble_leaves(model, caller):
    """The member pipelines of a (possibly nested) ensemble, depth first."""
    if isinstance(model, ENSEMBLES):
        if len(model.estimators) != len(model.weights) or not len(model.estimators):
            raise ValueError(f"{caller}: an ensemble needs as many weights as members, and at least one. "
                             f"Got {len(model.estimators)} members and {len(model.weights)} weights instead.")
        return [leaf for member in model.estimators for leaf in ensemble_leaves(member, caller)]
    pipeline_parts(model, caller, "an ensemble member")
    return [model]


def ensemble_model(ensemble, convert_leaf, task, classes=None):
    """One ONNX ``ModelProto`` computing the ensemble's prediction (see the module's docstring).

    ``convert_leaf(pipeline)`` returns the single-model graph of a member
    pipeline (all with the same inputs); ``classes``: the class labels of a
    classifier, in the column order of the probabilities.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .net import label_kind

    nodes, initializers, functions, opsets = [], [], {}, {}
    inputs, outputs, ir_version = None, None, None
    counter = {"member": 0, "name": 0}

    def fresh(hint):
        counter["name"] += 1
        return f"ensemble_{hint}_{counter['name']}"

    def const(value, hint):
        name = fresh(hint)
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op_type, *args, output=None, **attrs):
        out = output or fresh(op_type.lower())
        nodes.append(helper.make_node(op_type, list(args), [out], name=fresh(op_type), **attrs))
        return out

    def add_member(model):
        """Copy a member's graph under its own prefix; returns its prediction output (double)."""
        nonlocal inputs, outputs, ir_version
        prefix = f"member{counter['member']}_"
        counter["member"] += 1
        graph = model.graph
        shared = {i.name for i in graph.input}
        if inputs is None:  # the ensemble's inputs and outputs are declared as its first member's
            inputs, outputs = list(graph.input), list(graph.output)
        elif [i.name for i in graph.input] != [i.name for i in inputs]:
            raise ValueError("export_onnx: the ensemble's members have different graph inputs "
                             f"({[i.name for i in inputs]} and {[i.name for i in graph.input]}).")
        rename = lambda name: name if (not name or name in shared) else prefix + name  # noqa: E731
        for init in graph.initializer:
            copied = onnx.TensorProto()
            copied.CopyFrom(init)
            copied.name = rename(init.name)
            initializers.append(copied)
        for original in graph.node:
            if any(a.type in (a.GRAPH, a.GRAPHS) for a in original.attribute):
                raise ValueError(f"export_onnx: an ensemble member's graph has a control-flow node "
                                 f"({original.op_type}); not supported.")
            copied = onnx.NodeProto()
            copied.CopyFrom(original)
            copied.name = prefix + original.name
            copied.input[:] = [rename(n) for n in original.input]
            copied.output[:] = [rename(n) for n in original.output]
            nodes.append(copied)
        for function in model.functions:
            functions.setdefault((function.domain, function.name), function)
        for opset in model.opset_import:
            opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
        ir_version = max(ir_version or 0, model.ir_version)
        # classifier outputs: label, probabilities (float32); regressor: variable (float64)
        prediction = graph.output[1 if task == "classification" else 0].name
        return node("Cast", rename(prediction), to=TensorProto.DOUBLE)

    converted = {}  # id of a member pipeline -> its prediction: a member met twice is converted once

    def average(model):
        if not isinstance(model, ENSEMBLES):
            if id(model) not in converted:
                converted[id(model)] = add_member(convert_leaf(model))
            return converted[id(model)]
        weights = np.asarray(model.weights, dtype=np.float64)
        terms = [node("Mul", average(member), const(np.array(w), "weight"))
                 for member, w in zip(model.estimators, weights)]
        total = terms[0] if len(terms) == 1 else node("Sum", *terms)
        return node("Div", total, const(np.array(weights.sum()), "total_weight"))

    mean = average(ensemble)
    if task == "classification":
        classes = np.asarray(classes)
        labels = classes.astype(np.int64) if label_kind(classes) == "int" else classes.astype(str).astype(object)
        index = node("ArgMax", mean, axis=1, keepdims=0)
        label_name = fresh("classes")
        label_type = TensorProto.INT64 if labels.dtype == np.int64 else TensorProto.STRING
        initializers.append(helper.make_tensor(label_name, label_type, [len(labels)],
                                               labels.tolist() if label_type == TensorProto.INT64
                                               else [str(v).encode("utf-8") for v in labels]))
        node("Gather", label_name, index, axis=0, output=outputs[0].name)
        node("Cast", mean, to=TensorProto.FLOAT, output=outputs[1].name)  # "probabilities", float32
    else:
        node("Identity", mean, output=outputs[0].name)  # "variable", float64
    graph = helper.make_graph(nodes, "sknas_ensemble", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
                              functions=list(functions.values()), producer_name="sknas")
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return model
