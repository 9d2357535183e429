"""rllab/SuperMario-v0 on the real emulator (skipped without the [mario] extra)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rllab.envs  # noqa: F401  (registers rllab/SuperMario-v0)
from rllab.core.errors import UserError
from rllab.envs.mario.env import SuperMarioEnv, mario_available

pytestmark = [
    pytest.mark.mario,
    pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`"),
]
RIGHT, RIGHT_JUMP, NOOP = 1, 2, 0  # in the "simple" action set


def make(**kwargs) -> SuperMarioEnv:
    kwargs.setdefault("noop_max", 0)
    return SuperMarioEnv(**kwargs)


@pytest.fixture(scope="module")
def env():
    env = make()
    yield env
    env.close()


def run_until_done(env: SuperMarioEnv, action: int, limit: int = 1000) -> tuple[float, dict, bool, bool, int]:
    total = 0.0
    for n in range(1, limit + 1):
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        if terminated or truncated:
            return total, info, terminated, truncated, n
    raise AssertionError(f"episode did not end within {limit} steps")


def test_spaces_and_observation(env) -> None:
    obs, info = env.reset(seed=0)
    assert env.observation_space.shape == (4, 84, 84) and env.action_space.n == 7
    assert env.observation_space.contains(obs)
    assert info["x_pos_max"] == info["x_pos"] > 0 and info["flag_get"] == 0
    assert env.get_action_meanings()[RIGHT_JUMP] == "right A"


def test_passes_gymnasium_and_sb3_env_checkers() -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(stall_limit=50)
    try:
        check_env(env, skip_render_check=True)
        sb3_check_env(env)
    finally:
        env.close()


def test_frames_are_copies_not_views_of_the_emulator_screen() -> None:
    """The emulator reuses one screen buffer: without copies the max-pool and the stack see one frame."""
    pooled = make(frame_skip=2, max_pool=True, grayscale=False, resize=None, frame_stack=4)
    single = make(frame_skip=1, grayscale=False, resize=None, frame_stack=1, render_mode="rgb_array")
    try:
        pooled.reset(seed=0)
        single.reset(seed=0)
        kept = []
        for _ in range(6):
            obs, *_ = pooled.step(RIGHT)
            kept.append((obs, obs.copy()))
        frames = []
        for _ in range(12):
            single.step(RIGHT)
            frames.append(single.render())
        expected = np.maximum(frames[-2], frames[-1]).transpose(2, 0, 1)
        assert not np.array_equal(frames[-2], frames[-1])  # so a pool of views would differ from `expected`
        assert np.array_equal(obs[-3:], expected)
        stack = obs.reshape(4, 3, 240, 256)
        assert all(not np.array_equal(stack[i], stack[i + 1]) for i in range(3))
        assert all(np.array_equal(a, b) for a, b in kept)  # later steps never changed an earlier observation
    finally:
        pooled.close()
        single.close()


def test_running_right_earns_progress_and_components_add_up(env) -> None:
    env.reset(seed=0)
    total = 0.0
    components_total = 0.0
    for _ in range(30):
        _, reward, terminated, _, info = env.step(RIGHT)
        total += reward
        components_total += sum(info["reward_components"].values())
        assert not terminated
    assert info["x_pos"] > 100 and info["ret_progress"] > 50
    assert total == pytest.approx(components_total)
    assert total == pytest.approx(sum(v for k, v in info.items() if k.startswith("ret_")))


def test_reward_scale_scales_reward_and_components() -> None:
    def rewards(**kwargs) -> tuple[list[float], dict]:
        env = make(**kwargs)
        try:
            env.reset(seed=0)
            steps = [env.step(RIGHT) for _ in range(12)]
        finally:
            env.close()
        return [s[1] for s in steps], steps[-1][4]

    scaled, info = rewards(reward_scale=0.1)
    plain, _ = rewards()
    assert scaled == pytest.approx([0.1 * r for r in plain]) and any(plain)
    assert sum(info["reward_components"].values()) == pytest.approx(scaled[-1])


def test_death_ends_the_stage_with_the_classic_penalty(env) -> None:
    env.reset(seed=0)
    _, info, terminated, truncated, _ = run_until_done(env, RIGHT)  # the first Goomba
    assert terminated and not truncated
    assert info["death"] == 1 and info["flag_get"] == 0
    assert info["ret_death"] == -25 and info["ret_clip"] > 0  # the death frame is clipped to -15
    assert info["x_pos_max"] >= info["x_pos"]
    with pytest.raises(UserError, match="call reset"):
        env.step(RIGHT)


def test_whole_game_keeps_going_after_a_life_unless_asked() -> None:
    game = make(world=None, stage=None)
    per_life = make(world=None, stage=None, end_on_life_loss=True)
    try:
        _, start = game.reset(seed=0)
        for _ in range(400):
            _, _, terminated, _, info = game.step(RIGHT)
            if info["life"] != start["life"]:
                break
        assert info["life"] == start["life"] - 1 and not terminated
        per_life.reset(seed=0)
        _, info, terminated, _, _ = run_until_done(per_life, RIGHT)
        assert terminated and info["death"] == 1
    finally:
        game.close()
        per_life.close()


def test_stall_limit_truncates_an_idle_agent() -> None:
    idle = make(stall_limit=5)
    try:
        idle.reset(seed=0)
        _, _, terminated, truncated, n = run_until_done(idle, NOOP, limit=10)
        assert truncated and not terminated and n == 5
    finally:
        idle.close()


@pytest.mark.parametrize("action", [RIGHT, np.int64(RIGHT), np.array(RIGHT), np.array(RIGHT, dtype=np.uint8)])
def test_integer_like_actions_work(env, action) -> None:
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(action)
    assert not terminated and info["x_pos"] > 0


@pytest.mark.parametrize("action", [7, -1, 1.0, "1", True, None, np.array([1]), np.array(1.5)])
def test_bad_actions_are_clear_errors(env, action) -> None:
    env.reset(seed=0)
    with pytest.raises(UserError, match="action"):
        env.step(action)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"world": 9}, "unknown stage 9-1; valid: WORLD-STAGE with world 1-8 and stage 1-4"),
        ({"world": 0}, "unknown stage 0-1"),
        ({"stage": 5}, "unknown stage 1-5"),
        ({"world": "1"}, "world must be an integer"),
        ({"obs": "rgb"}, "unknown observation mode .* valid: pixels, ram"),
        ({"world": 1, "stage": None}, "both world and stage"),
        ({"actions": "all"}, "valid: complex, right_only, simple"),
        ({"reward": "nope"}, "unknown Mario reward preset"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"sticky_prob": 1.0}, "sticky_prob"),
        ({"sticky_prob": "0.1"}, "sticky_prob"),
        ({"reward_scale": 0}, "reward_scale"),
        ({"resize": (84,)}, "resize"),
        ({"resize": "84"}, "resize"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_configuration_is_a_user_error(kwargs, match) -> None:
    with pytest.raises(UserError, match=match):
        gym.make("rllab/SuperMario-v0", **kwargs)


def test_reset_after_close_is_a_clear_error() -> None:
    closed = make()
    closed.reset(seed=0)
    closed.close()
    closed.close()  # a second close is harmless
    with pytest.raises(UserError, match="closed"):
        closed.reset(seed=0)
    with pytest.raises(UserError, match="closed"):
        closed.step(RIGHT)


def test_seeded_noop_starts_and_sticky_actions_vary_episodes() -> None:
    env = SuperMarioEnv(noop_max=30, sticky_prob=0.25)
    try:
        def trajectory(seed: int) -> list[int]:
            _, info = env.reset(seed=seed)
            xs = [info["time"]]
            for i in range(25):
                xs.append(env.step(RIGHT_JUMP if i % 3 else RIGHT)[4]["x_pos"])
            return xs

        assert trajectory(1) == trajectory(1)
        assert len({tuple(trajectory(s)) for s in (1, 2, 3)}) > 1
    finally:
        env.close()


def test_render_is_the_full_colour_frame() -> None:
    env = gym.make("rllab/SuperMario-v0", render_mode="rgb_array", noop_max=0)
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (240, 256, 3) and frame.dtype == np.uint8
        assert not np.array_equal(frame[..., 0], frame[..., 2])  # colour, not gray
        env.step(RIGHT)
        assert not np.shares_memory(frame, env.render())
        assert env.metadata["render_fps"] == 15  # 60 Hz / frame skip 4
    finally:
        env.close()


def test_package_reward_matches_the_package_stepped_frame_by_frame() -> None:
    from gym_super_mario_bros import SuperMarioBrosEnv

    ours = make(reward="package")
    theirs = SuperMarioBrosEnv(target=(1, 1))
    try:
        ours.reset(seed=0)
        theirs.reset(seed=0)
        for action, byte in [(RIGHT, 0x80)] * 15 + [(RIGHT_JUMP, 0x81)] * 5:
            _, reward, _, _, info = ours.step(action)
            expected = sum(theirs.step(byte)[1] for _ in range(4))
            assert reward == pytest.approx(expected)
        assert {"ret_progress", "ret_time", "ret_coins", "ret_completion", "ret_death"} <= set(info)
        assert info["ret_progress"] > 0
    finally:
        ours.close()
        theirs.close()


def test_sb3_ppo_trains_on_subprocess_workers() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # The class, not the id: a forkserver worker has not imported `envs`, so the id is unknown there.
    vec = make_vec_env(SuperMarioEnv, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                       vec_env_kwargs={"start_method": "forkserver"}, env_kwargs={"stall_limit": 20})
    try:
        model = PPO("CnnPolicy", vec, n_steps=16, batch_size=16, n_epochs=1, device="cpu", seed=0)
        model.learn(32)
        action, _ = model.predict(vec.reset()[0], deterministic=True)
        assert action.shape == () and 0 <= int(action) < 7
    finally:
        vec.close()
