"""Recording a curriculum route (``rllab mario route``): a beam search over emulator states to the flag.

The search needs no agent: the emulator is deterministic and its states can be saved and loaded, so random
held buttons from the best states found so far reach the flag of World 1-1 in a few minutes of CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.mario.curriculum import MARK_EVERY, Emulator, Route, replay
from rllab.envs.mario.env import SuperMarioEnv, parse_stage

#: Joypad bytes the search tries (right, right+B, right+A, right+A+B) and how long it holds one.
SEARCH_BYTES = (0x80, 0x82, 0x81, 0x83)
SEARCH_HOLDS = (4, 8, 12, 16, 24, 32)


def search_route(emulator: Emulator, world: int, stage: int, beam: int = 8, branch: int = 6, seed: int = 0,
                 max_expansions: int = 2000, on_depth: Callable[[int, int], None] | None = None) -> Route:
    """Find a route to the flag by beam search over emulator states.

    Each of the ``beam`` best states (by x, at most two per parent so one doomed jump cannot fill the beam) is
    extended by ``branch`` random held buttons (a byte of :data:`SEARCH_BYTES` for a duration of
    :data:`SEARCH_HOLDS`); extensions where Mario dies are dropped. When every extension dies (the beam sits
    in a jump that cannot land), the search backs up a few levels and draws again. ``on_depth(depth, best_x)``
    reports progress.
    """
    rng = np.random.default_rng(seed)
    ram = emulator.restart_level()
    frontiers: list[list[tuple[int, Any, list[tuple[int, int]]]]] = [[(ram.x, emulator.snapshot(), [])]]
    for _ in range(max_expansions):
        children = []
        for parent, (_, state, actions) in enumerate(frontiers[-1]):
            for _ in range(branch):
                byte, hold = int(rng.choice(SEARCH_BYTES)), int(rng.choice(SEARCH_HOLDS))
                ram = emulator.load_snapshot(state)
                used = 0
                while used < hold and not (ram.dying or ram.dead or ram.flag):
                    ram = emulator.advance_frame(byte)
                    used += 1
                if ram.dying or ram.dead:
                    continue
                path = [*actions, (byte, used)]
                if ram.flag:
                    return _finish(emulator, world, stage, path)
                children.append((ram.x, parent, emulator.snapshot(), path))
        if not children:
            del frontiers[max(len(frontiers) - 4, 1):]
            continue
        children.sort(key=lambda child: -child[0])
        per_parent: dict[int, int] = {}
        chosen = []
        for x, parent, state, path in children:
            if per_parent.get(parent, 0) < 2 and len(chosen) < beam:
                per_parent[parent] = per_parent.get(parent, 0) + 1
                chosen.append((x, state, path))
        frontiers.append(chosen)
        if on_depth is not None:
            on_depth(len(frontiers) - 1, chosen[0][0])
    best = max(x for x, _, _ in frontiers[-1])
    raise UserError(f"no route to the flag of {world}-{stage} within {max_expansions} beam expansions "
                    f"(best x {best}); try another --seed or a wider --beam")


def _finish(emulator: Emulator, world: int, stage: int, actions: list[tuple[int, int]]) -> Route:
    """Merge runs, replay once to record the x marks and the flag x."""
    merged: list[tuple[int, int]] = []
    for byte, n in actions:
        if merged and merged[-1][0] == byte:
            merged[-1] = (byte, merged[-1][1] + n)
        else:
            merged.append((byte, n))
    route = Route(world, stage, merged, [], 0, emulator.restart_level().x)
    for frame, byte in enumerate(route.bytes_per_frame(), start=1):
        route.end_x = emulator.advance_frame(byte).x
        if frame % MARK_EVERY == 0:
            route.marks.append(route.end_x)
    return route


def record_route(stage: str, out: Path, beam: int = 8, branch: int = 6, seed: int = 0,
                 on_depth: Callable[[int, int], None] | None = None) -> Route:
    """Search a route through ``stage`` (``"1-1"``), check that it replays, and save it to ``out``."""
    world, number = parse_stage(stage)
    if beam < 1 or branch < 1:
        raise UserError(f"--beam and --branch must be >= 1, got {beam} and {branch}")
    env = SuperMarioEnv(world=world, stage=number, obs="ram", noop_max=0)
    try:
        route = search_route(env, world, number, beam, branch, seed, on_depth=on_depth)
        replay(env, route, [], str(out), to_flag=True)
    finally:
        env.close()
    route.save(out)
    return route
