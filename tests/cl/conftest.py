"""Run every test in this folder with the compiled kernels and with the numpy reference kernels."""

from __future__ import annotations

import pytest

from labelaudit.cl._engine import jit


@pytest.fixture(autouse=True, params=["jit", "numpy"] if jit.enabled() else ["numpy"])
def kernel_backend(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setenv("LABELAUDIT_NO_JIT", "1")
    else:  # the compiled kernels even on the tests' small arrays
        monkeypatch.setenv("LABELAUDIT_JIT_MIN_ELEMENTS", "0")
    return request.param
