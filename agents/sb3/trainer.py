"""Training into a run directory: SB3's own ``learn()`` loop plus the lab callback, resumable after a kill.

A run killed at any moment resumes from its newest checkpoint (model, and replay buffer for off-policy
algorithms); the logs past that checkpoint are dropped and written again. Ctrl-C saves a checkpoint first. A
finished run can be continued for more steps (rl-zoo's ``-i``) by resuming it with a larger step budget.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import CSVOutputFormat, Logger, make_output_format
from stable_baselines3.common.utils import set_random_seed

from rllab.agents.sb3.algos import (
    MODEL_FILE,
    algo_class,
    build_model,
    load_model,
    model_kwargs,
    run_config,
)
from rllab.agents.sb3.callbacks import (
    EVAL_CURVE_FILE,
    LabCallback,
    build_callback,
    save_checkpoint,
)
from rllab.agents.sb3.env_factory import make_env, make_vec_env
from rllab.core import atomic
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.core.runs import Checkpoint, RunDir
from rllab.core.train_config import TrainConfig

PROGRESS_FILE = "progress.csv"
STEP_COLUMN = "time/total_timesteps"


def validate(config: TrainConfig) -> None:
    """Check everything that can fail before a run directory is created: algo, hyperparameters, env id and kwargs."""
    resolve_device(config.device)
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UserError("tensorboard: true needs the tensorboard package: pip install tensorboard")
    model_kwargs(config, algo_class(config.algo))
    make_env(config).close()
    for item in config.callbacks:   # e.g. a warm start from a run that does not exist yet
        check = getattr(build_callback(item), "check", None)
        if check is not None:
            check()


def train(config: TrainConfig, run: RunDir, progress: bool | None = None,
          callback_after_eval: BaseCallback | None = None) -> Path:
    """Train from scratch into ``run`` (already created with this config); returns the model's path.

    ``callback_after_eval`` runs after each periodic evaluation (see :class:`LabCallback`).
    """
    return _learn(config, run, start=None, progress=config.progress_bar if progress is None else progress,
                  callback_after_eval=callback_after_eval)


def resume(run: RunDir, progress: bool = True, steps: int | None = None) -> Path:
    """Continue a killed or interrupted run from its newest checkpoint (or from scratch if it has none).

    ``steps`` raises the run's step budget: a finished run then trains on from where it stopped.
    """
    config = run_config(run)
    if steps is not None:
        if steps <= config.steps and run.finished:
            raise UserError(f"{run.path} already finished {run.status.get('steps')} of {config.steps} steps; "
                            f"pass a larger --steps to train it further")
        config.steps = steps
        atomic.write_yaml(run.path / "config.yaml", config.to_dict())
    elif run.finished:
        raise UserError(f"{run.path} already finished ({run.status.get('steps')} steps); "
                        "pass --steps N to train it further")
    run.record_command()
    return _learn(config, run, start=run.latest_checkpoint(".zip"), progress=progress)


def _configure_logger(run: RunDir, resumed_from: int, tensorboard: bool) -> Logger:
    """SB3 logger writing ``progress.csv``; on resume the rows past the checkpoint are dropped, the rest kept."""
    path = run.path / PROGRESS_FILE
    kept_header: list[str] = []
    kept_rows: list[list[str]] = []
    if resumed_from and path.exists():
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            kept_header = next(reader, [])
            step_col = kept_header.index(STEP_COLUMN) if STEP_COLUMN in kept_header else None
            for row in reader:
                if step_col is None or (row[step_col] and float(row[step_col]) <= resumed_from):
                    kept_rows.append(row)
    csv_format = CSVOutputFormat(str(path))
    if kept_header:
        writer = csv.writer(csv_format.file, lineterminator="\n")
        writer.writerow(kept_header)
        writer.writerows(kept_rows)
        csv_format.file.flush()
        csv_format.keys = list(kept_header)
    formats = [csv_format]
    if tensorboard:
        formats.append(make_output_format("tensorboard", str(run.path / "tensorboard")))
    return Logger(folder=str(run.path), output_formats=formats)


def _restore(run: RunDir, config: TrainConfig, start: Checkpoint, env: Any, device: str) -> Any:
    """The model of checkpoint ``start`` with its replay buffer; logs past it are dropped."""
    model = load_model(algo_class(config.algo), start.path, env, device)
    replay = run.checkpoint_dir / f"ckpt_{start.step:010d}.replay.pkl"
    if hasattr(model, "load_replay_buffer") and replay.exists():
        model.load_replay_buffer(str(replay))
    run.truncate_rows(EVAL_CURVE_FILE, "timesteps", start.step)
    return model


def _learn(config: TrainConfig, run: RunDir, start: Checkpoint | None, progress: bool,
           callback_after_eval: BaseCallback | None = None) -> Path:
    limit_cpu_threads(1)
    device = resolve_device(config.device)
    set_random_seed(config.seed)
    resumed_from = start.step if start is not None else 0
    monitor_dir = run.path / "monitor"
    monitor_dir.mkdir(parents=True, exist_ok=True)
    env = make_vec_env(config, monitor_dir, append=resumed_from > 0)
    eval_env = make_env(config) if config.eval.freq > 0 and config.eval.episodes > 0 else None
    try:
        model = _restore(run, config, start, env, device) if start is not None else build_model(config, env, device)
        model.set_logger(_configure_logger(run, resumed_from, config.tensorboard))
        lab = LabCallback(run, config, eval_env, resumed_from, progress, callback_after_eval)
        callbacks = [lab, *(build_callback(item) for item in config.callbacks)]
        run.set_status("running", steps=resumed_from, resumed_from=resumed_from, device=device)
        started = time.perf_counter()
        try:
            model.learn(total_timesteps=max(config.steps - model.num_timesteps, 0), callback=callbacks,
                        reset_num_timesteps=False)
        except KeyboardInterrupt:
            save_checkpoint(run, model, model.num_timesteps, config.checkpoint.keep)
            run.set_status("interrupted", steps=int(model.num_timesteps))
            raise
        except Exception as exc:
            run.set_status("failed", steps=int(model.num_timesteps), error=str(exc).splitlines()[0][:500])
            raise
        wall = time.perf_counter() - started
        save_checkpoint(run, model, model.num_timesteps, config.checkpoint.keep)
        atomic.write_with(run.path / MODEL_FILE, model.save, suffix=".zip")
        run.set_status("finished", steps=int(model.num_timesteps), train_seconds=round(wall, 2),
                       steps_per_second=round((model.num_timesteps - resumed_from) / max(wall, 1e-9), 1))
    finally:
        env.close()
        if eval_env is not None:
            eval_env.close()
    return run.path / MODEL_FILE
