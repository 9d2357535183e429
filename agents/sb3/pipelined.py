"""PPO whose rollouts keep the cores busy: two env groups, one stepping while the learner acts for the other.

SB3's ``collect_rollouts`` steps every env in lock-step: the learner waits for the slowest env, then the envs wait
for the learner's forward pass. On two cores with an emulator-bound env (Mario in RAM mode) that costs about a
fifth of the env's free-running speed. Here the ``SubprocVecEnv`` workers are split in two halves: as soon as one
half's step returns, its next actions are sent, so the other half (and the learner) fill the cores meanwhile.

Each transition is still collected with the current policy and stored in env order, so the PPO update is the
same algorithm; only the interleaving of env steps and forward passes changes. Anything else (one env, a
non-subprocess or wrapped VecEnv, dict observations, gSDE) falls back to SB3's loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv


class _Group:
    """One half of the workers: its env indices and the step it has in flight."""

    def __init__(self, env: SubprocVecEnv, indices: slice) -> None:
        self.indices = indices
        self.remotes = env.remotes[indices]
        self.sent: tuple[np.ndarray, np.ndarray, th.Tensor, th.Tensor, np.ndarray] | None = None

    def send(self, obs: np.ndarray, actions: np.ndarray, env_actions: np.ndarray, values: th.Tensor,
             log_probs: th.Tensor, starts: np.ndarray) -> None:
        for remote, action in zip(self.remotes, env_actions, strict=True):
            remote.send(("step", action))
        self.sent = (obs, actions, values, log_probs, starts)

    def receive(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[dict[str, Any], ...]]:
        results = [remote.recv() for remote in self.remotes]
        obs, rewards, dones, infos, _ = zip(*results, strict=True)
        return np.stack(obs), np.asarray(rewards, dtype=np.float32), np.asarray(dones, dtype=bool), infos


class _HalfStep(NamedTuple):
    """One env step of one group (or, joined, of all envs), in the order the rollout buffer stores it."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    starts: np.ndarray
    new_obs: np.ndarray
    dones: np.ndarray
    values: th.Tensor
    log_probs: th.Tensor
    infos: tuple[dict[str, Any], ...]


def _cat(first: Any, second: Any) -> Any:
    if isinstance(first, th.Tensor):
        return th.cat([first, second])
    if isinstance(first, tuple):
        return first + second
    return np.concatenate([first, second])


def _join(first: _HalfStep, second: _HalfStep) -> _HalfStep:
    """The two groups' halves of one step, in env order."""
    return _HalfStep(*(_cat(a, b) for a, b in zip(first, second, strict=True)))


class PipelinedPPO(PPO):
    """:class:`~stable_baselines3.PPO` with :mod:`pipelined <rllab.agents.sb3.pipelined>` rollout collection."""

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        if (type(env) is not SubprocVecEnv or env.num_envs < 2 or self.use_sde
                or not isinstance(self._last_obs, np.ndarray)):
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        half = env.num_envs // 2
        groups = (_Group(env, slice(0, half)), _Group(env, slice(half, env.num_envs)))
        for group in groups:
            self._act(group, self._last_obs[group.indices], self._last_episode_starts[group.indices])
        for step in range(n_rollout_steps):
            halves = []
            for group in groups:
                new_obs, rewards, dones, infos = group.receive()
                obs, actions, values, log_probs, starts = group.sent
                halves.append(_HalfStep(obs, actions, self._bootstrap_timeouts(rewards, dones, infos), starts,
                                        new_obs, dones, values, log_probs, infos))
                if step + 1 < n_rollout_steps:
                    self._act(group, new_obs, dones)
            obs, actions, rewards, starts, new_obs, dones, values, log_probs, infos = _join(*halves)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                self._drain(groups, new_obs, dones, step + 1 < n_rollout_steps)
                return False
            self._update_info_buffer(infos, dones)
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            rollout_buffer.add(obs, actions, rewards, starts, values, log_probs)
            self._last_obs, self._last_episode_starts = new_obs, dones
        with th.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _act(self, group: _Group, obs: np.ndarray, starts: np.ndarray) -> None:
        """Sample the group's actions with the current policy and send them."""
        with th.no_grad():
            actions, values, log_probs = self.policy(obs_as_tensor(obs, self.device))
        actions = actions.cpu().numpy()
        env_actions = actions
        if isinstance(self.action_space, spaces.Box):
            if self.policy.squash_output:
                env_actions = self.policy.unscale_action(actions)
            else:
                env_actions = np.clip(actions, self.action_space.low, self.action_space.high)
        group.send(obs, actions, env_actions, values, log_probs, starts)

    def _bootstrap_timeouts(self, rewards: np.ndarray, dones: np.ndarray,
                            infos: tuple[dict[str, Any], ...]) -> np.ndarray:
        """Add γ·V(final observation) to the reward of a step cut by a time limit, as SB3 does."""
        for i, done in enumerate(dones):
            if done and infos[i].get("terminal_observation") is not None and infos[i].get("TimeLimit.truncated"):
                terminal = self.policy.obs_to_tensor(infos[i]["terminal_observation"])[0]
                with th.no_grad():
                    rewards[i] += self.gamma * self.policy.predict_values(terminal)[0].item()
        return rewards

    def _drain(self, groups: tuple[_Group, _Group], obs: np.ndarray, dones: np.ndarray, in_flight: bool) -> None:
        """A callback stopped training: collect the steps still in flight so the workers and ``_last_obs`` agree."""
        if in_flight:
            received = [group.receive() for group in groups]
            obs = np.concatenate([r[0] for r in received])
            dones = np.concatenate([r[2] for r in received])
        self._last_obs, self._last_episode_starts = obs, dones
