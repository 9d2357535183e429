"""The Note RNN: shapes, save/load and its errors, sampling, and a tiny training run that learns and resumes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from melody_helpers import tiny_corpus

from rllab.agents.note_rnn_trainer import (
    NoteRNNConfig,
    WindowSampler,
    note_rnn_config,
    resume_note_rnn,
    train_note_rnn,
)
from rllab.core.errors import UserError
from rllab.music.note_rnn import NoteRNN, load_note_rnn, sample, save_note_rnn, sequence_log_probs
from rllab.music.tokens import PAPER_SPEC, TokenSpec


def test_forward_shapes_and_state():
    model = NoteRNN(hidden_size=16, num_layers=2)
    tokens = torch.randint(0, 39, (3, 7))
    logits, (h, c) = model(tokens)
    assert logits.shape == (3, 7, 38)
    assert h.shape == c.shape == (2, 3, 16)
    h0, c0 = model.initial_state(3, "cpu")
    stepwise = []
    state = (h0, c0)
    for t in range(7):
        out, state = model(tokens[:, t:t + 1], state)
        stepwise.append(out)
    torch.testing.assert_close(torch.cat(stepwise, 1), logits)
    assert NoteRNN(**model.config).config == model.config
    with pytest.raises(UserError):
        NoteRNN(hidden_size=0)


def test_bar_position_state_makes_chunked_calls_match_one_call(tmp_path):
    torch.manual_seed(0)
    model = NoteRNN(hidden_size=16, bar_steps=4).eval()
    tokens = torch.randint(0, 39, (3, 11))
    whole, (_, _, position) = model(tokens)
    assert position.tolist() == [11 % 4] * 3
    state, chunks = model.initial_state(3), []
    for a, b in [(0, 1), (1, 4), (4, 5), (5, 11)]:
        out, state = model(tokens[:, a:b], state)
        chunks.append(out)
    torch.testing.assert_close(torch.cat(chunks, 1), whole)
    # a state that starts mid-bar (as training windows do) continues the count
    _, after_five = model(tokens[:, :5])
    torch.testing.assert_close(model(tokens[:, 5:], after_five)[0], whole[:, 5:])
    offset = model.initial_state(3, position=torch.tensor([1, 2, 3]))
    assert offset[2].tolist() == [1, 2, 3]
    # the feature is used: the same tokens at another bar position give other logits
    assert not torch.allclose(model(tokens, offset)[0], whole)
    with pytest.raises(ValueError, match="position"):
        model(tokens, model.initial_state(3)[:2])
    loaded = load_note_rnn(save_note_rnn(model, tmp_path / "bar.pt"))
    assert loaded.bar_steps == 4 and loaded.config == model.config
    assert "bar_steps" not in NoteRNN().config  # files of models without the feature keep their old layout
    torch.testing.assert_close(loaded(tokens)[0], whole)


def test_training_windows_report_their_offset_in_the_melody():
    melody = (2 + np.arange(60) % 36).astype(np.uint8)  # token k of [BOS] + melody is 2 + (k - 1) % 36
    sampler = WindowSampler([melody], bos=38, seq_len=10, start_fraction=0.3, skip_first=3)
    inputs, targets, start = sampler.batch(64, torch.Generator().manual_seed(0))
    padded = np.concatenate([[38], melody])
    for row in range(64):
        assert inputs[row].tolist() == padded[int(start[row]):int(start[row]) + 10].tolist()
    assert (start == 0).any() and (start > 0).any()
    assert (targets[start > 0, :3] == -100).all() and (targets[start == 0] >= 0).all()


def test_save_load_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    model = NoteRNN(hidden_size=8).eval()
    path = save_note_rnn(model, tmp_path / "m.pt", note="x")
    loaded = load_note_rnn(path)
    tokens = torch.randint(0, 38, (2, 5))
    torch.testing.assert_close(loaded(tokens)[0], model(tokens)[0])
    with pytest.raises(UserError, match="not found"):
        load_note_rnn(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot load"):
        load_note_rnn(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a Note RNN checkpoint"):
        load_note_rnn(tmp_path / "other.pt")
    save_note_rnn(NoteRNN(num_classes=26, hidden_size=8), tmp_path / "small.pt")
    with pytest.raises(UserError, match="incompatible vocabulary"):
        load_note_rnn(tmp_path / "small.pt")
    assert load_note_rnn(tmp_path / "small.pt", spec=TokenSpec(60, 84)).num_classes == 26
    with pytest.raises(UserError, match="no model.pt and no checkpoint"):
        load_note_rnn(tmp_path)


def test_sampling_is_seeded_and_honours_primer_and_temperature():
    torch.manual_seed(0)
    model = NoteRNN(hidden_size=8).eval()
    a = sample(model, 4, 10, generator=torch.Generator().manual_seed(1))
    b = sample(model, 4, 10, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 10) and a.dtype == torch.long and torch.equal(a, b)
    assert int(a.max()) < 38
    greedy = sample(model, 3, 6, temperature=0)
    assert (greedy == greedy[0]).all()
    primed = sample(model, 2, 5, temperature=0, primer=[14, 1, 16])
    assert primed.shape == (2, 5)
    # greedy from a primer = the argmax continuation of [start] + primer, one step at a time
    sequence = [model.bos_token, 14, 1, 16]
    for _ in range(5):
        logits, _ = model(torch.tensor([sequence]))
        sequence.append(int(logits[0, -1].argmax()))
    assert primed[0].tolist() == sequence[4:]
    with pytest.raises(UserError, match="primer holds token 40"):
        sample(model, 1, 4, primer=[40])
    with pytest.raises(UserError, match="temperature"):
        sample(model, 1, 4, temperature=-1)
    log_p = sequence_log_probs(model, a)
    assert log_p.shape == (4, 10) and (log_p <= 0).all()


def test_training_learns_writes_the_run_and_resumes(tmp_path):
    corpus = tiny_corpus()
    config = NoteRNNConfig(hidden_size=32, steps=60, batch_size=8, seq_len=24, lr=0.02, eval_every=30,
                           checkpoint_every=30, skip_first_losses=2)
    run = train_note_rnn(config, tmp_path / "run", device="cpu", progress=False, corpus=corpus)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 60 and metrics["valid_accuracy"] > 0.8
    assert (run / "model.pt").is_file() and (run / "progress.csv").read_text().count("\n") == 3
    assert [c.name for c in (run / "checkpoints").iterdir()] != []
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    model = load_note_rnn(run)
    assert model.config["hidden_size"] == 32
    run = resume_note_rnn(run, {"steps": 90}, device="cpu", progress=False, corpus=corpus)
    assert json.loads((run / "metrics.json").read_text())["steps"] == 90
    # a resume continues the same run: the same weights as 90 steps in one go (a restart would differ)
    straight = NoteRNNConfig(**{**config.to_dict(), "steps": 90})
    once = train_note_rnn(straight, tmp_path / "once", device="cpu", progress=False, corpus=corpus)
    resumed, uninterrupted = load_note_rnn(run).state_dict(), load_note_rnn(once).state_dict()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)
    with (run / "progress.csv").open() as a, (once / "progress.csv").open() as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["step"] for r in rows_a] == ["30", "60", "90"]            # the rows from before the resume are kept
    assert [r["valid_nll"] for r in rows_a] == [r["valid_nll"] for r in rows_b]
    with pytest.raises(UserError, match="already holds a run"):
        train_note_rnn(config, run, device="cpu", progress=False, corpus=corpus)


def test_training_with_bar_position_learns(tmp_path):
    config = NoteRNNConfig(hidden_size=32, steps=60, batch_size=8, seq_len=24, lr=0.02, eval_every=60,
                           checkpoint_every=60, skip_first_losses=2, bar_position=True)
    run = train_note_rnn(config, tmp_path / "run", device="cpu", progress=False, corpus=tiny_corpus())
    assert json.loads((run / "metrics.json").read_text())["valid_accuracy"] > 0.8
    assert load_note_rnn(run).bar_steps == PAPER_SPEC.steps_per_bar


def test_presets_and_config_validation():
    paper = note_rnn_config("paper")
    defaults = NoteRNNConfig()
    assert {**paper.to_dict(), "description": ""} == {**defaults.to_dict(), "description": ""}
    assert (paper.hidden_size, paper.num_layers, paper.batch_size, paper.clip_norm) == (100, 1, 128, 5.0)
    assert note_rnn_config("large").hidden_size == 512
    with pytest.raises(UserError, match="unknown Note RNN preset 'huge'"):
        note_rnn_config("huge")
    with pytest.raises(UserError, match="unknown field 'stpes' .did you mean 'steps'"):
        note_rnn_config(None, {"stpes": 10})
    with pytest.raises(UserError, match="steps must be a positive integer"):
        note_rnn_config(None, {"steps": 0})
    assert note_rnn_config("fast").bar_position is True and paper.bar_position is False
    with pytest.raises(UserError, match="bar_position must be true or false"):
        note_rnn_config(None, {"bar_position": "yes"})


@pytest.mark.gpu
def test_training_and_sampling_on_cuda_with_amp(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    config = NoteRNNConfig(hidden_size=32, steps=20, batch_size=8, seq_len=24, eval_every=10, checkpoint_every=10,
                           amp=True)
    run = train_note_rnn(config, tmp_path / "run", device="cuda", progress=False, corpus=tiny_corpus())
    assert json.loads((run / "metrics.json").read_text())["device"].startswith("cuda")
    model = load_note_rnn(run, device="cuda")
    tokens = sample(model, 4, 8, generator=torch.Generator(device="cuda").manual_seed(0))
    assert tokens.is_cuda and tokens.shape == (4, 8)


def test_a_primer_ends_so_that_the_composition_starts_on_a_downbeat():
    model = NoteRNN(hidden_size=8, bar_steps=16).eval()
    melody = torch.randint(0, 38, (2, 16))
    _, (_, _, scored) = model(torch.full((2, 1), model.bos_token))
    assert scored.tolist() == [1, 1]  # scored from its start token, a melody's first note is predicted at position 0
    for primer_len in (1, 5, 16):
        _, state = model(melody[:, :primer_len], model.primed_state(2, primer_len))
        # the primer's last input predicts position 0: the composition's first note, as a melody's first note
        assert state[2].tolist() == [1, 1]
        _, unaligned = model(melody[:, :primer_len])
        assert unaligned[2].tolist() == [primer_len % 16] * 2
    assert NoteRNN(hidden_size=8).primed_state(2, 5) is None


def test_a_seed_fixes_the_trained_weights(tmp_path):
    corpus = tiny_corpus()
    config = NoteRNNConfig(hidden_size=16, steps=20, batch_size=8, seq_len=24, eval_every=20, checkpoint_every=20,
                           bar_position=True, seed=5)
    runs = [train_note_rnn(config, tmp_path / name, device="cpu", progress=False, corpus=corpus) for name in "ab"]
    a, b = (load_note_rnn(run).state_dict() for run in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train_note_rnn(NoteRNNConfig(**{**config.to_dict(), "seed": 6}), tmp_path / "c", device="cpu",
                           progress=False, corpus=corpus)
    assert not torch.equal(load_note_rnn(other).state_dict()["head.weight"], a["head.weight"])
