"""Save-state curriculum: start training episodes from points along the level, not only from its start.

Why: an agent that always starts at x=40 sees the last third of World 1-1 only after it has learnt the first
two, so most of its steps replay the part it already knows. Starting some episodes further on trains every
part of the level at once (as in learning from a single demonstration, Salimans & Chen 2018).

Where the states come from: a *route*, a recorded sequence of joypad bytes that reaches the flag, replayed
once on the deterministic emulator when the env is built; each time it first passes a requested x, the
emulator state is kept in memory (nes-py snapshots cannot be written to disk). Loading a kept snapshot costs
microseconds, replaying to that point costs seconds (``rllab bench mario`` measures both), so episodes start
from snapshots. The route file is JSON: ``world``, ``stage``, ``actions`` (runs of ``"<hex byte>:<frames>"``),
``marks`` (x every :data:`MARK_EVERY` frames, to catch a file that no longer replays), ``start_x`` (x at the
level start) and ``end_x`` (x at the flag). ``rllab mario route`` records one with a beam search over emulator states.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rllab.core import atomic
from rllab.core.config import from_mapping
from rllab.core.errors import UserError
from rllab.envs.mario.wrappers import MarioRam

ROUTE_FORMAT = "rllab-mario-route-1"
MARK_EVERY = 64


class Emulator(Protocol):
    """What the curriculum needs from the env: per-frame advance, level-start reset and snapshots."""

    def advance_frame(self, byte: int) -> MarioRam: ...
    def restart_level(self) -> MarioRam: ...
    def snapshot(self) -> Any: ...
    def load_snapshot(self, snapshot: Any) -> MarioRam: ...


@dataclass
class Route:
    """A recorded way through one stage (see the module docstring for the file format)."""

    world: int
    stage: int
    actions: list[tuple[int, int]]
    marks: list[int]
    end_x: int
    start_x: int

    @property
    def frames(self) -> int:
        return sum(n for _, n in self.actions)

    def bytes_per_frame(self) -> list[int]:
        return [byte for byte, n in self.actions for _ in range(n)]

    def to_json(self) -> dict[str, Any]:
        return {"format": ROUTE_FORMAT, "world": self.world, "stage": self.stage, "start_x": self.start_x,
                "end_x": self.end_x, "frames": self.frames,
                "actions": " ".join(f"{b:02x}:{n}" for b, n in self.actions), "marks": self.marks}

    def save(self, path: Path) -> None:
        atomic.write_text(path, json.dumps(self.to_json(), indent=1) + "\n")


def _corrupt(source: str, why: str) -> UserError:
    return UserError(f"corrupt route/save-state file {source}: {why}; record a new one with `rllab mario route`")


def parse_route(data: Any, source: str) -> Route:
    """A route from its JSON form; anything malformed is one clear error naming the file."""
    if not isinstance(data, dict) or data.get("format") != ROUTE_FORMAT:
        raise _corrupt(source, f"not a {ROUTE_FORMAT} JSON object")
    try:
        actions = []
        for item in str(data["actions"]).split():
            byte, _, count = item.partition(":")
            actions.append((int(byte, 16), int(count)))
        route = Route(int(data["world"]), int(data["stage"]), actions, [int(x) for x in data["marks"]],
                      int(data["end_x"]), int(data["start_x"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _corrupt(source, f"{type(exc).__name__}: {exc}") from None
    if not actions or any(not 0 <= b < 256 or n < 1 for b, n in actions):
        raise _corrupt(source, "actions must be runs of a byte 00-ff and a positive frame count")
    if len(route.marks) != route.frames // MARK_EVERY:
        raise _corrupt(source, f"{len(route.marks)} x marks for {route.frames} frames "
                               f"(expected one per {MARK_EVERY} frames)")
    return route


def load_route(path: Path) -> Route:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UserError(f"cannot read route file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(str(path), f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_route(data, str(path))


def shipped_routes() -> dict[str, Path]:
    """``"<world>-<stage>"`` -> the route shipped with rllab for that stage."""
    root = Path(str(resources.files("rllab.envs.mario") / "routes"))
    return {p.stem: p for p in sorted(root.glob("*.json"))}


def replay(emulator: Emulator, route: Route, points: Sequence[int], source: str,
           to_flag: bool = False) -> list[tuple[int, Any]]:
    """Replay ``route`` from the level start; the (x, snapshot) where it first reaches each of ``points``.

    The replay stops after the last point, or at the flag with ``to_flag``. One whose x disagrees with the
    route's marks (a damaged file, or one recorded for another stage) is a corrupt save state, reported as such.
    """
    ram = emulator.restart_level()
    todo = sorted(points)
    states: list[tuple[int, Any]] = []
    for frame, byte in enumerate(route.bytes_per_frame(), start=1):
        ram = emulator.advance_frame(byte)
        while todo and ram.x >= todo[0] and not (ram.dying or ram.dead or ram.flag):
            states.append((ram.x, emulator.snapshot()))
            todo.pop(0)
        if frame % MARK_EVERY == 0 and ram.x != route.marks[frame // MARK_EVERY - 1]:
            raise _corrupt(source, f"the replay is at x={ram.x} after {frame} frames, the route says "
                                   f"x={route.marks[frame // MARK_EVERY - 1]}")
        if ram.dying or ram.dead:
            raise _corrupt(source, f"Mario dies at x={ram.x} after {frame} frames of the replay")
        if ram.flag or (not todo and not to_flag):
            break
    if todo:
        raise _corrupt(source, f"the replay ends at x={ram.x} without passing x={todo[0]}")
    return states


@dataclass
class CurriculumConfig:
    """The ``curriculum`` env option.

    ``points``: x positions to start from (default: every ``spacing`` pixels from ``spacing`` to the flag);
    ``route``: a route JSON (default: the one shipped for the env's stage); ``start_prob``: chance of starting
    at the level start instead, a number or a schedule ``[[env_steps, prob], ...]`` interpolated linearly over
    this env's own steps; ``noop_max``: random no-op steps after loading a snapshot (enemies move meanwhile).
    """

    points: list[int] | None = None
    spacing: int = 256
    route: str | None = None
    start_prob: float | list[list[float]] = 0.25
    noop_max: int = 8
    schedule: list[tuple[float, float]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.spacing, bool) or not isinstance(self.spacing, int) or self.spacing < 16:
            raise UserError(f"curriculum.spacing must be an integer >= 16, got {self.spacing!r}")
        if isinstance(self.noop_max, bool) or not isinstance(self.noop_max, int) or self.noop_max < 0:
            raise UserError(f"curriculum.noop_max must be an integer >= 0, got {self.noop_max!r}")
        if self.points is not None and (not isinstance(self.points, list) or not self.points or any(
                isinstance(x, bool) or not isinstance(x, int) for x in self.points)):
            raise UserError(f"curriculum.points must be a non-empty list of integer x positions, got {self.points!r}")
        self.schedule = _schedule(self.start_prob)


def _schedule(value: Any) -> list[tuple[float, float]]:
    bad = UserError(f"curriculum.start_prob must be a probability or [[env_steps, probability], ...] with "
                    f"increasing steps, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [[0, value]]
    if not isinstance(value, list) or not value:
        raise bad
    try:
        schedule = [(float(step), float(prob)) for step, prob in value]
    except (TypeError, ValueError):
        raise bad from None
    steps = [s for s, _ in schedule]
    if any(not 0 <= p <= 1 for _, p in schedule) or steps != sorted(steps) or steps[0] < 0:
        raise bad
    return schedule


@dataclass
class CurriculumPlan:
    """The curriculum options checked against the stage's route: everything but the replay, so a bad option
    fails before the emulator starts."""

    config: CurriculumConfig
    route: Route
    source: str
    points: list[int]

    @classmethod
    def check(cls, options: Any, world: int | None, stage: int | None) -> CurriculumPlan:
        config = options if isinstance(options, CurriculumConfig) else from_mapping(
            CurriculumConfig, options, "curriculum")
        if world is None:
            raise UserError("the curriculum needs one stage (world and stage), not the whole game")
        name = f"{world}-{stage}"
        if config.route is None:
            routes = shipped_routes()
            if name not in routes:
                raise UserError(f"no route shipped for stage {name}; stages with a route: {', '.join(routes)} "
                                f"(record one with `rllab mario route --stage {name}` and pass curriculum.route)")
            path = routes[name]
        else:
            path = Path(config.route)
        route = load_route(path)
        if (route.world, route.stage) != (world, stage):
            raise UserError(f"route {path} is for stage {route.world}-{route.stage}, the env plays {name}")
        points = config.points or list(range(config.spacing, route.end_x, config.spacing))
        for x in points:
            if not route.start_x < x < route.end_x:
                raise UserError(f"curriculum point x={x} is outside stage {name}: points must lie after the "
                                f"start (x={route.start_x}) and before the flag (x={route.end_x}), i.e. "
                                f"{route.start_x + 1}..{route.end_x - 1}")
        return cls(config, route, str(path), sorted(points))


class Curriculum:
    """Start states along one stage, and the choice between them and the level start at each reset."""

    def __init__(self, config: CurriculumConfig, states: list[tuple[int, Any]], route_source: str) -> None:
        self.config = config
        self.states = states
        self.route_source = route_source
        self.steps = 0

    @classmethod
    def build(cls, plan: CurriculumPlan, emulator: Emulator) -> Curriculum:
        """Replay the plan's route once to collect the start states."""
        states = replay(emulator, plan.route, plan.points, plan.source)
        emulator.restart_level()
        return cls(plan.config, states, plan.source)

    def start_prob(self) -> float:
        """The level-start probability now, from the schedule and this env's step count."""
        schedule = self.config.schedule
        steps = [s for s, _ in schedule]
        return float(np.interp(self.steps, steps, [p for _, p in schedule]))

    def choose(self, rng: np.random.Generator) -> tuple[int, Any] | None:
        """A start state, or ``None`` for the level start."""
        if rng.random() < self.start_prob():
            return None
        return self.states[int(rng.integers(len(self.states)))]
