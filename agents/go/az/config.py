"""The configuration of an AZ run: one dataclass, stored in the run's ``config.yaml``.

Defaults are the 7x7 CPU recipe (a 4x32 net, Gumbel search with 16 simulations, 128 games in flight). The budget
keys (``hours``, ``max_steps``) and where and how fast the run happens (``device``, ``backend``, ``workers``,
``ray_address``, ``jit``) may change on ``--resume``; every other key fixes what the run computes or how it is
measured, so resuming with another value is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rllab.agents.go.az.search import SEARCH_KINDS, SearchConfig
from rllab.core.config import from_mapping
from rllab.core.errors import UserError, choices_hint
from rllab.envs.go.engine import MAX_SIZE, default_komi

BACKENDS = ("local", "ray")
#: Keys that may differ between a run and its ``--resume``.
RESUMABLE_KEYS = ("hours", "max_steps", "device", "backend", "workers", "ray_address", "jit")


@dataclass
class AZConfig:
    size: int = 7
    komi: float | None = None            # None: the size's default komi (stored resolved)
    blocks: int = 4
    width: int = 32
    search: str = "gumbel"
    sims: int = 16
    considered: int = 16                 # gumbel: moves sampled at the root
    c_puct: float = 1.25                 # puct
    fpu: float = 0.2                     # puct
    dirichlet_alpha: float = 0.25        # puct
    dirichlet_frac: float = 0.25         # puct
    temperature_moves: int = 8           # puct: moves sampled in proportion to visits at the start of a game
    games: int = 128                     # self-play games in flight per worker (64: -15% evaluations/s, 256: +3%)
    round_moves: int = 16                # moves per game between weight updates of the self-play net
    replay_size: int = 80_000            # ~1,100 7x7 games, ~6 minutes of self-play with one worker
    min_replay: int = 5_000
    batch_size: int = 256
    reuse: float = 4.0                   # training samples drawn per new position
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ownership_weight: float = 0.5
    eval_every: int = 2_000              # training steps between evaluations
    eval_games: int = 32                 # per opponent (previous net, baseline); colours alternate
    eval_sims: int = 32
    baseline: str = "heuristic"          # any player spec: heuristic, mcts, gnugo:1 ...
    checkpoint_every: int = 1_000        # training steps
    hours: float = 3.0                   # wall-clock budget, summed over resumes
    max_steps: int | None = None         # optional training-step budget
    backend: str = "local"
    workers: int = 1                     # self-play workers (Ray actors) with backend ray
    ray_address: str | None = None       # None: start a local Ray
    jit: bool = True                     # search with a frozen TorchScript copy of the net (~1.5x faster on CPU)
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        ints = ("size", "blocks", "width", "sims", "considered", "games", "round_moves", "replay_size", "batch_size",
                "eval_every", "eval_games", "eval_sims", "checkpoint_every", "workers")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        for name in ("temperature_moves", "min_replay", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{name} must be a non-negative integer, got {value!r}")
        if not 2 <= self.size <= MAX_SIZE:
            raise UserError(f"size must be in 2..{MAX_SIZE}, got {self.size}")
        if self.komi is None:
            self.komi = default_komi(self.size)
        if self.search not in SEARCH_KINDS:
            raise UserError(f"unknown search {self.search!r}; {choices_hint(SEARCH_KINDS)}")
        if self.backend not in BACKENDS:
            raise UserError(f"unknown backend {self.backend!r}; {choices_hint(BACKENDS)}")
        if self.eval_games % 2:
            raise UserError(f"eval_games must be even (colours alternate), got {self.eval_games}")
        for name in ("hours", "reuse", "lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise UserError(f"{name} must be a positive number, got {value!r}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int)
                                           or self.max_steps < 0):
            raise UserError(f"max_steps must be a non-negative integer, got {self.max_steps!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "az config") -> AZConfig:
        return from_mapping(cls, data, source)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def search_config(self, sims: int | None = None) -> SearchConfig:
        return SearchConfig(kind=self.search, sims=sims or self.sims, considered=self.considered,
                            c_puct=self.c_puct, fpu=self.fpu, dirichlet_alpha=self.dirichlet_alpha,
                            dirichlet_frac=self.dirichlet_frac)
