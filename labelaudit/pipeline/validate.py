"""Stage ``validate``: is the batch well-formed? Every outcome is stored (table ``validation_results``); any
failure raises :class:`~labelaudit.errors.SchemaValidationError` after the outcomes are stored.

:func:`validate` runs the dataset's GX suite on an in-memory batch; :func:`validate_probability_table` checks a
probabilities file out of core (:mod:`labelaudit.pipeline.probability_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labelaudit.errors import SchemaValidationError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.gx_suite import ExpectationOutcome, SuiteOutcome, outcomes_frame, run_suite
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.probability_checks import label_checks, structure_checks, value_checks
from labelaudit.pipeline.probability_table import ProbabilityTable, connect
from labelaudit.pipeline.recording import recording
from labelaudit.store import AuditStore, StageWrite

__all__ = ["CheckResult", "validate", "validate_probability_table"]


def validate(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, data_docs_dir: Path | None = None
) -> SuiteOutcome:
    """Run the dataset's GX suite on the batch; store every result; raise if any expectation failed."""
    with recording(store, run_id, "validate") as started:
        outcome = run_suite(batch.frame, bundle.suite, data_docs_dir=data_docs_dir)
        failed = outcome.failures
        message = f"{len(outcome.outcomes) - len(failed)} of {len(outcome.outcomes)} expectations met"
        store.write_stage(
            run_id,
            "validate",
            StageWrite(
                {"validation_results": outcomes_frame(outcome.outcomes)},
                started,
                rows=len(batch.frame),
                message=message,
            ),
        )
        if failed:
            lines = "\n".join(f"  - {f.describe()}" for f in failed)
            raise SchemaValidationError(
                f"{batch.source.path} failed {len(failed)} of {len(outcome.outcomes)} schema expectations:\n{lines}",
                failures=failed,
            )
    return outcome


@dataclass(frozen=True)
class CheckResult:
    """The validation outcomes and the per-class counts of given labels."""

    outcomes: list[ExpectationOutcome]
    label_counts: dict[str, int]


def validate_probability_table(
    store: AuditStore, run_id: str, table: ProbabilityTable, *, workdir: Path | None = None
) -> CheckResult:
    """Check the table without pandas (footer, then DuckDB); store every outcome; raise if any failed.

    ``workdir`` is where DuckDB spills (counting distinct ids of a big table can exceed its memory limit).
    """
    with recording(store, run_id, "validate") as started:
        outcomes = structure_checks(table)
        counts: dict[str, int] = {}
        if all(o.success for o in outcomes):
            with connect(table, workdir) as con:
                label_outcomes, counts = label_checks(con, table)
                outcomes += label_outcomes + value_checks(con, table)
        failed = [o for o in outcomes if not o.success]
        store.write_stage(
            run_id,
            "validate",
            StageWrite(
                {"validation_results": outcomes_frame(outcomes)},
                started,
                rows=table.rows,
                message=f"{len(outcomes) - len(failed)} of {len(outcomes)} checks met (DuckDB, out of core)",
            ),
        )
        if failed:
            lines = "\n".join(f"  - {f.describe()}" for f in failed)
            raise SchemaValidationError(
                f"{table.path} failed {len(failed)} of {len(outcomes)} checks:\n{lines}", failures=failed
            )
    return CheckResult(outcomes, counts)
