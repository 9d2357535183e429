"""Mario presets, the experiment spec and `rllab bench mario`."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from rllab.cli.app import main
from rllab.core.config import TRAIN_PRESETS, read_yaml
from rllab.core.train_config import build_config
from rllab.envs.mario.env import mario_available
from rllab.envs.mario.wrappers import REWARD_CHOICES
from rllab.lab.experiment import load_spec

needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")
MARIO_PRESETS = sorted(name for name, data in TRAIN_PRESETS.all().items() if data.get("env") == "rllab/SuperMario-v0")
SPEC = resources.files("rllab") / "presets" / "experiments" / "mario-rewards.yaml"


def test_ppo_and_dqn_presets_use_a_cnn_and_report_the_task_metrics() -> None:
    configs = [build_config(None, None, name) for name in MARIO_PRESETS]
    assert {c.algo for c in configs} >= {"ppo", "dqn"}
    for config in configs:
        assert config.policy == "CnnPolicy"
        assert {"x_pos_max", "flag_get"} <= set(config.eval.info_keywords)
    dqn = next(c for c in configs if c.algo == "dqn")
    assert dqn.hyperparams["buffer_size"] <= 150_000  # 56 KB per transition: 1M would need 56 GB


def test_reward_experiment_compares_presets_on_max_x() -> None:
    spec = read_yaml(Path(str(SPEC)))
    rewards = {(changes or {}).get("env_kwargs.reward", "classic") for changes in spec["variants"].values()}
    assert spec["metric"] == "x_pos_max" and len(spec["seeds"]) >= 3
    assert {"classic", "package"} <= rewards <= set(REWARD_CHOICES) and len(rewards) == len(spec["variants"])


@needs_mario
@pytest.mark.mario
def test_reward_experiment_spec_validates() -> None:
    spec = load_spec(SPEC)  # builds every variant's config and env
    jobs = spec.run_configs()
    assert len(jobs) == len(spec.variants) * len(spec.seeds)
    assert len({config["env_kwargs"]["reward"] for _, _, config in jobs}) == len(spec.variants)


@needs_mario
@pytest.mark.mario
@pytest.mark.parametrize("name", MARIO_PRESETS)
def test_presets_build_their_env(name: str) -> None:
    from rllab.agents.sb3 import validate

    validate(build_config(None, None, name))


@needs_mario
@pytest.mark.mario
def test_bench_prints_all_three_pipelines_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mario", "--steps", "6"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("raw", "ours", "gymnasium", "ours / gymnasium"):
        assert name in out


def write_monitor(path, rows: list[tuple[float, int, int]]) -> None:
    """An SB3 Monitor file with (finish time, length, max x) episodes."""
    lines = ['#{"t_start": 0, "env_id": "rllab/SuperMario-v0"}', "r,l,t,x_pos_max,flag_get"]
    lines += [f"{x / 10},{length},{t},{x},0" for t, length, x in rows]
    path.write_text("\n".join(lines) + "\n")


def test_curve_orders_episodes_of_all_envs_and_writes_a_png(tmp_path) -> None:
    from rllab.lab.mario_curve import training_episodes

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


def test_curve_of_a_directory_without_monitor_files_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["mario", "curve", str(tmp_path)])
    assert exit_info.value.code == 2 and "monitor" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "match"), [(["--steps", "0"], "--steps"), (["--actions", "all"], "action")])
def test_bench_bad_input_is_one_line(argv: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mario", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert match in err and err.strip().count("\n") == 0
