"""Where a command's log goes: a file per run always, the terminal only with ``--verbose``.

Prefect prints every task's start and end, and a traceback for every expected data error, on stderr. A person
running ``labelaudit audit`` wants the summary and, on a problem, one line saying what to fix; whoever needs the
rest finds it in the log file that the error line names, or on the terminal with ``--verbose``. Flow and task
logs still go to the Prefect API, so the UI shows them as before.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"


@contextlib.contextmanager
def command_logging(log_path: Path, *, verbose: bool) -> Iterator[Path]:
    """Send this process's logs (Prefect's included) to ``log_path``; keep Prefect's console output only if verbose.

    Prefect configures its logging lazily, on the first flow run; it is configured here first so that its
    console handlers exist to be quietened. They stay quiet after the block: the command's process has nothing
    more of Prefect's to show (its workers draining at exit). The file handler is removed, so callers running
    several commands in one process (the tests) get one log file per command.
    """
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    watched = [logging.getLogger(), logging.getLogger("prefect._internal"), logging.getLogger("uvicorn")]
    consoles = [
        handler
        for logger in watched
        for handler in logger.handlers
        if isinstance(handler, PrefectConsoleHandler) or getattr(handler, "stream", None) in (sys.stderr, sys.stdout)
    ]
    levels = [handler.level for handler in consoles]
    for logger in watched[:2]:
        logger.addHandler(file_handler)
    for handler in consoles:
        handler.setLevel(logging.NOTSET if verbose else logging.CRITICAL + 1)
    try:
        yield log_path
    finally:
        if verbose:  # quiet stays quiet: what Prefect says while draining its workers at exit is not for the user
            for handler, level in zip(consoles, levels, strict=True):
                handler.setLevel(level)
        for logger in watched[:2]:
            logger.removeHandler(file_handler)
        file_handler.close()
