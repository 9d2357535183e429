"""Experiment reports from fixed run results: ranking, IQM and CI of the right column, edge cases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from rllab.core.errors import UserError
from rllab.core.stats import iqm, stratified_bootstrap_ci
from rllab.lab.report import write_report

# win rates and returns per seed: ranked by win, "b" is first; ranked by return, "a" is first.
RESULTS = {
    "a": {"win": [0.1, 0.2, 0.3, 0.9], "return": [50.0, 60.0, 70.0, 80.0]},
    "b": {"win": [0.6, 0.7, 0.8, 0.0], "return": [10.0, 20.0, 30.0, 40.0]},
    "c": {"win": [0.4, 0.5], "return": [45.0, 45.0]},
}


def make_experiment(root: Path, results: dict = RESULTS, unfinished: tuple[str, ...] = ()) -> Path:
    root.mkdir()
    (root / "spec.yaml").write_text(yaml.safe_dump({"name": "fixed", "metric": "win", "eval_episodes": 4}))
    for variant, values in results.items():
        for seed, (win, ret) in enumerate(zip(values["win"], values["return"], strict=True)):
            run = root / variant / f"s{seed}"
            run.mkdir(parents=True)
            (run / "evaluations.csv").write_text(f"timesteps,win_mean\n100,{win / 2}\n200,{win}\n")
            (run / "status.json").write_text(json.dumps({"state": "finished", "train_seconds": 10.0 + seed}))
            if f"{variant}/s{seed}" in unfinished:
                continue
            (run / "evaluation.json").write_text(json.dumps({"win_mean": win, "return_mean": ret}))
    return root


def read_summary(root: Path) -> list[dict[str, str]]:
    with (root / "summary.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_variants_are_ranked_by_the_iqm_of_the_spec_metric(tmp_path):
    root = make_experiment(tmp_path / "exp")
    write_report(root)
    rows = read_summary(root)
    # IQM of 4 values = mean of the middle two: a -> (0.2+0.3)/2, b -> (0.6+0.7)/2, c -> (0.4+0.5)/2
    assert [r["variant"] for r in rows] == ["b", "c", "a"]
    assert [float(r["iqm"]) for r in rows] == pytest.approx([0.65, 0.45, 0.25])
    for row in rows:
        scores = np.array(RESULTS[row["variant"]]["win"])
        low, high = stratified_bootstrap_ci(scores, seed=0)
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high))
        assert float(row["mean"]) == pytest.approx(scores.mean())
        assert float(row["return_mean"]) == pytest.approx(np.mean(RESULTS[row["variant"]]["return"]))
        assert int(row["seeds"]) == len(scores)
    report = (root / "report.md").read_text()
    assert report.index("| 1 | b |") < report.index("| 2 | c |") < report.index("| 3 | a |")
    assert iqm(np.array(RESULTS["b"]["win"])) == pytest.approx(0.65)


def test_another_metric_ranks_on_its_own_column(tmp_path):
    root = make_experiment(tmp_path / "exp")
    write_report(root, metric="return")
    rows = read_summary(root)
    assert [r["variant"] for r in rows] == ["a", "c", "b"]
    assert float(rows[0]["iqm"]) == pytest.approx(65.0)


def test_a_missing_metric_names_the_available_ones(tmp_path):
    root = make_experiment(tmp_path / "exp")
    with pytest.raises(UserError, match=r"metric 'x_pos_max' not in .*valid: return, win"):
        write_report(root, metric="x_pos_max")


def test_unfinished_runs_are_left_out_and_counted(tmp_path):
    root = make_experiment(tmp_path / "exp", unfinished=("a/s3", "b/s0"))
    write_report(root)
    rows = {r["variant"]: r for r in read_summary(root)}
    assert int(rows["a"]["seeds"]) == 3 and int(rows["b"]["seeds"]) == 3
    assert float(rows["a"]["iqm"]) == pytest.approx(iqm(np.array([0.1, 0.2, 0.3])))
    assert rows["b"]["per_seed"] == "1:0.7;2:0.8;3:0"


def test_no_finished_run_is_a_clear_error(tmp_path):
    root = make_experiment(tmp_path / "exp", results={"a": {"win": [0.5], "return": [1.0]}}, unfinished=("a/s0",))
    with pytest.raises(UserError, match="no finished runs"):
        write_report(root)


def test_without_periodic_evaluations_the_plot_says_so(tmp_path):
    root = make_experiment(tmp_path / "exp")
    for path in root.glob("*/s*/evaluations.csv"):
        path.unlink()
    write_report(root)
    assert (root / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
