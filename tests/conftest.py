"""Shared test fixtures: one torch thread, a headless matplotlib, and a CLI runner that sees the real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: In CI (``RLLAB_STRICT_SKIPS=1``, set by .ci/run) only CUDA tests may skip: a missing GNU Go, Ray, Mario,
#: PettingZoo or Chromium install must fail the run instead of silently skipping its tests.
STRICT_SKIPS = os.environ.get("RLLAB_STRICT_SKIPS") == "1"
ALLOWED_SKIP_MARKERS = ("gpu",)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT_SKIPS and report.skipped and not any(item.get_closest_marker(m) for m in ALLOWED_SKIP_MARKERS) \
            and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where only CUDA tests may skip: {reason}"


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``rllab ARGS`` in a fresh interpreter, as a user would, capturing output and exit status."""
    return subprocess.run([sys.executable, "-m", "rllab.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
