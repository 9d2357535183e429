"""The priors in the Sequence Tutor: a count prior or a Transformer as the KL prior with an LSTM to tune, the
preset's ``prior:`` section and its errors (``rllab tutor`` with a bad prior: one line, nothing written), the diversity
target, and the trade-off summary and plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from cli_helpers import run_main as run_cli

from rllab.agents.tutor import TunerConfig, train_tuner
from rllab.core.config import TUTOR_PRESETS
from rllab.core.errors import UserError
from rllab.lab.tutor.priors import select_prior
from rllab.lab.tutor.report import targets_check
from rllab.lab.tutor.tradeoff import run_dir, summarize
from rllab.music.metrics import feature_histograms, histogram_overlap, reference_overlap
from rllab.music.note_rnn import NoteRNN
from rllab.music.priors import CopyLSTMPrior, MarkovConfig, TransformerPrior, fit_markov, load_prior, save_prior
from rllab.music.tokens import NO_EVENT, PAPER_SPEC

TUNE = dict(steps=256, batch_size=4, collect_episodes=8, replay_size=2048, eval_every=256, eval_episodes=8,
            checkpoint_every=256, length=8)


def quarter_notes(count: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.array([t for p in rng.choice([14, 16, 18, 21], size=8) for t in (p, NO_EVENT, NO_EVENT, NO_EVENT)],
                     dtype=np.uint8) for _ in range(count)]


@pytest.fixture(scope="module")
def markov():
    return fit_markov(quarter_notes(), PAPER_SPEC, MarkovConfig(rhythm_orders=[0, 1, 2], pitch_orders=[0, 1]))


@pytest.mark.parametrize("method", ["q", "g"])
def test_a_count_prior_is_the_kl_prior_while_an_lstm_is_tuned(markov, method, tmp_path):
    torch.manual_seed(0)
    start = NoteRNN(hidden_size=8)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    tuner = train_tuner(TunerConfig(method=method, **TUNE), markov, tmp_path / "run", device="cpu", start=start)
    assert isinstance(tuner.model, NoteRNN) and tuner.updates > 0
    assert any(not torch.equal(before[k], v) for k, v in tuner.model.state_dict().items())   # the copy learned
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())             # the original did not
    config = json.loads(json.dumps((tmp_path / "run" / "config.yaml").read_text()))
    assert "start:" in config and "kind: markov" in config
    assert tuner.curves and np.isfinite(tuner.curves[-1]["log_p"])


@pytest.mark.parametrize("method", ["psi", "ppo_kl"])
def test_a_neural_prior_can_be_the_network_tuned_and_is_saved_as_such(method, tmp_path):
    torch.manual_seed(0)
    prior = CopyLSTMPrior(hidden=16, heads=1, key_dim=8).eval()
    ppo = {"rollout_episodes": 8, "minibatch_episodes": 4, "epochs": 1}
    tuner = train_tuner(TunerConfig(method=method, **TUNE, ppo=ppo), prior, tmp_path / "run", device="cpu")
    assert isinstance(tuner.model, CopyLSTMPrior) and tuner.updates > 0
    tuned = load_prior(tmp_path / "run" / "model.pt")        # written by the tuner, read back as a copy-LSTM
    assert isinstance(tuned, CopyLSTMPrior)
    assert any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), prior.state_dict().values(),
                                                      strict=True))


def test_a_count_prior_cannot_be_the_network_tuned(markov, tmp_path):
    with pytest.raises(UserError, match="markov prior has no weights to tune"):
        train_tuner(TunerConfig(**TUNE), markov, tmp_path / "run", device="cpu")


def test_the_preset_prior_section(markov, tmp_path):
    net = NoteRNN(hidden_size=8)
    calls = []

    def lstm():
        calls.append(1)
        return net

    default = select_prior({}, lstm, "cpu")
    assert default.prior is net and default.start is None and default.label == "Note RNN"
    save_prior(markov, tmp_path / "markov.pt")
    chosen = select_prior({"model": str(tmp_path / "markov.pt"), "temperature": 1.5}, lstm, "cpu")
    assert chosen.prior.config["kind"] == "markov" and chosen.start is net and chosen.temperature == 1.5
    assert chosen.label == "prior (markov)"
    save_prior(TransformerPrior(dim=16, layers=1, heads=2, ff=16), tmp_path / "tf.pt")
    calls.clear()
    own = select_prior({"model": str(tmp_path / "tf.pt"), "start": "prior"}, lstm, "cpu")
    assert own.start is None and own.label == "prior (transformer)" and not calls   # no Note RNN needed
    with pytest.raises(UserError, match="unknown prior setting 'modle'"):
        select_prior({"modle": "x"}, lstm, "cpu")
    with pytest.raises(UserError, match="unknown prior start 'lstm'"):
        select_prior({"start": "lstm"}, lstm, "cpu")
    with pytest.raises(UserError, match="temperature must be positive"):
        select_prior({"temperature": 0}, lstm, "cpu")
    with pytest.raises(UserError, match="unknown shipped model 'nonexistent'"):
        select_prior({"model": "nonexistent"}, lstm, "cpu")


@pytest.mark.parametrize("model, message", [
    ("no-such-prior", "unknown shipped model 'no-such-prior'"),
    ("corrupt.pt", "cannot load checkpoint"),
    ("foreign.pt", "trained on another token spec"),
    ("markov.pt", "a markov prior has no weights to tune"),
])
def test_tutor_with_a_bad_prior_is_one_line_and_writes_nothing(markov, model, message, tmp_path, capsys):
    (tmp_path / "corrupt.pt").write_bytes(b"\x89garbage")
    save_prior(NoteRNN(num_classes=26, hidden_size=4), tmp_path / "foreign.pt")
    save_prior(markov, tmp_path / "markov.pt")
    preset = TUTOR_PRESETS.load("fast")[1]
    path = model if model == "no-such-prior" else str(tmp_path / model)
    preset["prior"] = {"model": path, "start": "prior" if model == "markov.pt" else "note_rnn"}
    (tmp_path / "preset.yaml").write_text(yaml.safe_dump(preset))
    out = tmp_path / "out"
    assert run_cli(["tutor", "--preset", str(tmp_path / "preset.yaml"), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_diversity_target_compares_q_with_the_prior():
    base = {"notes_excessively_repeated": 0.0, "notes_not_in_key": 0.0, "starts_with_tonic": 0.9,
            "leaps_resolved": 0.95, "notes_in_motif": 0.75}
    checks = {c.name: c for c in targets_check({"note_rnn": {"distinct_4grams": 0.08},
                                                "q": {**base, "distinct_4grams": 0.03}})}
    assert checks["distinct_4grams_vs_prior"].value == pytest.approx(0.375)
    assert not checks["distinct_4grams_vs_prior"].met and "38% of the prior's" in checks[
        "distinct_4grams_vs_prior"].line()
    checks = {c.name: c for c in targets_check({"note_rnn": {"distinct_4grams": 0.08},
                                                "q": {**base, "distinct_4grams": 0.05}})}
    assert checks["distinct_4grams_vs_prior"].met


def test_histogram_overlap_with_held_out_melodies():
    a = np.array([[14, NO_EVENT, 18, NO_EVENT, 21, 0, NO_EVENT, NO_EVENT]])
    assert reference_overlap(a, a) == {"pitch_class_overlap": 1.0, "interval_overlap": 1.0, "ioi_overlap": 1.0}
    up = np.array([[14, 16, 18, 19, 21, 23, 25, 26]])      # a C major scale in sixteenths
    hist = feature_histograms(up)
    assert hist["interval"][12 + 2] == 5 and hist["interval"][12 + 1] == 2 and hist["ioi"][0] == 7
    overlap = reference_overlap(up, a)
    # pitch classes: C, E, G a third each vs the scale's C 2/8, E 1/8, G 1/8; intervals +4/+3 vs +2/+1: none
    assert overlap["pitch_class_overlap"] == pytest.approx(4 / 8) and overlap["interval_overlap"] == 0.0
    assert overlap["ioi_overlap"] == 0.0                 # every 2 steps vs every step
    assert np.isnan(histogram_overlap(np.zeros(3), np.ones(3)))


def test_the_tradeoff_summary_and_plot(tmp_path):
    rng = np.random.default_rng(0)
    for c in (0.5, 2.0):
        for seed in (0, 1, 2):
            rows = {m: {"r_mt_mean": rng.normal(3 / c), "log_p_mean": -1.5 - 0.1 / c + rng.normal(0, 0.01),
                        "distinct_4grams": 0.02 * c} for m in ("note_rnn", "q")}
            folder = run_dir(tmp_path, c, seed)
            folder.mkdir(parents=True)
            (folder / "table.json").write_text(json.dumps({"rows": rows}))
    result = summarize(tmp_path, ("note_rnn", "q"), (0.5, 2.0), (0, 1, 2))
    points = {(p["method"], p["c"]): p for p in result.points}
    assert set(points) == {("note_rnn", None), ("q", 0.5), ("q", 2.0)}
    assert points[("note_rnn", None)]["n"] == 6 and points[("q", 0.5)]["n"] == 3
    q = points[("q", 2.0)]["distinct_4grams"]
    assert q["mean"] == pytest.approx(0.04) and q["ci_low"] <= q["mean"] <= q["ci_high"]
    assert result.plot.stat().st_size > 10_000 and "| Q | 0.5 | 3 |" in (tmp_path / "tradeoff.md").read_text()
    with pytest.raises(UserError, match="missing"):
        summarize(tmp_path, ("q",), (1.0,), (0,))


def test_the_diverse_preset_tunes_the_shipped_copy_lstm_without_a_note_rnn():
    section = TUTOR_PRESETS.load("diverse")[1]["prior"]
    chosen = select_prior(section, lambda: pytest.fail("the diverse preset needs no Note RNN"), "cpu")
    assert isinstance(chosen.prior, CopyLSTMPrior) and chosen.start is None and chosen.temperature == 1.3
    assert not any(p.requires_grad for p in chosen.prior.parameters())   # the KL prior stays frozen
