"""Batched tree search over :class:`BatchedGo`: one tree per game, all trees grown together, one network call per
simulation for the whole batch.

The trees live in tensors (``B`` games x ``sims + 1`` nodes): each node keeps the full engine state of its
position (so expanding a leaf is one batched engine step from its parent's state), its log prior over the moves,
its visit count and value sum (from the view of its side to move), its parent and a child index per move.
Game ends inside the tree are exact (two passes, superko, the move cap, Tromp-Taylor score with komi).

Two ways to choose what to simulate, same tree:

* ``puct`` (AlphaZero): ``Q + c·P·sqrt(N)/(1+n)`` with Dirichlet noise on the root prior and a first-play
  value of the parent's value minus ``fpu``; the training target is the root visit distribution.
* ``gumbel`` (Danihelka et al., ICLR 2022, as in mctx and pgx's AlphaZero): at the root, Gumbel-top-k sampling
  of ``considered`` moves and sequential halving among them; inside the tree, the deterministic rule
  ``argmax π'(a) - n(a)/(1+Σn)`` with ``π' = softmax(log prior + σ(completed Q))``. The training target is π' at
  the root, which improves on the prior even with a handful of simulations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from rllab.agents.go.az.features import planes
from rllab.core.errors import UserError
from rllab.envs.go.batched import BatchedGo

#: The BatchedGo attributes that make up a position (everything ``step`` reads or writes).
STATE_FIELDS = ("color", "labels", "libs", "mask", "to_play", "ko", "moves", "passes", "done", "superko",
                "history", "hashes")
SEARCH_KINDS = ("gumbel", "puct")
NEG = -1e9   # log prior of an illegal move (finite, so a softmax over a finished game's row stays a number)

Evaluator = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""Input planes (B, C, N, N) uint8 -> (policy logits (B, N²+1), value for the side to move (B,))."""


def engine_state(engine: BatchedGo, games: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Copies of the position tensors of all games of ``engine`` (or of ``games``, an index tensor)."""
    return {f: (getattr(engine, f) if games is None else getattr(engine, f)[games]).clone() for f in STATE_FIELDS}


def load_state(engine: BatchedGo, state: dict[str, torch.Tensor]) -> None:
    """Make ``engine`` hold ``state`` (its batch must match); the tensors become the engine's own."""
    for f in STATE_FIELDS:
        setattr(engine, f, state[f])


@dataclass(frozen=True)
class SearchConfig:
    kind: str = "gumbel"
    sims: int = 32
    considered: int = 16       # gumbel: moves sampled at the root
    c_visit: float = 50.0      # gumbel: sigma(q) = (c_visit + max n) * c_scale * q
    c_scale: float = 0.1
    c_puct: float = 1.25       # puct
    fpu: float = 0.2           # puct: unvisited moves are worth the parent's value minus this
    dirichlet_alpha: float = 0.25
    dirichlet_frac: float = 0.25

    def __post_init__(self) -> None:
        if self.kind not in SEARCH_KINDS:
            raise UserError(f"unknown search {self.kind!r}; valid: {', '.join(SEARCH_KINDS)}")
        if not isinstance(self.sims, int) or self.sims < 1:
            raise UserError(f"sims must be a positive integer, got {self.sims!r}")
        if not isinstance(self.considered, int) or self.considered < 1:
            raise UserError(f"considered must be a positive integer, got {self.considered!r}")


@dataclass
class SearchResult:
    action: torch.Tensor      # (B,) the move to play
    policy: torch.Tensor      # (B, N²+1) the training target
    value: torch.Tensor       # (B,) search value of the root for its side to move
    visits: torch.Tensor      # (B, N²+1) root visit counts
    planes: torch.Tensor      # (B, C, N, N) input planes of the roots
    evaluations: int          # positions the network evaluated


@cache
def considered_visits(considered: int, sims: int) -> tuple[int, ...]:
    """Sequential halving at the root: before simulation ``k`` the move to visit is one with this many visits.

    Each phase gives every remaining move the same number of visits, then halves the set (never below two);
    ``log2(considered)`` phases share the budget.
    """
    if considered <= 1:
        return tuple(range(sims))
    phases = math.ceil(math.log2(considered))
    order: list[int] = []
    visits = [0] * considered
    remaining = considered
    while len(order) < sims:
        rounds = max(1, sims // (phases * remaining))
        for _ in range(rounds):
            order.extend(visits[:remaining])
            for i in range(remaining):
                visits[i] += 1
        remaining = max(2, remaining // 2)
    return tuple(order[:sims])


def masked_log_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    out = torch.log_softmax(logits.float().masked_fill(~legal, -math.inf), 1)
    return torch.where(legal, out, torch.full_like(out, NEG))


class Rules:
    """How one search kind chooses, over (B, N²+1) rows of move statistics: shared by the batched tree
    (:class:`TreeSearch`) and the one-game tree of the ``az:`` player, so both search the same way.

    Statistics per node row: ``logp`` log prior (``NEG`` for illegal moves), ``n`` child visits, ``q`` child mean
    value for the side to move at the node, ``raw`` the node's network value, ``n_node`` / ``v_node`` its visits
    and mean value.
    """

    def __init__(self, config: SearchConfig, device: str | torch.device = "cpu"):
        self.config, self.device = config, torch.device(device)
        table = [considered_visits(m, config.sims) for m in range(config.considered + 1)]
        self.table = torch.tensor(table, dtype=torch.float32, device=self.device)   # (considered+1, sims)

    def prepare_root(self, logp: torch.Tensor, rng: np.random.Generator, noise: bool) -> None:
        """Draw the root's exploration: Gumbel-top-k moves (gumbel) or Dirichlet noise on the prior (puct)."""
        cfg, (b, a), legal = self.config, logp.shape, logp > NEG / 2
        if cfg.kind == "gumbel":
            g = torch.from_numpy(rng.gumbel(size=(b, a))).float().to(self.device) if noise else \
                torch.zeros((b, a), device=self.device)
            self.gumbel = torch.where(legal, g, 0.0)
            keys = torch.where(legal, self.gumbel + logp, -math.inf)
            rank = keys.argsort(dim=1, descending=True, stable=True).argsort(dim=1)
            self.num_considered = legal.sum(1).clamp(max=cfg.considered)
            self.considered = legal & (rank < self.num_considered.unsqueeze(1))
        else:
            prior = logp.exp()
            if noise:
                gam = torch.from_numpy(rng.standard_gamma(cfg.dirichlet_alpha, size=(b, a))).float().to(self.device)
                gam = torch.where(legal, gam, 0.0)
                dirichlet = gam / gam.sum(1, keepdim=True).clamp(min=1e-12)
                prior = (1 - cfg.dirichlet_frac) * prior + cfg.dirichlet_frac * dirichlet
            self.root_prior = prior

    def sigma(self, logp: torch.Tensor, n: torch.Tensor, q: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Gumbel's transformed completed Q: unvisited moves get the prior-weighted mix of value and visited Q,
        then Q is rescaled to [0, 1] over the legal moves and scaled by the visit count."""
        legal = logp > NEG / 2
        prior = logp.exp()
        visited = n > 0
        total = n.sum(1)
        weight = (prior * visited).sum(1)
        weighted_q = (prior * visited * q).sum(1) / weight.clamp(min=1e-12)
        mixed = (raw + total * weighted_q) / (1 + total)
        completed = torch.where(visited, q, mixed.unsqueeze(1))
        low = torch.where(legal, completed, math.inf).min(1, keepdim=True).values
        high = torch.where(legal, completed, -math.inf).max(1, keepdim=True).values
        scaled = (completed - low) / (high - low).clamp(min=1e-8)
        return (self.config.c_visit + n.max(1, keepdim=True).values) * self.config.c_scale * scaled

    def _puct(self, prior: torch.Tensor, n: torch.Tensor, q: torch.Tensor, n_node: torch.Tensor,
              v_node: torch.Tensor) -> torch.Tensor:
        q = torch.where(n > 0, q, v_node.unsqueeze(1) - self.config.fpu)
        return q + self.config.c_puct * prior * n_node.sqrt().unsqueeze(1) / (1 + n)

    def select(self, logp: torch.Tensor, n: torch.Tensor, q: torch.Tensor, raw: torch.Tensor,
               n_node: torch.Tensor, v_node: torch.Tensor) -> torch.Tensor:
        """The move to follow at inner nodes."""
        if self.config.kind == "gumbel":
            improved = torch.softmax(logp + self.sigma(logp, n, q, raw), 1)
            score = improved - n / (1 + n.sum(1, keepdim=True))
        else:
            score = self._puct(logp.exp(), n, q, n_node, v_node)
        return torch.where(logp > NEG / 2, score, -math.inf).argmax(1)

    def select_root(self, k: int, logp: torch.Tensor, n: torch.Tensor, q: torch.Tensor, raw: torch.Tensor,
                    n_node: torch.Tensor, v_node: torch.Tensor) -> torch.Tensor:
        """The move to follow at the root in simulation ``k`` (gumbel: sequential halving among the sampled)."""
        if self.config.kind == "puct":
            score = self._puct(self.root_prior, n, q, n_node, v_node)
            return torch.where(logp > NEG / 2, score, -math.inf).argmax(1)
        score = self.gumbel + logp + self.sigma(logp, n, q, raw)
        target = self.table[self.num_considered, k].unsqueeze(1)
        due = self.considered & (n == target)
        # The halving schedule always leaves a due move; the fallback only guards against rounding surprises.
        fallback = self.considered & (n == torch.where(self.considered, n, math.inf).min(1, keepdim=True).values)
        due = torch.where(due.any(1, keepdim=True), due, fallback)
        return torch.where(due, score, -math.inf).argmax(1)

    def result(self, logp: torch.Tensor, n: torch.Tensor, q: torch.Tensor,
               raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(move to play, training target) from the root statistics."""
        legal = logp > NEG / 2
        if self.config.kind == "gumbel":
            sigma = self.sigma(logp, n, q, raw)
            policy = torch.softmax(logp + sigma, 1) * legal
            most = self.considered & (n == torch.where(self.considered, n, -1.0).max(1, keepdim=True).values)
            action = torch.where(most, self.gumbel + logp + sigma, -math.inf).argmax(1)
        else:
            policy = n / n.sum(1, keepdim=True).clamp(min=1)
            action = torch.where(legal, n + 1e-3 * self.root_prior, -math.inf).argmax(1)
        return action, policy / policy.sum(1, keepdim=True).clamp(min=1e-12)


class TreeSearch:
    """Searches ``batch`` positions at once; reuse one instance for every move of a self-play or match batch."""

    def __init__(self, evaluator: Evaluator, size: int, komi: float, max_moves: int | None, batch: int,
                 config: SearchConfig, device: str | torch.device = "cpu"):
        self.evaluator, self.config = evaluator, config
        self.engine = BatchedGo(batch, size, komi, max_moves, device=device)
        self.batch, self.device = batch, self.engine.device
        self.actions = self.engine.points + 1
        self.rows = torch.arange(batch, device=self.device)
        self.rules = Rules(config, self.device)

    # -- the search ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def run(self, root: dict[str, torch.Tensor], rng: np.random.Generator, noise: bool) -> SearchResult:
        """Search from the positions ``root`` (see :func:`engine_state`); ``noise`` = Gumbel / Dirichlet exploration."""
        cfg, eng, rows, b = self.config, self.engine, self.rows, self.batch
        nodes, a = cfg.sims + 1, self.actions
        dev = self.device
        load_state(eng, {f: t.clone() for f, t in root.items()})
        x0 = planes(eng)
        logits, value = self.evaluator(x0)
        tree = {f: torch.zeros((b, nodes, *t.shape[1:]), dtype=t.dtype, device=dev) for f, t in root.items()}
        for f, t in root.items():
            tree[f][:, 0] = t
        self.logp = torch.full((b, nodes, a), NEG, device=dev)
        self.logp[:, 0] = masked_log_softmax(logits, eng.mask)
        self.visits = torch.zeros((b, nodes), device=dev)
        self.value_sum = torch.zeros((b, nodes), device=dev)
        self.raw = torch.zeros((b, nodes), device=dev)
        terminal = torch.zeros((b, nodes), dtype=torch.bool, device=dev)
        parent = torch.zeros((b, nodes), dtype=torch.long, device=dev)
        self.children = torch.full((b, nodes, a), -1, dtype=torch.long, device=dev)
        value = value.float()
        self.raw[:, 0] = value
        self.visits[:, 0] = 1
        self.value_sum[:, 0] = value
        terminal[:, 0] = eng.done
        self.rules.prepare_root(self.logp[:, 0], rng, noise)
        evaluations = b
        searching = ~terminal[:, 0]
        for k in range(cfg.sims):
            node = torch.zeros(b, dtype=torch.long, device=dev)
            descending = searching.clone()
            expand = torch.zeros(b, dtype=torch.bool, device=dev)
            exp_parent = torch.zeros(b, dtype=torch.long, device=dev)
            exp_action = torch.full((b,), a - 1, dtype=torch.long, device=dev)
            depth = 0
            while bool(descending.any()):
                act = self._choose(node, k if depth == 0 else None)
                child = self.children[rows, node, act]
                new = descending & (child < 0)
                expand |= new
                exp_parent = torch.where(new, node, exp_parent)
                exp_action = torch.where(new, act, exp_action)
                down = descending & (child >= 0)
                node = torch.where(down, child, node)
                descending = down & ~terminal[rows, node]
                depth += 1
            leaf, leaf_value = node, self.raw[rows, node]
            if bool(expand.any()):
                i = k + 1
                load_state(eng, {f: t[rows, exp_parent] for f, t in tree.items()})
                eng.step(exp_action, check=False)
                for f in STATE_FIELDS:
                    tree[f][:, i] = getattr(eng, f)
                lg, v = self.evaluator(planes(eng))
                evaluations += b
                v = v.float()
                if bool(eng.done.any()):
                    v = torch.where(eng.done, self._terminal_value(), v)
                self.logp[:, i] = masked_log_softmax(lg, eng.mask)
                self.raw[:, i] = v
                terminal[:, i] = eng.done
                parent[:, i] = exp_parent
                self.children[rows[expand], exp_parent[expand], exp_action[expand]] = i
                leaf = torch.where(expand, i, node)
                leaf_value = torch.where(expand, v, leaf_value)
            self._backup(leaf, leaf_value, parent, searching)
        zero = torch.zeros(b, dtype=torch.long, device=dev)
        n, q = self._children_stats(zero)
        action, policy = self.rules.result(self.logp[:, 0], n, q, self.raw[:, 0])
        return SearchResult(action, policy, self.value_sum[:, 0] / self.visits[:, 0], n, x0, evaluations)

    def _terminal_value(self) -> torch.Tensor:
        """Final result of every finished game in the scratch engine, for its side to move."""
        eng = self.engine
        outcome = eng.outcome().float()
        return torch.where(eng.to_play == 0, outcome, -outcome)

    def _backup(self, leaf: torch.Tensor, value: torch.Tensor, parent: torch.Tensor, active: torch.Tensor) -> None:
        """Add the leaf value on the path to the root, flipping its sign at each level."""
        rows, cur, active = self.rows, leaf, active.clone()
        while bool(active.any()):
            r, c = rows[active], cur[active]
            self.visits[r, c] += 1
            self.value_sum[r, c] += value[active]
            active &= cur != 0
            cur = parent[rows, cur]
            value = -value

    def _children_stats(self, node: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(visits, mean value for the side to move at ``node``) of each move's child; 0 where unvisited."""
        child = self.children[self.rows, node]
        idx = child.clamp(min=0)
        n = torch.where(child >= 0, self.visits.gather(1, idx), 0.0)
        w = torch.where(child >= 0, self.value_sum.gather(1, idx), 0.0)
        return n, -w / n.clamp(min=1)

    def _choose(self, node: torch.Tensor, root_sim: int | None) -> torch.Tensor:
        rows = self.rows
        n, q = self._children_stats(node)
        n_node = self.visits[rows, node]
        stats = (self.logp[rows, node], n, q, self.raw[rows, node], n_node, self.value_sum[rows, node] / n_node)
        return self.rules.select(*stats) if root_sim is None else self.rules.select_root(root_sim, *stats)
