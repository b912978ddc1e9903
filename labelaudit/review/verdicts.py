"""The review loop: what reviewers' verdicts say about the flags, and what they change in the labels.

Reviewers get the flagged rows and answer, per row, ``error`` (the label was wrong; ``corrected_label`` says
the right one), ``correct`` (the label was right: the flag was a false alarm) or ``unsure``. Their verdicts
are the only ground truth about the audit itself, so they serve three purposes here:

- :func:`precision_by_score_band` measures how often a flag was right, per band of label-quality score;
- :func:`cutoff_for_target_precision` finds the score cut-off that would have reached a target precision;
- :func:`apply_corrections` makes confirmed corrections the labels of those items in later audits.

:func:`validate_verdicts` checks an imported reviewer file completely before anything is stored: every
problem is collected and reported at once, naming rows (1 = first data row), so nothing is half-imported.

Precision here is ``errors / (errors + corrects)``: ``unsure`` verdicts are counted but do not decide.
Scores are label-quality scores: lower means more likely mislabelled, so a flag rule is ``score <= cut-off``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.errors import InputDataError

__all__ = [
    "VERDICTS",
    "Cutoff",
    "ReviewImportError",
    "apply_corrections",
    "cutoff_for_target_precision",
    "precision_by_score_band",
    "validate_verdicts",
]

VERDICTS = ("error", "correct", "unsure")
REQUIRED_COLUMNS = ("id", "verdict")
OPTIONAL_COLUMNS = ("given", "suggested", "score", "corrected_label")
DEFAULT_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
_Z95 = 1.959963984540054


class ReviewImportError(InputDataError):
    """A reviewer file cannot be imported; ``problems`` lists ``(what, rows)`` for every issue found."""

    def __init__(self, problems: Sequence[tuple[str, Sequence[int]]], *, source: str | None = None) -> None:
        self.problems = [(what, list(rows)) for what, rows in problems]
        detail = "; ".join(f"{what} (rows {_shorten(rows)})" if rows else what for what, rows in self.problems)
        rows = sorted({r for _, rs in self.problems for r in rs})
        super().__init__(f"review import refused, nothing stored: {detail}", source=source)
        self.rows = rows


def _shorten(rows: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _verdict_counts(verdicts: pd.Series, groups: pd.Series | np.ndarray) -> pd.DataFrame:
    counts = pd.crosstab(groups, verdicts).reindex(columns=list(VERDICTS), fill_value=0)
    return counts.rename(columns={v: f"n_{v}" for v in VERDICTS})


def _wilson(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson interval of a proportion; sensible at 0, 1 and small counts (NaN without trials)."""
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        centre = (p + _Z95**2 / (2 * n)) / (1 + _Z95**2 / n)
        half = _Z95 * np.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n**2)) / (1 + _Z95**2 / n)
    return centre - half, centre + half


def _as_arrays(verdicts: Sequence[str], scores: Sequence[float]) -> tuple[pd.Series, np.ndarray]:
    v = pd.Series(verdicts, dtype=object).astype(str).str.strip().str.lower().reset_index(drop=True)
    s = np.asarray(scores, dtype=float)
    if len(v) != len(s):
        raise ValueError(f"{len(v)} verdicts but {len(s)} scores")
    bad = sorted(set(v) - set(VERDICTS))
    if bad:
        raise ValueError(f"verdicts must be one of {VERDICTS}, got {bad}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    return v, s


def precision_by_score_band(
    verdicts: Sequence[str], scores: Sequence[float], *, edges: Sequence[float] = DEFAULT_EDGES
) -> pd.DataFrame:
    """Measured precision of the flags in each band of label-quality score.

    Parameters
    ----------
    verdicts : sequence of {"error", "correct", "unsure"} (n,)
        Reviewers' verdicts on flagged rows.
    scores : sequence of float (n,)
        The rows' label-quality scores when they were flagged.
    edges : increasing sequence of float, default=(0, 0.05, 0.1, 0.2, 0.3, 0.5, 1)
        Band boundaries; bands are ``[lower, upper)`` except the last, which includes ``upper``. Scores outside
        all bands are left out.

    Returns
    -------
    bands : pd.DataFrame (len(edges) - 1, 9)
        ``lower``, ``upper``, ``n_reviewed``, ``n_error``, ``n_correct``, ``n_unsure``, ``precision`` (NaN
        without a decided verdict) and its 95 % Wilson interval ``precision_low``, ``precision_high``.
    """
    v, s = _as_arrays(verdicts, scores)
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges must be at least two strictly increasing numbers")
    band = np.searchsorted(edges, s, side="right") - 1
    band[s == edges[-1]] = len(edges) - 2
    inside = (band >= 0) & (band < len(edges) - 1)
    counts = _verdict_counts(v[inside], pd.Series(band[inside], name="band")).reindex(
        range(len(edges) - 1), fill_value=0
    )
    decided = (counts["n_error"] + counts["n_correct"]).to_numpy()
    low, high = _wilson(counts["n_error"].to_numpy(), decided)
    table = pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "n_reviewed": counts.sum(axis=1).to_numpy()})
    table = pd.concat([table, counts.reset_index(drop=True)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["precision"] = counts["n_error"].to_numpy() / decided
    table["precision_low"], table["precision_high"] = low, high
    return table


@dataclass(frozen=True)
class Cutoff:
    """Result of :func:`cutoff_for_target_precision`; ``cutoff`` is None when the verdicts cannot tell."""

    cutoff: float | None
    precision: float | None
    n_flagged: int  # decided verdicts at or below the cut-off
    n_decided: int  # decided verdicts in total
    target: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def cutoff_for_target_precision(
    verdicts: Sequence[str],
    scores: Sequence[float],
    *,
    target: float = 0.9,
    min_verdicts: int = 20,
    min_flagged: int = 10,
) -> Cutoff:
    """The highest score cut-off at which the flags reviewed so far reach ``target`` precision.

    Rule: order the decided verdicts (``error``/``correct``) by score; for each distinct score t, the precision
    of "flag if score <= t" is the share of ``error`` among decided verdicts with score <= t (ties enter
    together). The cut-off is the largest t whose precision is >= ``target`` and which keeps at least
    ``min_flagged`` decided verdicts, i.e. the rule that would have caught the most confirmed errors at that
    precision. It never extends past the highest reviewed score: there is no evidence beyond it.

    Parameters
    ----------
    verdicts : sequence of {"error", "correct", "unsure"} (n,)
    scores : sequence of float (n,)
    target : float, default=0.9
        The precision to reach, in (0, 1].
    min_verdicts : int, default=20
        Fewer decided verdicts than this give no cut-off (``reason`` says so).
    min_flagged : int, default=10
        A cut-off must keep at least this many decided verdicts, so one lucky low score does not decide.

    Returns
    -------
    Cutoff
        ``cutoff`` None with a ``reason`` when there are too few verdicts or no cut-off reaches the target.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target}")
    v, s = _as_arrays(verdicts, scores)
    decided = (v != "unsure").to_numpy()
    s, is_error = s[decided], (v[decided] == "error").to_numpy()
    n = len(s)
    if n < max(min_verdicts, 1):
        return Cutoff(None, None, 0, n, target, f"only {n} decided verdicts, {min_verdicts} needed")
    order = np.argsort(s, kind="stable")
    s, is_error = s[order], is_error[order]
    last_of_tie = np.append(s[1:] != s[:-1], True)  # prefix ends only after the last row of each score
    flagged = np.arange(1, n + 1)[last_of_tie]
    precision = np.cumsum(is_error)[last_of_tie] / flagged
    ok = np.flatnonzero((precision >= target) & (flagged >= min_flagged))
    if not ok.size:
        best = float(np.max(precision[flagged >= min_flagged], initial=0.0))
        return Cutoff(None, None, 0, n, target, f"no cut-off reaches {target:.0%} (best {best:.0%})")
    i = ok[-1]
    cut = float(s[last_of_tie][i])
    return Cutoff(cut, float(precision[i]), int(flagged[i]), n, target, "ok")


def _normalise(frame: pd.DataFrame, known_ids: set[str]) -> pd.DataFrame:
    """Strip text cells and match ids to the known ones; empty strings become missing.

    An id is taken as written when it is known (ids may end in a space or a carriage return), else as the one
    known id it equals once both are stripped (a spreadsheet user's stray space), else stripped.
    """
    text = frame.astype("string")
    by_stripped: dict[str, list[str]] = {}
    for known in known_ids:
        by_stripped.setdefault(known.strip(), []).append(known)

    def match(value: object) -> object:
        if not isinstance(value, str) or value in known_ids:
            return value
        candidates = by_stripped.get(value.strip(), [])
        return candidates[0] if len(candidates) == 1 else value.strip()

    text = text.apply(lambda col: col.map(match).astype("string") if col.name == "id" else col.str.strip())
    return text.mask(text == "")


def validate_verdicts(
    df: pd.DataFrame,
    known_ids: Collection[object],
    known_labels: Collection[str],
    *,
    source: str | None = None,
) -> pd.DataFrame:
    """Check a reviewer file completely and return its reviewed rows in a clean form.

    Parameters
    ----------
    df : pd.DataFrame (n, 2+)
        As read from the reviewer CSV (read every column as text): ``id`` and ``verdict`` required; ``given``,
        ``suggested``, ``score``, ``corrected_label`` and any other columns optional.
    known_ids : collection
        Ids of the rows that were sent for review (compared as text).
    known_labels : collection of str
        The data set's classes.
    source : str, optional
        File name, for the error message.

    Returns
    -------
    verdicts : pd.DataFrame (m, 6)
        ``id``, ``given``, ``suggested``, ``score`` (float), ``verdict`` (lower case) and ``corrected_label``,
        one row per reviewed row; rows with an empty verdict (not reviewed yet) are left out. For ``error``
        an empty ``corrected_label`` takes the ``suggested`` label; for other verdicts it is cleared.

    Raises
    ------
    ReviewImportError
        Listing every problem: missing columns, empty or unknown ids, ids appearing twice, verdicts outside
        {error, correct, unsure}, unknown labels, non-numeric scores, errors without a corrected label or
        whose corrected label equals the given one.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ReviewImportError([(f"missing columns {missing}", [])], source=source)
    ids = {str(i) for i in known_ids}
    frame = _normalise(df.reset_index(drop=True), ids).reindex(columns=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
    frame["verdict"] = frame["verdict"].str.lower()
    frame["corrected_label"] = frame["corrected_label"].where(
        frame["verdict"] != "error", frame["corrected_label"].fillna(frame["suggested"])
    )
    score = pd.to_numeric(frame["score"], errors="coerce")
    labels = {str(label) for label in known_labels}
    problems = [
        (what, (np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False)) + 1).tolist())
        for what, mask in _checks(frame, score, ids, labels).items()
    ]
    problems = [(what, rows) for what, rows in problems if rows]
    if problems:
        raise ReviewImportError(problems, source=source)
    reviewed = frame["verdict"].notna()
    out = frame[reviewed].assign(score=score[reviewed].astype(float))
    out["corrected_label"] = out["corrected_label"].where(out["verdict"] == "error")
    return out.reset_index(drop=True)[["id", "given", "suggested", "score", "verdict", "corrected_label"]]


def _checks(frame: pd.DataFrame, score: pd.Series, ids: set[str], labels: set[str]) -> dict[str, pd.Series]:
    """Boolean row masks, one per kind of problem, keyed by the message that names it."""
    error = frame["verdict"] == "error"
    corrected = frame["corrected_label"]
    checks = {
        "empty id": frame["id"].isna(),
        "unknown ids (not among the rows sent for review)": frame["id"].notna() & ~frame["id"].isin(ids),
        "duplicate ids": frame["id"].notna() & frame["id"].duplicated(keep=False),
        f"verdict not one of {', '.join(VERDICTS)}": frame["verdict"].notna() & ~frame["verdict"].isin(VERDICTS),
        "unknown labels in corrected_label": corrected.notna() & ~corrected.isin(labels),
        "verdict error without a corrected_label": error & corrected.isna(),
        "corrected_label equals the given label (use verdict correct)": error & (corrected == frame["given"]),
        "score is not a number": frame["score"].notna() & score.isna(),
    }
    for column in ("given", "suggested"):
        checks[f"unknown labels in {column}"] = frame[column].notna() & ~frame[column].isin(labels)
    return checks


def apply_corrections(labels: pd.Series, verdicts: pd.DataFrame, *, order_by: str | None = None) -> pd.Series:
    """Labels with confirmed corrections applied: items judged ``error`` take their ``corrected_label``.

    Parameters
    ----------
    labels : pd.Series (n,)
        Current labels, indexed by item id (as text, like the verdicts' ``id``).
    verdicts : pd.DataFrame
        Validated verdicts (:func:`validate_verdicts`), possibly from several imports.
    order_by : str, optional
        Column giving the verdicts' age (e.g. an import timestamp); with it the latest verdict per item wins,
        so a later ``correct`` undoes an earlier correction. Without it, ids must be unique.

    Returns
    -------
    corrected : pd.Series (n,)
        A copy of ``labels``; ids not in ``labels`` are ignored (they belong to other batches).
    """
    if order_by is not None:
        verdicts = verdicts.sort_values(order_by, kind="stable").drop_duplicates("id", keep="last")
    elif verdicts["id"].duplicated().any():
        raise ValueError("verdicts repeat ids; pass order_by to keep the latest verdict per item")
    confirmed = verdicts[(verdicts["verdict"] == "error") & verdicts["corrected_label"].notna()]
    updates = confirmed.set_index("id")["corrected_label"]
    updates = updates[updates.index.isin(labels.index)]
    corrected = labels.copy()
    corrected.loc[updates.index] = updates.to_numpy()
    return corrected
