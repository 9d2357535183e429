"""Stable-Baselines3 glue: build envs and models from a :class:`~rllab.config.TrainConfig`, train into a run
directory with atomic checkpoints, resume after a kill, and evaluate on the unshaped task metrics.

The training loop is SB3's own; rllab only adds callbacks (checkpoints, periodic evaluation, a progress bar)
that run every ``check_every`` steps, so the overhead stays within a few percent of a bare ``model.learn()``.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import inspect
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rllab import atomic
from rllab.config import TrainConfig, did_you_mean
from rllab.errors import UserError, choices_hint
from rllab.runs import RunDir

ALGOS: dict[str, str] = {
    "ppo": "stable_baselines3:PPO",
    "dqn": "stable_baselines3:DQN",
    "a2c": "stable_baselines3:A2C",
    "maskable_ppo": "sb3_contrib:MaskablePPO",
}
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU", "gelu": "GELU",
               "silu": "SiLU"}
MODEL_FILE = "model.zip"
EVAL_CURVE_FILE = "evaluations.csv"


# -- resolving names --------------------------------------------------------------------------------------------

def import_object(spec: str) -> Any:
    """``"package.module:Name"`` -> the object, with a clear error when it does not exist."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise UserError(f"expected 'module:Name', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import {module_name!r} for {spec!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UserError(f"{module_name!r} has no attribute {attr!r}") from None


def algo_class(name: str) -> type:
    if name in ALGOS:
        return import_object(ALGOS[name])
    if ":" in name:
        return import_object(name)
    raise UserError(f"unknown algo {name!r}; {choices_hint(ALGOS)}")


def uses_masks(algo_cls: type) -> bool:
    return "Maskable" in algo_cls.__name__


def _linear_schedule(start: float) -> Callable[[float], float]:
    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule


def _model_kwargs(config: TrainConfig, algo_cls: type) -> dict[str, Any]:
    """SB3 constructor kwargs from the config, checked against the algorithm's signature."""
    import torch.nn as nn

    reserved = {"self", "policy", "env", "seed", "device", "verbose", "policy_kwargs", "tensorboard_log",
                "_init_setup_model"}
    valid = set(inspect.signature(algo_cls.__init__).parameters) - reserved
    kwargs: dict[str, Any] = {}
    for key, value in config.hyperparams.items():
        if key not in valid:
            raise UserError(f"unknown hyperparameter {key!r} for {algo_cls.__name__}{did_you_mean(key, valid)}; "
                            f"{choices_hint(valid)}")
        if isinstance(value, str) and value.startswith("lin_"):
            try:
                value = _linear_schedule(float(value[4:]))
            except ValueError:
                raise UserError(f"hyperparameter {key}: bad linear schedule {value!r} (use lin_<float>)") from None
        kwargs[key] = value
    policy_kwargs = dict(config.policy_kwargs)
    for key, value in policy_kwargs.items():  # e.g. features_extractor_class: "agents.go_models:SmallBoardCNN"
        if key.endswith("_class") and isinstance(value, str) and ":" in value:
            policy_kwargs[key] = import_object(value)
    if isinstance(policy_kwargs.get("activation_fn"), str):
        name = policy_kwargs["activation_fn"].lower()
        if name not in ACTIVATIONS:
            raise UserError(f"unknown activation_fn {name!r}; {choices_hint(ACTIVATIONS)}")
        policy_kwargs["activation_fn"] = getattr(nn, ACTIVATIONS[name])
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def validate(config: TrainConfig) -> None:
    """Check everything that can fail before a run directory is created: algo, hyperparameters, env id and kwargs."""
    from rllab.device import resolve_device

    resolve_device(config.device)
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UserError("tensorboard: true needs the tensorboard package: pip install tensorboard")
    _model_kwargs(config, algo_class(config.algo))
    make_env(config).close()


# -- environments -----------------------------------------------------------------------------------------------

def _apply_wrappers(env: gym.Env, wrappers: list[Any]) -> gym.Env:
    for item in wrappers:
        if isinstance(item, str):
            env = import_object(item)(env)
        elif isinstance(item, dict) and len(item) == 1:
            ((spec, kwargs),) = item.items()
            env = import_object(spec)(env, **(kwargs or {}))
        else:
            raise UserError(f"bad wrapper entry {item!r}: use 'module:callable' or {{'module:callable': {{...}}}}")
    return env


def make_env(config: TrainConfig, render_mode: str | None = None) -> gym.Env:
    """One environment with the config's kwargs and wrappers (no Monitor)."""
    import envs  # noqa: F401  (registers the rllab/ ids)

    kwargs = dict(config.env_kwargs)
    if render_mode:
        kwargs["render_mode"] = render_mode
    try:
        env = gym.make(config.env, **kwargs)
    except gym.error.Error as exc:
        known = [k for k in gym.registry if k.startswith("rllab/")]
        raise UserError(f"cannot make env {config.env!r}: {exc} (see `rllab envs`; ours: {', '.join(known)})") from None
    except TypeError as exc:
        raise UserError(f"bad env_kwargs for {config.env!r}: {exc}") from None
    return _apply_wrappers(env, config.wrappers)


def make_vec_env(config: TrainConfig, monitor_dir: Path | None, append: bool = False):
    """The training VecEnv: ``n_envs`` copies, each under an SB3 Monitor logging the info keywords."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    make_env(config).close()  # fail fast, in this process, on a bad id or kwargs

    def factory(rank: int) -> Callable[[], gym.Env]:
        def thunk() -> gym.Env:
            env = make_env(config)
            filename = str(monitor_dir / f"{rank}") if monitor_dir is not None else None
            return Monitor(env, filename=filename, info_keywords=tuple(config.eval.info_keywords),
                           override_existing=not append)

        return thunk

    fns = [factory(i) for i in range(config.n_envs)]
    vec = SubprocVecEnv(fns, start_method="forkserver") if config.vec_env == "subproc" else DummyVecEnv(fns)
    vec.seed(config.seed)
    return vec


# -- evaluation -------------------------------------------------------------------------------------------------

def run_episodes(model: Any, env: gym.Env, episodes: int, deterministic: bool, info_keywords: list[str],
                 seed: int, frames: list[np.ndarray] | None = None) -> list[dict[str, float]]:
    """Play whole episodes and return one record per episode: return, length and the final-info keywords.

    The final ``info`` is where environments report their unshaped task metric (win, x_pos_max, rule
    statistics), which is what experiments compare.
    """
    masked = uses_masks(type(model))
    records = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        total, length, done = 0.0, 0, False
        if frames is not None and episode == 0:
            frames.append(env.render())
        while not done:
            kwargs = {}
            if masked:
                kwargs["action_masks"] = env.unwrapped.action_masks() if hasattr(env.unwrapped, "action_masks") \
                    else env.get_wrapper_attr("action_masks")()
            action, _ = model.predict(obs, deterministic=deterministic, **kwargs)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            length += 1
            done = terminated or truncated
            if frames is not None and episode == 0:
                frames.append(env.render())
        record = {"episode": episode, "return": total, "length": length}
        for key in info_keywords:
            value = info.get(key, math.nan)
            record[key] = float(value) if isinstance(value, (int, float, np.number, bool, np.bool_)) else math.nan
        records.append(record)
    return records


def summarize(records: list[dict[str, float]]) -> dict[str, float]:
    """Mean (and std for the return) of each per-episode field."""
    summary: dict[str, float] = {"episodes": len(records)}
    if not records:
        return summary
    for key in records[0]:
        if key == "episode":
            continue
        values = np.array([r[key] for r in records], dtype=float)
        summary[f"{key}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    returns = np.array([r["return"] for r in records], dtype=float)
    summary["return_std"] = float(returns.std())
    return summary


# -- callbacks --------------------------------------------------------------------------------------------------

class LabCallback(BaseCallback):
    """Checkpoints, periodic evaluation and the progress bar in one callback.

    ``_on_step`` compares the step count with the next due step and returns: that is the whole per-step cost.
    """

    def __init__(self, run: RunDir, config: TrainConfig, eval_env: gym.Env | None, resumed_from: int,
                 progress: bool) -> None:
        super().__init__()
        self.run, self.config, self.eval_env, self.show_progress = run, config, eval_env, progress
        self.next_ckpt = _next_multiple(resumed_from, config.checkpoint.freq)
        self.next_eval = _next_multiple(resumed_from, config.eval.freq) if eval_env is not None else math.inf
        self.stop = False
        self.last_eval: float | None = None
        self.progress: Any = None
        self.task: Any = None
        self.next_draw = 0
        self.start_time = time.perf_counter()
        self.start_steps = resumed_from

    def _on_training_start(self) -> None:
        if self.show_progress:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[fps]} steps/s"), TextColumn("eval {task.fields[eval]}"),
                                     TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
            self.progress.start()
            self.task = self.progress.add_task(f"{self.config.algo} {self.config.env}", total=self.config.steps,
                                               completed=self.start_steps, fps="-", eval="-")

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if steps >= self.next_ckpt:
            save_checkpoint(self.run, self.model, steps, self.config.checkpoint.keep)
            self.next_ckpt = _next_multiple(steps, self.config.checkpoint.freq)
        if steps >= self.next_eval:
            self._evaluate(steps)
            self.next_eval = _next_multiple(steps, self.config.eval.freq)
        if self.progress is not None and steps >= self.next_draw:
            elapsed = max(time.perf_counter() - self.start_time, 1e-9)
            shown = "-" if self.last_eval is None else f"{self.last_eval:.1f}"
            self.progress.update(self.task, completed=min(steps, self.config.steps),
                                 fps=f"{(steps - self.start_steps) / elapsed:,.0f}", eval=shown)
            self.next_draw = steps + 1000
        return not self.stop

    def _evaluate(self, steps: int) -> None:
        config = self.config
        records = run_episodes(self.model, self.eval_env, config.eval.episodes, config.eval.deterministic,
                               config.eval.info_keywords, seed=10_000 + config.seed)
        summary = summarize(records)
        append_eval_row(self.run.path / EVAL_CURVE_FILE, {"timesteps": steps, **summary})
        self.last_eval = summary["return_mean"]
        self.logger.record("eval/mean_reward", summary["return_mean"])
        if config.stop_at_reward is not None and summary["return_mean"] >= config.stop_at_reward:
            self.stop = True

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(self.num_timesteps, self.config.steps))
            self.progress.stop()


def _next_multiple(steps: int, every: int) -> float:
    if every <= 0:
        return math.inf
    return (steps // every + 1) * every


def append_eval_row(path: Path, row: dict[str, float]) -> None:
    """Append one evaluation row to the learning-curve CSV (header written once; columns fixed by the first row)."""
    new = not path.exists()
    fields = list(row) if new else next(csv.reader(path.open()))
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def truncate_eval_rows(path: Path, max_step: int) -> None:
    """Drop evaluation rows recorded after the checkpoint a resumed run restarts from."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    kept = [r for r in rows if float(r["timesteps"]) <= max_step]
    atomic.write_csv(path, kept, list(rows[0]))


def save_checkpoint(run: RunDir, model: Any, steps: int, keep: int) -> None:
    """Model zip (plus the replay buffer for off-policy algorithms), each written atomically.

    The replay buffer is written first: a model checkpoint on disk always has its buffer beside it.
    """
    if hasattr(model, "replay_buffer") and model.replay_buffer is not None:
        run.save_checkpoint(steps, model.save_replay_buffer, suffix=".replay.pkl", keep=keep)
    run.save_checkpoint(steps, model.save, suffix=".zip", keep=keep)


# -- logger -----------------------------------------------------------------------------------------------------

def _configure_logger(run: RunDir, resumed_from: int, tensorboard: bool) -> Any:
    """SB3 logger writing ``progress.csv``; on resume the rows past the checkpoint are dropped, the rest kept."""
    from stable_baselines3.common.logger import CSVOutputFormat, Logger, make_output_format

    path = run.path / "progress.csv"
    kept_header: list[str] = []
    kept_rows: list[list[str]] = []
    if resumed_from and path.exists():
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            kept_header = next(reader, [])
            step_col = kept_header.index("time/total_timesteps") if "time/total_timesteps" in kept_header else None
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


# -- train / resume ---------------------------------------------------------------------------------------------

def train(config: TrainConfig, run: RunDir, progress: bool | None = None) -> Path:
    """Train from scratch into ``run`` (already created with this config)."""
    return _learn(config, run, resume_from=None, progress=config.progress_bar if progress is None else progress)


def resume(run: RunDir, progress: bool = True) -> Path:
    """Continue a killed or interrupted run from its newest checkpoint (or from scratch if it has none)."""
    config = TrainConfig.from_dict(run.config, source=str(run.path / "config.yaml"))
    if run.finished:
        raise UserError(f"{run.path} already finished ({run.status.get('steps')} steps); nothing to resume")
    return _learn(config, run, resume_from=run.latest_checkpoint(".zip"), progress=progress)


def _learn(config: TrainConfig, run: RunDir, resume_from: Any, progress: bool) -> Path:
    from stable_baselines3.common.utils import set_random_seed

    from rllab.device import limit_cpu_threads, resolve_device

    limit_cpu_threads(1)
    device = resolve_device(config.device)
    set_random_seed(config.seed)
    algo_cls = algo_class(config.algo)
    resumed_from = resume_from.step if resume_from is not None else 0
    monitor_dir = run.path / "monitor"
    monitor_dir.mkdir(parents=True, exist_ok=True)
    env = make_vec_env(config, monitor_dir, append=resumed_from > 0)
    eval_env = make_env(config) if config.eval.freq > 0 and config.eval.episodes > 0 else None
    try:
        if resume_from is not None:
            model = _load_model(algo_cls, resume_from.path, env, device)
            replay = run.checkpoint_dir / f"ckpt_{resume_from.step:010d}.replay.pkl"
            if hasattr(model, "load_replay_buffer") and replay.exists():
                model.load_replay_buffer(str(replay))
            truncate_eval_rows(run.path / EVAL_CURVE_FILE, resumed_from)
        else:
            model = algo_cls(config.policy, env, seed=config.seed, device=device, verbose=0,
                             **_model_kwargs(config, algo_cls))
        model.set_logger(_configure_logger(run, resumed_from, config.tensorboard))
        callbacks = [LabCallback(run, config, eval_env, resumed_from, progress)]
        callbacks += [_build_callback(item) for item in config.callbacks]
        run.set_status("running", steps=resumed_from, resumed_from=resumed_from)
        started = time.perf_counter()
        try:
            model.learn(total_timesteps=max(config.steps - model.num_timesteps, 0), callback=callbacks,
                        reset_num_timesteps=False)
        except KeyboardInterrupt:
            save_checkpoint(run, model, model.num_timesteps, config.checkpoint.keep)
            run.set_status("interrupted", steps=model.num_timesteps)
            raise
        wall = time.perf_counter() - started
        atomic.write_with(run.path / MODEL_FILE, model.save, suffix=".zip")
        run.set_status("finished", steps=int(model.num_timesteps), train_seconds=round(wall, 2),
                       steps_per_second=round((model.num_timesteps - resumed_from) / max(wall, 1e-9), 1))
    finally:
        env.close()
        if eval_env is not None:
            eval_env.close()
    return run.path / MODEL_FILE


def _build_callback(item: Any) -> Any:
    if isinstance(item, str):
        return import_object(item)()
    if isinstance(item, dict) and len(item) == 1:
        ((spec, kwargs),) = item.items()
        return import_object(spec)(**(kwargs or {}))
    raise UserError(f"bad callback entry {item!r}: use 'module:Class' or {{'module:Class': {{...}}}}")


def _load_model(algo_cls: type, path: Path, env: Any, device: str) -> Any:
    """SB3's loader (zip of state dicts, no pickled code for the weights), with a clear error if corrupt."""
    try:
        return algo_cls.load(str(path), env=env, device=device)
    except Exception as exc:  # zipfile, torch and pickle raise many types for a damaged file
        raise UserError(f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None


def load_run_model(run: RunDir, device: str = "cpu") -> tuple[TrainConfig, Any]:
    """The run's final model, or its newest checkpoint if it has not finished."""
    config = TrainConfig.from_dict(run.config, source=str(run.path / "config.yaml"))
    path = run.path / MODEL_FILE
    if not path.exists():
        latest = run.latest_checkpoint(".zip")
        if latest is None:
            raise UserError(f"{run.path} has no model yet (no model.zip and no checkpoint)")
        path = latest.path
    return config, _load_model(algo_class(config.algo), path, None, device)


def evaluate_run(run: RunDir, episodes: int, deterministic: bool = True, video: Path | None = None,
                 seed: int | None = None) -> dict[str, Any]:
    """Evaluate a run's model; write ``evaluation.json`` and ``evaluation.csv`` into the run directory."""
    from rllab.device import limit_cpu_threads

    limit_cpu_threads(1)
    if episodes <= 0:
        raise UserError("--episodes must be positive")
    config, model = load_run_model(run)
    env = make_env(config, render_mode="rgb_array" if video else None)
    frames: list[np.ndarray] | None = [] if video else None
    seed = 1_000_000 + config.seed if seed is None else seed
    try:
        records = run_episodes(model, env, episodes, deterministic, config.eval.info_keywords, seed, frames)
    finally:
        env.close()
    summary = {"run": str(run.path), "env": config.env, "algo": config.algo, "deterministic": deterministic,
               "steps": run.status.get("steps"), **summarize(records), "episodes_detail": records}
    atomic.write_json(run.path / "evaluation.json", summary)
    atomic.write_csv(run.path / "evaluation.csv", records, list(records[0]))
    if video is not None and frames:
        from rllab.video import write_video

        write_video([f for f in frames if f is not None], video, fps=env.metadata.get("render_fps", 30))
    return summary
