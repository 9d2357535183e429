"""Search for one game at a time (the ``az:`` player): the same :class:`~.search.Rules` as the batched search, with
the tree in numpy arrays and positions as :class:`GoGame` copies. At batch 1 the batched engine's fixed cost per
step (about a millisecond of small tensor operations) would dominate; a bitboard copy and move cost tens of
microseconds. A test checks that both searches build the same tree.
"""

from __future__ import annotations

import numpy as np
import torch

from rllab.agents.go.az.features import (
    BLACK_TO_PLAY,
    LEGAL,
    NUM_PLANES,
    ONES,
    OPP,
    OPP_LIBS,
    OWN,
    OWN_LIBS,
    PASSED,
)
from rllab.agents.go.az.search import NEG, Evaluator, Rules, SearchConfig, SearchResult, masked_log_softmax
from rllab.envs.go.engine import BLACK, GoGame, bits


def game_planes(game: GoGame) -> np.ndarray:
    """(NUM_PLANES, N, N) uint8 planes of ``game`` for its side to move: the same as :func:`.features.planes`."""
    n = game.size
    p = n * n
    stones = game.planes().reshape(2, p)
    me = game.to_play
    own, opp = stones[me].astype(bool), stones[1 - me].astype(bool)
    libs = np.zeros(p, dtype=np.int64)
    seen = 0
    for point in bits(game.stones[0] | game.stones[1]):
        if not seen >> point & 1:
            group = game.group_stones(point)
            libs[list(bits(group))] = game.group_liberties(point).bit_count()
            seen |= group
    out = np.zeros((NUM_PLANES, p), dtype=np.uint8)
    out[OWN], out[OPP], out[ONES] = own, opp, 1
    for i, mine in ((OWN_LIBS, own), (OPP_LIBS, opp)):
        out[i], out[i + 1], out[i + 2] = mine & (libs == 1), mine & (libs == 2), mine & (libs >= 3)
    out[LEGAL] = game.legal_mask()[:p]
    out[PASSED] = bool(game.history) and game.history[-1] == game.pass_action
    out[BLACK_TO_PLAY] = me == BLACK
    return out.reshape(NUM_PLANES, n, n)


class GameSearch:
    """``run(game, rng, noise)``: one search from ``game``'s position; results as batch-1 tensors."""

    def __init__(self, evaluator: Evaluator, config: SearchConfig):
        self.evaluator, self.config = evaluator, config
        self.rules = Rules(config)

    def _evaluate(self, game: GoGame) -> tuple[np.ndarray, np.ndarray, float]:
        x = game_planes(game)
        logits, value = self.evaluator(torch.from_numpy(x).unsqueeze(0))
        legal = torch.from_numpy(game.legal_mask()).unsqueeze(0)
        return x, masked_log_softmax(logits, legal)[0].numpy(), float(value[0])

    @torch.no_grad()
    def run(self, game: GoGame, rng: np.random.Generator, noise: bool) -> SearchResult:
        sims = self.config.sims
        nodes, a = sims + 1, game.geo.points + 1
        self.logp = np.full((nodes, a), NEG, dtype=np.float32)
        self.children = np.full((nodes, a), -1, dtype=np.int64)
        self.visits = np.zeros(nodes, dtype=np.float32)
        self.value_sum = np.zeros(nodes, dtype=np.float32)
        self.raw = np.zeros(nodes, dtype=np.float32)
        terminal = np.zeros(nodes, dtype=bool)
        games: list[GoGame | None] = [None] * nodes
        games[0] = game
        x0, self.logp[0], value = self._evaluate(game)
        self.raw[0] = self.value_sum[0] = value
        self.visits[0] = 1
        terminal[0] = game.over
        self.rules.prepare_root(torch.from_numpy(self.logp[:1]), rng, noise)
        evaluations = 1
        for k in range(sims if not game.over else 0):
            node, path = 0, [0]
            while True:
                move = self._choose(node, k if node == 0 else None)
                child = int(self.children[node, move])
                if child < 0:      # expand: one move from the parent's position, one network call
                    child = k + 1
                    position = games[node].clone()
                    position.apply(move)
                    games[child] = position
                    _, self.logp[child], value = self._evaluate(position)
                    evaluations += 1
                    if position.over:
                        outcome = position.outcome()
                        value = float(outcome if position.to_play == BLACK else -outcome)
                    self.raw[child], terminal[child] = value, position.over
                    self.children[node, move] = child
                    path.append(child)
                    break
                node = child
                path.append(node)
                if terminal[node]:
                    value = float(self.raw[node])
                    break
            for visited in reversed(path):     # the leaf value, from each node's side to move
                self.visits[visited] += 1
                self.value_sum[visited] += value
                value = -value
        n, q = self._children_stats(0)
        action, policy = self.rules.result(torch.from_numpy(self.logp[:1]), n, q, torch.from_numpy(self.raw[:1]))
        root_value = torch.tensor([self.value_sum[0] / self.visits[0]])
        return SearchResult(action, policy, root_value, n, torch.from_numpy(x0).unsqueeze(0), evaluations)

    def _children_stats(self, node: int) -> tuple[torch.Tensor, torch.Tensor]:
        child = self.children[node]
        has = child >= 0
        n = np.where(has, self.visits[child], np.float32(0))
        w = np.where(has, self.value_sum[child], np.float32(0))
        return torch.from_numpy(n).unsqueeze(0), torch.from_numpy(-w / np.maximum(n, np.float32(1))).unsqueeze(0)

    def _choose(self, node: int, root_sim: int | None) -> int:
        n, q = self._children_stats(node)
        n_node = torch.tensor([self.visits[node]])
        stats = (torch.from_numpy(self.logp[node:node + 1]), n, q, torch.from_numpy(self.raw[node:node + 1]), n_node,
                 torch.tensor([self.value_sum[node] / self.visits[node]]))
        chosen = self.rules.select(*stats) if root_sim is None else self.rules.select_root(root_sim, *stats)
        return int(chosen[0])
