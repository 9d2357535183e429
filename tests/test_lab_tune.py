"""`rllab tune`: a resumable Optuna study whose trials are run directories, pruning on the periodic evaluations,
the best preset, the importance plot, and one clear error for each bad input."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from cli_helpers import run_main

import rllab
from rllab.agents import sb3
from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.lab.tune import STUDY_NAME, TuneConfig, load_space, plan_study

#: A small space (cheap PPO updates) that still varies several parameters, for fANOVA.
SPACE = {"n_steps": {"choices": [32, 64]}, "batch_size": {"choices": [64]}, "n_epochs": {"choices": [1, 4]},
         "policy_kwargs.net_arch": {"choices": {"small": [64, 64]}}, "clip_range": None, "max_grad_norm": None}
TINY = {"n_envs": 2, "eval.freq": 256, "eval.episodes": 2, "stop_at_reward": None}
STEPS = 1024


def _space_file(tmp_path: Path, space: dict | None = None) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE if space is None else space))
    return path


def _tune(study: Path, space: Path, trials: int, **kwargs):
    """The library call that the fixture's command makes (``rllab.tune`` is ``rllab.lab.api.tune``)."""
    args = {"preset": None, "trials": trials, "study": study, "steps": STEPS, "seed": 0, "overrides": TINY,
            "space": space, "startup_trials": 2, "progress": False, **kwargs}
    return rllab.tune("CartPole-v1", "ppo", **args)


def _rows(study: Path) -> list[dict]:
    with (study / "trials.csv").open() as handle:
        return list(csv.DictReader(handle))


def _optuna_study(study: Path):
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{study / 'study.db'}")


@pytest.fixture(scope="module")
def study2(tmp_path_factory) -> Path:
    """A finished two-trial study made by the command (median pruner, two startup trials: neither is pruned)."""
    root = tmp_path_factory.mktemp("tune")
    args = ["tune", "CartPole-v1", "--algo", "ppo", "--trials", "2", "--study", str(root / "study"), "--steps",
            str(STEPS), "--space", str(_space_file(root)), "--startup-trials", "2", "--no-progress"]
    for key, value in TINY.items():
        args += ["--set", f"{key}={'null' if value is None else value}"]
    assert run_main(args) == 0
    assert [r["state"] for r in _rows(root / "study")] == ["complete", "complete"]
    return root / "study"


def test_study_files_and_trials_are_normal_runs(study2: Path):
    for name in ("tune.yaml", "study.db", "trials.csv", "best_preset.yaml", "importance.png"):
        assert (study2 / name).is_file(), name
    assert (study2 / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(study2)
    assert [r["number"] for r in rows] == ["0", "1"]
    assert {"learning_rate", "gamma", "n_steps", "policy_kwargs.net_arch"} <= set(rows[0])
    assert rows[0]["policy_kwargs.net_arch"] == "small"  # the label; the run got the value
    for row in rows:
        run = RunDir.open(study2 / row["run_dir"])
        assert run.finished and run.status["steps"] == STEPS  # stopped at the budget, not at the rollout's end
        assert run.config["policy_kwargs"]["net_arch"] == [64, 64]
        assert run.config["hyperparams"]["learning_rate"] == pytest.approx(float(row["learning_rate"]))
        with (run.path / "evaluations.csv").open() as handle:
            evals = list(csv.DictReader(handle))
        assert [int(e["timesteps"]) for e in evals] == [256, 512, 768, 1024]
        assert float(row["value"]) == pytest.approx(float(evals[-1]["return_mean"]))  # objective: last evaluation
        assert sb3.evaluate_run(run, episodes=2)["episodes"] == 2  # a trial can be evaluated like any run


def test_best_preset_round_trips_through_rllab_train(study2: Path, tmp_path: Path):
    best = max(_rows(study2), key=lambda r: float(r["value"]))
    trial_config = RunDir.open(study2 / best["run_dir"]).config
    out = tmp_path / "run"
    code = run_main(["train", "--preset", str(study2 / "best_preset.yaml"), "--steps", "256", "--out", str(out),
                     "--no-progress", "--set", "eval.freq=0"])
    assert code == 0
    trained = RunDir.open(out).config
    assert trained["env"] == "CartPole-v1" and trained["algo"] == "ppo" and trained["preset"] == "best_preset"
    assert trained["hyperparams"] == trial_config["hyperparams"]
    assert trained["policy_kwargs"] == trial_config["policy_kwargs"]
    assert trained["n_envs"] == 2


def test_rerun_continues_the_study_and_fails_a_killed_trial(study2: Path, tmp_path: Path):
    study = tmp_path / "study"
    shutil.copytree(study2, study)
    before = _rows(study)
    started = RunDir.open(study / "trials/trial-0000").meta["started"]
    killed = _optuna_study(study).ask()  # what a study killed mid-trial leaves: a trial still "running"
    killed.set_user_attr("run_dir", "trials/trial-0002")

    result = _tune(study, _space_file(tmp_path), trials=3)
    rows = _rows(study)
    assert result.stale_failed == 1
    assert [r["number"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[:2] == before  # kept, not rerun
    assert RunDir.open(study / "trials/trial-0000").meta["started"] == started
    assert rows[2]["state"] == "fail" and "killed" in rows[2]["error"]
    assert rows[3]["state"] in ("complete", "pruned") and (study / "trials/trial-0003/config.yaml").is_file()

    again = _tune(study, _space_file(tmp_path), trials=3)  # the study is full: nothing runs
    assert len(again.trials) == 4 and again.stale_failed == 0


def test_a_hopeless_trial_is_pruned_at_its_first_evaluation_after_warmup(study2: Path, tmp_path: Path):
    study = tmp_path / "study"
    shutil.copytree(study2, study)
    stored = _optuna_study(study)
    first = stored.trials[0]
    for _ in range(2):  # two earlier trials that scored the maximum at every evaluation
        stored.add_trial(optuna.trial.create_trial(params=first.params, distributions=first.distributions,
                                                   value=500.0, intermediate_values={s: 500.0 for s in
                                                                                     (256, 512, 768, 1024)}))
    result = _tune(study, _space_file(tmp_path), trials=5)
    last = result.trials[-1]
    assert last["number"] == 4 and last["state"] == "pruned"
    # The median pruner waits for steps // 3 = 341, so the trial stops at its 512-step evaluation.
    assert last["last_step"] == 512
    run = RunDir.open(study / last["run_dir"])
    assert run.status["state"] == "pruned" and run.status["steps"] == 512
    assert result.best is not None and result.best["value"] == 500.0


def test_workers_share_the_study_and_run_exactly_the_trials_asked(tmp_path: Path):
    result = _tune(tmp_path / "study", _space_file(tmp_path), trials=2, workers=2, pruner="none")
    assert sorted(t["number"] for t in result.trials) == [0, 1]  # claimed under a lock: no extra trial
    assert [t["state"] for t in result.trials] == ["complete"] * 2
    assert {t["run_dir"] for t in result.trials} == {"trials/trial-0000", "trials/trial-0001"}
    for trial in result.trials:
        assert RunDir.open(tmp_path / "study" / trial["run_dir"]).finished


# -- bad input ------------------------------------------------------------------------------------------------------

def _plan(tmp_path: Path, **changes) -> None:
    config = {"env": "CartPole-v1", "algo": "ppo", "trials": 2, "study": tmp_path / "s", "steps": STEPS,
              "overrides": dict(TINY), **changes}
    plan_study(TuneConfig(**config))


@pytest.mark.parametrize(("changes", "message"), [
    ({"algo": "ppx"}, "unknown algo 'ppx' (did you mean 'ppo'?)"),
    ({"env": "CartPol-v1"}, "cannot make env 'CartPol-v1'"),
    ({"trials": 0}, "--trials must be an integer of at least 1"),
    ({"workers": 0}, "--workers must be an integer of at least 1"),
    ({"pruner": "medain"}, "unknown pruner 'medain' (did you mean 'median'?)"),
    ({"objective": "best"}, "unknown objective 'best'"),
    ({"overrides": {**TINY, "eval.freq": 4096}}, "eval.freq (4096) must be between 1 and the trial's steps"),
    ({"algo": "stable_baselines3:PPO"}, "no shipped search space for algo 'stable_baselines3:PPO'"),
])
def test_bad_study_settings_are_one_clear_error(tmp_path: Path, changes: dict, message: str):
    with pytest.raises(UserError) as info:
        _plan(tmp_path, **changes)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "s").exists()  # nothing written


@pytest.mark.parametrize(("space", "message"), [
    ({"lerning_rate": {"low": 1e-5, "high": 1e-3, "log": True}},
     "unknown hyperparameter 'lerning_rate' for PPO (did you mean 'learning_rate'?)"),
    ({"learning_rate": {"low": 0.01, "high": 0.001}}, "bad range: low (0.01) must be below high (0.001)"),
    ({"ent_coef": {"low": 0.0, "high": 0.1, "log": True}}, "bad range: a log range needs low > 0"),
    ({"gamma": {"choices": []}}, "choices must not be empty"),
    ({"gamma": {"lo": 0.9, "high": 0.99}}, "unknown search-space key 'lo'"),
    ({"gamma": 0.99}, "expected a mapping with low/high or choices"),
    ({"steps": {"choices": [1000, 2000]}}, "'steps' cannot be tuned"),
    ({"policy_kwargs.net_arch": {"choices": [[64], [64, 64]]}}, "is not a scalar"),
])
def test_bad_search_space_is_one_clear_error(tmp_path: Path, space: dict, message: str):
    with pytest.raises(UserError) as info:
        _plan(tmp_path, space=str(_space_file(tmp_path, space)))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_study_directory_of_another_study_is_refused(study2: Path, tmp_path: Path):
    with pytest.raises(UserError, match=r"holds another study \(differs in: steps\)"):
        _tune(study2, _space_file(tmp_path), trials=2, steps=2048)
    with pytest.raises(UserError, match="holds no study"):
        _tune(study2 / "trials", _space_file(tmp_path), trials=2)


def test_space_file_replaces_and_drops_default_entries(tmp_path: Path):
    space = load_space("ppo", str(_space_file(tmp_path)))
    assert space["n_steps"].choices == [32, 64]
    assert "clip_range" not in space and "max_grad_norm" not in space
    assert space["learning_rate"].log and space["learning_rate"].low == 1e-5  # kept from the shipped space
    assert set(load_space("maskable_dqn", None)) == set(load_space("dqn", None))


def test_without_optuna_the_command_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert run_main(["tune", "CartPole-v1", "--algo", "ppo", "--trials", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'rllab[tune]'" in err and len(err.splitlines()) == 1
