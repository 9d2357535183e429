"""What decides a tuning run: :class:`TunerConfig` (a tutor preset's ``tuner`` section) and its PPO part."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rllab.core.config import from_mapping
from rllab.core.errors import UserError, choices_hint
from rllab.envs.melody import RewardSpec

VALUE_METHODS = ("q", "psi", "g", "rl_only")
METHODS = (*VALUE_METHODS, "ppo_kl")
EXPLORATION_MODES = ("egreedy", "boltzmann")


@dataclass
class PPOConfig:
    """KL-regularised PPO: ``rollout_episodes`` per update, ``epochs`` passes of ``minibatch_episodes``."""

    rollout_episodes: int = 256
    epochs: int = 4
    minibatch_episodes: int = 64
    lr: float = 3e-4
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    kl_coef: float | None = None  # β; None = c


@dataclass
class TunerConfig:
    """Everything that decides a tuning run (a preset in ``rllab/presets/tutor/`` fills it)."""

    method: str = "q"
    steps: int = 200_000              # environment steps (notes written)
    gamma: float = 0.5
    c: float = 0.5
    reward_preset: str = "music_theory_all"
    key: str = "C major"
    length: int = 32
    priming: str = "random_note"
    batch_size: int = 32              # episodes per gradient step (x length transitions)
    lr: float = 1e-3
    target_update: float = 0.01       # soft update rate η after every gradient step
    replay_size: int = 100_000        # transitions (kept as whole episodes)
    collect_episodes: int = 32        # episodes written in parallel per collection round
    replay_ratio: float = 6.4         # transitions trained on per transition collected (original: 32 / 5)
    exploration: str = "egreedy"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    exploration_steps: int = 100_000
    max_grad_norm: float = 5.0
    loss: str = "mse"                 # mse (paper) | huber
    eval_every: int = 20_000
    eval_episodes: int = 256
    checkpoint_every: int = 50_000
    seed: int = 0
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        if isinstance(self.ppo, dict):
            self.ppo = from_mapping(PPOConfig, self.ppo, "tuner: ppo")
        if self.method not in METHODS:
            raise UserError(f"unknown tuning method {self.method!r}; {choices_hint(METHODS)}")
        if self.exploration not in EXPLORATION_MODES:
            raise UserError(f"unknown exploration {self.exploration!r}; {choices_hint(EXPLORATION_MODES)}")
        if self.loss not in ("mse", "huber"):
            raise UserError(f"unknown loss {self.loss!r}; valid: huber, mse")
        for name in ("steps", "batch_size", "replay_size", "collect_episodes", "eval_every", "eval_episodes",
                     "checkpoint_every", "length"):
            if int(getattr(self, name)) <= 0:
                raise UserError(f"{name} must be positive (got {getattr(self, name)!r})")
        if not 0.0 <= self.gamma <= 1.0:
            raise UserError(f"gamma must lie in [0, 1] (got {self.gamma})")
        if not 0.0 < self.target_update <= 1.0:
            raise UserError(f"target_update must lie in (0, 1] (got {self.target_update})")
        self.reward_spec(prior=True)  # validates c, reward preset, key and length

    def reward_spec(self, prior: bool) -> RewardSpec:
        return RewardSpec(c=self.c, preset=self.reward_preset, prior=prior, key=self.key, length=self.length)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
