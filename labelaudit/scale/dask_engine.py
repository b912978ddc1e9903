"""The executor on a Dask cluster: a local one (``workers=N``) or an existing scheduler (``address=``).

Each pass is one ``Client.map`` over the partitions; results are consumed as they complete and released at once,
so the driver holds one partial at a time plus the merged state (O(K^2 + issues)). A pass whose partials are
large (the selection: O(issues) each) is reduced on the workers instead: two finished partials are combined by a
task on the cluster, paired by level so the tree is balanced (depth log2(partitions)); merging runs in
parallel and only the final result crosses to the driver. Tasks are pure functions of
(partition, context) whose only side effects are files they overwrite whole (spill, staging), so when a worker
dies Dask reruns its tasks elsewhere and the result is the same; after ``allowed-failures`` deaths of one task
the pass stops with :class:`ScaleEngineError` and nothing is committed (never a wrong result).

Memory per worker (one thread each): about ``R x (3 K s + 120)`` bytes for a partition of ``R`` rows, ``K``
classes and ``s``-byte probabilities (Arrow columns, the numpy matrix, the margins of pass 2, the result table
of pass 4); plus, while a class threshold is computed, ``N_k x s`` for the largest class (its self-confidences
in row order); ``N / B x 16`` bytes for one id bucket; and, on the task that combines the last two selection
partials, about ``3 x (8 + s) x F`` bytes for ``F`` flagged rows (both halves and their merge). Choose
``partition_rows`` from the worker's memory.
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

    def _submit_map(self, fn: Callable, items: list, args: tuple) -> list:
        return self.client.map(_call, items, fn=fn, args=args, pure=False, retries=self.retries)

    @staticmethod
    def _result(future, fn: Callable):
        from distributed.scheduler import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise ScaleEngineError(
                f"pass {fn.__name__} stopped: {exc} (out of memory? use smaller partitions); nothing was committed"
            ) from exc

    def imap(self, fn: Callable, items: Iterable, *args) -> Iterator:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self._submit_map(fn, items, args)
        try:
            for future in as_completed(futures):
                result = self._result(future, fn)
                future.release()
                yield result
        finally:
            self.client.cancel(futures)

    def reduce(self, fn: Callable, items: Iterable, combine: Callable, *args):
        """``combine`` over ``fn(item, *args)`` for every item, as a balanced tree on the workers; None if no items.

        `combine` must be associative and order-independent. Partials are paired by level, as a binary counter
        does: two map results make a level-1 partial, two of those a level-2 one, and so on; when the map tasks
        are done the few left over are combined smallest first. Pairing whatever finished next would merge the
        growing partial with one new map result again and again, a near-linear fold: at 1e9 rows (123M flagged)
        its select pass took 525 s. Balanced, each level costs O(issues) and there are log2(partitions) levels.
        """
        from distributed import as_completed

        items = list(items)
        if not items:
            return None
        # no list of every future: a future the client still holds keeps its data on the workers, and every
        # partial of the pass would stay in memory until the end (seen: 8.5 GB on one worker at 1e8 rows)
        finished = as_completed(self._submit_map(fn, items, args))
        waiting: dict[int, object] = {}  # level -> the one finished partial of that level without a partner
        level_of: dict[str, int] = {}  # key of a combining future -> its level (map results are level 0)

        def pair(first, second, level: int) -> None:
            merged = self.client.submit(  # before the remaining map tasks: finished partials do not pile up
                _pair, first, second, combine, args, pure=False, retries=self.retries, priority=1
            )
            level_of[merged.key] = level
            finished.add(merged)

        try:
            for future in finished:
                if future.status == "error":
                    self._result(future, fn)  # raises the task's error now, not after the whole tree
                level = level_of.pop(future.key, 0)
                partner = waiting.pop(level, None)
                if partner is None:
                    waiting[level] = future
                else:
                    pair(partner, future, level + 1)
                future = partner = None
                if finished.is_empty() and len(waiting) > 1:  # maps done: the leftovers, smallest first
                    low, high = sorted(waiting)[:2]
                    pair(waiting.pop(low), waiting.pop(high), high + 1)
            return self._result(waiting.popitem()[1], fn)
        except BaseException:
            self.client.cancel([*finished.futures, *waiting.values()])
            raise


def _pair(first, second, combine: Callable, args: tuple):
    return combine(first, second, *args)


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
