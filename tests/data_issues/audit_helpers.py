"""A real audit without Prefect (ingest, fit, score, data issues, gate, finish) on a real DuckDB file, and batches
built from the bundled penguins sample with known injected issues."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labelaudit.inputs.definition import DatasetBundle, load_dataset
from labelaudit.kinds import kind_for
from labelaudit.pipeline.data_issues import DataIssues, find_data_issues
from labelaudit.pipeline.gate import GateResult, judge_batch
from labelaudit.pipeline.ingest import ingest
from labelaudit.store import AuditStore

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "data" / "penguins" / "penguins_clean.csv"


@dataclass(frozen=True)
class Audited:
    run_id: str
    issues: DataIssues
    gate: GateResult


def bundle_with(tmp_path: Path, dataset: str = "penguins", **thresholds: Any) -> DatasetBundle:
    """The bundled definition of ``dataset`` copied under ``tmp_path``, with these ``quality.json`` values."""
    folder = tmp_path / "expectations"
    if not (folder / dataset).exists():
        shutil.copytree(REPO / "expectations" / dataset, folder / dataset)
    bundle = load_dataset(folder, dataset)
    quality = bundle.quality.model_copy(update=thresholds)
    return bundle.model_copy(update={"quality": quality})


def audit(store: AuditStore, bundle: DatasetBundle, source: Path, run_id: str | None = None) -> Audited:
    """Every stage the audit flow runs before its report, in its order, through the label kind."""
    kind = kind_for(bundle.definition.label_type)
    run_id = store.begin_run(dataset=bundle.definition.name, source=str(source), params={}, run_id=run_id)
    batch = ingest(store, run_id, str(source), bundle)
    inputs = kind.prepare_fit(store, run_id, batch, bundle, precomputed=False)
    results = [kind.fit_fold(inputs, fold, batch.frame, bundle.definition) for fold in range(inputs.plan.n_folds)]
    probs, _ = kind.store_fit(store, run_id, inputs, results)
    scored = kind.score(store, run_id, batch, inputs, probs, bundle, oof_log_loss=None)
    issues = find_data_issues(store, run_id, batch, bundle, kind.issue_labels(inputs), probs)
    gate = judge_batch(store, run_id, scored, bundle)
    status = "completed" if gate.passed else "rejected"
    store.finish_run(run_id, status=status, verdict=gate.verdict, message=gate.message())
    return Audited(run_id, issues, gate)


def penguins(rows: slice | None = None) -> pd.DataFrame:
    frame = pd.read_csv(PENGUINS, dtype={"penguin_id": str})
    return frame.iloc[rows].reset_index(drop=True) if rows is not None else frame


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def summary(store: AuditStore, run_id: str) -> pd.DataFrame:
    return store.query("SELECT * FROM data_issue_summary WHERE run_id = ?", [run_id]).set_index("issue_type")
