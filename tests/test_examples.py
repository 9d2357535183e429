"""The scripts in examples/ run end to end on their --tiny budgets (each one a user-facing path to files on disk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rllab.music.note_rnn import NoteRNN, save_note_rnn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), "--tiny", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_go_example_trains_and_plays_a_match(tmp_path):
    out = run_example("go_vs_gnugo.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "wins (95% CI" in out
    assert len(list((tmp_path / "match").glob("*.sgf"))) == 2
    assert (tmp_path / "run" / "model.zip").is_file()


@pytest.mark.slow
def test_compose_example_tunes_and_writes_melodies(tmp_path):
    torch.manual_seed(0)
    prior = tmp_path / "prior.pt"
    save_note_rnn(NoteRNN(hidden_size=16), prior)
    out = run_example("compose_from_tuned.py", "--out", str(tmp_path), "--note-rnn", str(prior), cwd=tmp_path)
    assert "notes_in_motif" in out and "melodies in" in out
    assert len(list((tmp_path / "melodies").glob("*.mid"))) == 4
    assert (tmp_path / "tutor" / "report.md").is_file()


@pytest.mark.slow
def test_shaping_example_ranks_variants_on_the_win_rate(tmp_path):
    out = run_example("compare_shaping.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "win IQM" in out and "sparse" in out and "captures" in out
    assert (tmp_path / "curves.png").is_file() and (tmp_path / "summary.csv").is_file()
