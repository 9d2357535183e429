"""Throughput harness for ``rllab bench go``: ours and OpenSpiel's ``go`` driven by the same loops.

Four levels, random legal moves (pass included), games restarted as they end:
- ``engine``: legal-action list, random pick, apply (no observation);
- ``env``: :class:`GoLiteEnv` in two-player mode (planes + mask every move); OpenSpiel runs inside the very same
  env class through :class:`OpenSpielGame`, so the only difference is the rules engine underneath;
- ``batched``: :class:`envs.go.batched.BatchedGo`, B games per tensor step;
- ``playouts``: whole games from the empty board as a tree search uses them: OpenSpiel driven move by move from
  Python (uniform random) against our compiled board (one call per playout, uniform random or the light policy);
  and whole searches from the empty board in simulations (one playout each): OpenSpiel's C++ MCTS bot with
  random rollouts against our compiled UCT/RAVE tree with light playouts.
"""

from __future__ import annotations

import importlib.util
import random
import time
from dataclasses import dataclass

import numpy as np
import torch

from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.envs.go.batched import BatchedGo
from rllab.envs.go.engine import GoGame, default_komi
from rllab.envs.go.env import GoLiteEnv
from rllab.envs.go.fast import new_board
from rllab.envs.go.mcts import MctsConfig, MctsPlayer


@dataclass
class Rate:
    what: str
    backend: str
    size: int
    moves: int
    wall_s: float
    cpu_s: float
    unit: str = "moves"

    @property
    def per_s(self) -> float:
        return self.moves / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.moves / max(self.cpu_s, 1e-9)


class OpenSpielGame:
    """OpenSpiel's ``go`` state behind the engine interface that :class:`GoLiteEnv` uses."""

    def __init__(self, size: int, komi: float, max_moves: int | None = None):
        import pyspiel
        from open_spiel.python.observation import make_observation

        params = {"board_size": size, "komi": komi}
        if max_moves is not None:
            params["max_game_length"] = max_moves
        self._game = pyspiel.load_game("go", params)
        self.state = self._game.new_initial_state()
        self._observer = make_observation(self._game)
        self.size, self.komi = size, komi
        self.pass_action = size * size
        self._n = size * size + 1
        self.to_play = 0  # OpenSpiel reports a negative player id once the game is over; the env wants a colour


    @property
    def over(self) -> bool:
        return self.state.is_terminal()

    @property
    def moves(self) -> int:
        return self.state.move_number()

    def legal_mask(self) -> np.ndarray:
        mask = np.zeros(self._n, dtype=bool)
        mask[self.state.legal_actions()] = True
        return mask

    def apply(self, action: int) -> None:
        self.state.apply_action(action)
        self.to_play = 1 - self.to_play

    def planes(self) -> np.ndarray:
        self._observer.set_from(self.state, 0)
        return self._observer.tensor.reshape(4, self.size, self.size)[:2]

    def outcome(self) -> int:
        return int(self.state.returns()[0])

    def area_delta(self) -> int:
        """Not exposed by OpenSpiel; the env only uses it for the final ``margin`` info (0 here)."""
        return 0


def engine_rate(backend: str, size: int, seconds: float, seed: int = 0) -> Rate:
    rng = random.Random(seed)
    komi = default_komi(size)
    if backend == "ours":
        def new():
            return GoGame(size, komi)
        legal, apply, over = GoGame.legal_actions, GoGame.apply, (lambda g: g.over)
    else:
        import pyspiel

        game = pyspiel.load_game("go", {"board_size": size, "komi": komi})
        new = game.new_initial_state
        legal, apply = (lambda s: s.legal_actions()), (lambda s, a: s.apply_action(a))
        over = lambda s: s.is_terminal()  # noqa: E731
    moves = 0
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        g = new()
        while not over(g):
            apply(g, rng.choice(legal(g)))
            moves += 1
    return Rate("engine", backend, size, moves, time.perf_counter() - t0, time.process_time() - c0)


def env_rate(backend: str, size: int, seconds: float, seed: int = 0, history: int = 4) -> Rate:
    factory = None if backend == "ours" else OpenSpielGame
    env = GoLiteEnv(size=size, opponent=None, history=history, engine_factory=factory)
    rng = np.random.default_rng(seed)
    moves = 0
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        env.reset(seed=int(rng.integers(1 << 30)))
        done = False
        while not done:
            legal = np.flatnonzero(env.action_masks())
            _, _, done, _, _ = env.step(int(legal[rng.integers(len(legal))]))
            moves += 1
    return Rate("env", backend, size, moves, time.perf_counter() - t0, time.process_time() - c0)


def paired_rates(fn, size: int, seconds: float, rounds: int = 4) -> tuple[Rate, Rate]:
    """Ours and OpenSpiel through ``fn`` in alternating slices, so both see the same machine load."""
    totals = {}
    for r in range(rounds):
        for backend in ("ours", "openspiel"):
            rate = fn(backend, size, seconds / rounds, seed=r)
            if backend in totals:
                prev = totals[backend]
                rate = Rate(rate.what, backend, size, prev.moves + rate.moves, prev.wall_s + rate.wall_s,
                            prev.cpu_s + rate.cpu_s)
            totals[backend] = rate
    return totals["ours"], totals["openspiel"]


PLAYOUT_BACKENDS = ("openspiel", "ours-uniform", "ours-light", "openspiel-mcts", "ours-mcts")
SEARCH_SIMS = 200  # simulations per search call in the two MCTS rows (a fresh tree each call)


def playout_rate(backend: str, size: int, seconds: float, seed: int = 0) -> Rate:
    """Playouts from the empty board per second for one backend of :data:`PLAYOUT_BACKENDS` (MCTS rows: one
    playout per simulation of searches from the empty board)."""
    komi = default_komi(size)
    rng = random.Random(seed)
    per_call = 1
    if backend in ("ours-uniform", "ours-light"):
        board = new_board(size, komi)
        light = backend == "ours-light"

        def one(i: int) -> None:
            board.playout(seed=seed * 1_000_003 + i, light=light)
    elif backend == "ours-mcts":
        config = MctsConfig(sims=SEARCH_SIMS, early_stop=False)
        per_call = SEARCH_SIMS

        def one(i: int) -> None:
            player = MctsPlayer(config)
            game = GoGame(size, komi)
            player.reset(game, np.random.default_rng([seed, i]))
            player.select(game, None, game.legal_mask())
    else:
        import pyspiel

        game = pyspiel.load_game("go", {"board_size": size, "komi": komi})
        if backend == "openspiel-mcts":
            per_call = SEARCH_SIMS
            bot = pyspiel.MCTSBot(game, pyspiel.RandomRolloutEvaluator(1, seed), 2.0, SEARCH_SIMS, 1000, True, seed,
                                  False)

            def one(i: int) -> None:
                bot.step(game.new_initial_state())
        else:
            def one(i: int) -> None:
                state = game.new_initial_state()
                while not state.is_terminal():
                    state.apply_action(rng.choice(state.legal_actions()))
    calls = 0
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        one(calls)
        calls += 1
    return Rate("playouts", backend, size, calls * per_call, time.perf_counter() - t0, time.process_time() - c0,
                unit="playouts")


def interleaved_rates(fn, backends: tuple[str, ...], size: int, seconds: float, rounds: int = 4) -> list[Rate]:
    """Every backend through ``fn`` in alternating slices (``seconds`` in all per backend), under the same load."""
    totals: dict[str, Rate] = {}
    for r in range(rounds):
        for backend in backends:
            rate = fn(backend, size, seconds / rounds, seed=r)
            prev = totals.get(backend)
            if prev is not None:
                rate = Rate(rate.what, backend, size, prev.moves + rate.moves, prev.wall_s + rate.wall_s,
                            prev.cpu_s + rate.cpu_s, rate.unit)
            totals[backend] = rate
    return [totals[b] for b in backends]


def batched_rate(size: int, batch: int, seconds: float, device: str = "cpu", seed: int = 0) -> Rate:

    engine = BatchedGo(batch, size, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    engine.random_step(gen)  # warm-up (allocations, CUDA kernels)
    if device != "cpu":
        torch.cuda.synchronize()
    moves = 0
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        moves += engine.random_step(gen)
        engine.reset_done()
    if device != "cpu":
        torch.cuda.synchronize()
    return Rate(f"batched x{batch}", f"ours-{device}", size, moves, time.perf_counter() - t0,
                time.process_time() - c0)


@dataclass
class BenchRow:
    """One printed row: a rate, and ours / OpenSpiel's per CPU-second where both ran."""

    rate: Rate
    ratio: float | None = None


def go_table(seconds: float = 2.0, sizes: tuple[int, ...] = (5, 7, 9), batches: tuple[int, ...] = (64, 256, 1024),
             device: str = "cpu", openspiel: bool = True) -> list[BenchRow]:
    """Every row of ``rllab bench go``: engine and env (each beside OpenSpiel's), the batched engine, playouts."""
    if seconds <= 0:
        raise UserError("--seconds must be positive")
    limit_cpu_threads(1)
    dev = resolve_device(device)
    if openspiel and importlib.util.find_spec("pyspiel") is None:
        raise UserError("open-spiel is not installed (pip install open-spiel) or pass --no-openspiel")
    rows = []
    for size in sizes:
        for fn in (engine_rate, env_rate):
            if openspiel:  # alternating slices: both backends run under the same load
                ours, theirs = paired_rates(fn, size, 2 * seconds)
                rows += [BenchRow(theirs), BenchRow(ours, ours.per_cpu_s / theirs.per_cpu_s)]
            else:
                rows.append(BenchRow(fn("ours", size, seconds)))
        rows += [BenchRow(batched_rate(size, batch, seconds, device=dev)) for batch in batches]
        backends = tuple(b for b in PLAYOUT_BACKENDS if openspiel or b.startswith("ours"))
        rates = {r.backend: r for r in interleaved_rates(playout_rate, backends, size, 2 * seconds)}
        for backend, rate in rates.items():
            base = rates.get({"ours-mcts": "openspiel-mcts"}.get(backend, "openspiel"))
            ratio = rate.per_cpu_s / base.per_cpu_s if base and backend.startswith("ours") else None
            rows.append(BenchRow(rate, ratio))
    return rows
