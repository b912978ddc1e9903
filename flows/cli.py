"""The ``labelaudit`` command line: the console entry point (:func:`main`), with the commands in modules by group.

- :mod:`labelaudit.flows.cli_common`: the app, its groups, shared options and the one error handler;
- :mod:`labelaudit.flows.cli_audit`: ``audit``, ``score``, ``init`` (run through :mod:`labelaudit.flows.cli_run`);
- :mod:`labelaudit.flows.cli_read`: ``runs``, ``flagged``;
- :mod:`labelaudit.flows.cli_server`: ``reports serve``, ``serve``, ``server start|stop|status``;
- :mod:`labelaudit.flows.cli_verdicts`: ``export``, ``review export|import|stats``.

The modules are imported in that order (alphabetical too): it is the order of the commands in ``labelaudit --help``.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

# Imported in the order of the commands in ``labelaudit --help`` (they register them on ``app``).
from labelaudit.flows import cli_audit, cli_read, cli_server, cli_verdicts  # noqa: F401
from labelaudit.flows.cli_common import app

__all__ = ["app", "main"]


def main() -> NoReturn:
    """Console entry point: run the command, flush what must reach disk and the Prefect API, and exit at once.

    After an audit the interpreter's own teardown (finalising the thousands of modules that Great Expectations,
    pandas, scikit-learn and Prefect bring) takes 1.5-2 s after the last line is printed, on every command, and
    nothing of ours needs it: servers are stopped, DuckDB connections closed and reports written before this
    point. So the logs and events Prefect still holds are sent, the log files and the standard streams flushed,
    and the process ends without the teardown. In-process callers (the tests) call ``app`` and are unaffected.
    """
    import logging

    from labelaudit.flows.prefect_api import drain_prefect_workers

    try:
        app()
        code = 0
    except SystemExit as exc:  # typer's normal way out
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    drain_prefect_workers()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
