"""PPO whose rollouts are sampled inside the env processes (:mod:`rllab.agents.sb3.rollout_workers`).

The update is SB3's PPO unchanged. Only ``collect_rollouts`` differs: with a :class:`RolloutWorkers` env the
learner sends its weights, the workers sample the whole rollout with them, and the learner then replays it into the
rollout buffer step by step, calling the callbacks once per step as SB3 does (so ``eval_freq``-style counters mean
the same). A callback that stops training stops it at the end of the rollout the workers already sampled. With any
other ``VecEnv``, or gSDE, it is SB3's PPO.
"""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from rllab.agents.sb3.rollout_workers import RolloutWorkers


class WorkerPPO(PPO):
    """:class:`~stable_baselines3.PPO` that samples in :class:`RolloutWorkers` when it trains on one."""

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        if not isinstance(env, RolloutWorkers) or self.use_sde:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        rollout = env.collect(self.policy, n_rollout_steps, self.gamma)
        self._last_obs, self._last_episode_starts = rollout.last_obs, rollout.dones[-1]
        for step in range(n_rollout_steps):
            self.num_timesteps += env.num_envs
            infos, dones = rollout.infos[step], rollout.dones[step]
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            actions = rollout.actions[step]
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            rollout_buffer.add(rollout.obs[step], actions, rollout.rewards[step], rollout.starts[step],
                               th.as_tensor(rollout.values[step]), th.as_tensor(rollout.log_probs[step]))
        rollout_buffer.compute_returns_and_advantage(last_values=th.as_tensor(rollout.last_values),
                                                     dones=rollout.dones[-1])
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True
