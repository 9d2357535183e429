"""DQN that acts with a masked argmax (algo ``rllab.agents.go.dqn:MaskableDQN`` in a preset).

SB3's DQN knows nothing about action masks, so on Go it wastes most exploration on occupied points. This subclass
asks the vectorised env for ``action_masks()`` before each action: epsilon-exploration samples among legal moves
and the greedy move is the best *legal* Q-value. The bootstrap target still maximises over all actions, so train it
with ``illegal: pass`` in the env: an illegal action then means a pass and its Q-value stays meaningful.
The class name contains "Maskable" so the lab's evaluation passes masks to ``predict`` as it does for MaskablePPO.
"""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3 import DQN


def _random_legal(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.random(masks.shape) * masks
    return noise.argmax(axis=1)


class MaskableDQN(DQN):
    """DQN with masked exploration and masked greedy actions."""

    def _sample_action(self, learning_starts: int, action_noise=None, n_envs: int = 1):
        from sb3_contrib.common.maskable.utils import get_action_masks

        masks = np.asarray(get_action_masks(self.env), dtype=bool).reshape(n_envs, -1)
        rng = np.random.default_rng(int(np.random.randint(1 << 31)))
        if self.num_timesteps < learning_starts or rng.random() < self.exploration_rate:
            action = _random_legal(masks, rng)
        else:
            action, _ = self.predict(self._last_obs, deterministic=True, action_masks=masks)
        return action, action

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False,
                action_masks: np.ndarray | None = None):
        """Greedy (or epsilon-greedy when not deterministic) over legal actions when masks are given."""
        if action_masks is None:
            return super().predict(observation, state, episode_start, deterministic)
        obs_tensor, vectorized = self.policy.obs_to_tensor(observation)
        masks = np.asarray(action_masks, dtype=bool).reshape(-1, self.action_space.n)
        with torch.no_grad():
            q = self.q_net(obs_tensor).cpu().numpy()
        q[~masks] = -np.inf
        action = q.argmax(axis=1)
        if not deterministic and np.random.rand() < self.exploration_rate:
            action = _random_legal(masks, np.random.default_rng(int(np.random.randint(1 << 31))))
        return (action if vectorized else action[0]), state
