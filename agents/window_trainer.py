"""What the melody-model trainers share (the Note RNN, the neural priors): clocks that add up over resumes, one
checkpoint blob (model, optimiser, schedule, sampler and torch RNG, counters), the step loop with periodic
evaluation and checkpoints, a checkpoint on Ctrl-C, and the finishing metrics. A subclass builds its model and
optimiser and says how one step trains, how it evaluates and how the model is saved."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.core.runs import RunDir, load_torch

PROGRESS_FILE = "progress.csv"
METRICS_FILE = "metrics.json"


@dataclass
class WindowTrainingConfig:
    """The budget and bookkeeping every window trainer shares; a subclass adds its model's settings (and may change
    these defaults, which are the Note RNN's)."""

    steps: int = 3000
    batch_size: int = 128
    seq_len: int = 192
    start_fraction: float = 0.25
    clip_norm: float = 5.0
    eval_every: int = 250
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    time_limit_min: float | None = None
    amp: bool = True
    seed: int = 0

    def check_positive(self, what: str, keys: tuple[str, ...] = ()) -> None:
        """The shared integer settings (and ``keys``) must be positive integers; the time limit positive or null."""
        for key in ("steps", "batch_size", "seq_len", "eval_every", "checkpoint_every", "keep_checkpoints", *keys):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{what} setting {key} must be a positive integer, got {value!r}")
        if self.time_limit_min is not None and not self.time_limit_min > 0:
            raise UserError(f"time_limit_min must be positive or null, got {self.time_limit_min!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class WindowTrainer:
    """Base of a resumable training run; subclasses set ``model``, ``optimizer``, ``scheduler`` and ``generator``."""

    label = "model"
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    generator: torch.Generator

    def __init__(self, run: RunDir, config: Any, device: torch.device, progress: bool):
        self.run, self.config, self.device, self.show_progress = run, config, device, progress
        self.step, self.wall_before, self.cpu_before = 0, 0.0, 0.0
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        self.loss_avg = math.nan
        self.last_eval: dict[str, float] = {}
        self.evaluated_at = -1

    # -- what a subclass says -------------------------------------------------------------------------------------
    def train_step(self) -> None:
        raise NotImplementedError

    def evaluate(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def model_blob(self) -> dict[str, Any]:
        raise NotImplementedError

    def save_model(self) -> None:
        raise NotImplementedError

    def extra_metrics(self) -> dict[str, Any]:
        return {}

    # -- clocks and state ---------------------------------------------------------------------------------------
    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def cpu(self) -> float:  # this process's CPU seconds: the fair measure on a shared machine
        return self.cpu_before + time.process_time() - self.cpu_started

    def checkpoint(self) -> None:
        blob = {"model": self.model_blob(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state(), "step": self.step, "wall_s": self.wall(), "cpu_s": self.cpu()}
        self.run.save_checkpoint(self.step, lambda tmp: torch.save(blob, tmp), keep=self.config.keep_checkpoints)

    def restore(self) -> None:
        latest = self.run.latest_checkpoint()
        if latest is None:
            return
        ckpt = load_torch(latest.path)
        self.model.load_state_dict(ckpt["model"]["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.generator.set_state(ckpt["generator"])
        if "torch_rng" in ckpt:   # older Note RNN checkpoints lack it
            torch.set_rng_state(ckpt["torch_rng"])
        self.step, self.wall_before = int(ckpt["step"]), float(ckpt["wall_s"])
        self.cpu_before = float(ckpt.get("cpu_s", 0.0))
        self.run.truncate_rows(PROGRESS_FILE, "step", self.step)

    # -- the loop -------------------------------------------------------------------------------------------------
    def fit(self) -> Path:
        """Train to the step budget (or the opt-in time limit); Ctrl-C writes a checkpoint first."""
        config = self.config
        self.restore()
        self.run.set_status("running", steps=self.step)
        limit_s = None if config.time_limit_min is None else 60.0 * float(config.time_limit_min)
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        self.model.train()
        try:
            with _progress_bar(self.show_progress, self.label) as bar:
                task = bar.add_task(self.label, total=config.steps, completed=self.step, info="") if bar else None
                while self.step < config.steps and (limit_s is None or self.wall() < limit_s):
                    self.train_step()
                    if self.step % config.eval_every == 0 or self.step == config.steps:
                        self.evaluate()
                    if self.step % config.checkpoint_every == 0:
                        self.checkpoint()
                        self.run.set_status("running", steps=self.step, wall_s=round(self.wall(), 1),
                                            steps_per_second=round(self.step / max(self.wall(), 1e-9), 2))
                    if bar is not None:
                        bar.update(task, completed=self.step, info=self.describe())
        except KeyboardInterrupt:
            self.checkpoint()
            self.run.set_status("interrupted", steps=self.step, wall_s=round(self.wall(), 1))
            raise
        return self.finish()

    def finish(self) -> Path:
        if self.evaluated_at != self.step:
            self.evaluate()
        self.checkpoint()
        self.save_model()
        metrics = {**self.last_eval, "steps": self.step, "wall_s": round(self.wall(), 1),
                   "cpu_s": round(self.cpu(), 1), "device": str(self.device), "train_loss_ema": self.loss_avg,
                   **self.extra_metrics(), "params": sum(p.numel() for p in self.model.parameters()),
                   "stopped_by_time_limit": self.step < self.config.steps}
        atomic.write_json(self.run.path / METRICS_FILE, metrics)
        self.run.set_status("finished", steps=self.step, wall_s=round(self.wall(), 1))
        return self.run.path


def _progress_bar(enabled: bool, label: str) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    return Progress(TextColumn(f"[bold]training {label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"))
