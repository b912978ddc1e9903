"""The checks of a probabilities file scored out of core, without pandas: the Parquet footer, then DuckDB
queries over ``read_parquet`` (counts and a few example rows).

Each check becomes an :class:`~labelaudit.inputs.gx_suite.ExpectationOutcome` with a code like the GX suite's,
stored in ``validation_results`` by :func:`labelaudit.pipeline.validate.validate_probability_table` (GX cannot
validate inside DuckDB with duckdb 2.0; see docs/scoring.md).
"""

from __future__ import annotations

from typing import Any

from labelaudit.inputs.gx_suite import ExpectationOutcome
from labelaudit.pipeline.probability_table import ProbabilityTable

__all__ = ["label_checks", "structure_checks", "value_checks"]

#: Shown rows / values in a failed check's examples.
EXAMPLES = 5


def _q(name: str) -> str:
    """A column name quoted for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def structure_checks(table: ProbabilityTable) -> list[ExpectationOutcome]:
    """What the Parquet footer alone tells: row count, columns present, probability columns numeric."""
    names = set(table.schema.names)
    outcomes = [
        ExpectationOutcome(
            "ROWS",
            "expect_table_row_count_to_be_between",
            None,
            table.rows >= 1,
            observed_value=table.rows,
            kwargs={"min_value": 1},
            message=None if table.rows >= 1 else "the file has no rows",
        )
    ]
    wanted = [c for c in (table.id_column, table.label_column) if c] + list(table.classes)
    for column in wanted:
        found = column in names
        outcomes.append(
            ExpectationOutcome(
                f"COL-{column}",
                "expect_column_to_exist",
                column,
                found,
                kwargs={"column": column},
                message=None
                if found
                else f"no column {column!r} in the file (columns: {', '.join(table.schema.names[:30])})",
            )
        )
    numeric = ("float", "double", "halffloat", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
    for column in table.classes:
        if column not in names:
            continue
        dtype = str(table.schema.field(column).type)
        ok = dtype in numeric
        outcomes.append(
            ExpectationOutcome(
                f"TYPE-{column}",
                "expect_column_values_to_be_in_type_list",
                column,
                ok,
                observed_value=dtype,
                kwargs={"column": column, "type_list": ["float", "double"]},
                message=None if ok else f"probability column has type {dtype}, not a number",
            )
        )
    if len(table.classes) < 2:
        outcomes.append(
            ExpectationOutcome(
                "CLASSES",
                "expect_at_least_two_classes",
                None,
                False,
                message=f"need at least 2 classes (probability columns), got {table.classes}",
            )
        )
    return outcomes


def _counted(code: str, kind: str, column: str, unexpected: int, total: int, **details: Any) -> ExpectationOutcome:
    """A check that counts unexpected values: it passes at zero; the percentage is of the ``total`` rows looked at."""
    return ExpectationOutcome(
        code,
        kind,
        column,
        unexpected == 0,
        element_count=total,
        unexpected_count=unexpected,
        unexpected_percent=100 * unexpected / total if total else 0.0,
        **details,
    )


def _rows_where(con, table: ProbabilityTable, condition: str, params: list[Any]) -> tuple[list[int], list[Any]]:
    """1-based row numbers and ids (or values) of the first few rows matching ``condition``."""
    id_expr = f"CAST({_q(table.id_column)} AS VARCHAR)" if table.id_column else "NULL"
    found = con.execute(
        f"SELECT file_row_number + 1, {id_expr} FROM read_parquet(?, file_row_number = true) "
        f"WHERE {condition} ORDER BY file_row_number LIMIT {EXAMPLES}",
        [table.path, *params],
    ).fetchall()
    return [int(r[0]) for r in found], [r[1] for r in found]


def label_checks(con, table: ProbabilityTable) -> tuple[list[ExpectationOutcome], dict[str, int]]:
    """LABEL-NOTNULL and LABEL-SET from one GROUP BY over the label column; the per-class counts."""
    label = f"CAST({_q(table.label_column)} AS VARCHAR)"
    counts = dict(con.execute(f"SELECT {label}, count(*) FROM read_parquet(?) GROUP BY ALL", [table.path]).fetchall())
    total = sum(counts.values())
    missing = counts.pop(None, 0)
    unknown = {k: v for k, v in counts.items() if k not in set(table.classes)}
    outcomes = []
    rows: list[int] = []
    if missing:
        rows, _ = _rows_where(con, table, f"{_q(table.label_column)} IS NULL", [])
    outcomes.append(
        _counted(
            "LABEL-NOTNULL",
            "expect_column_values_to_not_be_null",
            table.label_column,
            missing,
            total,
            rows=rows,
            kwargs={"column": table.label_column},
        )
    )
    bad = sum(unknown.values())
    rows, values = [], []
    if bad:
        values = sorted(unknown, key=lambda k: (-unknown[k], k))[:EXAMPLES]
        rows, _ = _rows_where(con, table, f"{label} IS NOT NULL AND NOT list_contains(?, {label})", [table.classes])
    outcomes.append(
        _counted(
            "LABEL-SET",
            "expect_column_values_to_be_in_set",
            table.label_column,
            bad,
            total - missing,
            examples=values,
            rows=rows,
            kwargs={"column": table.label_column, "value_set": table.classes},
            message=None
            if bad == 0
            else f"{bad} of {total - missing} labels are not among the classes {table.classes}: "
            + ", ".join(f"{v!r} ({unknown[v]} rows)" for v in values)
            + f"; e.g. rows {', '.join(map(str, rows))}",
        )
    )
    return outcomes, {c: int(counts.get(c, 0)) for c in table.classes}


def _probability_conditions(table: ProbabilityTable) -> dict[str, str]:
    """Per check code, the SQL condition of a failing row (the scoring's tolerance policy)."""
    from labelaudit.cl._engine.validation import RENORMALISE_ATOL, VALUE_ATOL

    cols = [_q(c) for c in table.classes]
    finite = " AND ".join(f"coalesce(isfinite({c}::DOUBLE), false)" for c in cols)
    in_range = " AND ".join(f"{c} >= -{VALUE_ATOL!r} AND {c} <= 1 + {RENORMALISE_ATOL!r}" for c in cols)
    total = " + ".join(f"{c}::DOUBLE" for c in cols)
    return {
        "PROBS-FINITE": f"NOT ({finite})",
        "PROBS-RANGE": f"({finite}) AND NOT ({in_range})",
        "PROBS-SUM": f"({finite}) AND abs({total} - 1) > {RENORMALISE_ATOL!r}",
    }


def _counts(con, table: ProbabilityTable, conditions: dict[str, str]) -> tuple[int, list[int]]:
    """Rows, then failing rows per condition, then (with an id column) null ids and repeated ids."""
    selects = [f"count(*) FILTER (WHERE {cond})" for cond in conditions.values()]
    ident = _q(table.id_column) if table.id_column else None
    if ident:
        selects.append(f"count(*) - count({ident})")
    found = con.execute(f"SELECT count(*), {', '.join(selects)} FROM read_parquet(?)", [table.path]).fetchone()
    rows_total, counts = int(found[0]), [int(v) for v in found[1:]]
    if ident:  # a GROUP BY, which spills to disk (count(DISTINCT) in the query above would not)
        repeated = con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM read_parquet(?) "
            f"WHERE {ident} IS NOT NULL GROUP BY {ident} HAVING count(*) > 1)",
            [table.path],
        ).fetchone()[0]
        counts.append(int(repeated))
    return rows_total, counts


def _probability_outcomes(
    con, table: ProbabilityTable, conditions: dict[str, str], counts: list[int], rows_total: int
) -> list[ExpectationOutcome]:
    from labelaudit.cl._engine.validation import RENORMALISE_ATOL, VALUE_ATOL

    described = {
        "PROBS-FINITE": ("expect_probabilities_to_be_finite", "have a missing, NaN or infinite probability"),
        "PROBS-RANGE": (
            "expect_probabilities_to_be_between",
            f"have a probability below -{VALUE_ATOL:g} or above 1 + {RENORMALISE_ATOL:g}",
        ),
        "PROBS-SUM": (
            "expect_probability_rows_to_sum_to_1",
            f"have probabilities that do not sum to 1 within {RENORMALISE_ATOL:g}",
        ),
    }
    outcomes = []
    for (code, condition), unexpected in zip(conditions.items(), counts, strict=False):
        kind, what = described[code]
        rows, ids = _rows_where(con, table, condition, []) if unexpected else ([], [])
        outcomes.append(
            _counted(
                code,
                kind,
                ", ".join(table.classes),
                unexpected,
                rows_total,
                examples=[i for i in ids if i is not None],
                rows=rows,
                kwargs={"columns": table.classes},
                message=None
                if unexpected == 0
                else f"{unexpected} of {rows_total} rows {what}, e.g. rows {', '.join(map(str, rows))}"
                + (f" (ids {', '.join(map(str, ids))})" if table.id_column else ""),
            )
        )
    return outcomes


def _id_outcomes(
    con, table: ProbabilityTable, nulls: int, duplicates: int, rows_total: int
) -> list[ExpectationOutcome]:
    ident = _q(table.id_column)
    rows, _ = _rows_where(con, table, f"{ident} IS NULL", []) if nulls else ([], [])
    not_null = _counted(
        "ID-NOTNULL",
        "expect_column_values_to_not_be_null",
        table.id_column,
        nulls,
        rows_total,
        rows=rows,
        kwargs={"column": table.id_column},
    )
    examples: list[Any] = []
    if duplicates:
        examples = [
            r[0]
            for r in con.execute(
                f"SELECT CAST({ident} AS VARCHAR) FROM read_parquet(?) WHERE {ident} IS NOT NULL GROUP BY 1 "
                f"HAVING count(*) > 1 LIMIT {EXAMPLES}",
                [table.path],
            ).fetchall()
        ]
    unique = _counted(
        "ID-UNIQUE",
        "expect_column_values_to_be_unique",
        table.id_column,
        duplicates,
        rows_total - nulls,
        examples=examples,
        kwargs={"column": table.id_column},
        message=None if duplicates == 0 else f"{duplicates} repeated ids, e.g. {examples}",
    )
    return [not_null, unique]


def value_checks(con, table: ProbabilityTable) -> list[ExpectationOutcome]:
    """Ids non-null and unique; probabilities finite, within [0, 1] and summing to 1 (the scoring's policy)."""
    conditions = _probability_conditions(table)
    rows_total, counts = _counts(con, table, conditions)
    outcomes = _probability_outcomes(con, table, conditions, counts, rows_total)
    if table.id_column:
        outcomes += _id_outcomes(con, table, counts[3], counts[4], rows_total)
    return outcomes
