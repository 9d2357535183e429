"""Self-play: many games at once on one :class:`BatchedGo`, a batched search for every move of all of them.

Each game's root planes and search policy are written into per-move slots as it goes; when a game ends its
samples get their targets (the result and the final ownership, both from the view of the side to move at each
sample) and the slot is reused for a new game. The same class runs in the local loop and inside Ray actors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from rllab.agents.go.az.features import NUM_PLANES, ownership
from rllab.agents.go.az.net import AZNet, evaluator
from rllab.agents.go.az.search import SearchConfig, TreeSearch, engine_state
from rllab.envs.go.batched import BatchedGo


@dataclass
class Samples:
    """Training samples from finished games (CPU tensors) and what it cost to make them."""

    planes: torch.Tensor      # (n, C, N, N) uint8
    policy: torch.Tensor      # (n, N²+1) float32
    value: torch.Tensor       # (n,) float32: the final result for the side to move
    owner: torch.Tensor       # (n, N²) int8: the final owner of each point for the side to move
    games: int = 0
    black_wins: int = 0
    draws: int = 0
    moves: int = 0            # moves played (finished and unfinished games)
    evaluations: int = 0      # positions the network evaluated
    seconds: float = 0.0      # wall clock
    cpu_seconds: float = 0.0  # CPU time of the process that played
    lengths: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, size: int) -> Samples:
        p = size * size
        return cls(torch.zeros((0, NUM_PLANES, size, size), dtype=torch.uint8), torch.zeros((0, p + 1)),
                   torch.zeros(0), torch.zeros((0, p), dtype=torch.int8))

    def __len__(self) -> int:
        return len(self.value)

    def extend(self, other: Samples) -> None:
        self.planes = torch.cat((self.planes, other.planes))
        self.policy = torch.cat((self.policy, other.policy))
        self.value = torch.cat((self.value, other.value))
        self.owner = torch.cat((self.owner, other.owner))
        self.games += other.games
        self.black_wins += other.black_wins
        self.draws += other.draws
        self.moves += other.moves
        self.evaluations += other.evaluations
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.lengths += other.lengths


class SelfPlay:
    """``games`` self-play games in flight; :meth:`play` advances them all and returns the finished ones."""

    def __init__(self, net: AZNet, games: int, komi: float, search: SearchConfig, temperature_moves: int,
                 seed: int, device: str | torch.device = "cpu", jit: bool = False):
        self.net, self.jit = net.eval(), jit
        size = net.size
        self.env = BatchedGo(games, size, komi, device=device)
        self.search = TreeSearch(evaluator(net, jit), size, komi, None, games, search, device)
        self.search_config = search
        self.temperature_moves = temperature_moves
        self.rng = np.random.default_rng(seed)
        cap, p = self.env.max_moves, self.env.points
        self.traj_planes = torch.zeros((cap, games, NUM_PLANES, size, size), dtype=torch.uint8)
        self.traj_policy = torch.zeros((cap, games, p + 1))

    def set_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state_dict)
        self.search.evaluator = evaluator(self.net, self.jit)

    def play(self, moves: int) -> Samples:
        """Play ``moves`` moves in every game; samples of the games that ended meanwhile."""
        env, out = self.env, Samples.empty(self.env.size)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(moves):
            result = self.search.run(engine_state(env), self.rng, noise=True)
            action = result.action
            if self.search_config.kind == "puct":
                action = self._sample_early(result.policy, action)
            slot = env.moves.cpu()
            rows = torch.arange(env.batch)
            self.traj_planes[slot, rows] = result.planes.cpu()
            self.traj_policy[slot, rows] = result.policy.float().cpu()
            out.moves += env.batch
            out.evaluations += result.evaluations
            env.step(action, check=False)
            if bool(env.done.any()):
                out.extend(self._harvest())
                env.reset_done()
        out.seconds = time.perf_counter() - started
        out.cpu_seconds = time.process_time() - cpu_started
        return out

    def _sample_early(self, policy: torch.Tensor, greedy: torch.Tensor) -> torch.Tensor:
        """PUCT plays in proportion to the visits for the first moves of a game (AlphaZero's temperature 1)."""
        early = self.env.moves < self.temperature_moves
        if not bool(early.any()):
            return greedy
        probs = policy.double().cpu().numpy()
        u = self.rng.random((len(probs), 1))
        sampled = (probs.cumsum(1) < u * probs.sum(1, keepdims=True)).sum(1).clip(max=probs.shape[1] - 1)
        return torch.where(early, torch.from_numpy(sampled).to(greedy.device), greedy)

    def _harvest(self) -> Samples:
        env = self.env
        done = env.done.nonzero().squeeze(1)
        outcome = env.outcome()[done].cpu()
        owner = ownership(env)[done].cpu()
        lengths = env.moves[done].cpu()
        parts = []
        for j, game in enumerate(done.cpu().tolist()):
            length = int(lengths[j])
            mover = torch.where(torch.arange(length) % 2 == 0, 1, -1)      # +1 where Black was to move
            parts.append((self.traj_planes[:length, game], self.traj_policy[:length, game],
                          (float(outcome[j]) * mover).float(), (owner[j].unsqueeze(0) * mover.unsqueeze(1)).to(
                              torch.int8)))
        return Samples(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]),
                       torch.cat([p[2] for p in parts]), torch.cat([p[3] for p in parts]), games=len(parts),
                       black_wins=int((outcome > 0).sum()), draws=int((outcome == 0).sum()),
                       lengths=[int(n) for n in lengths])
