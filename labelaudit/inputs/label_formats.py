"""Label formats beyond one class per row: parsing file columns and validating scoring inputs, in one place.

Why one module: a multi-label or token-labelled batch arrives as strings in a CSV or Parquet column, and the
scorers (:mod:`labelaudit.cl.multilabel_classification`, :mod:`labelaudit.cl.token_classification`) take integer
class indices. Every check on those inputs lives here and raises :class:`~labelaudit.errors.InputDataError`
subclasses that name the file, column and rows, so the person reading the message can fix their file.

File formats (documented in ``docs/multilabel-token.md``)
---------------------------------------------------------
Multi-label column, one cell per row:

* ``"delimited"``: class names joined by a separator, default ``"|"`` (``"sports|politics"``). An empty cell
  or a missing value means "no class applies". Whitespace around names is stripped; a name listed twice
  counts once.
* ``"json"``: a JSON list of class names (``'["sports", "politics"]'``); ``[]`` means no class.
* ``"auto"`` (default): JSON when the stripped cell starts with ``[``, otherwise delimited.

Token data, two columns, one cell per sentence:

* a tokens column and a labels column, each either a JSON list of strings (``'["Paris", "is"]'``) or
  whitespace-separated (``"Paris is"``); ``"auto"`` picks JSON for cells starting with ``[``. Tokens that
  contain spaces need JSON. Both cells of a row must have the same number of items, and at least one.

Row numbers in errors about file columns are 1-based data rows (the header is not counted); row numbers in
errors about in-memory arrays are 0-based positions, as in :mod:`labelaudit.cl._engine.validation`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.cl._engine.validation import VALUE_ATOL, InvalidLabelsError, InvalidPredProbsError
from labelaudit.errors import InputDataError

__all__ = [
    "FORMATS",
    "InvalidTokenDataError",
    "LabelFormatError",
    "TokenData",
    "flatten_token_inputs",
    "format_multilabel",
    "multilabel_indicator",
    "parse_multilabel_column",
    "parse_token_columns",
    "validate_multilabel_pred_probs",
]

FORMATS = ("auto", "delimited", "json")
_SHOWN = 5


class LabelFormatError(InputDataError):
    """A label, tokens or tags cell cannot be parsed, or names a class outside the declared classes."""


class InvalidTokenDataError(InputDataError):
    """Token labels and per-token probabilities do not line up (sentence count, lengths, empty sentences)."""


# --- file columns -------------------------------------------------------------------------------------------


def _split_delimited(separator: str):
    def split(cell: str) -> list[str]:
        return [part.strip() for part in cell.split(separator) if part.strip()]

    return split


def _split_whitespace(cell: str) -> list[str]:
    return cell.split()


def _parse_json_list(cell: str) -> list[str]:
    value = json.loads(cell)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("not a JSON list of strings")
    return value


def _cell_parser(fmt: str, plain):
    """Parser for one stripped cell in format `fmt`; `plain` parses the non-JSON spelling."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "json":
        return _parse_json_list
    if fmt == "delimited":
        return plain
    return lambda cell: _parse_json_list(cell) if cell.startswith("[") else plain(cell)


def _parse_cells(values: pd.Series, parse, *, source: str | None, missing_ok: bool) -> list[list[str]]:
    """Parse every cell, collecting the rows that fail, and raise once naming them."""
    parsed: list[list[str]] = []
    bad: list[int] = []
    for position, cell in enumerate(values.tolist()):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
            if not missing_ok:
                bad.append(position)
            parsed.append([])
            continue
        try:
            parsed.append(parse(str(cell).strip()))
        except ValueError:
            bad.append(position)
            parsed.append([])
    if bad:
        what = "cells that are not JSON lists of strings" if missing_ok else "empty or malformed cells"
        raise LabelFormatError(f"{len(bad)} {what}", source=source, column=str(values.name), rows=[r + 1 for r in bad])
    return parsed


def _encode(names: list[list[str]], classes: Sequence[str] | None, *, column: str, source: str | None):
    """Class indices per cell and the class list (sorted distinct names when `classes` is ``None``)."""
    flat = [name for cell in names for name in cell]
    if classes is None:
        classes = sorted(set(flat))
    index = {name: i for i, name in enumerate(classes)}
    unknown_rows = [row for row, cell in enumerate(names) if any(name not in index for name in cell)]
    if unknown_rows:
        unknown = sorted({n for row in unknown_rows[:20] for n in names[row] if n not in index})
        raise LabelFormatError(
            f"values {unknown} are not among the declared classes {list(classes)}",
            source=source,
            column=column,
            rows=[r + 1 for r in unknown_rows],
        )
    return [[index[name] for name in cell] for cell in names], list(classes)


def parse_multilabel_column(
    values: pd.Series,
    *,
    classes: Sequence[str] | None = None,
    fmt: str = "auto",
    separator: str = "|",
    source: str | None = None,
) -> tuple[list[list[int]], list[str]]:
    """Turn a multi-label column into lists of class indices.

    Parameters
    ----------
    values : pd.Series (N,)
        One cell per row in the format `fmt` (see the module docstring); missing means no class.
    classes : sequence of str, optional
        Declared class names, fixing the column order of the probabilities; default: sorted distinct names.
    fmt : {"auto", "delimited", "json"}, default="auto"
    separator : str, default="|"
        Separator of the delimited format.
    source : str, optional
        File name for error messages.

    Returns
    -------
    labels : list of list of int (N,)
        Sorted distinct class indices of each row (possibly empty).
    classes : list of str (K,)

    Raises
    ------
    LabelFormatError
        Malformed JSON cells or names outside `classes`, naming the 1-based rows.
    """
    if not separator:
        raise ValueError("separator must be a non-empty string")
    parse = _cell_parser(fmt, _split_delimited(separator))
    names = _parse_cells(values, parse, source=source, missing_ok=True)
    labels, classes = _encode(names, classes, column=str(values.name), source=source)
    return [sorted(set(row)) for row in labels], classes


def format_multilabel(labels: Sequence[Sequence[int]], classes: Sequence[str], *, separator: str = "|") -> list[str]:
    """Inverse of :func:`parse_multilabel_column` in the delimited format: ``[[0, 2]] -> ["a|c"]``."""
    return [separator.join(classes[k] for k in sorted(set(row))) for row in labels]


@dataclass(frozen=True)
class TokenData:
    """Parsed token data: ``tokens[i][j]`` has class index ``labels[i][j]``; ``classes`` names the indices."""

    tokens: list[list[str]]
    labels: list[list[int]]
    classes: list[str]


def parse_token_columns(
    tokens: pd.Series,
    labels: pd.Series,
    *,
    classes: Sequence[str] | None = None,
    fmt: str = "auto",
    source: str | None = None,
) -> TokenData:
    """Parse a tokens column and a per-token labels column (one sentence per row).

    Parameters
    ----------
    tokens, labels : pd.Series (N,)
        JSON lists of strings or whitespace-separated strings (see the module docstring).
    classes : sequence of str, optional
        Declared token classes (e.g. ``["O", "B-PER", ...]``); default: sorted distinct labels.
    fmt : {"auto", "delimited", "json"}, default="auto"
        ``"delimited"`` means whitespace-separated here.
    source : str, optional
        File name for error messages.

    Returns
    -------
    TokenData

    Raises
    ------
    LabelFormatError
        A cell is missing, empty or malformed, or a label is not among `classes` (1-based rows).
    InvalidTokenDataError
        A row's tokens and labels have different lengths (1-based rows).
    """
    if len(tokens) != len(labels):
        raise InvalidTokenDataError(f"tokens has {len(tokens)} rows but labels has {len(labels)}", source=source)
    parse = _cell_parser(fmt, _split_whitespace)
    token_lists = _parse_cells(tokens, parse, source=source, missing_ok=False)
    label_names = _parse_cells(labels, parse, source=source, missing_ok=False)
    empty = [row for row, cell in enumerate(token_lists) if not cell]
    if empty:
        raise LabelFormatError(
            "sentences with no tokens", source=source, column=str(tokens.name), rows=[r + 1 for r in empty]
        )
    mismatched = [row for row, (t, y) in enumerate(zip(token_lists, label_names, strict=True)) if len(t) != len(y)]
    if mismatched:
        first = mismatched[0]
        raise InvalidTokenDataError(
            f"{len(mismatched)} rows have a different number of tokens and labels (row {first + 1}: "
            f"{len(token_lists[first])} tokens, {len(label_names[first])} labels)",
            source=source,
            column=str(labels.name),
            rows=[r + 1 for r in mismatched],
        )
    encoded, classes = _encode(label_names, classes, column=str(labels.name), source=source)
    return TokenData(token_lists, encoded, classes)


# --- scoring inputs ------------------------------------------------------------------------------------------


def _rows(positions) -> list[int]:
    return [int(p) for p in list(positions)[:_SHOWN]]


def validate_multilabel_pred_probs(pred_probs: object) -> np.ndarray:
    """Return `pred_probs` as a float (N, K) array of independent per-class probabilities.

    Rows need not sum to 1. Values must be finite and within ``[-1e-6, 1 + 1e-6]`` (cleanlab's tolerance);
    float32 and float64 are kept as they are (no copy), other numeric dtypes become float64.

    Raises
    ------
    InvalidPredProbsError
        Not 2-D, no rows or columns, non-numeric, or values outside the range (naming 0-based rows).
    """
    probs = np.asarray(pred_probs)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 1:
        raise InvalidPredProbsError(
            f"pred_probs must have shape (N, K) with N, K >= 1, got {probs.shape}", column="pred_probs"
        )
    if probs.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(probs.dtype, np.floating) or np.issubdtype(probs.dtype, np.integer)):
            raise InvalidPredProbsError(f"pred_probs must be numeric, got dtype {probs.dtype}", column="pred_probs")
        probs = probs.astype(np.float64)
    inside = np.isfinite(probs) & (probs >= -VALUE_ATOL) & (probs <= 1 + VALUE_ATOL)
    if not inside.all():
        bad = np.flatnonzero(~inside.all(axis=1))
        raise InvalidPredProbsError(
            f"pred_probs values must be finite and within [0, 1] ({len(bad)} rows are not)",
            column="pred_probs",
            rows=_rows(bad),
        )
    return probs


def _class_indices(flat: list, row_of: np.ndarray, num_classes: int) -> np.ndarray:
    """`flat` class indices as int64, or :class:`InvalidLabelsError` naming the rows (`row_of`) that break them."""
    values = np.asarray(flat) if flat else np.empty(0, dtype=np.int64)
    if values.dtype == bool or values.dtype.kind not in "iuf" or values.ndim != 1:
        values = np.asarray(
            [v if isinstance(v, int | np.integer | float | np.floating) else np.nan for v in flat], dtype=np.float64
        )
    if values.dtype.kind == "f":
        integral = np.isfinite(values) & (np.mod(values, 1) == 0)
        if not integral.all():
            raise InvalidLabelsError(
                "labels must be integer class indices", column="labels", rows=_rows(np.unique(row_of[~integral]))
            )
    values = values.astype(np.int64)
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        raise InvalidLabelsError(
            f"labels must be in 0..{num_classes - 1} (pred_probs has {num_classes} columns)",
            column="labels",
            rows=_rows(np.unique(row_of[outside])),
        )
    return values


def _lengths(labels: object, what: str) -> np.ndarray:
    if isinstance(labels, str | bytes) or not hasattr(labels, "__len__"):
        raise InvalidLabelsError(f"labels must be a sequence of {what}", column="labels")
    try:
        return np.fromiter((len(row) for row in labels), dtype=np.int64, count=len(labels))
    except TypeError as exc:
        raise InvalidLabelsError(f"each element of labels must be a list of {what}", column="labels") from exc


def multilabel_indicator(labels: object, num_rows: int, num_classes: int) -> np.ndarray:
    """Binary indicator matrix from lists of class indices: ``Y[i, k] = 1`` iff ``k in labels[i]``.

    Parameters
    ----------
    labels : sequence of sequences of int (N,)
        ``labels[i]`` lists the classes of row ``i`` (any order, duplicates allowed, possibly empty).
    num_rows, num_classes : int
        N and K from ``pred_probs``.

    Returns
    -------
    np.ndarray (N, K) int64
        What cleanlab's ``int2onehot`` (``MultiLabelBinarizer(classes=range(K))``) returns.

    Raises
    ------
    InvalidLabelsError
        Not a sequence of sequences, wrong length, non-integer or out-of-range classes (0-based rows).
    """
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        raise InvalidLabelsError(
            "labels must be lists of class indices, not an indicator matrix; "
            "convert with [np.flatnonzero(row).tolist() for row in Y]",
            column="labels",
        )
    lengths = _lengths(labels, "lists of class indices (e.g. [[0, 2], [1], []])")
    if len(lengths) != num_rows:
        raise InvalidLabelsError(f"labels has {len(lengths)} rows but pred_probs has {num_rows}", column="labels")
    row_of = np.repeat(np.arange(num_rows), lengths)
    flat = _class_indices([k for row in labels for k in row], row_of, num_classes)
    indicator = np.zeros((num_rows, num_classes), dtype=np.int64)
    indicator[row_of, flat] = 1
    return indicator


def flatten_token_inputs(labels: object, pred_probs: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate per-sentence token labels and probabilities into flat arrays with sentence offsets.

    Why: scoring every token of every sentence as one (T, K) problem lets the multiclass core run once,
    vectorised, instead of once per sentence; ``offsets`` maps flat positions back to (sentence, token).

    Parameters
    ----------
    labels : sequence of sequences of int (S,)
        ``labels[i][j]``: given class of token ``j`` of sentence ``i``.
    pred_probs : sequence of np.ndarray (S,), each (T_i, K)
        Per-token class probabilities (rows summing to 1 is checked by the multiclass core).

    Returns
    -------
    flat_labels : np.ndarray (T,) int64
        T = total number of tokens.
    flat_probs : np.ndarray (T, K)
    offsets : np.ndarray (S + 1,) int64
        Tokens of sentence ``i`` are ``offsets[i]:offsets[i + 1]``.

    Raises
    ------
    InvalidTokenDataError
        Different numbers of sentences, a sentence with no tokens, or a sentence whose probabilities are not
        a (T_i, K) array with one row per label (0-based sentence numbers).
    InvalidLabelsError
        Non-integer or out-of-range token labels (0-based sentence numbers).
    """
    lengths = _lengths(labels, "per-token class lists")
    if len(lengths) != len(pred_probs):
        raise InvalidTokenDataError(f"labels has {len(lengths)} sentences but pred_probs has {len(pred_probs)}")
    if len(lengths) == 0:
        raise InvalidTokenDataError("no sentences to score")
    arrays = [np.asarray(p) for p in pred_probs]
    width = arrays[0].shape[-1] if arrays[0].ndim else 0
    bad = [
        i
        for i, (a, n) in enumerate(zip(arrays, lengths, strict=True))
        if a.ndim != 2 or a.shape[1] != width or len(a) != n
    ]
    if bad:
        raise InvalidTokenDataError(
            f"sentences whose pred_probs are not (T_i, {width}) arrays with one row per label",
            column="pred_probs",
            rows=_rows(bad),
        )
    if (lengths == 0).any():
        raise InvalidTokenDataError(
            "sentences with no tokens", column="labels", rows=_rows(np.flatnonzero(lengths == 0))
        )
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    row_of = np.repeat(np.arange(len(lengths)), lengths)
    flat_labels = _class_indices([k for row in labels for k in row], row_of, width)
    return flat_labels, np.concatenate(arrays), offsets
