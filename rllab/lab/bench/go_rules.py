"""Rules cross-check against OpenSpiel's ``go``: random games played in lockstep on both engines.

At every position the two legal-action sets must be identical, and at the end the terminal flag and the returns.
Half the games use uniform random moves (pass included), half avoid passing so that they run into the move cap and,
now and then, a positional-superko draw. The batched torch engine and the compiled board of the ``mcts`` player are
checked against :class:`GoGame` the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rllab.envs.go.batched import BatchedGo
from rllab.envs.go.engine import GoGame, default_komi
from rllab.envs.go.fast import colors, legal_mask, new_board


@dataclass
class CrosscheckResult:
    size: int
    games: int = 0
    positions: int = 0
    differences: int = 0
    superko_games: int = 0
    capped_games: int = 0
    examples: list[str] = field(default_factory=list)


def crosscheck(size: int, games: int, seed: int = 0, komi: float | None = None) -> CrosscheckResult:
    """Play ``games`` random games on ours and OpenSpiel's engine and count every disagreement."""
    import pyspiel

    komi = default_komi(size) if komi is None else komi
    game = pyspiel.load_game("go", {"board_size": size, "komi": komi})
    rng = random.Random(seed)
    result = CrosscheckResult(size)
    for g in range(games):
        avoid_pass = g % 2 == 1
        ours, theirs = GoGame(size, komi), game.new_initial_state()
        while True:
            result.positions += 1
            over = ours.over
            if over != theirs.is_terminal():
                _record(result, f"game {g} move {ours.moves}: terminal {over} vs {theirs.is_terminal()}")
                break
            if over:
                if ours.returns() != tuple(theirs.returns()):
                    _record(result, f"game {g}: returns {ours.returns()} vs {theirs.returns()}")
                result.superko_games += ours.superko
                result.capped_games += ours.moves >= ours.max_moves
                break
            legal = ours.legal_actions()
            if legal != theirs.legal_actions():
                _record(result, f"game {g} move {ours.moves}: legal sets differ")
                break
            choices = legal[:-1] if avoid_pass and len(legal) > 1 else legal
            action = rng.choice(choices)
            ours.play(action)
            theirs.apply_action(action)
        result.games += 1
    return result


def _record(result: CrosscheckResult, message: str) -> None:
    result.differences += 1
    if len(result.examples) < 5:
        result.examples.append(message)


def crosscheck_batched(size: int, batch: int, seed: int = 0, device: str = "cpu") -> CrosscheckResult:
    """Play ``batch`` random games on :class:`BatchedGo` and mirror each on :class:`GoGame` move for move.

    Compares the legal masks at every position and the outcomes at the end of every game.
    """
    import numpy as np
    import torch


    engine = BatchedGo(batch, size, device=device)
    games = [GoGame(size, engine.komi) for _ in range(batch)]
    gen = torch.Generator(device=device).manual_seed(seed)
    result = CrosscheckResult(size)
    while not bool(engine.done.all()):
        masks = engine.legal_mask().cpu().numpy()
        for i, g in enumerate(games):
            if not g.over:
                result.positions += 1
                if not np.array_equal(masks[i], g.legal_mask()):
                    _record(result, f"game {i} move {g.moves}: legal masks differ")
        before = engine.done.clone()
        noise = torch.rand((batch, engine.points + 1), generator=gen, device=device)
        actions = (noise * engine.legal_mask()).argmax(1)
        engine.step(actions)
        acts = actions.cpu().tolist()
        for i, g in enumerate(games):
            if not before[i]:
                g.play(acts[i])
        if engine.done.cpu().tolist() != [g.over for g in games]:
            _record(result, f"after move {max(g.moves for g in games)}: finished flags differ")
            break
    outcomes = engine.outcome().cpu().tolist()
    for i, g in enumerate(games):
        result.games += 1
        result.superko_games += g.superko
        result.capped_games += g.moves >= g.max_moves
        if outcomes[i] != g.outcome():
            _record(result, f"game {i}: outcome {outcomes[i]} vs {g.outcome()}")
    return result


def crosscheck_fast(size: int, games: int, seed: int = 0, komi: float | None = None) -> CrosscheckResult:
    """Random games on the compiled board (:mod:`rllab.envs.go.fast`) mirrored on :class:`GoGame`.

    At every position: legal masks, stones, captures, the ko point, side to move and move count; after every move
    the end flags (two passes, cap, superko); at the end the score and the outcome.
    """
    import numpy as np

    komi = default_komi(size) if komi is None else komi
    rng = random.Random(seed)
    result = CrosscheckResult(size)
    for g in range(games):
        avoid_pass = g % 2 == 1
        ours, fast = GoGame(size, komi), new_board(size, komi)
        while not ours.over:
            result.positions += 1
            mask = ours.legal_mask()
            planes = ours.planes()
            stones = planes[0] + 2 * planes[1]
            state = (fast.to_play, fast.moves, fast.ko, fast.captures)
            if not np.array_equal(mask, legal_mask(fast)) or not np.array_equal(stones, colors(fast)) or \
                    state != (ours.to_play, ours.moves, ours.ko, ours.captures):
                _record(result, f"game {g} move {ours.moves}: positions differ")
                break
            legal = np.flatnonzero(mask).tolist()
            choices = legal[:-1] if avoid_pass and len(legal) > 1 else legal
            action = rng.choice(choices)
            ours.play(action)
            fast.play(action)
            if (fast.over, fast.superko) != (ours.over, ours.superko):
                _record(result, f"game {g} move {ours.moves}: end flags {fast.over, fast.superko} vs "
                                f"{ours.over, ours.superko}")
                break
        else:
            if fast.score() != ours.score() or fast.outcome() != ours.outcome():
                _record(result, f"game {g}: score {fast.score()} vs {ours.score()}")
        result.games += 1
        result.superko_games += ours.superko
        result.capped_games += ours.moves >= ours.max_moves
    return result
