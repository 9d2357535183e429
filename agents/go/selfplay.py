"""Self-play league for Go-lite: periodically frozen copies of the learner become the opponents.

Use with ``env_kwargs: {opponent: self}`` and, in the preset, ``callbacks: [{rllab.agents.go.selfplay:SelfPlaySnapshots:
{freq: 20000, keep: 5}}]``. Every ``freq`` steps the current policy is copied (CPU, eval mode, no optimizer) and
handed to every env's opponent pool, which draws one of the newest ``keep`` snapshots per game (uniform random
moves until the first snapshot). Freezing keeps the opponent stationary between snapshots, which PPO needs.
"""

from __future__ import annotations

import copy

from stable_baselines3.common.callbacks import BaseCallback


class SelfPlaySnapshots(BaseCallback):
    """Push a frozen snapshot of the policy into the envs' ``self`` opponents every ``freq`` steps."""

    def __init__(self, freq: int = 20_000, keep: int = 5, verbose: int = 0):
        super().__init__(verbose)
        if freq < 1 or keep < 1:
            raise ValueError("freq and keep must be positive")
        self.freq = freq
        self.keep = keep
        self.snapshots = 0
        self._next = freq

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.freq + 1) * self.freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next += self.freq
            self.push_snapshot()
        return True

    def push_snapshot(self) -> None:
        policy = copy.deepcopy(self.model.policy).to("cpu")
        policy.optimizer = None
        policy.set_training_mode(False)
        self.training_env.env_method("add_snapshot", policy, self.keep)
        self.snapshots += 1
        if self.verbose:
            print(f"self-play snapshot {self.snapshots} at step {self.num_timesteps}")
