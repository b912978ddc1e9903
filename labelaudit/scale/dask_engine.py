"""The executor on a Dask cluster: a local one (``workers=N``) or an existing scheduler (``address=``).

Each pass is one ``Client.map`` over the partitions; results are consumed as they complete and released at once,
so the driver holds one partial at a time plus the merged state (O(K^2 + issues)). Tasks are pure functions of
(partition, context) whose only side effects are files they overwrite whole (spill, staging), so when a worker
dies Dask reruns its tasks elsewhere and the result is the same; after ``allowed-failures`` deaths of one task
the pass stops with :class:`ScaleEngineError` and nothing is committed (never a wrong result).

Memory per worker (one thread each): about ``R x (3 K s + 120)`` bytes for a partition of ``R`` rows, ``K``
classes and ``s``-byte probabilities (Arrow columns, the numpy matrix, the margins of pass 2, the result table
of pass 4), plus, while a class threshold is computed, ``N_k x s`` for the largest class (its self-confidences
in row order), and ``N / B x 16`` bytes for one id bucket. Choose ``partition_rows`` from the worker's memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from labelaudit.errors import LabelAuditError

__all__ = ["DaskExecutor", "ScaleEngineError", "dask_executor"]


class ScaleEngineError(LabelAuditError):
    """The cluster could not finish a pass (workers kept dying, the scheduler went away): nothing was committed."""

    exit_code = 1
    retryable = True


def _call(item, fn, args):
    return fn(item, *args)


class DaskExecutor:
    """Maps each pass over a ``distributed.Client``; `retries` reruns a task that raised an unexpected error."""

    name = "dask"

    def __init__(self, client, *, retries: int = 1) -> None:
        self.client = client
        self.retries = retries

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def imap(self, fn: Callable, items: Iterable, *args) -> Iterator:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        items = list(items)
        if not items:
            return
        futures = self.client.map(_call, items, fn=fn, args=args, pure=False, retries=self.retries)
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except KilledWorker as exc:
                    raise ScaleEngineError(
                        f"pass {fn.__name__} stopped: {exc} (out of memory? use smaller partitions); "
                        "nothing was committed"
                    ) from exc
                future.release()
                yield result
        finally:
            self.client.cancel(futures)


@contextlib.contextmanager
def dask_executor(address: str | None = None, *, workers: int = 2, memory_limit: str | None = "auto"):
    """A :class:`DaskExecutor` on the scheduler at `address`, or on a local cluster of `workers` processes.

    The local cluster listens on loopback only, one thread per worker process, no dashboard; both are closed
    on exit (an existing scheduler is left running).
    """
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield DaskExecutor(client)
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=memory_limit,
    )
    try:
        with Client(cluster) as client:
            yield DaskExecutor(client)
    finally:
        cluster.close()
