"""``rllab bench go`` and ``rllab bench go-rules`` run end to end (tiny settings) and reject bad flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rllab.cli.app import app
from rllab.lab.bench.go import engine_rate, env_rate

pytest.importorskip("pyspiel")


def test_bench_go_prints_ratio_rows():
    result = CliRunner().invoke(app, ["bench", "go", "--seconds", "0.05", "--sizes", "5", "--batches", "8"])
    assert result.exit_code == 0, result.output
    assert "openspiel" in result.output and "batched x8" in result.output and "x" in result.output
    assert "playouts" in result.output


def test_bench_go_rules_small():
    result = CliRunner().invoke(app, ["bench", "go-rules", "--games", "4", "--sizes", "5", "--batched", "4",
                                      "--fast", "4"])
    assert result.exit_code == 0, result.output
    assert "0 differences" in result.output and "no differences" in result.output
    assert "compiled vs single: 4 games" in result.output


@pytest.mark.parametrize("args", [["--sizes", "5,x"], ["--batches", "0"], ["--seconds", "0"]])
def test_bench_go_bad_flags(args):
    result = CliRunner().invoke(app, ["bench", "go", "--seconds", "0.05", *args])
    assert result.exit_code != 0


def test_same_harness_counts_moves_for_both_backends():
    for backend in ("ours", "openspiel"):
        assert engine_rate(backend, 5, 0.05).moves > 0
        assert env_rate(backend, 5, 0.05).moves > 0
