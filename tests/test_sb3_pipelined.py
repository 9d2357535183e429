"""PipelinedPPO collects the same kind of rollout as PPO: every transition in env order, aligned, on-policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from rllab.agents.sb3.algos import algo_class
from rllab.agents.sb3.pipelined import PipelinedPPO


class CounterEnv(gym.Env):
    """Observation (env id, step in episode); reward = that step; episodes of ``3 + env id`` steps.

    Env 0's episodes end by a time limit (truncated), the others' by termination.
    """

    observation_space = spaces.Box(0, 100, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, env_id: int) -> None:
        self.env_id, self.t = env_id, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = float(self.t)
        self.t += 1
        over = self.t >= 3 + self.env_id
        return self._obs(), reward, over and self.env_id > 0, over and self.env_id == 0, {}

    def _obs(self) -> np.ndarray:
        return np.array([self.env_id, self.t], np.float32)


def counter_envs(n: int) -> SubprocVecEnv:
    return SubprocVecEnv([lambda i=i: CounterEnv(i) for i in range(n)], start_method="fork")


def collect(model: PipelinedPPO, rollouts: int) -> None:
    """Fill the rollout buffer ``rollouts`` times in a row without training (the buffer keeps its step x env shape)."""
    _, callback = model._setup_learn(10**6, callback=None)
    for _ in range(rollouts):
        assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def test_rollouts_are_in_env_order_and_aligned_step_by_step() -> None:
    env = counter_envs(5)  # an odd count: halves of 2 and 3
    model = PipelinedPPO("MlpPolicy", env, n_steps=16, batch_size=40, n_epochs=1, device="cpu", seed=0)
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
            assert (t[1:] == following).all()  # no step lost or repeated between groups
    finally:
        env.close()


def test_log_probs_are_those_of_the_policy_that_acted() -> None:
    env = counter_envs(4)
    model = PipelinedPPO("MlpPolicy", env, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=1)
    try:
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


def test_a_callback_stop_leaves_workers_and_last_obs_in_step() -> None:
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 12

    env = counter_envs(4)
    model = PipelinedPPO("MlpPolicy", env, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=0)
    try:
        model.learn(64, callback=StopAt())
        assert model.num_timesteps == 12
        counters = model._last_obs[:, 1].copy()
        next_obs, *_ = env.step(np.zeros(4, dtype=np.int64))  # the workers answer the next command in turn
        expected = np.where(counters + 1 == 3 + np.arange(4), 0, counters + 1)
        assert (next_obs[:, 1] == expected).all()
    finally:
        env.close()


def test_other_vec_envs_use_sb3s_loop_and_the_preset_name_resolves() -> None:
    assert algo_class("pipelined_ppo") is PipelinedPPO
    env = DummyVecEnv([lambda: CounterEnv(0)])
    model = PipelinedPPO("MlpPolicy", env, n_steps=8, batch_size=8, n_epochs=1, device="cpu", seed=0)
    collect(model, 1)
    assert model.num_timesteps == 8 and (model.rollout_buffer.observations[:, 0, 1] == [0, 1, 2, 0, 1, 2, 0, 1]).all()


def test_it_learns_cartpole() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_vec_env("CartPole-v1", n_envs=4, vec_env_cls=SubprocVecEnv, vec_env_kwargs={"start_method": "fork"},
                       seed=0)
    model = PipelinedPPO("MlpPolicy", env, n_steps=128, batch_size=64, seed=0, device="cpu")
    try:
        model.learn(12_000)
        mean, _ = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=5)
        assert mean >= 150  # random play averages ~22
    finally:
        env.close()
