"""Training-loop overhead: `rllab train` (checkpoints, monitor, CSV logger, progress bar) vs a bare SB3 learn().

Both sides train PPO on CartPole-v1 with the shipped preset's hyperparameters, alternating, in one process.
Steps are divided by this process's CPU time (one torch thread), which other jobs on a shared machine barely
disturb; the median of each side gives the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rllab.agents import sb3
from rllab.agents.sb3.algos import algo_class, model_kwargs
from rllab.core.device import limit_cpu_threads
from rllab.core.runs import RunDir
from rllab.core.train_config import build_config


def _bare_run(config: Any, steps: int) -> float:
    from stable_baselines3.common.env_util import make_vec_env


    algo = algo_class(config.algo)
    start = time.process_time()
    env = make_vec_env(config.env, n_envs=config.n_envs, seed=config.seed)
    model = algo(config.policy, env, seed=config.seed, device="cpu", **model_kwargs(config, algo))
    model.learn(total_timesteps=steps)
    elapsed = time.process_time() - start
    env.close()
    return model.num_timesteps / elapsed


def _lab_run(config: Any, steps: int, root: Path, index: int) -> float:

    run = RunDir.create(root / f"run{index}", config.to_dict(), seed=config.seed, command=["bench"])
    start = time.process_time()
    sb3.train(config, run, progress=True)
    elapsed = time.process_time() - start
    return run.status["steps"] / elapsed


def measure_overhead(steps: int = 20_000, repeats: int = 3,
                     echo: Callable[[str], None] = print) -> dict[str, float]:
    """Median steps/s of each setup over alternating repeats, and the overhead in percent."""

    limit_cpu_threads(1)
    # Periodic evaluation is a feature with its own cost, not loop overhead: off on both sides.
    config = build_config("CartPole-v1", "ppo", None, {"steps": steps, "device": "cpu", "stop_at_reward": None,
                                                       "eval.freq": 0})
    bare, lab = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            bare.append(_bare_run(config, steps))
            lab.append(_lab_run(config, steps, Path(tmp), i))
            echo(f"repeat {i + 1}/{repeats}: bare {bare[-1]:,.0f}, rllab {lab[-1]:,.0f} steps per CPU-second")
    bare_sps, lab_sps = statistics.median(bare), statistics.median(lab)
    return {"bare_sps": bare_sps, "rllab_sps": lab_sps, "overhead_pct": (bare_sps / lab_sps - 1.0) * 100.0}
