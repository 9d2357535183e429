"""``rllab prior eval`` and ``rllab prior train`` end to end on a small synthetic corpus cache, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run_main as run_cli

from rllab.music.corpus import Corpus, _save, corpus_cache_path
from rllab.music.note_rnn import NoteRNN, save_note_rnn
from rllab.music.tokens import NO_EVENT, PAPER_SPEC


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A default-corpus cache of 40 quarter-note melodies (30 train, 10 valid) under a private $RLLAB_CACHE."""
    monkeypatch.setenv("RLLAB_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    melodies = [np.array([t for p in rng.choice([14, 16, 18, 19, 21], size=12) for t in (p, NO_EVENT, NO_EVENT,
                                                                                         NO_EVENT)], dtype=np.uint8)
                for _ in range(40)]
    is_valid = np.arange(40) >= 30
    manifest = {"collection_order": ["oneills"], "spec": PAPER_SPEC.to_dict()}
    corpus = Corpus(melodies, np.zeros(40, np.uint8), np.array(["t"] * 40), is_valid, manifest)
    _save(corpus, corpus_cache_path("default"))
    return tmp_path / "cache"


def test_prior_eval_prints_one_row_per_prior(cache, tmp_path, capsys):
    lstm = save_note_rnn(NoteRNN(hidden_size=8), tmp_path / "lstm.pt")
    out = tmp_path / "priors.md"
    assert run_cli(["prior", "eval", "--prior", "unigram,hold,markov", "--model", str(lstm), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = out.read_text()
    for name in ("unigram", "hold", "markov", "lstm.pt"):
        assert f"| {name} |" in table
    assert "NLL (nats/step)" in printed and "bits/note" in printed and "holds" in printed
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in table.splitlines()[2:]}
    assert float(rows["markov"][0]) < float(rows["unigram"][0])          # NLL: the Markov model beats the floor
    assert rows["hold"][3].strip() == "100.00%"                           # always hold: every hold right
    assert "validation split: 480 steps, 120 notes" in printed           # 10 melodies x 12 quarter notes


def test_prior_train_counts_the_markov_prior(cache, tmp_path, capsys):
    out = tmp_path / "markov"
    assert run_cli(["prior", "train", "--preset", "markov", "--out", str(out)]) == 0
    assert (out / "model.pt").is_file() and "validation NLL" in capsys.readouterr().out
    assert run_cli(["prior", "eval", "--prior", "", "--model", str(out)]) == 0
    assert "| markov |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["prior", "eval", "--prior", "unigram,markof"], "unknown prior 'markof'"),
    (["prior", "eval", "--corpus", "nottingham"], "unknown corpus 'nottingham'"),
    (["prior", "eval", "--prior", ""], "nothing to evaluate"),
    (["prior", "eval", "--model", "/nonexistent/prior.pt"], "not found"),
    (["prior", "train", "--preset", "transformer-tpu"], "unknown prior preset 'transformer-tpu'"),
    (["prior", "train", "--set", "stpes=3"], "unknown field 'stpes'"),
    (["prior", "train", "--resume"], "--resume needs the run directory"),
])
def test_prior_commands_bad_input_is_one_line(cache, args, message, capsys):
    assert run_cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_prior_eval_rejects_a_corrupt_or_foreign_checkpoint(cache, tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    assert run_cli(["prior", "eval", "--prior", "", "--model", str(tmp_path / "bad.pt")]) == 2
    assert "cannot load checkpoint" in capsys.readouterr().err
    save_note_rnn(NoteRNN(num_classes=26, hidden_size=4), tmp_path / "small.pt")
    assert run_cli(["prior", "eval", "--prior", "", "--model", str(tmp_path / "small.pt")]) == 2
    assert "trained on another token spec" in capsys.readouterr().err
