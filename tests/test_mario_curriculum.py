"""The save-state curriculum: route files, the start-probability schedule, and starts along 1-1 on the emulator."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import rllab.envs  # noqa: F401  (registers rllab/SuperMario-v0)
from rllab.core.errors import UserError
from rllab.envs.mario.curriculum import (
    MARK_EVERY,
    Curriculum,
    CurriculumConfig,
    Route,
    load_route,
    parse_route,
    replay,
    shipped_routes,
)
from rllab.envs.mario.env import SuperMarioEnv, mario_available
from rllab.envs.mario.route_search import search_route
from rllab.envs.mario.wrappers import MarioRam

needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")
RIGHT = 1
NEAR = [200, 400]  # early points: building them replays only the first ~200 frames of the route


def test_shipped_route_of_1_1_reaches_the_flag_and_round_trips(tmp_path) -> None:
    route = load_route(shipped_routes()["1-1"])
    assert (route.world, route.stage) == (1, 1) and route.end_x > 3000
    assert len(route.marks) == route.frames // MARK_EVERY and max(route.marks) <= route.end_x
    route.save(tmp_path / "copy.json")
    again = load_route(tmp_path / "copy.json")
    assert again == route and again.bytes_per_frame()[:3] == route.bytes_per_frame()[:3]


GOOD = {"format": "rllab-mario-route-1", "world": 1, "stage": 1, "start_x": 40, "end_x": 99, "actions": "80:64",
        "marks": [99]}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "invalid JSON"),
        ('{"format": "something-else"}', "not a rllab-mario-route-1"),
        ('{"format": "rllab-mario-route-1", "world": 1}', "KeyError"),
        (json.dumps(GOOD | {"actions": "zz:3"}), "ValueError"),
        (json.dumps(GOOD | {"actions": "80:0"}), "positive frame count"),
        (json.dumps(GOOD | {"actions": "80:200"}), "1 x marks for 200 frames"),
        (json.dumps(GOOD | {"marks": "many"}), "ValueError"),
    ],
)
def test_corrupt_route_files_are_one_clear_error(tmp_path, text: str, match: str) -> None:
    path = tmp_path / "route.json"
    path.write_text(text)
    with pytest.raises(UserError, match=match) as info:
        load_route(path)
    assert "corrupt route/save-state file" in str(info.value) and "\n" not in str(info.value)


def test_a_well_formed_route_file_loads(tmp_path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(GOOD))
    assert load_route(tmp_path / "good.json") == Route(1, 1, [(0x80, 64)], [99], 99, 40)


def test_a_missing_route_file_names_the_path(tmp_path) -> None:
    with pytest.raises(UserError, match="cannot read route file .*nope.json"):
        load_route(tmp_path / "nope.json")


def test_schedule_interpolates_the_level_start_probability() -> None:
    curriculum = Curriculum(CurriculumConfig(start_prob=[[0, 0.2], [1000, 0.6]]), [(500, "state")], "test")
    assert curriculum.start_prob() == pytest.approx(0.2)
    curriculum.steps = 500
    assert curriculum.start_prob() == pytest.approx(0.4)
    curriculum.steps = 5000
    assert curriculum.start_prob() == pytest.approx(0.6)
    rng = np.random.default_rng(0)
    picks = [curriculum.choose(rng) for _ in range(2000)]
    assert sum(p is None for p in picks) / 2000 == pytest.approx(0.6, abs=0.04)
    assert {p for p in picks if p is not None} == {(500, "state")}
    assert Curriculum(CurriculumConfig(start_prob=1), [(500, "s")], "t").choose(rng) is None


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"start_prob": 1.5}, "start_prob"),
        ({"start_prob": [[100, 0.5], [0, 0.2]]}, "increasing steps"),
        ({"start_prob": "half"}, "start_prob"),
        ({"spacing": 4}, "spacing"),
        ({"points": []}, "points"),
        ({"points": [100.5]}, "points"),
        ({"noop_max": -1}, "noop_max"),
    ],
)
def test_bad_curriculum_options(options, match) -> None:
    with pytest.raises(UserError, match=match):
        CurriculumConfig(**options)


@needs_mario
@pytest.mark.mario
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"curriculum": {"points": [400, 4000]}}, r"x=4000 is outside stage 1-1.*41\.\.3160"),
        ({"curriculum": {"points": [20]}}, "x=20 is outside stage 1-1"),
        ({"curriculum": {"spacng": 100}}, "unknown field 'spacng' \\(did you mean 'spacing'\\?\\)"),
        ({"curriculum": {}, "world": 8, "stage": 4}, "no route shipped for stage 8-4; stages with a route: 1-1"),
        ({"curriculum": {}, "world": None, "stage": None}, "needs one stage"),
        ({"world": 9, "stage": 1}, "unknown stage 9-1; valid: WORLD-STAGE with world 1-8 and stage 1-4"),
        ({"stage": 5}, "unknown stage 1-5"),
    ],
)
def test_bad_stage_or_curriculum_is_one_line_with_the_choices(kwargs, match) -> None:
    with pytest.raises(UserError, match=match) as info:
        gym.make("rllab/SuperMario-v0", obs="ram", **kwargs)
    assert "\n" not in str(info.value)


@needs_mario
@pytest.mark.mario
def test_a_route_that_no_longer_replays_is_a_corrupt_save_state(tmp_path) -> None:
    data = json.loads(shipped_routes()["1-1"].read_text())
    data["marks"][1] += 7  # the replay is elsewhere after 128 frames
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"corrupt route/save-state file .*edited.json: the replay is at x=\d+ after "
                                        r"128 frames"):
        SuperMarioEnv(obs="ram", curriculum={"route": str(path), "points": [900]})
    data = json.loads(shipped_routes()["1-1"].read_text())
    data["stage"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="is for stage 1-2, the env plays 1-1"):
        SuperMarioEnv(obs="ram", curriculum={"route": str(path)})


@needs_mario
@pytest.mark.mario
def test_training_starts_along_the_level_and_evaluation_at_its_start() -> None:
    env = SuperMarioEnv(obs="ram", noop_max=0, curriculum={"points": NEAR, "start_prob": 0.3, "noop_max": 0})
    try:
        assert all(p <= x < p + 16 for (x, _), p in zip(env.curriculum.states, NEAR, strict=True))
        starts = [env.reset(seed=seed)[1]["start_x"] for seed in range(30)]
        level = env.reset(options={"evaluation": True})[1]["start_x"]
        assert level == 40 and set(starts) == {40, *(x for x, _ in env.curriculum.states)}
        assert starts == [env.reset(seed=seed)[1]["start_x"] for seed in range(30)]  # seeded
        assert all(env.reset(seed=s, options={"evaluation": True})[1]["start_x"] == 40 for s in range(10))
        seed = next(s for s in range(30) if starts[s] > 40)
        obs, info = env.reset(seed=seed)
        assert info["x_pos"] == info["x_pos_max"] == info["start_x"] > 40 and env.observation_space.contains(obs)
        total = 0.0
        for _ in range(5):
            obs, reward, terminated, _, info = env.step(RIGHT)
            total += reward
        assert not terminated and info["x_pos"] > info["start_x"] and total > 0
        assert info["ret_progress"] == pytest.approx(info["x_pos_max"] - info["start_x"])  # no reward for the warp
        assert env.curriculum.steps == 5
    finally:
        env.close()


@needs_mario
@pytest.mark.mario
def test_a_start_from_a_snapshot_is_exactly_the_replayed_state() -> None:
    env = SuperMarioEnv(obs="ram", noop_max=0, curriculum={"points": [300], "start_prob": 0.0, "noop_max": 0})
    try:
        first = [env.reset(seed=0)[0], *(env.step(RIGHT)[0] for _ in range(10))]
        again = [env.reset(seed=1)[0], *(env.step(RIGHT)[0] for _ in range(10))]
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    finally:
        env.close()


def test_route_json_form_is_stable() -> None:
    route = Route(1, 1, [(0x80, 64), (0x81, 64)], [100, 250], 250, 40)
    data = route.to_json()
    assert data["actions"] == "80:64 81:64" and data["frames"] == 128 and data["start_x"] == 40
    assert parse_route(data, "test") == route


class ToyEmulator:
    """A 1-D stand-in for the NES: right moves 2 px a frame, A jumps for 16 frames, a pit at 100-124, flag at 300."""

    def __init__(self) -> None:
        self.state = (40, 0)  # x, frames of jump left

    def _ram(self) -> MarioRam:
        x, airborne = self.state
        dying = 100 <= x < 124 and airborne == 0
        return MarioRam(x=x, y=0, clock=400, score=0, coins=0, powerup=0, status=0, life=2, world=1, stage=1,
                        dying=dying, dead=False, flag=x >= 300)

    def advance_frame(self, byte: int) -> MarioRam:
        x, airborne = self.state
        if byte & 0x01 and airborne == 0 and not 100 <= x < 124:
            airborne = 16
        self.state = (x + (2 if byte & 0x80 else 0), max(airborne - 1, 0))
        return self._ram()

    def restart_level(self) -> MarioRam:
        self.state = (40, 0)
        return self._ram()

    def snapshot(self) -> tuple[int, int]:
        return self.state

    def load_snapshot(self, snapshot: tuple[int, int]) -> MarioRam:
        self.state = snapshot
        return self._ram()


def test_route_search_jumps_the_pit_and_its_route_replays() -> None:
    toy = ToyEmulator()
    route = search_route(toy, 1, 1, beam=4, branch=4, seed=0)
    assert route.end_x >= 300 and len(route.marks) == route.frames // MARK_EVERY
    assert all(b1 != b2 for (b1, _), (b2, _) in zip(route.actions, route.actions[1:], strict=False))  # runs merged
    states = replay(toy, route, [120, 200], "toy", to_flag=True)
    assert [x for x, _ in states] == [120, 200]  # 2 px a frame from 40: both points are hit exactly
    with pytest.raises(UserError, match="no route to the flag"):
        search_route(toy, 1, 1, beam=1, branch=1, seed=0, max_expansions=3)
