"""Where the folds run: the flow's own thread pool, a sized thread pool, or a Dask cluster.

The choice is a flow parameter (``task_runner``), not only a decorator option, so it is the same whether the
run was started by ``labelaudit serve``, by a worker from ``prefect.yaml`` or from the UI's form. On 2 cores
Dask is pure overhead for small work: the default stays local (see docs/operations.md, "Dask").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import Task
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

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
    """Yield ``submit(task, **parameters) -> future`` on the configured runner.

    ``None`` (or plain threads without a size) uses the flow's own task runner. Otherwise the runner is
    started here and shut down when the block ends, so resolve the futures inside the block.
    """
    if isinstance(config, dict):
        config = TaskRunnerConfig.model_validate(config)
    if config is None or (config.kind == "threads" and config.max_workers is None):

        def submit_on_flow_runner(task: Task[..., Any], **parameters: Any) -> PrefectFuture[Any]:
            return task.submit(**parameters)

        yield submit_on_flow_runner
        return
    with build_task_runner(config) as runner:

        def submit_on_runner(task: Task[..., Any], **parameters: Any) -> PrefectFuture[Any]:
            return runner.submit(task, parameters)

        yield submit_on_runner
