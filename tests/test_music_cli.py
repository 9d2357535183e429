"""The music commands end to end on tiny inputs: corpus build/info, compose, melody-stats, bench rules, errors."""

from __future__ import annotations

import pytest
import torch
from cli_helpers import run_main as run

from rllab.music.note_rnn import NoteRNN, save_note_rnn


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    return save_note_rnn(NoteRNN(hidden_size=16), tmp_path_factory.mktemp("m") / "model.pt")


def test_corpus_build_then_info(tmp_path, capsys):
    args = ["--collections", "ryans", "--limit-files", "2", "--cache-dir", str(tmp_path)]
    assert run(["corpus", "build", *args, "--workers", "1"]) == 0
    built = capsys.readouterr().out
    assert "2 melodies" in built and "NO_EVENT" in built and "cached load" in built
    assert run(["corpus", "info", *args]) == 0
    assert "2 melodies" in capsys.readouterr().out


def test_corpus_info_without_a_cache_is_a_clear_error(tmp_path, capsys):
    assert run(["corpus", "info", "--cache-dir", str(tmp_path)]) == 2
    assert "rllab corpus build" in capsys.readouterr().err
    assert run(["corpus", "build", "--collections", "nottingham", "--cache-dir", str(tmp_path)]) == 2


def test_compose_writes_midi_png_and_stats_then_melody_stats_reads_them(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["compose", "--model", str(model_file), "--n", "3", "--temperature", "0.8", "--out", str(out),
                "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        *(f"melody_{i:03d}.{ext}" for i in range(3) for ext in ("mid", "png", "wav")), "report.html", "stats.md"]
    assert "notes_not_in_key" in (out / "stats.md").read_text()
    capsys.readouterr()
    assert run(["melody-stats", str(out), "--length", "16", "--model", str(model_file)]) == 0
    printed = capsys.readouterr().out
    assert "3 files" in printed and "log_p_mean" in printed


def test_compose_and_stats_errors(tmp_path, capsys):
    assert run(["compose", "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 2
    assert run(["melody-stats", str(tmp_path)]) == 2
    assert "no MIDI files" in capsys.readouterr().err
    assert run(["note-rnn", "train", "--preset", "huge"]) == 2
    assert run(["note-rnn", "train", "--set", "stpes=3"]) == 2


def test_bench_rules_prints_both_rates(capsys):
    assert run(["bench", "rules", "--batch", "32", "--scalar-rows", "2", "--rounds", "1"]) == 0
    printed = capsys.readouterr().out
    assert "scalar reference" in printed and "batched torch" in printed and "speed-up" in printed
