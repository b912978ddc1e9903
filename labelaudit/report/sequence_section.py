"""The report's "Tags and tokens" section for multi-label and token runs, loaded in the report's connection.

- multi-label runs: per tag, how many rows have it and how often it looks missing or extra; then each flagged
  row (most suspicious first) with its given and suggested tags and which tag is missing or extra;
- token runs: per entity type, how many tokens and how many look mislabeled, the most frequent
  given → suggested confusions; then each flagged sentence with its suspicious tokens highlighted.

Both show the per-tag / per-entity-type issue rates as the report's class bar chart. Values from the data
(tags, tokens, ids) are kept as they are: the template escapes them (a highlighted token is ``<mark>`` around
the escaped text, never markup from the data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import duckdb

from labelaudit.kinds import KINDS, kind_for

if TYPE_CHECKING:  # charts imports the report model, which imports this module: charts is loaded lazily
    from labelaudit.report.charts import Chart

#: Flagged rows (multi-label) or sentences (token) shown in the section, most suspicious first.
MAX_SHOWN = 200
#: Token confusions listed.
TOP_CONFUSIONS = 10


@dataclass(frozen=True)
class TagIssue:
    tag: str
    kind: str  # missing | extra
    probability: float  # out-of-fold probability that the tag applies
    score: float


@dataclass(frozen=True)
class FlaggedTags:
    rank: int
    row_id: str
    given: str
    suggested: str
    score: float
    issues: list[TagIssue]


@dataclass(frozen=True)
class TagSummary:
    tag: str
    given: int
    missing: int
    extra: int
    rate: float  # flagged annotations of the tag per row of the batch


@dataclass(frozen=True)
class Piece:
    """One token of a sentence as shown; ``flagged`` tokens are highlighted with their correction as title."""

    text: str
    flagged: bool = False
    note: str | None = None


@dataclass(frozen=True)
class TokenIssue:
    position: int
    token: str
    given: str
    suggested: str
    score: float
    suggested_prob: float


@dataclass(frozen=True)
class FlaggedSentence:
    rank: int
    row_id: str
    score: float
    pieces: list[Piece]
    issues: list[TokenIssue]


@dataclass(frozen=True)
class TypeSummary:
    entity_type: str
    tokens: int
    flagged: int
    rate: float


@dataclass(frozen=True)
class Confusion:
    given: str
    suggested: str
    count: int


@dataclass(frozen=True)
class SequenceSection:
    label_type: str  # multilabel | token
    flagged_units: int  # rows (multi-label) or sentences (token) with an issue
    details: int  # flagged tag annotations or tokens
    tags: list[TagSummary] = field(default_factory=list)
    rows: list[FlaggedTags] = field(default_factory=list)
    types: list[TypeSummary] = field(default_factory=list)
    confusions: list[Confusion] = field(default_factory=list)
    sentences: list[FlaggedSentence] = field(default_factory=list)
    chart: Chart | None = None

    @property
    def unit(self) -> str:
        """What a flag refers to, as the run's label kind says (rows, sentences)."""
        return kind_for(self.label_type).unit

    @property
    def capped(self) -> bool:
        return len(self.rows) + len(self.sentences) < self.flagged_units


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def split_tokens(cell: Any) -> list[str]:
    """A stored tokens cell as its tokens: a JSON list of strings, else whitespace-separated text."""
    if isinstance(cell, list):
        return [str(t) for t in cell]
    if not isinstance(cell, str):
        return []
    text = cell.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list):
            return [str(t) for t in value]
    return text.split()


def _chart(con: duckdb.DuckDBPyConnection, run_id: str, label_type: str) -> Chart | None:
    from labelaudit.report.charts import class_error_bars
    from labelaudit.report.views import ClassView, GateView

    classes = [
        ClassView(**r)
        for r in _rows(
            con,
            """SELECT cm.label, cm.given_count, cm.flagged, cm.estimated_error_rate, cm.flagged_rate, cm.oof_accuracy
               FROM class_metrics cm LEFT JOIN classes c ON c.run_id = cm.run_id AND c.label = cm.label
               WHERE cm.run_id = ? ORDER BY c.class_idx NULLS LAST, cm.label""",
            [run_id],
        )
    ]
    gate = [GateView(**r) for r in _rows(con, "SELECT * EXCLUDE (run_id) FROM gate_results WHERE run_id = ?", [run_id])]
    chart = class_error_bars(classes, gate)
    if chart is None:
        return None
    kind = kind_for(label_type)
    return replace(chart, title=kind.chart_title, desc=kind.chart_desc)


def _multilabel(con: duckdb.DuckDBPyConnection, run_id: str, limit: int) -> dict[str, Any]:
    counts = {
        (r["item"], r["kind"]): int(r["n"])
        for r in _rows(
            con, "SELECT item, kind, count(*) AS n FROM label_issue_details WHERE run_id = ? GROUP BY ALL", [run_id]
        )
    }
    tags = [
        TagSummary(
            r["label"],
            int(r["given_count"]),
            counts.get((r["label"], "missing"), 0),
            counts.get((r["label"], "extra"), 0),
            float(r["estimated_error_rate"]),
        )
        for r in _rows(
            con,
            """SELECT c.label, c.given_count, m.estimated_error_rate
               FROM classes c JOIN class_metrics m ON m.run_id = c.run_id AND m.label = c.label
               WHERE c.run_id = ? ORDER BY c.class_idx""",
            [run_id],
        )
    ]
    flagged = _rows(
        con,
        """SELECT issue_rank, row_idx, row_id, given_label, suggested_label, label_quality FROM scores
           WHERE run_id = ? AND is_issue ORDER BY issue_rank LIMIT ?""",
        [run_id, limit],
    )
    by_row: dict[int, list[TagIssue]] = {}
    for r in _rows(
        con,
        """SELECT d.row_idx, d.item, d.kind, d.suggested_prob, d.score FROM label_issue_details d
           JOIN scores s ON s.run_id = d.run_id AND s.row_idx = d.row_idx
           WHERE d.run_id = ? AND s.is_issue AND s.issue_rank <= ? ORDER BY d.row_idx, d.detail_rank""",
        [run_id, limit],
    ):
        probability = r["suggested_prob"] if r["kind"] == "missing" else 1 - r["suggested_prob"]
        by_row.setdefault(int(r["row_idx"]), []).append(TagIssue(r["item"], r["kind"], probability, r["score"]))
    rows = [
        FlaggedTags(
            int(r["issue_rank"]),
            r["row_id"],
            r["given_label"],
            r["suggested_label"],
            r["label_quality"],
            by_row.get(int(r["row_idx"]), []),
        )
        for r in flagged
    ]
    return {"tags": tags, "rows": rows}


def _tokens(con: duckdb.DuckDBPyConnection, run_id: str, limit: int) -> dict[str, Any]:
    types = [
        TypeSummary(r["label"], int(r["given_count"]), int(r["flagged"]), float(r["estimated_error_rate"]))
        for r in _rows(
            con,
            "SELECT label, given_count, flagged, estimated_error_rate FROM class_metrics WHERE run_id = ? "
            "ORDER BY flagged DESC, label",
            [run_id],
        )
    ]
    confusions = [
        Confusion(r["given"], r["suggested"], int(r["n"]))
        for r in _rows(
            con,
            """SELECT given, suggested, count(*) AS n FROM label_issue_details WHERE run_id = ?
               GROUP BY ALL ORDER BY n DESC, given, suggested LIMIT ?""",
            [run_id, TOP_CONFUSIONS],
        )
    ]
    column = con.execute(
        "SELECT column_name FROM ingested_columns WHERE run_id = ? AND role = 'tokens' LIMIT 1", [run_id]
    ).fetchone()
    flagged = _rows(
        con,
        """SELECT s.issue_rank, s.row_idx, s.row_id, s.label_quality, r.record FROM scores s
           LEFT JOIN ingested_rows r ON r.run_id = s.run_id AND r.row_idx = s.row_idx
           WHERE s.run_id = ? AND s.is_issue ORDER BY s.issue_rank LIMIT ?""",
        [run_id, limit],
    )
    by_row: dict[int, list[TokenIssue]] = {}
    for r in _rows(
        con,
        """SELECT d.row_idx, d.position, d.item, d.given, d.suggested, d.score, d.suggested_prob
           FROM label_issue_details d JOIN scores s ON s.run_id = d.run_id AND s.row_idx = d.row_idx
           WHERE d.run_id = ? AND s.is_issue AND s.issue_rank <= ? ORDER BY d.row_idx, d.position""",
        [run_id, limit],
    ):
        by_row.setdefault(int(r["row_idx"]), []).append(
            TokenIssue(int(r["position"]), r["item"], r["given"], r["suggested"], r["score"], r["suggested_prob"])
        )
    sentences = []
    for r in flagged:
        issues = by_row.get(int(r["row_idx"]), [])
        record = json.loads(r["record"]) if r["record"] else {}
        tokens = split_tokens(record.get(column[0]) if column and isinstance(record, dict) else None)
        if not tokens:  # no stored record: show the flagged tokens alone
            tokens = [i.token for i in issues]
            marks = {j: i for j, i in enumerate(issues)}
        else:
            marks = {i.position: i for i in issues}
        pieces = [
            Piece(text, True, f"{marks[j].given} → {marks[j].suggested}") if j in marks else Piece(text)
            for j, text in enumerate(tokens)
        ]
        sentences.append(FlaggedSentence(int(r["issue_rank"]), r["row_id"], r["label_quality"], pieces, issues))
    return {"types": types, "confusions": confusions, "sentences": sentences}


def load_sequence_section(
    con: duckdb.DuckDBPyConnection, run_id: str, params: dict[str, Any] | None = None, *, limit: int = MAX_SHOWN
) -> SequenceSection | None:
    """The section's view model for a multi-label or token run; None for multiclass runs (no section)."""
    kind = KINDS.get((params or {}).get("label_type") or "")
    if kind is None or kind.section is None:
        return None
    scored = con.execute("SELECT count(*) FROM run_metrics WHERE run_id = ?", [run_id]).fetchone()[0]
    if not scored:  # failed before scoring: the report says where
        return None
    flagged_units, details = con.execute(
        """SELECT (SELECT count(*) FROM scores WHERE run_id = $1 AND is_issue),
                  (SELECT count(*) FROM label_issue_details WHERE run_id = $1)""",
        [run_id],
    ).fetchone()
    return SequenceSection(
        label_type=kind.label_type,
        flagged_units=int(flagged_units),
        details=int(details),
        chart=_chart(con, run_id, kind.label_type),
        **_PARTS[kind.section](con, run_id, limit),
    )


#: The section's parts, by the kind's ``section`` (:attr:`labelaudit.kinds.base.LabelKind.section`).
_PARTS = {"tags": _multilabel, "tokens": _tokens}
