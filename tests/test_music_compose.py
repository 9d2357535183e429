"""``rllab compose`` with ``--bars``, primers (a MIDI file or corpus excerpts) and several models, and its bad input:
one clear error and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import run_main as run

from rllab.lab.compose import compose
from rllab.music.midi import midi_to_tokens, tokens_to_midi
from rllab.music.note_rnn import NoteRNN, save_note_rnn
from rllab.music.priors import fit_baseline, save_prior
from rllab.music.tokens import NO_EVENT

PRIMER = np.array([14, NO_EVENT, 18, NO_EVENT, 21, NO_EVENT, NO_EVENT, NO_EVENT] * 2, dtype=np.uint8)  # one bar


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    lstm = save_note_rnn(NoteRNN(hidden_size=8), root / "lstm" / "model.pt")
    markov = save_prior(fit_baseline("markov", [np.tile(PRIMER, 4)] * 6), root / "markov" / "model.pt")
    primer = tokens_to_midi(PRIMER, root / "primer.mid")
    return lstm, markov, primer


def test_eight_bars_continue_the_primer_and_report_8_bar_statistics(models, tmp_path):
    lstm, markov, primer = models
    result = compose([lstm.parent, markov.parent], tmp_path / "out", n=2, bars=8, primer=primer, device="cpu",
                     progress=False)
    assert result.tokens.shape == (2, 8 * 16 - 16)                 # the piece is 8 bars, the primer one of them
    for model in ("lstm", "markov"):
        piece = midi_to_tokens(tmp_path / "out" / model / "melody_001.mid")
        assert len(piece) == 128 and (piece[:16] == PRIMER).all()  # the same primer for every model
        assert result.by_model[model]["pieces"].shape == (2, 128)
    table = result.table.read_text()
    assert "lstm (T=1, n=2, 112 steps)" in table and "lstm: whole pieces (128 steps)" in table
    assert "distinct_4grams" in table and "pitch_class_entropy" in table
    assert result.html.is_file()


def test_corpus_primers_differ_per_melody_and_match_across_models(models, tmp_path, monkeypatch):
    lstm, markov, _ = models
    excerpts = np.stack([np.roll(np.tile(PRIMER, 2), k) for k in range(3)])
    monkeypatch.setattr("rllab.lab.compose.load_corpus", lambda progress: type("C", (), {"valid": list(excerpts)}))
    result = compose([lstm, markov], tmp_path / "out", n=3, length=16, primer="corpus", primer_bars=2,
                     device="cpu", progress=False, html=False)
    assert result.primer.shape == (3, 32) and len({row.tobytes() for row in result.primer}) > 1
    for label in ("lstm", "markov"):
        np.testing.assert_array_equal(result.by_model[label]["pieces"][:, :32], result.primer)
    assert not (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize("extra, message", [
    (["--model", "no-such-prior"], "unknown shipped model 'no-such-prior'"),
    (["--bars", "1"], "the primer (16 steps) is not shorter than the piece (1 bars = 16 steps)"),
    (["--bars", "4", "--length", "8"], "not both"),
    (["--bars", "0"], "--bars must be at least 1"),
    (["--primer", "missing.mid"], "MIDI file not found"),
])
def test_compose_bad_input_is_one_error_and_writes_nothing(models, extra, message, tmp_path, capsys):
    lstm, _, primer = models
    args = ["compose", "--out", str(tmp_path / "out"), "--device", "cpu", "--model", str(lstm), "--primer", str(primer)]
    if "--primer" in extra:
        args = args[:-2]
    if "--model" in extra:
        args = [a for a in args if a != str(lstm)]
        args.remove("--model")
    assert run([*args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_compose_refuses_corrupt_and_foreign_priors(models, tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"\x89garbage")
    save_note_rnn(NoteRNN(num_classes=26, hidden_size=4), tmp_path / "small.pt")
    for path, message in ((tmp_path / "bad.pt", "cannot load checkpoint"),
                          (tmp_path / "small.pt", "trained on another token spec")):
        assert run(["compose", "--model", str(path), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_melody_stats_reports_the_readable_files_and_lists_the_skipped_ones(tmp_path, capsys):
    for i in range(3):
        tokens_to_midi(np.tile(PRIMER, 2), tmp_path / f"ok{i}.mid")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd then nothing")
    (tmp_path / "empty.mid").write_bytes(b"")
    tokens_to_midi(PRIMER[:8], tmp_path / "short.mid")
    assert run(["melody-stats", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| 3 files |" in printed and "3 of 6 file(s) skipped" in printed
    assert f"skipped {tmp_path / 'corrupt.mid'}: " in printed and "not a readable MIDI file" in printed
    assert f"skipped {tmp_path / 'short.mid'}: shorter than 32 steps (8)" in printed
    for name in ("ok0", "ok1", "ok2", "corrupt", "empty", "short"):
        tokens_to_midi(PRIMER[:8], tmp_path / f"{name}.mid")
    assert run(["melody-stats", str(tmp_path)]) == 2           # nothing readable: one error, with an example
    assert "none of the 6 files is a readable melody of 32 steps" in capsys.readouterr().err
