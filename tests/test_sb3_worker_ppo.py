"""WorkerPPO with RolloutWorkers collects SB3 PPO's rollout: every transition in env order, aligned, on-policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from rllab.agents.sb3.algos import algo_class
from rllab.agents.sb3.env_factory import make_vec_env
from rllab.agents.sb3.rollout_workers import RolloutWorkers
from rllab.agents.sb3.worker_ppo import WorkerPPO
from rllab.core.train_config import build_config


class CounterEnv(gym.Env):
    """Observation (env id, step in episode); reward = that step; episodes of ``3 + env id`` steps.

    Env 0's episodes end by a time limit (truncated), the others' by termination. Action 2 is a bug in the env.
    """

    observation_space = spaces.Box(0, 100, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, env_id: int) -> None:
        self.env_id, self.t, self.seed_seen = env_id, 0, None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        if seed is not None:
            self.seed_seen = seed
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if action == 2:
            raise ValueError(f"env {self.env_id} cannot take action 2")
        reward = float(self.t)
        self.t += 1
        over = self.t >= 3 + self.env_id
        return self._obs(), reward, over and self.env_id > 0, over and self.env_id == 0, {}

    def _obs(self) -> np.ndarray:
        return np.array([self.env_id, self.t], np.float32)


def counter_workers(n: int, workers: int = 2) -> RolloutWorkers:
    return RolloutWorkers([lambda i=i: CounterEnv(i) for i in range(n)], n_workers=workers, start_method="fork")


def collect(model: WorkerPPO, rollouts: int) -> None:
    """Fill the rollout buffer ``rollouts`` times in a row without training (the buffer keeps its step x env shape)."""
    _, callback = model._setup_learn(10**6, callback=None)
    for _ in range(rollouts):
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def test_rollouts_are_in_env_order_and_aligned_step_by_step() -> None:
    env = counter_workers(5)  # an odd count: workers of 2 and 3 envs
    model = WorkerPPO("MlpPolicy", env, n_steps=16, batch_size=40, n_epochs=1, device="cpu", seed=0)
    try:
        collect(model, 2)  # the second rollout starts mid-episode
        buffer = model.rollout_buffer
        obs, rewards, starts = buffer.observations, buffer.rewards, buffer.episode_starts
        assert obs.shape == (16, 5, 2) and model.num_timesteps == 160
        with torch.no_grad():  # a time limit adds gamma * V(final observation), as in SB3's loop
            bootstrap = model.gamma * model.policy.predict_values(torch.tensor([[0.0, 3.0]])).item()
        for i in range(5):
            assert (obs[:, i, 0] == i).all()  # column i is env i throughout
            t = obs[:, i, 1]
            cut = (t == 2) if i == 0 else np.zeros_like(t, dtype=bool)
            np.testing.assert_allclose(rewards[:, i], t + cut * bootstrap, rtol=1e-5)  # each reward is its obs's
            assert ((t == 0) == (starts[:, i] == 1)).all()  # episode starts exactly where the counter restarts
            following = np.where(t[:-1] + 1 == 3 + i, 0, t[:-1] + 1)
            assert (t[1:] == following).all()  # no step lost or repeated
            assert model._last_obs[i, 1] == (0 if t[-1] + 1 == 3 + i else t[-1] + 1)  # the next rollout's start
    finally:
        env.close()


def test_log_probs_and_values_are_those_of_the_policy_that_acted() -> None:
    env = counter_workers(4)
    model = WorkerPPO("MlpPolicy", env, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=1)
    try:
        model.learn(64)  # the workers must act with the updated weights, not the first ones
        collect(model, 1)
        buffer = model.rollout_buffer
        obs = torch.as_tensor(buffer.observations.reshape(-1, 2))  # step-major on both sides
        actions = torch.as_tensor(buffer.actions.reshape(-1))
        with torch.no_grad():
            values, log_probs, _ = model.policy.evaluate_actions(obs, actions)
        np.testing.assert_allclose(log_probs.numpy(), buffer.log_probs.reshape(-1), atol=1e-5)
        np.testing.assert_allclose(values.numpy().ravel(), buffer.values.reshape(-1), atol=1e-5)
    finally:
        env.close()


def test_the_same_seed_gives_the_same_rollout() -> None:
    buffers = []
    for _ in range(2):
        env = counter_workers(4)
        model = WorkerPPO("MlpPolicy", env, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=3)
        try:
            collect(model, 1)
            buffers.append(model.rollout_buffer.actions.copy())
        finally:
            env.close()
    assert (buffers[0] == buffers[1]).all() and len(np.unique(buffers[0])) == 2


def test_a_callback_stop_leaves_the_workers_where_last_obs_says() -> None:
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 12

    env = counter_workers(4)
    model = WorkerPPO("MlpPolicy", env, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=0)
    try:
        model.learn(64, callback=StopAt())
        assert model.num_timesteps == 12
        counters = model._last_obs[:, 1].copy()
        next_obs, *_ = env.step(np.zeros(4, dtype=np.int64))
        expected = np.where(counters + 1 == 3 + np.arange(4), 0, counters + 1)
        assert (next_obs[:, 1] == expected).all()
    finally:
        env.close()


def test_it_is_a_vec_env_with_global_indices_seeds_and_worker_errors() -> None:
    env = counter_workers(5, workers=2)
    try:
        env.seed(10)
        obs = env.reset()
        assert obs.shape == (5, 2) and (obs[:, 0] == np.arange(5)).all()
        assert env.get_attr("seed_seen") == [10, 11, 12, 13, 14]  # env i gets seed + i, in whichever worker
        assert env.get_attr("env_id", indices=[1, 3]) == [1, 3]
        env.set_attr("t", 5, indices=[4])
        assert env.env_method("_obs", indices=[4])[0].tolist() == [4, 5]
        assert env.env_is_wrapped(gym.Wrapper) == [False] * 5
        with pytest.raises(ValueError, match="env 3 cannot take action 2"):
            env.step(np.array([0, 0, 0, 2, 0]))
        obs, rewards, dones, infos = env.step(np.zeros(5, dtype=np.int64))  # the workers still serve
        assert obs.shape == (5, 2) and len(infos) == 5
    finally:
        env.close()
    with pytest.raises(ValueError, match="n_workers"):
        RolloutWorkers([lambda: CounterEnv(0)], n_workers=2)


def test_other_vec_envs_use_sb3s_loop_and_the_preset_names_resolve() -> None:
    assert algo_class("worker_ppo") is WorkerPPO
    env = DummyVecEnv([lambda: CounterEnv(0)])
    model = WorkerPPO("MlpPolicy", env, n_steps=8, batch_size=8, n_epochs=1, device="cpu", seed=0)
    collect(model, 1)
    assert model.num_timesteps == 8 and (model.rollout_buffer.observations[:, 0, 1] == [0, 1, 2, 0, 1, 2, 0, 1]).all()
    config = build_config("CartPole-v1", "ppo", None, {"n_envs": 3, "vec_env": "workers"})
    vec = make_vec_env(config, None)
    try:
        assert isinstance(vec, RolloutWorkers) and vec.num_envs == 3 and 1 <= len(vec.slices) <= 3
    finally:
        vec.close()


def test_it_learns_cartpole() -> None:
    from stable_baselines3.common.evaluation import evaluate_policy

    env = RolloutWorkers([lambda: gym.make("CartPole-v1") for _ in range(4)], n_workers=2, start_method="fork")
    env.seed(0)
    model = WorkerPPO("MlpPolicy", env, n_steps=128, batch_size=64, seed=0, device="cpu")
    try:
        model.learn(12_000)
        mean, _ = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=5)
        assert mean >= 150  # random play averages ~22
    finally:
        env.close()
