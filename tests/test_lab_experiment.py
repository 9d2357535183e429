"""Experiments: variants x seeds in worker processes (and on Ray), resumability and the report layout."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.lab.experiment import load_spec, run_experiment
from rllab.lab.report import write_report

SPEC = {
    "name": "tiny",
    "env": "CartPole-v1",
    "algo": "ppo",
    "steps": 512,
    "seeds": [0, 1],
    "eval_episodes": 2,
    "overrides": {"n_envs": 2, "batch_size": 64, "eval.freq": 256, "eval.episodes": 2, "checkpoint.freq": 256,
                  "stop_at_reward": None},
    "variants": {"default": {}, "small_lr": {"learning_rate": 1e-5}},
}


def _write_spec(tmp_path: Path, **changes) -> Path:
    spec = dict(SPEC, **changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _check_layout(root: Path) -> list[dict]:
    for name in ("spec.yaml", "runs.csv", "report.md", "summary.csv", "curves.png"):
        assert (root / name).is_file(), name
    with (root / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["variant"] for r in rows} == {"default", "small_lr"}
    for row in rows:
        assert int(row["seeds"]) == 2
        assert float(row["ci_low"]) <= float(row["iqm"]) <= float(row["ci_high"])
    assert (root / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "IQM [95% CI]" in (root / "report.md").read_text()
    return rows


def test_local_experiment_runs_reports_and_skips_finished_runs(tmp_path: Path):
    spec = load_spec(_write_spec(tmp_path))
    root = tmp_path / "exp"
    results = run_experiment(spec, root, workers=2, progress=False)
    assert [r["state"] for r in results] == ["finished"] * 4
    write_report(root)
    rows = _check_layout(root)

    model = root / "default" / "s0" / "model.zip"
    stamp = model.stat().st_mtime_ns
    again = run_experiment(spec, root, workers=2, progress=False)
    assert [r["state"] for r in again] == ["finished"] * 4
    assert model.stat().st_mtime_ns == stamp  # skipped, not retrained
    write_report(root)
    assert _check_layout(root) == rows


def test_unfinished_run_is_resumed_not_restarted(tmp_path: Path):
    spec = load_spec(_write_spec(tmp_path, seeds=[0], variants={"default": {}}))
    root = tmp_path / "exp"
    run_experiment(spec, root, workers=1, progress=False)
    run_dir = root / "default" / "s0"
    # Pretend the run was killed after its first checkpoint: newer checkpoints, model and evaluation gone.
    checkpoints = sorted((run_dir / "checkpoints").glob("ckpt_*.zip"))
    for late in checkpoints[1:]:
        late.unlink()
    first_step = int(checkpoints[0].name[5:15])
    (run_dir / "model.zip").unlink()
    (run_dir / "evaluation.json").unlink()
    status = json.loads((run_dir / "status.json").read_text())
    status["state"] = "running"
    (run_dir / "status.json").write_text(json.dumps(status))
    assert RunDir(run_dir).status["state"] == "running"
    results = run_experiment(spec, root, workers=1, progress=False)
    assert results[0]["state"] == "finished"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["resumed_from"] == first_step > 0
    assert (run_dir / "evaluation.json").exists()
    with (run_dir / "evaluations.csv").open() as handle:   # rows past the checkpoint were dropped, then rewritten
        steps = [int(float(r["timesteps"])) for r in csv.DictReader(handle)]
    assert steps == sorted(set(steps)) and steps[-1] == 512


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [ray] extra is not installed")
def test_ray_backend_gives_the_same_report_layout(tmp_path: Path):
    spec = load_spec(_write_spec(tmp_path))
    root = tmp_path / "exp-ray"
    results = run_experiment(spec, root, workers=2, backend="ray", progress=False)
    assert [r["state"] for r in results] == ["finished"] * 4
    write_report(root)
    _check_layout(root)


@pytest.mark.parametrize("changes, message", [
    ({"seeds": []}, "'seeds' must be a non-empty list"),
    ({"variants": {"x": {"lerning_rate": 1}}}, "did you mean 'learning_rate'"),
    ({"variantz": {}}, "unknown field 'variantz'"),
    ({"steps": -5}, "'steps' must be a positive integer"),
    ({"algo": "nope"}, "unknown algo 'nope'"),
])
def test_bad_specs_are_rejected_before_anything_runs(tmp_path: Path, changes, message):
    path = _write_spec(tmp_path, **changes)
    with pytest.raises(UserError, match=message):
        spec = load_spec(path)
        run_experiment(spec, tmp_path / "exp", progress=False)
    assert not (tmp_path / "exp").exists()


def test_unknown_backend_and_missing_experiment(tmp_path: Path):
    spec = load_spec(_write_spec(tmp_path))
    with pytest.raises(UserError, match="unknown backend"):
        run_experiment(spec, tmp_path / "exp", backend="slurm")
    with pytest.raises(UserError, match="experiment directory not found"):
        write_report(tmp_path / "missing")
