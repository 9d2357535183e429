"""Evaluation on the unshaped task metrics: whole episodes, one record each, summarised and written to the run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rllab.agents.sb3.algos import algo_class, load_model, run_config, run_model_path, uses_masks
from rllab.agents.sb3.env_factory import make_env
from rllab.agents.sb3.targets import EvalTarget
from rllab.core import atomic
from rllab.core.device import limit_cpu_threads
from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.core.shipped import is_shipped
from rllab.core.video import write_video

EVALUATION_JSON = "evaluation.json"
EVALUATION_CSV = "evaluation.csv"
#: Reset options of every evaluation episode: envs with a training-only start distribution (Mario's save-state
#: curriculum) start from the task's own start; other envs ignore it.
EVALUATION_RESET = {"evaluation": True}
#: 0/1 task indicators whose episode mean is also reported under a rate name.
RATES = {"flag_get": "flag_rate"}


def action_masks(env: gym.Env) -> np.ndarray:
    """The legal-action mask of a (possibly wrapped) env; gymnasium's wrappers do not forward ``action_masks``."""
    return np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool)


def run_episodes(model: Any, env: gym.Env, episodes: int, deterministic: bool, info_keywords: list[str],
                 seed: int, frames: list[np.ndarray] | None = None) -> list[dict[str, float]]:
    """Play whole episodes and return one record per episode: return, length and the final-info keywords.

    The final ``info`` is where environments report their unshaped task metric (win, x_pos_max, rule
    statistics), which is what experiments compare. ``frames`` collects the first episode's rendered frames.
    """
    masked = uses_masks(type(model))
    records = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode, options=dict(EVALUATION_RESET))
        total, length, done = 0.0, 0, False
        record_frames = frames is not None and episode == 0
        if record_frames:
            frames.append(env.render())
        while not done:
            kwargs = {"action_masks": action_masks(env)} if masked else {}
            action, _ = model.predict(obs, deterministic=deterministic, **kwargs)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            length += 1
            done = terminated or truncated
            if record_frames:
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
    for key, rate in RATES.items():
        if f"{key}_mean" in summary:
            summary[rate] = summary[f"{key}_mean"]
    return summary


def check_renders(env: gym.Env, env_id: str) -> None:
    """Fail before any episode is played when the env cannot draw frames (e.g. pygame missing for CartPole)."""
    try:
        env.reset()
        frame = env.render()
    except gym.error.DependencyNotInstalled as exc:
        env.close()
        raise UserError(f"--video needs {env_id} to render, which needs a missing package: "
                        f"{str(exc).splitlines()[0]}") from None
    if frame is None:
        env.close()
        raise UserError(f"--video: {env_id} does not render rgb_array frames")


def evaluate_run(run: RunDir, episodes: int, deterministic: bool = True, video: Path | None = None,
                 seed: int | None = None, out: Path | None = None) -> dict[str, Any]:
    """Evaluate a run's model; write ``evaluation.json`` and ``evaluation.csv`` into ``out`` (default: the run)."""
    return evaluate_target(EvalTarget(run_config(run), None, run, run.path), episodes, deterministic, video, seed,
                           out)


def evaluate_target(target: EvalTarget, episodes: int, deterministic: bool = True, video: Path | None = None,
                    seed: int | None = None, out: Path | None = None, device: str = "cpu") -> dict[str, Any]:
    """Evaluate a run, a shipped model or a ``.zip``; write ``evaluation.json`` and ``.csv`` into ``out``.

    A shipped model is read-only package data, so its results need an ``out`` directory.
    """
    limit_cpu_threads(1)
    if episodes <= 0:
        raise UserError("--episodes must be positive")
    out = target.out if out is None else out
    if is_shipped(out):
        raise UserError(f"{out.name} is a shipped model (read-only): pass --out DIR for its results")
    config = target.config
    model_path = target.model if target.model is not None else run_model_path(target.run)
    model = load_model(algo_class(config.algo), model_path, None, device)
    env = make_env(config, render_mode="rgb_array" if video else None)
    if video is not None:
        check_renders(env, config.env)
    frames: list[np.ndarray] | None = [] if video else None
    seed = 1_000_000 + config.seed if seed is None else seed
    try:
        records = run_episodes(model, env, episodes, deterministic, config.eval.info_keywords, seed, frames)
        fps = env.metadata.get("render_fps", 30)
    finally:
        env.close()
    run = target.run
    summary = {"run": str(run.path) if run else None, "model": str(model_path), "env": config.env,
               "algo": config.algo, "env_kwargs": config.env_kwargs, "device": device,
               "deterministic": deterministic, "steps": run.status.get("steps") if run else None,
               **summarize(records), "episodes_detail": records}
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / EVALUATION_JSON, summary)
    atomic.write_csv(out / EVALUATION_CSV, records, list(records[0]))
    if video is not None and frames:
        write_video([f for f in frames if f is not None], video, fps=fps)
    return summary
