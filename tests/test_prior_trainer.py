"""Training the Transformer prior in a run directory: it learns a toy corpus, checkpoints, resumes exactly, keeps a
checkpoint on Ctrl-C; the Markov prior is counted the same way; presets and config errors."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from melody_helpers import tiny_corpus

from rllab.agents.prior_trainer import (
    PRIOR_PRESETS,
    PriorTrainConfig,
    PriorTrainer,
    prior_config,
    resume_prior,
    train_prior,
)
from rllab.core.errors import UserError
from rllab.music.priors import CopyLSTMPrior, MarkovPrior, TransformerPrior, load_prior

TINY = dict(kind="transformer", dim=32, layers=1, heads=2, ff=64, dropout=0.0, steps=40, batch_size=8, seq_len=24,
            lr=0.01, warmup=5, eval_every=20, checkpoint_every=20)


def test_the_transformer_learns_and_writes_its_run(tmp_path):
    corpus = tiny_corpus()
    config = PriorTrainConfig(**TINY)
    run = train_prior(config, tmp_path / "run", device="cpu", progress=False, corpus=corpus)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 40 and metrics["valid_accuracy"] > 0.8 and metrics["valid_nll"] < 0.6
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    with (run / "progress.csv").open() as handle:
        assert [r["step"] for r in csv.DictReader(handle)] == ["20", "40"]
    assert isinstance(load_prior(run), TransformerPrior)
    with pytest.raises(UserError, match="already holds a run"):
        train_prior(config, run, device="cpu", progress=False, corpus=corpus)


def test_the_copy_lstm_learns(tmp_path):
    config = PriorTrainConfig(**{**TINY, "kind": "copy_lstm", "hidden": 32, "key_dim": 8, "eval_every": 40})
    run = train_prior(config, tmp_path / "run", device="cpu", progress=False, corpus=tiny_corpus())
    assert json.loads((run / "metrics.json").read_text())["valid_accuracy"] > 0.8
    assert isinstance(load_prior(run), CopyLSTMPrior)


def test_ctrl_c_keeps_a_checkpoint_and_the_resumed_run_ends_as_an_uninterrupted_one(tmp_path, monkeypatch):
    corpus = tiny_corpus()
    config = PriorTrainConfig(**{**TINY, "steps": 30, "eval_every": 30, "checkpoint_every": 5})
    real_step = PriorTrainer.train_step

    def interrupted(self):
        if self.step == 17:
            raise KeyboardInterrupt
        real_step(self)

    monkeypatch.setattr(PriorTrainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_prior(config, tmp_path / "run", device="cpu", progress=False, corpus=corpus)
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "interrupted" and status["steps"] == 17
    assert (tmp_path / "run" / "checkpoints" / "ckpt_0000000017.pt").is_file()
    monkeypatch.setattr(PriorTrainer, "train_step", real_step)
    run = resume_prior(tmp_path / "run", device="cpu", progress=False, corpus=corpus)
    assert json.loads((run / "metrics.json").read_text())["steps"] == 30
    once = train_prior(config, tmp_path / "once", device="cpu", progress=False, corpus=corpus)
    resumed, straight = load_prior(run).state_dict(), load_prior(once).state_dict()
    assert all(torch.equal(resumed[k], straight[k]) for k in resumed)


def test_the_markov_prior_is_counted_into_a_run(tmp_path):
    config = prior_config("markov", {"markov": {"rhythm_orders": [0, 1, 2, 4], "pitch_orders": [0, 1, 2]}})
    run = train_prior(config, tmp_path / "markov", progress=False, corpus=tiny_corpus())
    assert isinstance(load_prior(run), MarkovPrior)
    assert json.loads((run / "metrics.json").read_text())["valid_accuracy"] > 0.9
    with pytest.raises(UserError, match="nothing to resume"):
        resume_prior(run, progress=False, corpus=tiny_corpus())


def test_presets_and_config_errors():
    assert {"markov", "copy-lstm-cpu", "copy-lstm-gpu", "transformer-cpu", "transformer-gpu"} <= set(
        PRIOR_PRESETS.names())
    cpu, gpu = prior_config("transformer-cpu"), prior_config("transformer-gpu")
    assert cpu.kind == gpu.kind == "transformer" and gpu.dim * gpu.layers > cpu.dim * cpu.layers
    cpu, gpu = prior_config("copy-lstm-cpu"), prior_config("copy-lstm-gpu")
    assert cpu.kind == gpu.kind == prior_config(None).kind == "copy_lstm" and gpu.hidden > cpu.hidden
    with pytest.raises(UserError, match="unknown prior preset 'transformer-tpu'"):
        prior_config("transformer-tpu")
    with pytest.raises(UserError, match="unknown field 'stpes' .did you mean 'steps'"):
        prior_config(None, {"stpes": 3})
    with pytest.raises(UserError, match="unknown prior kind 'lstm'"):  # the Note RNN trains with `rllab note-rnn`
        prior_config(None, {"kind": "lstm"})
    with pytest.raises(UserError, match="unknown field 'order'"):
        prior_config(None, {"kind": "markov", "markov": {"order": 3}})
