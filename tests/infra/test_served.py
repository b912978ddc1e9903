"""Deployments served by ``labelaudit serve``, triggered through the API the UI uses, on a real Prefect server."""

from __future__ import annotations

import shutil
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.flow.helpers import query, stored_counts
from tests.infra.conftest import ServedProject
from tests.infra.helpers import (
    api,
    artifacts,
    child_runs,
    deployment,
    logs_until,
    record_timing,
    report_file,
    task_runs,
    trigger,
    wait_final,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _labelaudit_run_id(served: ServedProject, flow_run_id: str) -> str:
    runs = query(served.project.database, "SELECT run_id FROM runs WHERE flow_run_id = ?", [flow_run_id])
    assert len(runs) == 1, runs
    return runs["run_id"].iloc[0]


def test_deployments_have_typed_parameters_and_schedules(served: ServedProject) -> None:
    with api(served.server.api_url) as client:
        audit = deployment(client, "audit", "penguins-audit")
        recurring = deployment(client, "audit-new-batches", "penguins-new-batches")
        deliveries = deployment(client, "audit-new-batches", "deliveries-new-batches")

    schema = audit["parameter_openapi_schema"]["properties"]
    assert schema["folds"]["description"].startswith("Cross-validation folds")
    assert {"integer", "null"} == {t["type"] for t in schema["folds"]["anyOf"]}
    assert schema["data_docs"]["type"] == "boolean"
    assert "TaskRunnerConfig" in schema["task_runner"]["anyOf"][0]["$ref"]
    assert audit["parameters"]["source"].endswith("data/penguins/penguins_batch.csv")
    assert audit["parameters"]["database"] == str(served.project.database)
    assert audit["schedules"] == []  # the recurring deployment carries the schedule of a file source

    (paused,) = recurring["schedules"]
    assert paused["schedule"]["cron"] == "30 5 * * 1-5" and paused["schedule"]["timezone"] == "Europe/Paris"
    assert paused["active"] is False
    (hourly,) = deliveries["schedules"]
    assert hourly["schedule"]["cron"] == "0 * * * *" and hourly["schedule"]["timezone"] == "America/New_York"
    assert hourly["active"] is True
    assert deliveries["parameters"]["task_runner"] == {
        "kind": "threads", "max_workers": 2, "n_workers": 2, "threads_per_worker": 1,
    }  # fmt: skip
    assert recurring["concurrency_limit"] == 1 or recurring.get("global_concurrency_limit")


def test_run_from_the_ui_api_completes_with_artifacts_and_report(served: ServedProject) -> None:
    with api(served.server.api_url) as client:
        started = time.perf_counter()
        run_id = trigger(client, "audit", "penguins-audit")
        run = wait_final(client, run_id)
        elapsed = time.perf_counter() - started
        found = artifacts(client, run_id)

    record_timing("served_trigger_to_completed_s", elapsed)
    assert run["state"]["type"] == "COMPLETED", (run["state"], served.log.read_text()[-3000:])
    assert "batch accepted" in run["state"]["message"]
    assert set(found) == {"audit-summary-penguins", "flagged-rows-penguins", "audit-trend-penguins",
                          "audit-report-penguins"}  # fmt: skip
    summary = found["audit-summary-penguins"]["data"]
    assert "batch accepted" in summary and "| Rows | 344 |" in summary and "max_label_error_rate" in summary
    table = found["flagged-rows-penguins"]["data"]
    assert '"rank": 1' in table.replace(" ", "").replace('"rank":1', '"rank": 1') or "rank" in table
    link = found["audit-report-penguins"]["data"]
    assert served.reports_url in link

    la_run = _labelaudit_run_id(served, run_id)
    assert report_file(served.project.reports, "penguins", la_run).is_file()
    url = f"{served.reports_url}penguins/{la_run}/index.html"
    assert url in link
    with urllib.request.urlopen(url, timeout=10) as response:  # the link in the UI opens the report
        assert response.status == 200 and la_run in response.read().decode()


def test_two_simultaneous_triggers_both_finish_and_a_bad_batch_fails_naming_thresholds(
    served: ServedProject,
) -> None:
    data = served.project.data / "penguins"
    before = stored_counts(served.project.database) if served.project.database.exists() else None
    with api(served.server.api_url) as client:
        good = trigger(client, "audit", "penguins-audit", {"source": str(data / "penguins_batch.csv")})
        bad = trigger(client, "audit", "penguins-audit", {"source": str(data / "penguins_noisy.csv")})
        with ThreadPoolExecutor(2) as pool:
            good_run, bad_run = pool.map(lambda r: wait_final(client, r, timeout=180), [good, bad])

    assert good_run["state"]["type"] == "COMPLETED", good_run["state"]
    assert bad_run["state"]["type"] == "FAILED"
    message = bad_run["state"]["message"]
    assert "batch rejected" in message and "max_label_error_rate" in message and "BREACHED" in message
    # both runs stored in full, nothing left running, earlier runs untouched
    runs = query(
        served.project.database,
        "SELECT r.run_id, r.status, r.verdict, (SELECT count(*) FROM scores s WHERE s.run_id = r.run_id) AS scored "
        "FROM runs r WHERE flow_run_id IN (?, ?) ORDER BY status",
        [good, bad],
    )
    assert list(runs["status"]) == ["completed", "rejected"] and list(runs["scored"]) == [344, 344]
    after = stored_counts(served.project.database)
    if before is not None:
        assert after["runs"] == before["runs"] + 2 and after["scores"] == before["scores"] + 2 * 344


def test_recurring_audit_runs_once_per_new_batch_then_is_a_no_op(served: ServedProject) -> None:
    data = served.project.data / "penguins"
    incoming = served.project.root / "incoming"
    shutil.copy(data / "penguins_batch.csv", incoming / "2026-11-01.csv")
    with api(served.server.api_url) as client:
        first = wait_final(client, trigger(client, "audit-new-batches", "deliveries-new-batches"), timeout=180)
        first_children = child_runs(client, first["id"])
        shutil.copy(data / "penguins_noisy.csv", incoming / "2026-11-02.csv")
        second = wait_final(client, trigger(client, "audit-new-batches", "deliveries-new-batches"), timeout=180)
        second_children = child_runs(client, second["id"])
        third = wait_final(client, trigger(client, "audit-new-batches", "deliveries-new-batches"))
        third_children = child_runs(client, third["id"])
        third_logs = logs_until(client, third["id"], "no new batch")

    assert first["state"]["type"] == "COMPLETED", first["state"]
    assert [r["name"] for r in first_children] == ["audit-penguins-2026-11-01"]
    # only the new file; it is the noisy one, so the delivery's run fails and says which batch
    assert [r["name"] for r in second_children] == ["audit-penguins-2026-11-02"]
    assert second["state"]["type"] == "FAILED" and "2026-11-02.csv: run" in second["state"]["message"]
    assert third["state"]["type"] == "COMPLETED" and third_children == []
    assert any("no new batch of penguins" in line and "nothing to do" in line for line in third_logs), third_logs
    # the trend: one stored run per batch with its error rate
    trend = query(
        served.project.database,
        "SELECT b.path, m.estimated_error_rate FROM batches b JOIN run_metrics m USING (run_id) "
        "WHERE b.path LIKE ? ORDER BY b.path",
        [f"{incoming}/%"],
    )
    assert [p.rsplit("/", 1)[1] for p in trend["path"]] == ["2026-11-01.csv", "2026-11-02.csv"]
    assert trend["estimated_error_rate"].iloc[1] > trend["estimated_error_rate"].iloc[0]


def test_a_batch_failing_its_schema_fails_without_retry_and_still_gets_artifacts(served: ServedProject) -> None:
    wrong_file = served.project.data / "penguins" / "penguins_batch.injected.csv"  # not a batch: other columns
    with api(served.server.api_url) as client:
        run_id = trigger(client, "audit", "penguins-audit", {"source": str(wrong_file)})
        run = wait_final(client, run_id)
        found = artifacts(client, run_id)
        validate = [t for t in task_runs(client, run_id) if t["name"].startswith("validate-schema")]

    assert run["state"]["type"] == "FAILED"
    assert "failed" in run["state"]["message"] and "schema expectations" in run["state"]["message"]
    assert len(validate) == 1 and validate[0]["run_count"] == 1  # a data error is not retried
    summary = found["audit-summary-penguins"]["data"]
    assert "run failed" in summary and "expectations" in summary
    stored = query(served.project.database, "SELECT status, message FROM runs WHERE flow_run_id = ?", [run_id])
    assert stored["status"].iloc[0] == "failed" and stored["message"].iloc[0].startswith("validate:")
