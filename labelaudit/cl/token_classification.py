"""Label issues in token classification (a class per token, e.g. named entities), as cleanlab 2.9 finds them.

Mirrors ``cleanlab.token_classification`` (``filter``, ``rank``, ``summary``): same function names, argument
names, order and defaults, and the same results (identical issues except among tokens tied exactly at a
cut-off, ``labelaudit.cl.filter.TIE_RULE``; scores equal to float rounding). :func:`display_issues` and
:func:`common_label_issues` print as cleanlab's do (to stdout, same lines), and also return their text or table;
the highlighted token is marked ``[like this]`` at its position instead of coloured red wherever the word occurs.

How: every token of every sentence is one row of a flat (T, K) problem (``labels[i][j]`` -> one flat label,
``pred_probs[i][j]`` -> one flat row), solved once by the multiclass core; ``offsets`` (S + 1,) map flat
positions back to (sentence, token) and per-sentence reductions use ``np.ufunc.reduceat`` over them instead
of a Python loop per sentence.

``labels`` : list of S lists of int (per-token classes); ``pred_probs`` : list of S arrays (T_i, K), rows
summing to 1. Inputs are checked once in :func:`labelaudit.inputs.label_formats.flatten_token_inputs`.
"""

# Over 400 lines (590) on purpose: one module, as cleanlab.token_classification with its filter, rank and
# summary submodules, so a cleanlab user finds each public function where they expect it
# (labelaudit.cl.PUBLIC_API lists them); the shared kernels are in cl/_engine.
from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from labelaudit.cl import filter as multiclass_filter
from labelaudit.cl import rank as multiclass_rank
from labelaudit.cl._engine.kernels import stable_rank
from labelaudit.cl._engine.validation import CleanlabAssertionError
from labelaudit.inputs.label_formats import flatten_token_inputs

__all__ = [
    "SENTENCE_SCORERS",
    "TokenAudit",
    "audit_tokens",
    "common_label_issues",
    "display_issues",
    "filter_by_token",
    "find_label_issues",
    "get_label_quality_scores",
    "highlight_token",
    "issues_from_scores",
    "sentence_text",
]

NO_KWARGS: Mapping = MappingProxyType({})
SOFTMAX_EPSILON = 1e-6


@dataclass(frozen=True)
class _Flat:
    """Validated inputs as flat arrays: ``labels`` (T,), ``pred_probs`` (T, K), ``offsets`` (S + 1,)."""

    labels: np.ndarray
    pred_probs: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_inputs(cls, labels, pred_probs) -> _Flat:
        return cls(*flatten_token_inputs(labels, pred_probs))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def pairs(self, flat_positions: np.ndarray) -> list[tuple[int, int]]:
        """(sentence, token) of each flat position, in the given order."""
        sentence = np.searchsorted(self.offsets, flat_positions, side="right") - 1
        token = flat_positions - self.offsets[sentence]
        return list(zip(sentence.tolist(), token.tolist(), strict=True))

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """`values` (T,) cut into one array per sentence."""
        return np.split(values, self.offsets[1:-1])


# --- filter --------------------------------------------------------------------------------------------------


def find_label_issues(
    labels: list[list[int]],
    pred_probs: list[np.ndarray],
    *,
    return_indices_ranked_by: str | None = "self_confidence",
    low_memory: bool = False,
    **kwargs,
) -> list[tuple[int, int]]:
    """Tokens whose given class is probably wrong, as (sentence, token) pairs.

    Parameters
    ----------
    labels : list of list of int (S,)
        ``labels[i][j]``: given class of token ``j`` in sentence ``i``.
    pred_probs : list of np.ndarray (S,), each (T_i, K)
        Out-of-sample class probabilities of each token.
    return_indices_ranked_by : {"self_confidence", "normalized_margin", "confidence_weighted_entropy", None}
        Order of the issues: by that token score, lowest first (ties by position); ``None`` gives reading
        order (cleanlab 2.9 mis-maps ``None``; we return the flagged tokens in order).
    low_memory : bool, default=False
        Accepted and ignored (cleanlab switches to its approximate batched method).
    **kwargs :
        Passed to :func:`labelaudit.cl.filter.find_label_issues` (``filter_by``, ``frac_noise``, ...).

    Returns
    -------
    issues : list of (int, int)
    """
    flat = _Flat.from_inputs(labels, pred_probs)
    found = multiclass_filter.find_label_issues(
        flat.labels, flat.pred_probs, return_indices_ranked_by=return_indices_ranked_by, **kwargs
    )
    return flat.pairs(found if return_indices_ranked_by is not None else np.flatnonzero(found))


# --- rank ----------------------------------------------------------------------------------------------------


def _sentence_min(scores: np.ndarray, flat: _Flat, **_) -> np.ndarray:
    return np.minimum.reduceat(scores, flat.offsets[:-1])


def _sentence_softmin(scores: np.ndarray, flat: _Flat, *, temperature: float = 0.05, **_) -> np.ndarray:
    """Per sentence ``sum_j s_j w_j``, ``w = softmax((1 - s) / temperature)`` over the sentence's tokens.

    Equal (to float rounding: segment sums instead of ``np.dot``) to cleanlab's loop::

        for s in per_sentence_scores:
            x = (1 - s) / max(temperature, 1e-6); x -= x.max(); w = np.exp(x) / np.exp(x).sum()
            score = np.dot(s, w)

    ``temperature=0`` is the min and ``temperature=inf`` the mean, as in cleanlab.
    """
    starts, lengths = flat.offsets[:-1], flat.lengths
    if temperature == 0:
        return _sentence_min(scores, flat)
    if temperature == np.inf:
        return (np.add.reduceat(scores, starts) / lengths).astype(scores.dtype)
    x = (1 - scores) / max(temperature, SOFTMAX_EPSILON)
    x = x - np.repeat(np.maximum.reduceat(x, starts), lengths)
    weights = np.exp(x)
    weights = weights / np.repeat(np.add.reduceat(weights, starts), lengths)
    return np.add.reduceat(scores * weights, starts)


SENTENCE_SCORERS = {"min": _sentence_min, "softmin": _sentence_softmin}
"""sentence_score_method -> function (token scores (T,), flat inputs, **kwargs) -> sentence scores (S,)."""


def _token_scores(flat: _Flat, method: str) -> np.ndarray:
    return multiclass_rank.get_label_quality_scores(flat.labels, flat.pred_probs, method=method)


def _sentence_scores(token_scores: np.ndarray, flat: _Flat, method: str, kwargs: Mapping) -> np.ndarray:
    if method not in SENTENCE_SCORERS:
        raise CleanlabAssertionError(
            f"Invalid sentence_score_method {method!r} (sentence_score_method). Select from the following methods: "
            f"{', '.join(SENTENCE_SCORERS)}"
        )
    return SENTENCE_SCORERS[method](token_scores, flat, **dict(kwargs))


def get_label_quality_scores(
    labels: list[list[int]],
    pred_probs: list[np.ndarray],
    *,
    tokens: list[list[str]] | None = None,
    token_score_method: str = "self_confidence",
    sentence_score_method: str = "min",
    sentence_score_kwargs: Mapping = NO_KWARGS,
) -> tuple[np.ndarray, list[pd.Series]]:
    """A label-quality score per sentence and per token; lower means more likely mislabelled.

    Parameters
    ----------
    labels, pred_probs :
        As in :func:`find_label_issues`.
    tokens : list of list of str (S,), optional
        Used as the index of each sentence's Series.
    token_score_method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        Token score (:func:`labelaudit.cl.rank.get_label_quality_scores` on the flat tokens).
    sentence_score_method : {"min", "softmin"}, default="min"
        How token scores become the sentence score.
    sentence_score_kwargs : mapping, optional
        ``{"temperature": 0.05}`` for softmin.

    Returns
    -------
    sentence_scores : np.ndarray (S,)
    token_info : list of pd.Series (S,)
        Token scores of each sentence, indexed by its tokens when given.
    """
    flat = _Flat.from_inputs(labels, pred_probs)
    token_scores = _token_scores(flat, token_score_method)
    sentence_scores = _sentence_scores(token_scores, flat, sentence_score_method, sentence_score_kwargs)
    per_sentence = flat.split(token_scores)
    if tokens:
        return sentence_scores, [pd.Series(s, index=t) for s, t in zip(per_sentence, tokens, strict=True)]
    return sentence_scores, [pd.Series(s) for s in per_sentence]


def issues_from_scores(
    sentence_scores: np.ndarray, *, token_scores: list | None = None, threshold: float = 0.1
) -> list[tuple[int, int]] | np.ndarray:
    """Issues below `threshold`: (sentence, token) pairs from `token_scores`, else sentence numbers.

    Parameters
    ----------
    sentence_scores : np.ndarray (S,)
        One score per sentence, as :func:`get_label_quality_scores` returns them.
    token_scores : list of array_like (S,), each (T_i,), optional
        Each sentence's token scores; given, the issues are tokens.
    threshold : float, default=0.1
        Scores strictly below it are issues.

    Returns
    -------
    list of (int, int)
        With `token_scores`: tokens scoring below `threshold`, lowest first (ties in reading order).
    np.ndarray (M,) int
        Otherwise: sentences scoring below `threshold`, lowest first (ties by sentence number).
    """
    if token_scores:
        lengths = np.array([len(s) for s in token_scores])
        flat_scores = np.concatenate([np.asarray(s) for s in token_scores])
        below = np.flatnonzero(flat_scores < threshold)
        below = below[stable_rank(flat_scores[below])]
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        sentence = np.searchsorted(offsets, below, side="right") - 1
        return list(zip(sentence.tolist(), (below - offsets[sentence]).tolist(), strict=True))
    scores = np.asarray(sentence_scores)
    ranking = stable_rank(scores)
    return ranking[: int(np.count_nonzero(scores < threshold))]


# --- summary -------------------------------------------------------------------------------------------------


def _issue_arrays(issues, tokens, labels, pred_probs):
    """Per issue: token text, and (given, predicted) class indices when labels and pred_probs are given."""
    words = [tokens[i][j] for i, j in issues]
    if labels is None or pred_probs is None:
        return words, None, None
    given = np.array([labels[i][j] for i, j in issues], dtype=np.int64)
    predicted = np.array([int(np.argmax(pred_probs[i][j])) for i, j in issues], dtype=np.int64)
    return words, given, predicted


CLASS_INDEX_NOTE = (
    "Classes will be printed in terms of their integer index since `class_names` was not provided.\n"
    "Specify this argument to see the string names of each class.\n"
)


def _print_common_issues(counts: pd.DataFrame, *, class_names, top: int, verbose: bool) -> None:
    """cleanlab's printout of :func:`common_label_issues`: the `top` tokens, then (verbose) their confusions."""
    totals = counts.groupby("token", sort=False)["num_label_issues"].sum()
    totals = totals.sort_values(ascending=False, kind="stable").head(top)
    if "given_label" not in counts:
        for token, total in totals.items():
            print(f"Token '{token}' is potentially mislabeled {total} times throughout the dataset\n")
        return
    if not class_names:
        print("Classes will be printed in terms of their integer index since `class_names` was not provided. ")
        print("Specify this argument to see the string names of each class. \n")
    quote = "`" if class_names else ""
    for token, total in totals.items():
        print(f"Token '{token}' is potentially mislabeled {total} times throughout the dataset")
        if verbose:
            print("-" * 87)
            for row in counts[counts["token"] == token].itertuples(index=False):
                print(
                    f"labeled as class {quote}{row.given_label}{quote} but predicted to actually be class "
                    f"{quote}{row.predicted_label}{quote} {row.num_label_issues} times"
                )
        print()


# Over 60 lines: the signature and numpydoc (43 lines, every option documented) are most of it; the body is 26.
def common_label_issues(
    issues: list[tuple[int, int]],
    tokens: list[list[str]],
    *,
    labels: list[list[int]] | None = None,
    pred_probs: list[np.ndarray] | None = None,
    class_names: list[str] | None = None,
    top: int = 10,
    exclude: Sequence[tuple[int, int]] = (),
    verbose: bool = True,
) -> pd.DataFrame:
    """The most common token-level confusions among `issues`, printed as cleanlab prints them, and returned.

    Printed: the `top` most often flagged tokens with their counts, and (with `labels`, `pred_probs` and
    `verbose`) each token's (given, predicted) confusions, most frequent first.

    Parameters
    ----------
    issues : list of (int, int) (M,)
        (sentence, token) pairs, as :func:`find_label_issues` returns them.
    tokens : list of list of str (S,)
        The sentences' tokens.
    labels : list of list of int (S,), optional
        ``labels[i][j]``: given class of token ``j`` in sentence ``i``.
    pred_probs : list of np.ndarray (S,), each (T_i, K), optional
        Out-of-sample class probabilities of each token.
    class_names : list of str (K,), optional
        Names printed instead of class indices.
    top : int, default=10
        Tokens printed.
    exclude : sequence of (int, int), optional
        (given, predicted) class pairs left out.
    verbose : bool, default=True
        Print the table.

    Returns
    -------
    pd.DataFrame
        With `labels` and `pred_probs`: ``token``, ``given_label``, ``predicted_label``, ``num_label_issues``,
        one row per (token text, given, predicted argmax) with a count > 0, pairs in `exclude` left out;
        otherwise ``token``, ``num_label_issues``. Most frequent first; equal counts in cleanlab's order
        (token first seen first, then given, then predicted class). Not limited by `top`, as cleanlab's.
    """
    words, given, predicted = _issue_arrays(issues, tokens, labels, pred_probs)
    order = pd.factorize(pd.Series(words, dtype=object))[0] if words else np.empty(0, dtype=np.int64)
    if given is None:
        frame = pd.DataFrame({"order": order, "token": words})
        counts = frame.groupby(["order", "token"], sort=True).size().reset_index(name="num_label_issues")
        columns = ["token", "num_label_issues"]
    else:
        excluded = {tuple(pair) for pair in exclude}
        keep = np.array(
            [(g, p) not in excluded for g, p in zip(given.tolist(), predicted.tolist(), strict=True)], dtype=bool
        )
        frame = pd.DataFrame({"order": order, "token": words, "given_label": given, "predicted_label": predicted})
        counts = (
            frame[keep]
            .groupby(["order", "token", "given_label", "predicted_label"], sort=True)
            .size()
            .reset_index(name="num_label_issues")
        )
        if class_names:
            names = np.asarray(class_names, dtype=object)
            counts["given_label"] = names[counts["given_label"].to_numpy()]
            counts["predicted_label"] = names[counts["predicted_label"].to_numpy()]
        columns = ["token", "given_label", "predicted_label", "num_label_issues"]
    counts = counts.sort_values("num_label_issues", ascending=False, kind="stable")[columns].reset_index(drop=True)
    _print_common_issues(counts, class_names=class_names, top=top, verbose=verbose)
    return counts


def filter_by_token(token: str, issues: list[tuple[int, int]], tokens: list[list[str]]) -> list[tuple[int, int]]:
    """The issues whose token equals `token`, ignoring case (cleanlab's)."""
    wanted = token.lower()
    return [(i, j) for i, j in issues if tokens[i][j].lower() == wanted]


def highlight_token(sentence_tokens: Sequence[str], position: int, *, before: str = "[", after: str = "]") -> str:
    """The sentence as text with token `position` wrapped in `before`/`after`.

    Marks the token by position, not by text (cleanlab's regex replace marks every occurrence of the word).
    """
    return " ".join(f"{before}{t}{after}" if j == position else t for j, t in enumerate(sentence_tokens))


def sentence_text(sentence_tokens: Sequence[str], position: int | None = None) -> str:
    """The sentence as cleanlab's ``get_sentence`` writes it (no space before punctuation), token `position`
    marked ``[like this]``."""
    text = ""
    for j, token in enumerate(sentence_tokens):
        shown = f"[{token}]" if j == position else token
        text += f" {shown}" if token not in string.punctuation or token in ("-", "(") else shown
    return text.replace(" '", "'").replace("( ", "(").strip()


def _issue_block(issue, tokens, labels, pred_probs, name) -> list[str] | None:
    """cleanlab's lines for one issue, or ``None`` when it is excluded."""
    if not isinstance(issue, tuple):
        return [f"Sentence issue: {sentence_text(tokens[issue])}"]
    i, j = issue
    given = labels[i][j] if labels else None
    predicted = int(np.argmax(pred_probs[i][j])) if pred_probs else None
    if given is not None and predicted is not None and (given, predicted) in name.excluded:
        return None
    lines = [f"Sentence index: {i}, Token index: {j}", f"Token: {tokens[i][j]}"]
    if given is not None and predicted is not None:
        lines.append(f"Given label: {name(given)}, predicted label according to provided pred_probs: {name(predicted)}")
    elif given is not None:
        lines.append(f"Given label: {name(given)}")
    elif predicted is not None:
        lines.append(f"Predicted label according to provided pred_probs: {name(predicted)}")
    return [*lines, "----", sentence_text(tokens[i], j)]


class _Names:
    """Class index -> shown name (the index itself without `class_names`), and the excluded pairs."""

    def __init__(self, class_names, exclude) -> None:
        self.class_names = class_names
        self.excluded = {tuple(pair) for pair in exclude}

    def __call__(self, k: int):
        return self.class_names[k] if self.class_names else k


def display_issues(
    issues: list,
    tokens: list[list[str]],
    *,
    labels: list[list[int]] | None = None,
    pred_probs: list[np.ndarray] | None = None,
    exclude: Sequence[tuple[int, int]] = (),
    class_names: list[str] | None = None,
    top: int = 20,
) -> str:
    """Print the first `top` issues with their sentence, as cleanlab does, and return the printed text.

    `issues` are (sentence, token) pairs or sentence numbers; pairs whose (given, predicted) is in `exclude`
    are skipped when both `labels` and `pred_probs` are given. The token is marked ``[like this]``.

    Parameters
    ----------
    issues : list (M,) of (int, int) or of int
        (sentence, token) pairs, or sentence numbers.
    tokens : list of list of str (S,)
        The sentences' tokens.
    labels : list of list of int (S,), optional
        ``labels[i][j]``: given class of token ``j`` in sentence ``i``.
    pred_probs : list of np.ndarray (S,), each (T_i, K), optional
        Out-of-sample class probabilities of each token.
    exclude : sequence of (int, int), optional
        (given, predicted) class pairs skipped.
    class_names : list of str (K,), optional
        Names printed instead of class indices.
    top : int, default=20
        Issues printed.

    Returns
    -------
    text : str
        What was printed.
    """
    blocks = []
    name = _Names(class_names, exclude)
    for issue in issues:
        if len(blocks) == top:
            break
        block = _issue_block(issue, tokens, labels, pred_probs, name)
        if block is not None:
            blocks.append("\n".join(block))
    note = CLASS_INDEX_NOTE + "\n" if not class_names and (labels or pred_probs) else ""
    text = note + "\n\n\n".join(blocks)
    if blocks and len(blocks) < min(top, len(issues)):
        text += "\n\n"  # cleanlab ends with a blank line when fewer than `top` issues were shown
    if text:
        print(text)
    return text


# --- one call for the audit flow -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenAudit:
    """Everything the audit flow stores for a token-labelled batch, from one validated pass.

    Attributes
    ----------
    issues : list of (int, int), flagged (sentence, token) pairs, worst first (equals :func:`find_label_issues`)
    offsets : np.ndarray (S + 1,), tokens of sentence ``i`` are flat positions ``offsets[i]:offsets[i + 1]``
    token_issue_mask : np.ndarray (T,) bool, flat positions flagged
    token_scores : np.ndarray (T,), self-confidence of each token's given class
    predicted : np.ndarray (T,) int, argmax class of each token
    sentence_scores : np.ndarray (S,), sentence score (``sentence_score_method``)
    sentence_has_issue : np.ndarray (S,) bool
    issue_tokens : pd.DataFrame, one row per issue: ``sentence``, ``token``, ``text`` (if tokens),
        ``given``, ``predicted`` (class names), ``score``, ``sentence_text`` (token highlighted, if tokens); worst first
    per_class : pd.DataFrame, one row per class (given): ``class_name``, ``tokens``, ``issues``, ``issue_rate``,
        ``sentences_with_issue`` (sentences with an issue on a token given that class); most issues first
    confusions : pd.DataFrame, ``given``, ``predicted``, ``num_label_issues`` over all issues, most frequent first
    """

    issues: list[tuple[int, int]]
    offsets: np.ndarray
    token_issue_mask: np.ndarray
    token_scores: np.ndarray
    predicted: np.ndarray
    sentence_scores: np.ndarray
    sentence_has_issue: np.ndarray
    issue_tokens: pd.DataFrame
    per_class: pd.DataFrame
    confusions: pd.DataFrame


def _per_class_frame(flat: _Flat, mask: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    num_classes = len(names)
    total = np.bincount(flat.labels, minlength=num_classes)
    flagged = np.bincount(flat.labels[mask], minlength=num_classes)
    sentence_of = np.repeat(np.arange(len(flat.lengths)), flat.lengths)
    pairs = np.unique(np.column_stack((flat.labels[mask], sentence_of[mask])), axis=0)
    sentences = np.bincount(pairs[:, 0], minlength=num_classes) if len(pairs) else np.zeros(num_classes, int)
    frame = pd.DataFrame(
        {
            "class_index": np.arange(num_classes),
            "class_name": names,
            "tokens": total,
            "issues": flagged,
            "issue_rate": flagged / np.maximum(total, 1),
            "sentences_with_issue": sentences,
        }
    )
    return frame.sort_values("issues", ascending=False, kind="stable").reset_index(drop=True)


# Over 60 lines: the signature and numpydoc (29 lines, every option documented) are most of it; the body is 46.
def audit_tokens(
    labels: list[list[int]],
    pred_probs: list[np.ndarray],
    *,
    tokens: list[list[str]] | None = None,
    class_names: list[str] | None = None,
    sentence_score_method: str = "min",
    sentence_score_kwargs: Mapping = NO_KWARGS,
    **filter_kwargs,
) -> TokenAudit:
    """Find and describe token label issues in one validated pass (what the flow should call).

    Parameters
    ----------
    labels, pred_probs :
        As in :func:`find_label_issues`.
    tokens : list of list of str (S,), optional
        Token texts, for the issue table.
    class_names : list of str (K,), optional
        Default ``["0", "1", ...]``.
    sentence_score_method, sentence_score_kwargs :
        As in :func:`get_label_quality_scores`.
    **filter_kwargs :
        Passed to :func:`labelaudit.cl.filter.find_label_issues` (``filter_by``, ``frac_noise``, ...).

    Returns
    -------
    TokenAudit
    """
    flat = _Flat.from_inputs(labels, pred_probs)
    names = np.asarray(
        [str(k) for k in range(flat.pred_probs.shape[1])] if class_names is None else class_names, dtype=object
    )
    if len(names) != flat.pred_probs.shape[1]:
        raise ValueError(f"class_names has {len(names)} names but pred_probs has {flat.pred_probs.shape[1]} columns")
    ranked = multiclass_filter.find_label_issues(
        flat.labels, flat.pred_probs, return_indices_ranked_by="self_confidence", **filter_kwargs
    )
    mask = np.zeros(len(flat.labels), dtype=bool)
    mask[ranked] = True
    scores = _token_scores(flat, "self_confidence")
    predicted = flat.pred_probs.argmax(axis=1)
    issues = flat.pairs(ranked)
    sentence_has_issue = np.logical_or.reduceat(mask, flat.offsets[:-1])
    table = pd.DataFrame(
        {
            "sentence": [i for i, _ in issues],
            "token": [j for _, j in issues],
            "given": names[flat.labels[ranked]],
            "predicted": names[predicted[ranked]],
            "score": scores[ranked],
        }
    )
    if tokens is not None:
        table.insert(2, "text", [tokens[i][j] for i, j in issues])
        table["sentence_text"] = [highlight_token(tokens[i], j) for i, j in issues]
    confusions = (
        table.groupby(["given", "predicted"], sort=False)
        .size()
        .reset_index(name="num_label_issues")
        .sort_values("num_label_issues", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return TokenAudit(
        issues=issues,
        offsets=flat.offsets,
        token_issue_mask=mask,
        token_scores=scores,
        predicted=predicted,
        sentence_scores=_sentence_scores(scores, flat, sentence_score_method, sentence_score_kwargs),
        sentence_has_issue=sentence_has_issue,
        issue_tokens=table,
        per_class=_per_class_frame(flat, mask, names),
        confusions=confusions,
    )
