"""The baseline priors and the Transformer: the Note RNN interface (state, primed state, sampling), what each
model learns on hand-made corpora, save/load and every bad-input error, and scoring by class."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rllab.core.errors import UserError
from rllab.envs.melody import MelodyVecEnv, RewardSpec
from rllab.music.note_rnn import NoteRNN, sample, save_note_rnn, sequence_log_probs
from rllab.music.priors import (
    CopyLSTMPrior,
    MarkovConfig,
    TransformerPrior,
    fit_baseline,
    fit_markov,
    load_prior,
    save_prior,
    score_prior,
)
from rllab.music.tokens import NO_EVENT, NOTE_OFF, PAPER_SPEC, TokenSpec

C4, D4, E4, F4, G4, A4 = 14, 16, 18, 19, 21, 23
SMALL = MarkovConfig(rhythm_orders=[0, 1, 2, 4, 8], pitch_orders=[0, 1, 2, 3])


def bar_melodies(count: int = 12, seed: int = 0) -> list[np.ndarray]:
    """Quarter notes (an onset every 4 steps) of random scale pitches: rhythm fixed by the bar position."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        pitches = rng.choice([C4, D4, E4, F4, G4, A4], size=16)
        out.append(np.array([t for p in pitches for t in (p, NO_EVENT, NO_EVENT, NO_EVENT)], dtype=np.uint8))
    return out


def history_batch(rows: int = 3, steps: int = 24, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([torch.full((rows, 1), PAPER_SPEC.num_classes), torch.randint(0, 38, (rows, steps),
                                                                                   generator=gen)], 1)


@pytest.mark.parametrize("name", ["unigram", "hold", "markov-ltm", "markov-stm", "markov"])
def test_every_baseline_is_a_prior_step_calls_equal_one_call(name):
    model = fit_baseline(name, bar_melodies(), PAPER_SPEC, SMALL.to_dict()).eval()
    tokens = history_batch()
    whole, _ = model(tokens)
    assert whole.shape == (3, 25, 38)
    torch.testing.assert_close(whole.exp().sum(-1), torch.ones(3, 25), atol=1e-5, rtol=0)
    state, parts = model.initial_state(3), []
    for t in range(tokens.shape[1]):
        out, state = model(tokens[:, t:t + 1], state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole)
    drawn = sample(model, 4, 12, generator=torch.Generator().manual_seed(0))   # a count prior samples too
    assert drawn.shape == (4, 12) and int(drawn.max()) < 38
    assert sequence_log_probs(model, drawn).shape == (4, 12)


def test_floors_are_the_class_frequencies_and_always_hold():
    melodies = [np.array([C4, NO_EVENT, NO_EVENT, NOTE_OFF], dtype=np.uint8)] * 5
    unigram = fit_baseline("unigram", melodies)
    probs = unigram(history_batch(1, 2))[0][0, 0].exp()
    assert probs[NO_EVENT] == pytest.approx(11 / 58) and probs[C4] == pytest.approx(6 / 58)   # add-one counts
    hold = fit_baseline("hold", melodies)
    score = score_prior(hold, melodies)
    assert score.accuracy == pytest.approx(0.5) and score.hold_accuracy == 1.0
    assert score.rest_accuracy == 0.0 and score.onset_accuracy == 0.0
    assert score.nll == pytest.approx(-(0.5 * math.log(11 / 22) + 0.5 * math.log(11 / 22 / 37)))
    assert score.notes == 5 and score.bits_per_note == pytest.approx(score.nll * 20 / math.log(2) / 5)


def test_the_long_term_model_learns_rhythm_from_the_bar_position_and_a_primer_aligns_it():
    model = fit_markov(bar_melodies(), PAPER_SPEC, SMALL).eval()
    score = score_prior(model, bar_melodies(4, seed=1))
    assert score.hold_accuracy == 1.0 and score.accuracy > 0.75
    # fed from the start token, the first input predicts bar position 0: an onset
    first, _ = model(torch.tensor([[model.bos_token]]))
    assert first[0, 0].exp()[NO_EVENT] < 0.2
    # a primer of 3 steps ending one step before a downbeat: primed, the next step is an onset
    primer = torch.tensor([[G4, NO_EVENT, NO_EVENT]])
    aligned, _ = model(primer, model.primed_state(1, 3))
    unaligned, _ = model(primer)
    assert aligned[0, -1].exp()[NO_EVENT] < 0.2 < unaligned[0, -1].exp()[NO_EVENT]


def test_the_short_term_model_copies_a_phrase_repeated_within_the_tune():
    rng = np.random.default_rng(3)
    phrase = rng.integers(2, 38, size=24).astype(np.uint8)
    tune = np.concatenate([phrase, phrase])
    ltm = fit_markov(bar_melodies(), PAPER_SPEC, MarkovConfig(**{**SMALL.to_dict(), "components": "ltm"}))
    both = fit_markov(bar_melodies(), PAPER_SPEC, SMALL)
    log_p = {}
    for name, model in (("ltm", ltm), ("both", both)):
        inputs = torch.tensor([[model.bos_token, *tune[:-1].tolist()]])
        out, _ = model.eval()(inputs)
        log_p[name] = out[0].gather(1, torch.tensor(tune, dtype=torch.long)[:, None])[:, 0]
    # the second pass is predicted far better once the model has heard the first
    assert log_p["both"][28:].mean() > log_p["ltm"][28:].mean() + 1.0
    assert log_p["both"][28:].mean() > log_p["both"][4:24].mean() + 1.0


@pytest.mark.parametrize("family", ["transformer", "copy_lstm"])
def test_neural_step_calls_equal_one_call_and_windows_know_their_bar_position(family):
    torch.manual_seed(0)
    model = (TransformerPrior(dim=32, layers=2, heads=2, ff=64) if family == "transformer"
             else CopyLSTMPrior(hidden=32, heads=2, key_dim=8)).eval()
    tokens = history_batch(2, 30)
    whole, _ = model(tokens)
    state, parts = model.initial_state(2), []
    for t in range(tokens.shape[1]):
        out, state = model(tokens[:, t:t + 1], state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole, atol=1e-5, rtol=1e-4)
    # a training window starting at melody index 5 = the same inputs fed with the state of position 5
    window = tokens[:, 5:20]
    by_window = model.forward_window(window, torch.tensor([5, 5]))
    by_state, _ = model(window, model.initial_state(2, position=5))
    torch.testing.assert_close(by_window, by_state)
    primed, _ = model(tokens[:, 1:4], model.primed_state(2, 3))
    shifted, _ = model(tokens[:, 1:4], model.initial_state(2, position=(1 - 3) % 16))
    torch.testing.assert_close(primed, shifted)
    with pytest.raises(UserError, match="bad .* prior shape"):
        TransformerPrior(dim=30, heads=4) if family == "transformer" else CopyLSTMPrior(hidden=0)


def test_priors_drive_the_melody_env_and_its_log_p_is_the_priors(tmp_path):
    torch.manual_seed(0)
    for prior in (fit_markov(bar_melodies(), PAPER_SPEC, SMALL).eval(),
                  TransformerPrior(dim=32, layers=1, heads=2, ff=32).eval(),
                  CopyLSTMPrior(hidden=16, heads=1, key_dim=8).eval()):
        primers = np.array([[C4, NO_EVENT, E4, NO_EVENT]], dtype=np.int64)
        env = MelodyVecEnv(prior, 4, reward=RewardSpec(length=8), primers=primers,
                           generator=torch.Generator().manual_seed(0))
        env.reset()
        for _ in range(8):
            _, _, done, info = env.step(torch.multinomial(env.next_log_probs.exp(), 1)[:, 0])
        assert done
        full, _ = prior(torch.cat([env.primer, env.tokens], 1), prior.primed_state(4, primers.shape[1]))
        expected = torch.log_softmax(full[:, 3:-1], -1).gather(2, env.tokens[:, :, None])[:, :, 0]
        torch.testing.assert_close(env.log_p, expected, atol=1e-5, rtol=1e-4)


def test_save_load_round_trips_every_family(tmp_path):
    melodies = bar_melodies()
    torch.manual_seed(0)
    models = {name: fit_baseline(name, melodies, PAPER_SPEC, SMALL.to_dict()) for name in ("unigram", "markov")}
    models["transformer"] = TransformerPrior(dim=32, layers=1, heads=2, ff=32)
    models["copy_lstm"] = CopyLSTMPrior(hidden=16, heads=1, key_dim=8)
    models["lstm"] = NoteRNN(hidden_size=8)
    tokens = history_batch()
    for name, model in models.items():
        path = save_prior(model, tmp_path / f"{name}.pt")
        loaded = load_prior(path)
        assert type(loaded) is type(model)
        torch.testing.assert_close(loaded(tokens)[0], model.eval()(tokens)[0])
        run = tmp_path / f"run-{name}"
        run.mkdir()
        save_prior(model, run / "model.pt")
        assert type(load_prior(run)) is type(model)        # a run directory means its model.pt


def test_bad_prior_input_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="unknown prior 'markof' .did you mean 'markov'"):
        fit_baseline("markof", bar_melodies())
    with pytest.raises(UserError, match="unknown Markov escape 'z'"):
        MarkovConfig(escape="z")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="cannot load checkpoint"):
        load_prior(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a prior checkpoint"):
        load_prior(tmp_path / "other.pt")
    with pytest.raises(UserError, match="prior not found"):
        load_prior(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="no model.pt and no checkpoint"):
        load_prior(tmp_path)
    small = TokenSpec(60, 84)   # 26 classes
    save_prior(fit_baseline("markov", [m.clip(0, 25) for m in bar_melodies()], small, SMALL.to_dict()),
               tmp_path / "small-markov.pt")
    with pytest.raises(UserError, match="trained on another token spec"):
        load_prior(tmp_path / "small-markov.pt")
    assert load_prior(tmp_path / "small-markov.pt", spec=small).num_classes == 26
    save_prior(TransformerPrior(num_classes=26, dim=16, layers=1, heads=2, ff=16), tmp_path / "small-tf.pt",
               spec=small.to_dict())
    with pytest.raises(UserError, match="trained on another token spec"):
        load_prior(tmp_path / "small-tf.pt")
    save_note_rnn(NoteRNN(num_classes=26, hidden_size=4), tmp_path / "small-lstm.pt")
    with pytest.raises(UserError, match="trained on another token spec"):
        load_prior(tmp_path / "small-lstm.pt")
    blob = torch.load(tmp_path / "small-tf.pt", weights_only=True)
    blob["state_dict"].pop("head.weight")
    torch.save(blob, tmp_path / "truncated.pt")
    with pytest.raises(UserError, match="weights do not match"):
        load_prior(tmp_path / "truncated.pt", spec=small)
