"""Table-1 statistics on hand-made compositions (with the original evaluation bugs fixed), diversity, the table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rllab.core.errors import UserError
from rllab.music.metrics import composition_stats, corpus_windows, format_table, model_fit_stats
from rllab.music.note_rnn import NoteRNN
from rllab.music.tokens import NO_EVENT, NOTE_OFF

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26


def test_repeats_key_tonic_and_extremes():
    repeated = [C4] * 32
    scale = [C4, D4, E4, F4, G4, A4, B4, C5 + 1] * 4          # C#5 is out of key
    stats = composition_stats(np.array([repeated, scale]))
    assert stats["notes_excessively_repeated"] == pytest.approx((32 - 5) / 64)   # 6th repeat onwards
    assert stats["notes_not_in_key"] == pytest.approx(4 / 64)
    assert stats["starts_with_tonic"] == 1.0
    assert stats["unique_max"] == 0.0 and stats["unique_min"] == 0.0
    assert stats["leaps_resolved"] == 1.0              # each C#5 -> C4 leap is resolved by the climb back
    assert math.isnan(composition_stats(np.array([repeated]))["leaps_resolved"])   # no leap at all
    assert stats["compositions"] == 2 and stats["steps"] == 32


def test_motifs_leaps_and_autocorrelation():
    bar = [C4, E4, G4, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT]
    stats = composition_stats(np.array([bar * 4]))
    assert stats["notes_in_motif"] == pytest.approx(25 / 32)     # every full 8-step window from step 7
    assert stats["notes_in_repeated_motif"] == pytest.approx(17 / 32)  # windows ending at step 15 or later
    assert stats["autocorrelation_lag1"] == pytest.approx(_autocorr(bar * 4, 1))
    leap_back = [C4, G4] + [NO_EVENT] * 7 + [C4] + [NO_EVENT] * 22
    doubled = [C4, G4, 28] + [NO_EVENT] * 29
    stats = composition_stats(np.array([leap_back, doubled]))
    assert stats["leaps_resolved"] == pytest.approx(0.5)


def _autocorr(seq, lag):
    x = np.asarray(seq, float) - np.mean(seq)
    return float((x[lag:] * x[:-lag]).sum() / len(seq) / np.var(seq))


def test_in_key_thirds_and_holds_are_counted():
    row = [C4, E4, NO_EVENT, D4, 20, NOTE_OFF, G4, D4] * 4   # C->E in-key third, D->F# plain third
    stats = composition_stats(np.array([row]))
    assert stats["in_key_preferred_per_composition"] >= 4       # the original never counted in-key thirds
    assert stats["thirds_per_composition"] == 4
    assert stats["holds_per_composition"] == 4
    assert stats["rests_per_composition"] == 4                  # after F#, not tonic/fifth


def test_diversity_metrics():
    same = np.array([[C4, D4] * 16] * 3)
    stats = composition_stats(same)
    assert stats["unique_compositions"] == pytest.approx(1 / 3)
    assert stats["distinct_2grams"] == pytest.approx(2 / (3 * 31))
    assert stats["pitch_class_entropy"] == pytest.approx(1.0)
    assert stats["notes_per_composition"] == 32


def test_format_table_has_one_column_per_model():
    rows = {"A": {"notes_not_in_key": 0.25, "autocorrelation_lag1": -0.16}, "B": {"notes_not_in_key": 0.0}}
    table = format_table(rows)
    lines = table.splitlines()
    assert lines[0] == "| statistic | A | B |"
    assert "| notes_not_in_key | 25.00% | 0.00% |" in lines
    assert "| autocorrelation_lag1 | -0.160 | n/a |" in lines
    with pytest.raises(UserError):
        format_table({})


def test_model_fit_and_corpus_windows():
    torch.manual_seed(0)
    model = NoteRNN().eval()
    tokens = np.array([[C4, D4, NO_EVENT, NOTE_OFF] * 8] * 2)
    fit = model_fit_stats(model, tokens)
    assert fit["log_p_mean"] < 0 and 0 < fit["entropy_mean"] <= math.log(38) + 1e-6
    assert fit["perplexity"] == pytest.approx(math.exp(-fit["log_p_mean"]))
    windows = corpus_windows([np.arange(40, dtype=np.uint8) % 38, np.zeros(10, np.uint8)], 32, 5)
    assert windows.shape == (5, 32) and (windows[:, 0] == 0).all()   # bar-aligned starts of the long melody
    with pytest.raises(UserError, match="no melody"):
        corpus_windows([np.zeros(10, np.uint8)], 32, 1)


@pytest.mark.parametrize(("tokens", "message"), [
    (np.array([1, 2, 3]), r"\[N, T\]"), (np.array([[0, 40]]), "outside"), (np.zeros((0, 4), int), "empty"),
])
def test_bad_input(tokens, message):
    with pytest.raises(UserError, match=message):
        composition_stats(tokens)
