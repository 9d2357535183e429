"""The lab's training callback (checkpoints, periodic evaluation, status, progress bar) and preset callbacks."""

from __future__ import annotations

import math
import time
from typing import Any

import gymnasium as gym
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from stable_baselines3.common.callbacks import BaseCallback, EventCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rllab.agents.sb3.evaluation import run_episodes, summarize
from rllab.core import atomic
from rllab.core.device import limit_cpu_threads
from rllab.core.errors import UserError
from rllab.core.imports import import_object
from rllab.core.runs import RunDir
from rllab.core.train_config import TrainConfig

EVAL_CURVE_FILE = "evaluations.csv"
BEST_MODEL_FILE = "best_model.zip"
STATUS_EVERY_S = 30.0


def next_multiple(steps: int, every: int) -> float:
    """The first multiple of ``every`` after ``steps`` (never, for ``every <= 0``)."""
    if every <= 0:
        return math.inf
    return (steps // every + 1) * every


def planned_steps(model: Any, start: int, target: int) -> int:
    """The step count ``learn`` stops at: it trains whole rollouts (``n_steps`` per env for PPO/A2C, one step of
    every env otherwise), so 500 steps of a 2-env x 512-step PPO preset are 1,024 and the bar must say so."""
    chunk = model.n_steps * model.n_envs if isinstance(model, OnPolicyAlgorithm) else model.n_envs
    return start + math.ceil(max(target - start, 0) / chunk) * chunk


def save_checkpoint(run: RunDir, model: Any, steps: int, keep: int) -> None:
    """Model zip (plus the replay buffer for off-policy algorithms), each written atomically.

    The replay buffer is written first: a model checkpoint on disk always has its buffer beside it.
    """
    if getattr(model, "replay_buffer", None) is not None:
        run.save_checkpoint(steps, model.save_replay_buffer, suffix=".replay.pkl", keep=keep)
    run.save_checkpoint(steps, model.save, suffix=".zip", keep=keep)


class LabCallback(EventCallback):
    """Checkpoints, periodic evaluation (keeping ``best_model.zip``), ``status.json`` and the progress bar.

    ``_on_step`` compares the step count with the next due step and returns: that is the whole per-step cost.
    As with SB3's ``EvalCallback``, ``callback_after_eval`` runs after each evaluation (it reads ``parent.last_eval``)
    and stops training by returning False; ``rllab tune`` reports evaluations to Optuna and prunes this way.
    """

    def __init__(self, run: RunDir, config: TrainConfig, eval_env: gym.Env | None, resumed_from: int,
                 progress: bool, callback_after_eval: BaseCallback | None = None) -> None:
        super().__init__(callback_after_eval)
        self.run, self.config, self.eval_env, self.show_progress = run, config, eval_env, progress
        self.next_ckpt = next_multiple(resumed_from, config.checkpoint.freq)
        self.next_eval = next_multiple(resumed_from, config.eval.freq) if eval_env is not None else math.inf
        self.stop = False
        self.last_eval: float | None = None
        self.best_eval = -math.inf
        self.progress: Progress | None = None
        self.task: Any = None
        self.total = config.steps
        self.next_draw = 0
        self.next_status_time = 0.0
        self.start_time = time.perf_counter()
        self.start_steps = resumed_from

    def _on_training_start(self) -> None:
        super()._on_training_start()
        self.start_time = time.perf_counter()
        self.next_status_time = self.start_time + STATUS_EVERY_S
        if self.show_progress:
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[fps]} steps/s"), TextColumn("eval {task.fields[eval]}"),
                                     TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
            self.progress.start()
            self.total = planned_steps(self.model, self.start_steps, self.config.steps)
            self.task = self.progress.add_task(f"{self.config.algo} {self.config.env}", total=self.total,
                                               completed=self.start_steps, fps="-", eval="-")

    def steps_per_second(self) -> float:
        return (self.num_timesteps - self.start_steps) / max(time.perf_counter() - self.start_time, 1e-9)

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if steps >= self.next_ckpt:
            save_checkpoint(self.run, self.model, steps, self.config.checkpoint.keep)
            self.next_ckpt = next_multiple(steps, self.config.checkpoint.freq)
            self._write_status()
        if steps >= self.next_eval:
            self._evaluate(steps)
            self.next_eval = next_multiple(steps, self.config.eval.freq)
        if steps >= self.next_draw:
            self.next_draw = steps + 1000
            if self.progress is not None:
                shown = "-" if self.last_eval is None else f"{self.last_eval:.1f}"
                self.progress.update(self.task, completed=steps,
                                     fps=f"{self.steps_per_second():,.0f}", eval=shown)
            if time.perf_counter() >= self.next_status_time:
                self._write_status()
        return not self.stop

    def _write_status(self) -> None:
        self.next_status_time = time.perf_counter() + STATUS_EVERY_S
        self.run.set_status("running", steps=int(self.num_timesteps),
                            steps_per_second=round(self.steps_per_second(), 1))

    def _evaluate(self, steps: int) -> None:
        config = self.config
        records = run_episodes(self.model, self.eval_env, config.eval.episodes, config.eval.deterministic,
                               config.eval.info_keywords, seed=10_000 + config.seed)
        summary = summarize(records)
        self.run.append_row(EVAL_CURVE_FILE, {"timesteps": steps, **summary})
        self.last_eval = summary["return_mean"]
        self.logger.record("eval/mean_reward", summary["return_mean"])
        if summary["return_mean"] > self.best_eval:
            self.best_eval = summary["return_mean"]
            atomic.write_with(self.run.path / BEST_MODEL_FILE, self.model.save, suffix=".zip")
        if not self._on_event():
            self.stop = True
        if config.stop_at_reward is not None and summary["return_mean"] >= config.stop_at_reward:
            self.stop = True

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.num_timesteps, total=max(self.total, self.num_timesteps))
            self.progress.stop()


class UpdateThreads(BaseCallback):
    """More torch threads for the gradient update only, one while collecting rollouts.

    With ``vec_env: subproc`` the env workers wait while the learner updates, so the update can use every core;
    during collection they need the cores, and one learner thread is faster there (the lab's default).
    """

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise UserError(f"UpdateThreads: threads must be a positive integer, got {threads!r}")
        self.threads = threads

    def _on_rollout_start(self) -> None:
        limit_cpu_threads(1)

    def _on_rollout_end(self) -> None:
        limit_cpu_threads(self.threads)

    def _on_training_end(self) -> None:
        limit_cpu_threads(1)

    def _on_step(self) -> bool:
        return True


def build_callback(item: Any) -> BaseCallback:
    """A preset's callback entry: ``"module:Class"`` or ``{"module:Class": {kwargs}}``."""
    if isinstance(item, str):
        return import_object(item)()
    if isinstance(item, dict) and len(item) == 1:
        ((spec, kwargs),) = item.items()
        return import_object(spec)(**(kwargs or {}))
    raise UserError(f"bad callback entry {item!r}: use 'module:Class' or {{'module:Class': {{...}}}}")
