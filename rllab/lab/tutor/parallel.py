"""Tuning the methods side by side on a CPU: one worker process per core, each single-threaded (faster here than one
process with two threads). A tuner seeds itself from its own config, so each run equals the one a sequential tutor
writes (tested); the caller then reopens every finished run as it would after a resume."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rllab.agents.tutor import TunerConfig, train_tuner
from rllab.core.config import from_mapping
from rllab.core.device import limit_cpu_threads
from rllab.core.runs import RunDir

ProgressFn = Callable[[str, int], None]


def parallel_workers(methods: tuple[str, ...], device: str, requested: int | None) -> int:
    """How many tuner processes to run: ``requested``, else one per method when there are at least two cores (three
    methods on two cores end sooner side by side than two then one, which leaves a core idle); 1 on CUDA (the
    methods would share one GPU), on one core and for a single method."""
    if device != "cpu" or len(methods) < 2:
        return 1
    if requested is None:
        return len(methods) if (os.cpu_count() or 1) >= 2 else 1
    return max(1, min(len(methods), requested))


def tune_in_parallel(fields: dict[str, dict[str, Any]], prior: nn.Module, runs: Path, primers: np.ndarray | None,
                     start: nn.Module | None, workers: int, progress: ProgressFn) -> None:
    """Train each method's tuner (``fields``: method -> TunerConfig fields) into ``runs/<method>`` in ``workers``
    processes; ``progress(method, steps)`` follows their checkpoints. The first failure is raised."""
    context = multiprocessing.get_context("spawn")   # fork would copy torch's thread pools and locks
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool:
        pending = {pool.submit(_tune, method_fields, prior, runs / method, primers, start)
                   for method, method_fields in fields.items()}
        try:
            while pending:
                done, pending = wait(pending, timeout=2.0, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()
                for method in fields:
                    progress(method, int(RunDir(runs / method).status.get("steps", 0)))
        except KeyboardInterrupt:
            for child in multiprocessing.active_children():   # relay Ctrl-C once: each tuner checkpoints and stops
                os.kill(child.pid, signal.SIGTERM)
            raise


def _worker_init() -> None:
    """Workers ignore the terminal's Ctrl-C (the parent relays it once, as SIGTERM, so that a second signal cannot
    cut a checkpoint short) and turn SIGTERM into the KeyboardInterrupt on which a tuner writes its checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _tune(fields: dict[str, Any], prior: nn.Module, path: Path, primers: np.ndarray | None,
          start: nn.Module | None) -> None:
    limit_cpu_threads(1)
    config = from_mapping(TunerConfig, fields, "tuner")
    train_tuner(config, prior, path, device="cpu", primers=primers, start=start)

