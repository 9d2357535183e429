"""Mario presets, the experiment spec and `rllab bench mario`."""

from __future__ import annotations

from importlib import resources

import pytest

from envs.mario import mario_available
from envs.mario_wrappers import REWARD_CHOICES
from rllab.cli import main
from rllab.config import build_config, list_presets
from rllab.experiment import load_spec

needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")
MARIO_PRESETS = sorted(name for name, data in list_presets().items() if data.get("env") == "rllab/SuperMario-v0")
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
    spec = load_spec(SPEC)
    jobs = spec.run_configs()
    rewards = {config["env_kwargs"].get("reward", "classic") for _, _, config in jobs}
    assert spec.metric == "x_pos_max" and len(spec.seeds) >= 3
    assert {"classic", "package"} <= rewards <= set(REWARD_CHOICES) and len(rewards) == len(spec.variants)


@needs_mario
@pytest.mark.mario
@pytest.mark.parametrize("name", MARIO_PRESETS)
def test_presets_build_their_env(name: str) -> None:
    from agents.sb3 import validate

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


@pytest.mark.parametrize(("argv", "match"), [(["--steps", "0"], "--steps"), (["--actions", "all"], "action")])
def test_bench_bad_input_is_one_line(argv: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "mario", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert match in err and err.strip().count("\n") == 0
