"""How every audit flow ends: artifacts in the UI, a report even for a failed run, and the verdict's state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labelaudit.tasks.artifacts import publish_artifacts
from labelaudit.tasks.publish import publish_report
from labelaudit.tasks.runs import finish_run
from labelaudit.tasks.score import quality_gate
from prefect import get_run_logger
from prefect.states import Completed, Failed, State

from labelaudit.errors import LabelAuditError
from labelaudit.pipeline.gate import GateResult
from labelaudit.settings import Settings
from labelaudit.store import AuditStore


def publish_failure_report(store: AuditStore, run_id: str, settings: Settings, docs_dir: Path | None = None) -> Any:
    """A failed run still gets a report (what failed, the checks); a failure here is only logged."""
    try:
        return publish_report.fn(store, run_id, settings.reports_dir, settings.report_base_url, docs_dir)
    except Exception as exc:  # the original error is the one to surface
        get_run_logger().warning("could not publish the report of failed run %s: %s", run_id, exc)
        return None


def fail_unfinished(store: AuditStore, run_id: str, exc: BaseException) -> None:
    """Interrupted, or an error no stage recorded: the stored run must not stay ``running`` (best effort)."""
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        message = f"interrupted ({exc})" if str(exc) else "interrupted"
    else:
        message = str(exc) if isinstance(exc, LabelAuditError) else f"{type(exc).__name__}: {exc}"
    try:
        store.fail_run(run_id, message)
    except Exception as error:  # e.g. the database is what failed: the next run's recovery will mark it
        get_run_logger().warning("could not mark run %s failed: %s", run_id, error)


def create_artifacts(store: AuditStore, run_id: str, report_url: str | None) -> None:
    """Summary, top rows, trend and report link in the UI; an artifact that cannot be created is only logged."""
    state = publish_artifacts(store, run_id, report_url, return_state=True)
    if state.is_failed():
        get_run_logger().warning("could not create the artifacts of run %s: %s", run_id, state.message)


def verdict_state(run_id: str, verdict: GateResult, published: Any) -> State:
    """Completed when the batch is accepted, Failed naming the breached thresholds when it is not."""
    # Prefect logs the final state as Completed('<message>'): a link last in it would end in "')" in the UI.
    message = f"run {run_id}: {verdict.message()}; report {published.url or published.location} (open in a browser)"
    return Completed(message=message) if verdict.passed else Failed(message=message)


def judge_and_publish(
    store: AuditStore, run_id: str, scored: Any, bundle: Any, settings: Settings, docs_dir: Path | None = None
) -> tuple[GateResult, Any]:
    """The gate, the stored verdict, the report (which states it) and the artifacts: how every flow ends well."""
    verdict = quality_gate(store, run_id, scored, bundle)
    status = "completed" if verdict.passed else "rejected"
    finish_run(store, run_id, status, verdict.verdict, verdict.message())
    published = publish_report(store, run_id, settings.reports_dir, settings.report_base_url, docs_dir)
    create_artifacts(store, run_id, published.url)
    return verdict, published


@contextmanager
def failures_recorded(
    store: AuditStore, run_id: str, settings: Settings, docs_dir: Path | None = None
) -> Iterator[None]:
    """Around a flow's stages: a failed run still gets its report and artifacts, and is never left ``running``.

    A :class:`LabelAuditError` (a stage recorded it) publishes the failure report; anything else, an interrupt
    included, only marks the run failed; either way the error goes on to end the flow run Failed.
    """
    try:
        yield
    except LabelAuditError as exc:
        get_run_logger().error("run %s failed: %s", run_id, exc)
        failed_report = publish_failure_report(store, run_id, settings, docs_dir)
        create_artifacts(store, run_id, failed_report.url if failed_report else None)
        fail_unfinished(store, run_id, exc)
        raise
    except BaseException as exc:  # interrupted (Ctrl-C, SIGTERM) or an error no stage recorded
        fail_unfinished(store, run_id, exc)
        raise
