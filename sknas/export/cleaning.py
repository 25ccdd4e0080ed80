""":class:`sknas.prep.cleaning.TableCleaner`, alone or with the encoder after it.

A cleaner that passes on numbers only (numeric and boolean columns) is a
column gather. A cleaned table with categorical or date columns cannot be
one float matrix, so such a model's graph has two inputs: ``X`` (float64,
every training column as a number: numbers, booleans as 0/1, dates as
seconds since 1970-01-01, NaN elsewhere) and ``X_str`` (string, the
categorical columns, a missing value as
:data:`~sknas.prep.tabular.MISSING_LEVEL`); :func:`sknas.export.onnx_inputs`
makes both from a DataFrame. The cleaner and its encoder's input side then
become one step (:class:`MixedTable`): the numeric columns and date parts
are computed from ``X``, and every categorical encoder of the
:class:`~sknas.prep.tabular.TabularPreprocessor` (one-hot, ordinal, target,
with their infrequent and unseen levels and scalers) becomes exact lookup
tables, one per column, read by an ``ai.onnx.ml`` LabelEncoder (unseen level
-> the table's last row). The encoder's ColumnTransformer then passes those
columns through.

Everything is read from the cleaner's public
:meth:`~sknas.prep.cleaning.TableCleaner.get_output_plan`.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from ..prep.cleaning import TableCleaner
from ..prep.tabular import TabularPreprocessor
from .columns import ToFloat32, gather
from .graph import Graph
from .registry import StandIn, onnx_ready, register_operator, register_step

__all__ = ["MixedTable", "date_part_graph", "input_layout", "mixed_head", "needs_strings"]

_UNSEEN = "\x00sknas-unseen-level\x00"


def needs_strings(cleaner):
    """Whether a fitted cleaner passes on more than plain numeric columns (the two-input graph)."""
    return any(c.kind not in ("numeric", "boolean") or c.part is not None for c in cleaner.get_output_plan())


def input_kinds(cleaner):
    """Input position -> kind of every input column the cleaner keeps (what the graph's inputs carry)."""
    return {c.position: c.kind for c in cleaner.get_output_plan()}


def input_layout(cleaner):
    """The graph inputs of a cleaned table: ``{"kinds": [...], "string_columns": [...]}`` (positions)."""
    kinds = input_kinds(cleaner)
    return {"kinds": [kinds.get(i, "unused") for i in range(len(cleaner.column_kinds_))],
            "string_columns": sorted(i for i, k in kinds.items() if k == "categorical")}


def _numeric_columns(cleaner, where):
    """Input positions of the columns a fitted TableCleaner keeps, when it only passes numbers on."""
    indices = []
    for c in cleaner.get_output_plan():
        if c.kind not in ("numeric", "boolean") or c.part is not None:
            raise ValueError(
                f"export_onnx: the preprocessing step {where} turns column {c.source!r} ({c.kind}) into "
                f"{c.name!r}; ONNX export covers categorical and date columns only when the cleaning step "
                "comes first and sknas's TabularPreprocessor follows it. Encode such columns as numbers "
                "before fit, or use sknas.io.save."
            )
        indices.append(c.position)
    return indices


# -- a cleaner of numbers: a column gather ----------------------------------------------
@register_step(TableCleaner)
def _cleaner_rule(step, where, context):
    _numeric_columns(step, where)  # raises, naming the column, when the cleaner passes on more than numbers
    return step


def _cleaner_shape(operator):
    from .graph import same_type

    operator.outputs[0].type = same_type(operator, len(operator.raw_operator.get_output_plan()))


def _convert_cleaner(scope, operator, container):
    gather(scope, operator, container, _numeric_columns(operator.raw_operator, "TableCleaner"))


register_operator(TableCleaner, _cleaner_shape, _convert_cleaner)


# -- a cleaner of strings and dates, with its encoder ----------------------------------
class MixedTable(StandIn):
    """Cleaner + encoder input side of a table with string columns (see the module's docstring).

    State: ``numeric`` (``[(position in X, date part or None), ...]``),
    ``categorical`` (``[(base, [(position in X_str, levels, table), ...]), ...]``),
    ``width`` (output columns) and ``layout``.
    """


def _mixed_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType

    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(),
                                                 int(operator.raw_operator.width)])


def _floor_div(g, a, b):
    return g.op("Floor", g.op("Div", a, g.const(np.array(float(b)))))


def date_part_graph(g, seconds, part):
    """A date part of ``seconds`` since 1970 (double, NaN stays NaN), as pandas computes it.

    Calendar from days: H. Hinnant, "chrono-compatible low-level date algorithms"
    (civil_from_days), in double arithmetic, exact on integers below 2**53.
    """
    f64 = lambda v: g.const(np.array(float(v)))  # noqa: E731
    if part == "elapsed":
        return g.op("Div", seconds, f64(86400.0))
    days = _floor_div(g, seconds, 86400)
    if part == "hour":
        return _floor_div(g, g.op("Sub", seconds, g.op("Mul", days, f64(86400))), 3600)
    if part == "dayofweek":  # 1970-01-01 was a Thursday (Monday = 0)
        shifted = g.op("Add", days, f64(3))
        return g.op("Sub", shifted, g.op("Mul", _floor_div(g, shifted, 7), f64(7)))
    z = g.op("Add", days, f64(719468))
    era = _floor_div(g, z, 146097)
    doe = g.op("Sub", z, g.op("Mul", era, f64(146097)))
    yoe = _floor_div(g, g.op("Add", g.op("Sub", doe, _floor_div(g, doe, 1460)),
                             g.op("Sub", _floor_div(g, doe, 36524), _floor_div(g, doe, 146096))), 365)
    doy = g.op("Sub", doe, g.op("Add", g.op("Mul", yoe, f64(365)),
                                g.op("Sub", _floor_div(g, yoe, 4), _floor_div(g, yoe, 100))))
    mp = _floor_div(g, g.op("Add", g.op("Mul", doy, f64(5)), f64(2)), 153)
    if part == "day":
        return g.op("Add", g.op("Sub", doy, _floor_div(g, g.op("Add", g.op("Mul", mp, f64(153)), f64(2)), 5)), f64(1))
    month = g.op("Where", g.op("Less", mp, f64(10)), g.op("Add", mp, f64(3)), g.op("Sub", mp, f64(9)))
    if part == "month":
        return month
    year = g.op("Add", yoe, g.op("Mul", era, f64(400)))
    leap_start = g.op("Cast", g.op("LessOrEqual", month, f64(2)), to=11)
    year = g.op("Add", year, leap_start)
    if part == "year":
        return year
    raise ValueError(f"unknown date part {part!r}")


def _convert_mixed(scope, operator, container):
    table = operator.raw_operator
    g = Graph(scope, container, "table")
    x = operator.inputs[0].full_name
    x_str = operator.inputs[1].full_name if len(operator.inputs) > 1 else None
    columns = []
    for position, part in table.numeric:
        column = g.op("Gather", x, g.const(np.array([position], dtype=np.int64)), axis=1)
        columns.append(column if part is None else date_part_graph(g, column, part))
    ml_version = 2
    for base, lookups in table.categorical:
        total = None
        for position, levels, values in lookups:
            text = g.op("Gather", x_str, g.const(np.array(position, dtype=np.int64)), axis=1)  # (n,)
            index = g.name("level")
            container.add_node("LabelEncoder", [text], [index], op_domain="ai.onnx.ml", op_version=ml_version,
                               name=scope.get_unique_operator_name("table_LabelEncoder"),
                               keys_strings=[str(v) for v in levels],
                               values_int64s=list(range(len(levels))), default_int64=len(levels))
            rows = g.op("Gather", g.const(values, "lookup"), index, axis=0)  # (n, width)
            total = rows if total is None else g.op("Add", total, rows)
        columns.append(g.op("Add", total, g.const(base[None, :], "reference")))
    if len(columns) == 1:
        g.op("Identity", columns[0], output=operator.outputs[0].full_name)
    else:
        g.op("Concat", *columns, axis=1, output=operator.outputs[0].full_name)


register_operator(MixedTable, _mixed_shape, _convert_mixed)


def _encoder_levels(transformer, where):
    encoder = transformer.steps[0][1] if hasattr(transformer, "steps") else transformer
    levels = getattr(encoder, "categories_", None)
    if levels is None:
        raise ValueError(f"export_onnx: the preprocessing step {where} ({type(encoder).__name__}) encodes "
                         "categorical columns without categories_; it has no ONNX conversion.")
    return [list(level) for level in levels]


def _lookup_tables(transformer, n_columns, where):
    """``(base, [(levels, table), ...])``: transformer(row) = base + sum_j table_j[level of column j].

    Exact for encoders that treat each column apart (one-hot, ordinal, target
    encoding, and a per-column scaler after them); checked on every level.
    """
    levels = _encoder_levels(transformer, where)
    if len(levels) != n_columns:
        raise ValueError(f"export_onnx: the preprocessing step {where} has {len(levels)} encoded columns, "
                         f"expected {n_columns}.")
    reference = np.array([[str(level[0]) for level in levels]], dtype=object)
    base = np.asarray(transformer.transform(reference), dtype=np.float64)[0]
    width = base.shape[0]
    tables, owner = [], np.full(width, -1)
    for j, column_levels in enumerate(levels):
        known = [str(v) for v in column_levels]
        if _UNSEEN in known:
            raise ValueError(f"export_onnx: a level of {where} collides with the unseen-level marker.")
        rows = np.repeat(reference, len(known) + 1, axis=0)
        rows[:, j] = known + [_UNSEEN]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "unknown categories ... encoded as all zeros"
            out = np.asarray(transformer.transform(rows), dtype=np.float64)
        moved = np.any(out != base[None, :], axis=0)
        if np.any(owner[moved] >= 0):
            raise ValueError(f"export_onnx: the preprocessing step {where} does not encode its columns "
                             "separately; it has no ONNX conversion.")
        owner[moved] = j
        table = out - base[None, :]
        table[:, ~moved] = 0.0
        tables.append((known, table))
    return base, tables



def _mixed_table(cleaner, encoder, where, layout):
    """The ``MixedTable`` stand-in and the encoder's ColumnTransformer over its output."""
    plan = {c.name: c for c in cleaner.get_output_plan()}
    for c in plan.values():
        if c.kind == "text":
            raise ValueError(
                f"export_onnx: the preprocessing step {where} reads column {c.source!r} as free text "
                f"({c.name!r}: its length, word count or TF-IDF/hashing + SVD text encoding); ONNX export "
                "does not cover the text step: it covers numeric, boolean, date and categorical columns only. "
                "Drop the column or encode it before fit, or use sknas.io.save."
            )
    string_position = {p: i for i, p in enumerate(layout["string_columns"])}
    numeric = [(plan[name].position, plan[name].part) for name in encoder.numeric_columns_]
    n_num = len(numeric)
    transformers, categorical, width = [], [], n_num
    for name, transformer, indices in encoder.column_transformer_.transformers_:
        if isinstance(transformer, str) or not len(indices):
            transformers.append((name, transformer, indices))
            continue
        indices = list(indices)
        if all(i < n_num for i in indices):
            transformers.append((name, transformer, indices))
            continue
        if any(i < n_num for i in indices):
            raise ValueError(f"export_onnx: the encoder after {where}, in its part {name!r}, mixes numeric "
                             "and categorical columns; it has no ONNX conversion.")
        base, tables = _lookup_tables(transformer, len(indices), f"{where}'s encoder > {name}")
        lookups = []
        for i, (levels, table) in zip(indices, tables):
            position = plan[encoder.categorical_columns_[i - n_num]].position
            lookups.append((string_position[position], levels, table))
        categorical.append((base, lookups))
        transformers.append((name, "passthrough", list(range(width, width + len(base)))))
        width += len(base)
    stand_in = MixedTable.of(numeric=numeric, categorical=categorical, width=width, layout=layout)
    columns = copy.copy(encoder.column_transformer_)
    columns.transformers_ = transformers
    return stand_in, columns


def mixed_head(steps, where, context):
    """The first steps of a Pipeline as ``(head, rest)`` when it starts with a cleaner of strings, else None.

    ``head`` replaces the cleaner and the TabularPreprocessor after it
    (``MixedTable``, the encoder's ColumnTransformer, the float32 cast).
    """
    if len(steps) < 2 or type(steps[0][1]) is not TableCleaner or not needs_strings(steps[0][1]):
        return None
    (clean_name, cleaner), (encode_name, encoder) = steps[0], steps[1]
    if type(encoder) is not TabularPreprocessor:
        _numeric_columns(cleaner, f"{where} > {clean_name}")  # raises, naming the column
    layout = context.layout or input_layout(cleaner)
    table, columns = _mixed_table(cleaner, encoder, f"{where} > {clean_name}", layout)
    head = [("table", table), ("columns", onnx_ready(columns, f"{where} > {encode_name}", context)),
            ("float32", ToFloat32.of())]
    return head, steps[2:]
