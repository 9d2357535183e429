"""Curriculum for Go-lite: start a run from the weights of an earlier run instead of from scratch.

Use in a preset as ``callbacks: [{rllab.agents.go.curriculum:WarmStart: {init_from: runs/<earlier run>}}]``. The earlier
run must have the same policy architecture and observation shape (board size, ``history``). Only the policy weights
are copied (not the optimizer state nor the step counter), so the new run's schedules start fresh. A resumed run
keeps its own checkpoint weights: the copy happens only when training starts at step 0.
"""

from __future__ import annotations

from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback

from rllab.agents.go.models import load_model
from rllab.core.errors import UserError


class WarmStart(BaseCallback):
    """Load the policy weights of ``init_from`` (a run directory or an SB3 ``.zip``) before the first update."""

    def __init__(self, init_from: str, verbose: int = 0):
        super().__init__(verbose)
        self.init_from = Path(init_from)
        self.loaded = False

    def check(self) -> None:
        """Before a fresh run starts: the run to start from must exist (a relative path is from the current
        directory, as for every path the CLI takes)."""
        if not self.init_from.exists():
            raise UserError(f"WarmStart: no run or model at {self.init_from.absolute()}; train it first (e.g. "
                            f"`rllab train --preset <its preset> --out {self.init_from}`) or set init_from")

    def _on_training_start(self) -> None:
        if self.num_timesteps > 0:
            return
        self.check()
        source = load_model(self.init_from, device=str(self.model.device)).policy.state_dict()
        target = self.model.policy.state_dict()
        mismatched = [k for k in target if k not in source or source[k].shape != target[k].shape]
        if mismatched:
            raise UserError(f"WarmStart: {self.init_from} has a different policy architecture "
                            f"({len(mismatched)} tensors differ, e.g. {mismatched[0]})")
        self.model.policy.load_state_dict(source)
        self.loaded = True
        if self.verbose:
            print(f"warm start from {self.init_from}")

    def _on_step(self) -> bool:
        return True
