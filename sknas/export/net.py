"""The fitted network: exported by ``torch.onnx`` and inlined into the graph, then its head.

The sknas skorch nets (:class:`~sknas.evaluation.trainer.TabularClassifierNet`,
:class:`~sknas.evaluation.trainer.TabularRegressorNet`) are registered with
skl2onnx. The torch module is exported by the torch.export-based exporter,
its graph copied into the skl2onnx container, then followed by the softmax
and class labels (classifier: outputs ``label`` and ``probabilities``,
float32) or the target's de-standardization (regressor: ``variable``,
float64).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from ..evaluation.trainer import TabularClassifierNet, TabularRegressorNet
from .graph import DOUBLE, FLOAT, Graph
from .registry import INSTALL, register_operator

__all__ = ["inference_module", "inline_model", "label_kind", "task_of", "torch_onnx_model"]


def task_of(net):
    """``"classification"`` or ``"regression"``: the task of a fitted sknas net."""
    if isinstance(net, TabularClassifierNet):
        return "classification"
    if isinstance(net, TabularRegressorNet):
        return "regression"
    raise TypeError(f"cannot export a network of type {type(net).__name__}.")


def inference_module(net):
    """A CPU copy of the fitted torch module in eval mode (the estimator is left untouched)."""
    module = copy.deepcopy(net.module_).to("cpu")
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def torch_onnx_model(module, n_inputs, opset):
    """The ONNX ModelProto of ``module`` (float32 ``(batch, n_inputs)`` in, outputs out)."""
    import logging

    import onnx
    import torch

    example = torch.zeros(2, n_inputs)
    batch = torch.export.Dim("batch")
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, (example,), dynamo=True, opset_version=opset,
                                        dynamic_shapes=({0: batch},), verbose=False,
                                        input_names=["x"], output_names=["y"])
    except ImportError as exc:
        raise ImportError(f"exporting the network to ONNX needs onnxscript ({exc}): {INSTALL}") from None
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    model = program.model_proto
    if len(model.functions):
        model = onnx.inliner.inline_local_functions(model)
    return model


def inline_model(g, model, input_name):
    """Copy the nodes and initializers of a one-input, one-output ONNX model into the graph."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError("the exported network must have one input and one output.")
    versions = {op.domain: op.version for op in model.opset_import}
    names = {graph.input[0].name: input_name, "": ""}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        names[init.name] = g.name("w")
        g.container.add_initializer(names[init.name], init.data_type, list(array.shape), array.ravel().tolist())
    for node in graph.node:
        if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
            raise ValueError(f"the exported network has a control-flow node ({node.op_type}); not supported.")
        inputs = []
        for position, name in enumerate(node.input):
            if name not in names:
                raise ValueError(f"the exported network's node {node.name!r} reads an unknown value {name!r}.")
            if not name and node.op_type == "Clip" and any(node.input[position + 1:]):
                # an absent bound before a present one (torch's clamp(max=...)): skl2onnx's topological sort
                # takes the empty name for a missing value, so the bound becomes an infinite constant
                # (the exported networks are float32)
                bound = g.name("unbounded")
                g.container.add_initializer(bound, onnx.TensorProto.FLOAT, [], [-np.inf if position == 1 else np.inf])
                inputs.append(bound)
                continue
            inputs.append(names[name])
        while inputs and not inputs[-1]:
            inputs.pop()  # absent trailing optional inputs can be left out
        outputs = []
        for name in node.output:
            names[name] = g.name("t") if name else ""
            outputs.append(names[name])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        g.container.add_node(node.op_type, inputs, outputs, op_domain=node.domain,
                             op_version=versions.get(node.domain),
                             name=g.scope.get_unique_operator_name(f"{g.prefix}_{node.op_type}"), **attrs)
    return names[graph.output[0].name]


def label_kind(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return "int"
    if classes.dtype.kind == "f" and np.all(np.mod(classes, 1) == 0):
        return "int"
    if classes.dtype.kind in "US" or (classes.dtype == object and all(isinstance(c, str) for c in classes)):
        return "str"
    raise ValueError(
        f"export_onnx: class labels of dtype {classes.dtype} cannot be ONNX labels (ints, bools or strings "
        f"are supported). Got classes_={classes!r} instead."
    )


def _net_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, StringTensorType

    net = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    if task_of(net) == "classification":
        label = Int64TensorType if label_kind(net.classes_) == "int" else StringTensorType
        operator.outputs[0].type = label([n])
        operator.outputs[1].type = FloatTensorType([n, len(net.classes_)])
    else:
        operator.outputs[0].type = DoubleTensorType([n, int(np.size(net.target_mean_))])


def _net_convert(scope, operator, container):
    net = operator.raw_operator
    g = Graph(scope, container, "net")
    x = g.op("Cast", operator.inputs[0].full_name, to=FLOAT)  # the net sees float32, as in sknas
    module = inference_module(net)
    try:
        model = torch_onnx_model(module, int(net.module__n_inputs), container.target_opset)
    except ImportError:
        raise
    except Exception as exc:  # an operation torch.onnx cannot export: say so in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"export_onnx: torch.onnx could not export the network "
                         f"({type(exc).__name__}: {first[:300]}).") from exc
    logits = inline_model(g, model, x)
    if task_of(net) == "classification":
        classes = np.asarray(net.classes_)
        g.op("Softmax", logits, axis=1, output=operator.outputs[1].full_name)
        index = g.op("ArgMax", logits, axis=1, keepdims=0)
        labels = classes.astype(np.int64) if label_kind(classes) == "int" else classes.astype(str)
        g.op("Gather", g.const(labels, "classes"), index, axis=0, output=operator.outputs[0].full_name)
    else:
        wide = g.op("Cast", logits, to=DOUBLE)
        scaled = g.op("Mul", wide, g.const(np.asarray(net.target_scale_, dtype=np.float64).reshape(1, -1)))
        g.op("Add", scaled, g.const(np.asarray(net.target_mean_, dtype=np.float64).reshape(1, -1)),
             output=operator.outputs[0].full_name)


register_operator(TabularClassifierNet, _net_shape, _net_convert, alias="SknasTabularClassifierNet",
                  options={"zipmap": [False], "nocl": [False]}, typed_parser=False)
register_operator(TabularRegressorNet, _net_shape, _net_convert, alias="SknasTabularRegressorNet",
                  typed_parser=False)
