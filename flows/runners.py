"""Where the folds run: the flow's own thread pool, a sized thread pool, or a Dask cluster.

The choice is a flow parameter (``task_runner``), not only a decorator option, so it is the same whether the
run was started by ``labelaudit serve``, by a worker from ``prefect.yaml`` or from the UI's form. On 2 cores
Dask is pure overhead for small work: the default stays local (see docs/operations.md, "Dask").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from prefect import Task
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from threadpoolctl import threadpool_limits

from labelaudit.project_config import TaskRunnerConfig

Submit = Callable[..., PrefectFuture[Any]]


def build_task_runner(config: TaskRunnerConfig) -> TaskRunner[Any]:
    """A Prefect task runner for ``config``: ``ThreadPoolTaskRunner`` or ``prefect_dask.DaskTaskRunner``."""
    if config.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=config.max_workers)
    from prefect_dask import DaskTaskRunner  # optional dependency: pip install 'labelaudit[dask]'

    if config.address:
        return DaskTaskRunner(address=config.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": config.n_workers,
            "threads_per_worker": config.threads_per_worker,
            "processes": True,
            "host": "127.0.0.1",  # scheduler and workers on loopback only
            "dashboard_address": None,
        }
    )


@contextmanager
def task_submitter(config: TaskRunnerConfig | dict[str, Any] | None) -> Iterator[Submit]:
    """Yield ``submit(task, **parameters) -> future`` on the configured runner, started here for the block.

    ``None`` means threads, as many as the machine has CPUs (more would only add copies of the training rows
    in memory and contention). While folds run in parallel threads, the BLAS/OpenMP pools inside each fit are
    limited to one thread: the parallelism is across folds, and letting each fold's BLAS spawn a thread per
    core oversubscribes the CPUs (measured here: 5 folds of a 100k-row logistic regression take 2.5 s with
    default BLAS threads, 1.3 s with one). Resolve the futures inside the block: the runner stops after it.
    """
    if isinstance(config, dict):
        config = TaskRunnerConfig.model_validate(config)
    config = config or TaskRunnerConfig()
    if config.kind == "threads":
        workers = config.max_workers or os.cpu_count() or 1
        blas = threadpool_limits(limits=1) if workers > 1 else nullcontext()
        runner: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=workers)
    else:
        blas, runner = nullcontext(), build_task_runner(config)  # Dask workers limit BLAS threads themselves
    with runner, blas:

        def submit(task: Task[..., Any], **parameters: Any) -> PrefectFuture[Any]:
            return runner.submit(task, parameters)

        yield submit
