"""A run whose flagged rows carry measurements like the penguins sample's: 38.8 and 42.0 in one column."""

from __future__ import annotations

import json

from labelaudit.store import AuditStore
from tests.report.builders import BuiltRun, build_run, day

#: bill_length_mm of the run's rows by row_idx parity; body_mass_g is a whole number of grams written as a float.
BILL_LENGTHS = (38.8, 42.0)


def build_measurements_run(store: AuditStore, run_id: str = "20261110-090000-ffffff") -> BuiltRun:
    """A small run (200 rows, 20 flagged) whose records gain two float columns, as pandas writes them."""
    run = build_run(
        store,
        dataset="penguins",
        run_id=run_id,
        rows=200,
        flagged=20,
        classes=["Adelie", "Chinstrap", "Gentoo"],
        seed=11,
        started_at=day(9),
        gate={"max_label_error_rate": 0.30},
    )
    with store.transaction() as con:
        records = con.execute("SELECT row_idx, record FROM ingested_rows WHERE run_id = ?", [run_id]).fetchall()
        for row_idx, text in records:
            record = json.loads(text)
            record["bill_length_mm"] = BILL_LENGTHS[row_idx % 2]
            record["body_mass_g"] = 3000.0 + 25 * row_idx
            con.execute(
                "UPDATE ingested_rows SET record = ? WHERE run_id = ? AND row_idx = ?",
                [json.dumps(record), run_id, row_idx],
            )
        position = con.execute("SELECT max(position) FROM ingested_columns WHERE run_id = ?", [run_id]).fetchone()[0]
        con.execute(
            "INSERT INTO ingested_columns VALUES (?, ?, 'bill_length_mm', 'float64', 'numeric'), "
            "(?, ?, 'body_mass_g', 'float64', 'numeric')",
            [run_id, position + 1, run_id, position + 2],
        )
    return run
