"""Mario presets, the experiment spec and `rllab bench mario`."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rllab.agents.sb3 import validate
from rllab.agents.sb3.callbacks import planned_steps
from rllab.cli.app import main
from rllab.core.config import TRAIN_PRESETS, read_yaml
from rllab.core.train_config import build_config
from rllab.envs.mario.curriculum import MARK_EVERY, Route, load_route, shipped_routes
from rllab.envs.mario.env import mario_available
from rllab.envs.mario.wrappers import REWARD_CHOICES
from rllab.lab.bench.mario import curriculum_start_cost
from rllab.lab.experiment import load_spec
from rllab.lab.mario_curve import evaluation_curve, training_episodes

needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")
MARIO_PRESETS = sorted(name for name, data in TRAIN_PRESETS.all().items() if data.get("env") == "rllab/SuperMario-v0")
SPEC = resources.files("rllab") / "presets" / "experiments" / "mario-rewards.yaml"


def test_pixel_presets_use_a_cnn_ram_presets_an_mlp_and_all_report_the_task_metrics() -> None:
    configs = [build_config(None, None, name) for name in MARIO_PRESETS]
    assert {c.algo for c in configs} >= {"ppo", "dqn"}
    for config in configs:
        ram = config.env_kwargs.get("obs") == "ram"
        assert config.policy == ("MlpPolicy" if ram else "CnnPolicy")
        assert {"x_pos_max", "flag_get"} <= set(config.eval.info_keywords)
    ram_ppo = build_config(None, None, "mario-ram-ppo")
    assert ram_ppo.vec_env == "workers" and ram_ppo.algo == "worker_ppo" and ram_ppo.n_envs >= 2  # both cores sample
    assert ram_ppo.n_envs * ram_ppo.hyperparams["n_steps"] == 1024  # the rollout the shipped recipe was tuned with
    assert "curriculum" in ram_ppo.env_kwargs and "start_x" in ram_ppo.eval.info_keywords
    dqn = next(c for c in configs if c.algo == "dqn")
    assert dqn.hyperparams["buffer_size"] <= 150_000  # 56 KB per transition: 1M would need 56 GB


def test_reward_experiment_compares_presets_on_the_flag_in_ram_mode_with_the_curriculum() -> None:
    spec = read_yaml(Path(str(SPEC)))
    rewards = {(changes or {}).get("env_kwargs.reward", "classic") for changes in spec["variants"].values()}
    assert spec["metric"] == "flag_get" and len(spec["seeds"]) >= 3 and spec["preset"] == "mario-ram-ppo"
    assert {"classic", "package"} <= rewards <= set(REWARD_CHOICES) and len(rewards) == len(spec["variants"])


@needs_mario
@pytest.mark.mario
def test_reward_experiment_spec_validates() -> None:
    # builds every variant's config and env; one early curriculum point keeps each env's route replay short
    spec = load_spec(SPEC, overrides={"env_kwargs.curriculum.points": [300]})
    jobs = spec.run_configs()
    assert len(jobs) == len(spec.variants) * len(spec.seeds)
    assert len({config["env_kwargs"]["reward"] for _, _, config in jobs}) == len(spec.variants)
    assert all(config["env_kwargs"]["obs"] == "ram" and config["eval"]["deterministic"] is False
               for _, _, config in jobs)


@needs_mario
@pytest.mark.mario
def test_reward_experiment_can_be_tried_small() -> None:
    # the lead's resized run: --variants classic,flag,backtrack --seeds 0,1 --set steps=100000 (here at its smallest)
    spec = load_spec("mario-rewards", overrides={"steps": 2048, "eval_episodes": 1,
                                                 "env_kwargs.curriculum.points": [300]},
                     seeds=[0, 1], variants=["classic", "flag", "backtrack"])
    assert (spec.steps, spec.eval_episodes, spec.seeds, list(spec.variants)) == (2048, 1, [0, 1],
                                                                                 ["classic", "flag", "backtrack"])
    assert "eval_episodes" not in spec.overrides and {c["steps"] for _, _, c in spec.run_configs()} == {2048}


@needs_mario
@pytest.mark.mario
@pytest.mark.parametrize("name", MARIO_PRESETS)
def test_presets_build_their_env(name: str) -> None:
    config = build_config(None, None, name)
    if "curriculum" in config.env_kwargs:  # one early point keeps the route replay short
        config = build_config(None, None, name, {"env_kwargs.curriculum.points": [300]})
    validate(config)


@needs_mario
@pytest.mark.mario
def test_bench_prints_all_three_pipelines_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mario", "--steps", "6"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("raw", "ours", "ours-ram", "gymnasium", "ours / gymnasium", "ours-ram / ours"):
        assert name in out
    ram_row = next(line for line in out.splitlines() if line.startswith("ours-ram"))
    assert "(856,)" in ram_row  # 4 stacked frames of 13 x 16 cells + 6 scalars


def write_monitor(path, rows: list[tuple[float, int, int]]) -> None:
    """An SB3 Monitor file with (finish time, length, max x) episodes."""
    lines = ['#{"t_start": 0, "env_id": "rllab/SuperMario-v0"}', "r,l,t,x_pos_max,flag_get"]
    lines += [f"{x / 10},{length},{t},{x},0" for t, length, x in rows]
    path.write_text("\n".join(lines) + "\n")


def test_curve_orders_episodes_of_all_envs_and_writes_a_png(tmp_path) -> None:

    (tmp_path / "monitor").mkdir()
    write_monitor(tmp_path / "monitor" / "0.monitor.csv", [(1.0, 100, 400), (3.0, 50, 900)])
    write_monitor(tmp_path / "monitor" / "1.monitor.csv", [(2.0, 80, 500), (4.0, 70, 1200)])
    episodes = training_episodes(tmp_path)
    assert [e["x_pos_max"] for e in episodes] == [400, 500, 900, 1200]
    assert [e["timesteps"] for e in episodes] == [100, 180, 230, 300]
    with pytest.raises(SystemExit) as exit_info:
        main(["mario", "curve", str(tmp_path), "--bins", "2"])
    assert exit_info.value.code == 0
    assert (tmp_path / "x_pos_max_curve.png").read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "x_pos_max_curve.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["mean_x_pos_max"]) for r in rows] == [400.0, 866.7]  # steps 0-150: one episode; 150-300: three


def test_curve_keeps_only_training_episodes_from_the_level_start(tmp_path) -> None:
    (tmp_path / "monitor").mkdir()
    lines = ['#{"t_start": 0}', "r,l,t,x_pos_max,flag_get,start_x",
             "1,100,1.0,700,0,40", "1,50,2.0,3161,1,2818", "1,80,3.0,900,0,40"]
    (tmp_path / "monitor" / "0.monitor.csv").write_text("\n".join(lines) + "\n")
    episodes = training_episodes(tmp_path)
    assert [(e["x_pos_max"], e["timesteps"]) for e in episodes] == [(700, 100), (900, 230)]  # steps count all


def test_evaluation_curve_sums_wall_time_over_resumes(tmp_path, capsys) -> None:
    (tmp_path / "monitor").mkdir()
    write_monitor(tmp_path / "monitor" / "0.monitor.csv", [(1.0, 100, 400)])
    progress = ["time/time_elapsed,time/total_timesteps", "10,1000", "20,2000", "5,3000", "15,4000"]  # resumed at 2000
    (tmp_path / "progress.csv").write_text("\n".join(progress) + "\n")
    evaluations = ["timesteps,episodes,x_pos_max_mean,flag_get_mean", "2000,10,1400.5,0.1", "4000,10,3161,0.8"]
    (tmp_path / "evaluations.csv").write_text("\n".join(evaluations) + "\n")
    points = evaluation_curve(tmp_path)
    assert [(p.steps, p.wall_s, p.x_pos_max_mean, p.flag_rate) for p in points] == [(2000, 20.0, 1400.5, 0.1),
                                                                                    (4000, 35.0, 3161.0, 0.8)]
    with pytest.raises(SystemExit) as exit_info:
        main(["mario", "curve", str(tmp_path), "--bins", "1"])
    assert exit_info.value.code == 0
    assert "flag rate" in capsys.readouterr().out
    assert (tmp_path / "evaluation_curve.png").read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "evaluation_curve.csv").open() as f:
        assert [row["flag_rate"] for row in csv.DictReader(f)] == ["0.1", "0.8"]


def test_curve_of_a_directory_without_monitor_files_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["mario", "curve", str(tmp_path)])
    assert exit_info.value.code == 2 and "monitor" in capsys.readouterr().err


def test_curve_without_a_finished_episode_from_the_start_says_why(tmp_path, capsys) -> None:
    (tmp_path / "monitor").mkdir()
    write_monitor(tmp_path / "monitor" / "0.monitor.csv", [])  # a 500-step run: every episode still running
    with pytest.raises(SystemExit) as exit_info:
        main(["mario", "curve", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "counts finished episodes only" in err and err.strip().count("\n") == 0


def test_the_progress_bar_ends_at_the_steps_ppo_really_trains() -> None:
    model = SimpleNamespace(n_envs=2)
    assert planned_steps(model, 0, 500) == 500  # off-policy: one step of every env at a time
    ppo = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=512, batch_size=256, device="cpu")
    assert planned_steps(ppo, 0, 500) == 1024  # 2 envs x 512 steps: whole rollouts
    assert planned_steps(ppo, 1024, 1500) == 2048 and planned_steps(ppo, 2048, 1000) == 2048


@needs_mario
@pytest.mark.mario
def test_a_start_from_a_snapshot_is_far_cheaper_than_replaying_to_it() -> None:
    full = load_route(shipped_routes()["1-1"])
    runs, frames = [], 0
    for byte, n in full.actions:  # the route's first ~640 frames keep the test short
        if frames >= 10 * MARK_EVERY:
            break
        runs.append((byte, n))
        frames += n
    route = Route(1, 1, runs, full.marks[:frames // MARK_EVERY], full.marks[frames // MARK_EVERY - 1], full.start_x)
    cost = curriculum_start_cost(route, loads=20)
    assert cost.points == len(range(256, route.end_x, 256)) >= 1
    assert 0 < cost.load_s * 50 < cost.replay_s  # microseconds vs seconds; 50x is a loose floor


@pytest.mark.parametrize(("argv", "match"), [(["--steps", "0"], "--steps"), (["--actions", "all"], "action"),
                                             (["--train-steps", "-1"], "--train-steps"),
                                             (["--train-rounds", "0"], "--train-rounds"),
                                             (["--train-extra", "mario-ram-ppo+fast"], "mario-ram-ppo+lockstep")])
def test_bench_bad_input_is_one_line(argv: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mario", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert match in err and err.strip().count("\n") == 0
