"""Which batches of a source are new: the files no earlier run of the dataset has audited.

Annotation vendors drop files into a folder continuously. The recurring audit expands the dataset's glob,
hashes each file and compares ``(path, sha256)`` with the ``batches`` table, where every run records the file
it ingested. A file is new when its path was never audited, or when it was but its content has changed since.

The choice made here is **one run per new batch**: each file gets its own run, verdict, report and row in
``run_metrics``/``class_metrics``, so the trend of the error rate is per delivered batch and a bad delivery is
rejected on its own instead of being diluted in (or rejecting) a combined run.

When is a batch "audited"? When a run of the dataset that ingested it has finished with a verdict (accepted
or rejected), failed on the batch's content (the schema suite or a batch that cannot be cross-validated:
re-auditing the same bytes would fail the same way), or is still running. A run that failed for another
reason (a locked database, a crash) leaves the batch new, so the next scheduled run tries it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labelaudit.inputs.readers import file_sha256
from labelaudit.project_config import expand_source
from labelaudit.store import AuditStore

#: Stages whose failure is about the batch's content, not the infrastructure.
CONTENT_STAGES = ("validate", "fit")

_AUDITED_SQL = f"""
SELECT DISTINCT b.path, b.sha256
FROM batches b JOIN runs r USING (run_id)
WHERE r.dataset = ?
  AND (r.status IN ('completed', 'rejected', 'running')
       OR EXISTS (SELECT 1 FROM run_stages s
                  WHERE s.run_id = r.run_id AND s.status = 'failed'
                    AND s.stage IN ({", ".join(f"'{s}'" for s in CONTENT_STAGES)})))
"""


@dataclass(frozen=True)
class NewBatch:
    """A file to audit: its absolute path and content hash."""

    path: Path
    sha256: str


def audited_batches(store: AuditStore, dataset: str) -> set[tuple[str, str]]:
    """``(absolute path, sha256)`` of every batch of ``dataset`` counted as audited (see the module docs)."""
    if not store.path.exists():
        return set()
    frame = store.query(_AUDITED_SQL, [dataset])
    return {(str(Path(p).resolve()), sha) for p, sha in zip(frame["path"], frame["sha256"], strict=True)}


def find_new_batches(store: AuditStore, dataset: str, source: str) -> list[NewBatch]:
    """The files matching ``source`` (a path or glob) not yet audited for ``dataset``, sorted by path.

    Parameters
    ----------
    store : AuditStore
        The audit database holding earlier runs.
    dataset : str
        The dataset whose runs count.
    source : str
        A file path or a glob (``data/incoming/*.csv``, ``**`` allowed).

    Returns
    -------
    list of NewBatch
        One entry per new or changed file; empty when everything was audited already.
    """
    if store.path.exists():
        store.recover_stale_runs()  # a killed run's batch is not "running" any more
    done = audited_batches(store, dataset)
    new = []
    for path in expand_source(source):
        resolved = path.resolve()
        sha = file_sha256(resolved)
        if (str(resolved), sha) not in done:
            new.append(NewBatch(resolved, sha))
    return new
