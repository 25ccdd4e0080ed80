"""Cleaning of raw frames: type inference, expansion of dates, removal of useless columns.

The first step of a searched pipeline. It turns a raw table (a DataFrame or
a 2-D array, possibly of strings) into a frame whose columns are either
float (numbers, booleans, parts of dates, lengths of free text) or
categorical, and removes the columns a network cannot learn from. Free
text is encoded, when asked (``text_encoder=``), by
:class:`~sknas.prep.text.TextEncoder` (TF-IDF or hashing of word and
character n-grams, then truncated SVD). Nothing
is dropped silently: every removed column is listed, with the reason, in
``removed_columns_``, and identifier columns are reported in a warning.
At ``transform``, values that cannot be read as their column's kind (text
in a column that was numeric at fit) become missing, reported in an
:class:`UnparsedValueWarning` naming the columns and the counts.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .tabular import check_frame
from .text import TEXT_ENCODERS, TextEncoder

__all__ = ["DATETIME_PARTS", "IDColumnWarning", "OutputColumn", "TableCleaner", "UnparsedValueWarning",
           "find_text_columns"]

DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour", "elapsed")
_TRUE = frozenset({"true", "yes", "y", "t"})
_FALSE = frozenset({"false", "no", "n", "f"})
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key|index)$|^(id|uuid|guid)([_\s.-]|$)", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d.*[-/:]|[-/:].*\d")


class IDColumnWarning(UserWarning):
    """A column looks like a row identifier (one distinct value per row)."""


class UnparsedValueWarning(UserWarning):
    """Values at ``transform`` that cannot be read as their column's kind at fit were treated as missing."""


class OutputColumn(NamedTuple):
    """How a fitted :class:`TableCleaner` makes one output column (see :meth:`TableCleaner.get_output_plan`)."""

    name: str
    """The output column's name."""
    source: object
    """The input column it is made from."""
    position: int
    """The position of ``source`` among the input columns."""
    kind: str
    """The kind of ``source``: ``"numeric"``, ``"boolean"``, ``"datetime"``, ``"text"`` or ``"categorical"``."""
    part: object
    """None for the column itself, a date part (``"year"``, ... ``"elapsed"``), a text measure
    (``"length"``, ``"words"``) or a component of the encoded text (``"text0"``, ``"text1"``, ...)."""


# text that marks a value as missing rather than unreadable
_MISSING_TEXT = frozenset({"", "nan", "na", "n/a", "null", "none", "<na>", "nat"})


def _count_unparsed(col, values):
    """How many present values of ``col`` its conversion ``values`` lost (NaN), and one of them."""
    lost = values.isna().to_numpy() & col.notna().to_numpy()
    if not lost.any():
        return 0, None
    text = _text(col[lost])
    unreadable = text[~text.str.lower().isin(_MISSING_TEXT)]
    return len(unreadable), (unreadable.iloc[0] if len(unreadable) else None)


def _text(values):
    return values.astype(str).str.strip()


def _infer_base_kind(col):
    """numeric, boolean, datetime, categorical or empty, from dtype and (for text) content."""
    present = col.dropna()
    if len(present) == 0:
        return "empty"
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    text = _text(present)
    if pd.to_numeric(text, errors="coerce").notna().all():
        return "numeric"
    if text.str.lower().isin(_TRUE | _FALSE).all():
        return "boolean"
    sample = text.iloc[:200]  # a sample first: parsing a long column of non-dates wastes time
    looks_like_dates = sample.str.contains(_DATE_HINT).all() and _parse_dates(sample).notna().all()
    if looks_like_dates and _parse_dates(text).notna().all():
        return "datetime"
    return "categorical"


def _parse_dates(col):
    """Timestamps as naive UTC; text is read as ISO 8601, anything else becomes NaT."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            out = pd.to_datetime(col, utc=True)
        else:
            text = _text(col).where(col.notna())
            out = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    return out.dt.tz_localize(None)


def _as_numeric(col):
    if pd.api.types.is_bool_dtype(col.dtype) or (
        pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype)
    ):
        return pd.Series(col.to_numpy(dtype=np.float64, na_value=np.nan), index=col.index)
    text = _text(col).where(col.notna())
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def _as_boolean(col):
    if pd.api.types.is_bool_dtype(col.dtype):
        return _as_numeric(col)
    lower = _text(col).str.lower()
    out = np.where(lower.isin(_TRUE), 1.0, np.where(lower.isin(_FALSE), 0.0, np.nan))
    return pd.Series(np.where(col.notna(), out, np.nan), index=col.index)


def _as_categorical(col):
    # The category dtype marks the column as categorical for the encoder
    # even when its levels look like numbers; the categories are those of
    # the data at hand, so unseen levels survive to the encoder.
    text = col.astype(str).where(col.notna())
    return text.astype(object).astype("category")


def _date_part(dates, part):
    if part == "elapsed":
        return (dates - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
    attribute = "day_of_week" if part == "dayofweek" else part
    return getattr(dates.dt, attribute).astype(np.float64)


def _word_counts(col):
    text = col.astype(str).where(col.notna())
    return text.str.split().str.len().astype(np.float64)


def _is_integer_valued(values):
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


class TableCleaner(TransformerMixin, BaseEstimator):
    """Infer column types of a raw table, expand dates, drop columns that carry nothing.

    Each column gets a kind at ``fit`` (``column_kinds_``):

    - ``"numeric"``: numbers, including numbers stored as text;
    - ``"boolean"``: booleans, or text of true/false, yes/no, y/n, t/f (to 1/0);
    - ``"datetime"``: datetime columns and ISO 8601 text, expanded to the
      parts in ``datetime_parts`` (``elapsed``: days since 1970, a trend);
    - ``"text"``: free text (many distinct values, more than half the
      present values or more than 500, of ``text_min_words`` words or more
      on average), turned into its length in characters and in words and,
      unless ``text_encoder="none"``, into ``text_components`` columns by a
      :class:`~sknas.prep.text.TextEncoder` (TF-IDF or hashing of word and
      character n-grams, then truncated SVD) fitted on that column;
    - ``"categorical"``: any other text, category or object column, kept
      as a category column (high cardinality is the encoder's business);
    - ``"id"``: one distinct value per row (text that is not free text, or
      integers whose name says "id" or that nearly fill their range),
      reported in an :class:`IDColumnWarning` and dropped when ``drop_ids``;
    - ``"constant"`` and ``"empty"`` (all values missing): dropped.

    Output columns (a derived part of a date included) that are constant,
    or identical to an earlier output column, are dropped too. Every
    dropped column is in ``removed_columns_`` with its reason. Missing
    values stay missing (NaN) for the imputer and missing indicators of
    the next step.

    Parameters
    ----------
    drop_ids : bool, default=True
        Drop identifier columns (they are reported either way).
    drop_duplicates : bool, default=True
    datetime_parts : tuple of str, default=("year", "month", "day", "dayofweek", "hour", "elapsed")
    text_min_words : float, default=3.0
        Mean word count from which a high-cardinality text column is free text.
    min_rows : int, default=20
        Identifiers and free text are detected only on at least this many rows.
    text_encoder : {"none", "tfidf", "hashing"}, default="none"
        How free text is encoded besides its length and word count (see
        :class:`~sknas.prep.text.TextEncoder`); ``"none"``: not at all.
        ``preprocessing="auto"`` searches it.
    text_components : int, default=32
        Columns per free-text column (the SVD's width), capped by the data.

    Attributes
    ----------
    column_kinds_ : dict
        Input column -> kind (see above).
    removed_columns_ : dict
        Removed column (input or derived) -> reason.
    id_columns_ : list
        Columns found to be identifiers.
    text_columns_ : list
        Columns read as free text (whatever ``text_encoder``).
    text_encoders_ : dict
        Free-text column -> its fitted :class:`~sknas.prep.text.TextEncoder`
        (empty when ``text_encoder="none"``).
    feature_names_out_ : list
        Output columns, in order.
    n_features_in_ : int
    feature_names_in_ : ndarray
        Input column names, when they are all strings.
    """

    def __init__(self, drop_ids=True, drop_duplicates=True, datetime_parts=DATETIME_PARTS,
                 text_min_words=3.0, min_rows=20, text_encoder="none", text_components=32):
        self.drop_ids = drop_ids
        self.drop_duplicates = drop_duplicates
        self.datetime_parts = datetime_parts
        self.text_min_words = text_min_words
        self.min_rows = min_rows
        self.text_encoder = text_encoder
        self.text_components = text_components

    # -- kinds ------------------------------------------------------------------------
    def _refine_kind(self, name, col, base, converted):
        """Split categorical/numeric columns into text, id, constant; None keeps ``base``."""
        n = len(col)
        present = converted.dropna()
        n_unique = present.nunique()
        if n_unique <= 1 and (n_unique == 0 or len(present) == n):
            return "constant"
        if n < self.min_rows:
            return None
        if base == "categorical" and n_unique > min(0.5 * len(present), 500) \
                and _word_counts(col).mean() >= self.text_min_words:
            return "text"
        if len(present) < n:  # an identifier is never missing
            return None
        if base == "categorical":
            if n_unique == n and not isinstance(col.dtype, pd.CategoricalDtype):
                return "id"
        elif n_unique == n:
            values = present.to_numpy(dtype=np.float64)
            span = values.max() - values.min() + 1
            if _is_integer_valued(values) and (_ID_NAME.search(str(name)) or span <= 3 * n):
                return "id"
        return None

    # -- conversions (the same at fit and transform) -----------------------------------
    def _outputs_of(self, name, kind):
        """``[(output name, op), ...]``: the output columns a kept input column becomes."""
        if kind == "datetime":
            return [(f"{name}__{part}", part) for part in self.datetime_parts]
        if kind == "text":
            return [(f"{name}__length", "length"), (f"{name}__words", "words")]
        return [(name, None)]

    def _convert(self, col, kind, ops, source=None):
        """The output columns (Series) of one input column, one per op."""
        if kind == "datetime":
            dates = _parse_dates(col)
            return [_date_part(dates, op) for op in ops]
        if kind == "text":
            text = col.astype(str).where(col.notna())
            encoder = self.text_encoders_.get(source) if hasattr(self, "text_encoders_") else None
            encoded = encoder.transform(col) if encoder is not None and any(
                op.startswith("text") for op in ops) else None
            return [text.str.len().astype(np.float64) if op == "length"
                    else _word_counts(col) if op == "words"
                    else pd.Series(encoded[:, int(op[4:])], index=col.index) for op in ops]
        if kind == "numeric":
            return [_as_numeric(col)]
        if kind == "boolean":
            return [_as_boolean(col)]
        return [_as_categorical(col)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []  # it returns a DataFrame of float and category columns
        return tags

    # -- fit / transform -----------------------------------------------------------------
    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        frame = check_frame(X, "TableCleaner")
        if len(frame) < 2:
            raise ValueError(
                f"TableCleaner needs at least 2 samples to tell what varies; got n_samples = {len(frame)}."
            )
        self.n_features_in_ = frame.shape[1]
        if len(frame.columns) and all(isinstance(c, str) for c in frame.columns):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self.text_encoder not in ("none",) + TEXT_ENCODERS:
            raise ValueError(f"TableCleaner: text_encoder must be one of {('none',) + TEXT_ENCODERS}. "
                             f"Got {self.text_encoder!r} instead.")
        unknown = [p for p in self.datetime_parts if p not in DATETIME_PARTS]
        if unknown:
            raise ValueError(
                f"TableCleaner: datetime_parts must be among {DATETIME_PARTS}. Got {self.datetime_parts!r} instead."
            )
        kinds, removed, plan, outputs = {}, {}, [], {}
        seen = {}  # hash of an output column -> its name, to find duplicates
        self.text_encoders_ = {}
        for name in frame.columns:
            col = frame[name]
            base = _infer_base_kind(col)
            kind, converted = base, None
            if base in ("numeric", "categorical"):
                converted = self._convert(col, base, [None])
                kind = self._refine_kind(name, col, base, converted[0]) or base
            kinds[name] = kind
            if kind == "empty":
                removed[name] = "all values missing"
                continue
            if kind == "constant":
                removed[name] = "constant"
                continue
            if kind == "id" and self.drop_ids:
                removed[name] = "identifier: one distinct value per row"
                continue
            if kind == "id":  # kept as requested: as the numbers or categories it holds
                kind = base
            names_ops = self._outputs_of(name, kind)
            if kind == "text" and self.text_encoder != "none":
                encoder = TextEncoder(method=self.text_encoder, n_components=int(self.text_components))
                encoder.fit(col)
                self.text_encoders_[name] = encoder
                names_ops += [(f"{name}__text{i}", f"text{i}") for i in range(encoder.n_features_out_)]
            if kind != base or converted is None:
                converted = self._convert(col, kind, [op for _, op in names_ops], source=name)
            for (out_name, op), values in zip(names_ops, converted):
                if values.nunique(dropna=False) <= 1:
                    removed[out_name] = f"constant (derived from {name!r})" if out_name != name else "constant"
                    continue
                if self.drop_duplicates:
                    hashes = pd.util.hash_pandas_object(values, index=False).to_numpy()
                    key = (isinstance(values.dtype, pd.CategoricalDtype),
                           hashlib.blake2b(hashes.tobytes(), digest_size=16).digest())
                    if key in seen:
                        removed[out_name] = f"duplicate of {seen[key]!r}"
                        continue
                    seen[key] = out_name
                plan.append((out_name, name, kind, op))
                outputs[out_name] = values
        self.column_kinds_ = kinds
        self.removed_columns_ = removed
        self.id_columns_ = [c for c, k in kinds.items() if k == "id"]
        self.text_columns_ = [c for c, k in kinds.items() if k == "text"]
        self.feature_names_out_ = [p[0] for p in plan]
        self._plan = plan
        if self.id_columns_:
            action = "dropped" if self.drop_ids else "kept (drop_ids=False)"
            warnings.warn(
                f"TableCleaner: column(s) {self.id_columns_} look like row identifiers (one distinct value "
                f"per row) and are {action}; see removed_columns_.", IDColumnWarning, stacklevel=2,
            )
        if not plan:
            raise ValueError(
                f"TableCleaner: every column was removed ({removed}); there is nothing to learn from."
            )
        return pd.DataFrame(outputs, index=frame.index)

    def transform(self, X):
        check_is_fitted(self, "_plan")
        frame = check_frame(X, "TableCleaner")
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but TableCleaner is expecting {self.n_features_in_} "
                "features as input."
            )
        needed = {source for _, source, _, _ in self._plan}
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"TableCleaner: X lacks the column(s) {missing} seen at fit.")
        by_source = {}
        for out_name, source, kind, op in self._plan:
            by_source.setdefault((source, kind), []).append((out_name, op))
        out, unparsed = {}, []
        for (source, kind), names_ops in by_source.items():
            converted = self._convert(frame[source], kind, [op for _, op in names_ops], source=source)
            out.update({out_name: values for (out_name, _), values in zip(names_ops, converted)})
            if kind in ("numeric", "boolean", "datetime"):
                count, example = _count_unparsed(frame[source], converted[0])
                if count:
                    unparsed.append(f"{source!r} ({kind}): {count} value(s), e.g. {example!r}")
        if unparsed:
            warnings.warn(
                "TableCleaner: values that cannot be read as their column's kind at fit are treated as missing "
                f"in column(s) {'; '.join(unparsed)}.", UnparsedValueWarning, stacklevel=2,
            )
        out = {name: out[name] for name in self.feature_names_out_}
        return pd.DataFrame(out, index=frame.index)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "_plan")
        return np.asarray(self.feature_names_out_, dtype=object)

    def get_output_plan(self):
        """How each output column is made, in output order.

        Returns
        -------
        plan : list of OutputColumn
            One ``(name, source, position, kind, part)`` per output column:
            the input column it comes from (and that column's position in
            ``X``), the kind that column was read as, and the date part or
            text measure taken from it (None: the column itself). The ONNX
            export rebuilds ``transform`` from it.

        Examples
        --------
        >>> import pandas as pd
        >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]})
        >>> [tuple(c) for c in TableCleaner().fit(X).get_output_plan()]
        [('a', 'a', 0, 'numeric', None), ('b', 'b', 1, 'categorical', None)]
        """
        check_is_fitted(self, "_plan")
        positions = {name: i for i, name in enumerate(self.column_kinds_)}
        return [OutputColumn(name, source, positions[source], kind, part)
                for name, source, kind, part in self._plan]

    @staticmethod
    def as_number(column, kind):
        """A raw column read as float64 numbers, the way a column of ``kind`` is read.

        ``"numeric"``: numbers (numbers stored as text included);
        ``"boolean"``: 1.0 / 0.0; ``"datetime"``: seconds since
        1970-01-01 UTC. Missing and unreadable values are NaN. The ONNX
        export feeds its graph with these numbers.

        Parameters
        ----------
        column : pandas.Series
        kind : {"numeric", "boolean", "datetime"}

        Returns
        -------
        values : ndarray of float64, shape (len(column),)
        """
        if kind == "numeric":
            values = _as_numeric(column)
        elif kind == "boolean":
            values = _as_boolean(column)
        elif kind == "datetime":
            values = (_parse_dates(column) - pd.Timestamp("1970-01-01")).dt.total_seconds()
        else:
            raise ValueError(f"TableCleaner.as_number: kind must be 'numeric', 'boolean' or 'datetime'. "
                             f"Got {kind!r} instead.")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)


def find_text_columns(X, text_min_words=3.0, min_rows=20):
    """The columns of ``X`` a :class:`TableCleaner` with these settings reads as free text.

    The cleaner's own rule, without fitting it (no column is converted but
    the text ones), so that a search space can leave out a text step the
    data has no use for.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
    text_min_words : float, default=3.0
    min_rows : int, default=20

    Returns
    -------
    columns : list
        Column names (positions for an array), in order.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"n": range(40), "note": [f"item {i} was fine and arrived" for i in range(40)]})
    >>> find_text_columns(X)
    ['note']
    """
    frame = check_frame(X, "find_text_columns")
    rule = TableCleaner(text_min_words=text_min_words, min_rows=min_rows)
    found = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype) or (
                pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype)):
            continue
        base = _infer_base_kind(col)
        if base == "categorical" and rule._refine_kind(name, col, base, _as_categorical(col)) == "text":
            found.append(name)
    return found
