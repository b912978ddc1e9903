"""The feature-space tests exercise the Prefect-free library: they need no Prefect API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """Overrides the session's Prefect server fixture for this folder (nothing here talks to Prefect)."""
    yield None
