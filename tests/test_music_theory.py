"""The music-theory rules: hand-checked paper values, scalar/batched/incremental bit-equality, presets, bad
input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rllab.core.errors import UserError
from rllab.music.keys import Key, key_tables, parse_key
from rllab.music.theory import (
    REWARD_PRESETS,
    RULES,
    batched_step_rewards,
    preset_weights,
    step_rewards,
    total_reward,
)
from rllab.music.theory_ref import autocorrelation
from rllab.music.theory_torch import IncrementalRules
from rllab.music.tokens import NO_EVENT, NOTE_OFF, PAPER_SPEC, TokenSpec

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26


def reward(composition, action, rule, **kwargs):
    return step_rewards(composition, action, **kwargs)[rule]


def test_rule_names_are_the_agreed_interface():
    assert RULES == ("key", "tonic", "repeat", "autocorrelation", "motif", "repeated_motif", "intervals", "leaps",
                     "high_low_unique")
    assert set(step_rewards([], C4)) == set(RULES)


def test_key_rule_counts_specials_in_key_and_follows_the_key():
    assert reward([], C4 + 1, "key") == -1.0          # C#4 in C major
    assert reward([], C4, "key") == 0.0
    assert reward([], NOTE_OFF, "key") == reward([], NO_EVENT, "key") == 0.0
    assert reward([], 20, "key", key="G major") == 0.0   # F#4
    assert reward([], F4, "key", key="G major") == -1.0


def test_tonic_rule_beats_and_minor_tonic():
    pad = [D4] * 3
    assert reward([], C4, "tonic") == 3.0
    assert reward([], C5, "tonic") == 0.0                 # only C4 is the paper's tonic class 14
    assert reward(pad * 9 + [D4], C4, "tonic") == 3.0      # beat 28 of 32
    assert reward(pad * 9 + [D4, C4], NO_EVENT, "tonic") == 3.0
    assert reward(pad * 10, NOTE_OFF, "tonic") == 3.0      # beat 30
    assert reward(pad, C4, "tonic") == 0.0
    assert key_tables(parse_key("A minor"), PAPER_SPEC).tonic_token == 23   # the reference's A_MINOR_TONIC


def test_repeat_rule_limits():
    assert reward([C4] * 4, C4, "repeat") == 0.0
    assert reward([C4] * 5, C4, "repeat") == -100.0                       # 6th in a plain run
    assert reward([C4, NO_EVENT] * 6, C4, "repeat") == 0.0                # 7th with holds between: allowed
    assert reward([C4, NO_EVENT] * 7, C4, "repeat") == -100.0
    assert reward([C4, NOTE_OFF, NO_EVENT, NOTE_OFF], NOTE_OFF, "repeat") == -100.0
    assert reward([C4] + [NO_EVENT] * 5, NO_EVENT, "repeat") == -100.0    # holding a note 6+ steps counts
    assert reward([D4] * 5 + [C4], D4, "repeat") == 0.0                   # the run is broken by another pitch


def test_autocorrelation_matches_the_floating_point_definition():
    def float_autocorr(seq, lag):
        x = np.asarray(seq, float) - np.mean(seq)
        return (x[lag:] * x[:len(seq) - lag]).sum() / len(seq) / np.var(seq)

    seq = [C4, D4, E4, C4, G4, NO_EVENT, NOTE_OFF, A4, B4]
    for lag in (1, 2, 3):
        assert autocorrelation(seq, lag) == pytest.approx(float_autocorr(seq, lag), abs=1e-12)
    assert math.isnan(autocorrelation([C4, C4], 1))
    # [2, 3, 2, 3]: coefficients -0.75, 0.5, -0.25 -> penalty -3 * 1.5
    assert reward([2, 3, 2], 3, "autocorrelation") == pytest.approx(-4.5)


def test_motif_and_repeated_motif():
    motif = [C4, E4, G4, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT]
    assert reward(motif, NO_EVENT, "motif") == 3.0
    assert reward([C4, D4, E4, F4, G4, NO_EVENT, NO_EVENT], NO_EVENT, "motif") == pytest.approx(3.6)
    assert reward([C4, NO_EVENT] * 3 + [E4], NO_EVENT, "motif") == 0.0      # two distinct pitches only
    bar = [C4, E4, G4, A4, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT]
    assert reward(bar + bar[:-1], bar[-1], "repeated_motif") == 5.0         # 4 + (4 pitches - 3)
    assert reward(bar + [D4] + bar[:-1], bar[-1], "repeated_motif") == 5.0
    assert reward(bar[1:] + bar[:-1], bar[-1], "repeated_motif") == 0.0     # overlapping copies do not count


@pytest.mark.parametrize(("composition", "action", "expected"), [
    ([C4], D4, 0.4), ([C4], E4, 0.75), ([D4], 20, 0.45), ([C4], G4, 0.5), ([D4], A4, 0.1),
    ([C4], F4, 0.35), ([C4], A4, 0.25), ([C4], B4, -1.5), ([C4], C5 + 1, -5.0), ([C4], C5, 0.0),
    ([C4], NO_EVENT, 1.5), ([D4], NO_EVENT, 0.375), ([G4], NOTE_OFF, 0.75), ([D4], NOTE_OFF, 0.25),
    ([C4, NO_EVENT, NOTE_OFF], D4, 0.4), ([NOTE_OFF, NO_EVENT], D4, 0.0), ([], D4, 0.0),
])
def test_preferred_intervals_table(composition, action, expected):
    assert reward(composition, action, "intervals") == pytest.approx(expected)


def test_leaps_doubled_resolved_and_gradual():
    assert reward([C4], G4, "leaps") == 0.0
    assert reward([C4, G4], 28, "leaps") == -5.0                            # second leap up
    assert reward([C4, G4] + [NO_EVENT] * 6, C4, "leaps") == 0.0           # leapt back too soon
    assert reward([C4, G4] + [NO_EVENT] * 7, C4, "leaps") == 5.0
    assert reward([C4, G4, 19, D4], C4, "leaps") == 5.0                    # stepwise return to C4


def test_high_low_unique_only_at_the_last_step():
    assert reward([C4, D4, E4], F4, "high_low_unique", length=4) == 6.0
    assert reward([C4, D4, C4], F4, "high_low_unique", length=4) == 3.0
    assert reward([C4, D4, E4], F4, "high_low_unique", length=8) == 0.0
    assert reward([NOTE_OFF, NO_EVENT, NO_EVENT], NO_EVENT, "high_low_unique", length=4) == 0.0


def incremental_rewards(tokens: torch.Tensor, key: str = "C major", spec: TokenSpec = PAPER_SPEC,
                        length: int = 32) -> dict[str, torch.Tensor]:
    """Score ``tokens`` column by column with :class:`IncrementalRules`, stacked back to ``[B, T]``."""
    rules = IncrementalRules(tokens.shape[0], key_tables(parse_key(key), spec), spec, length)
    columns = [rules.step(tokens[:, t]) for t in range(tokens.shape[1])]
    return {rule: torch.stack([c[rule] for c in columns], 1) for rule in RULES}


def assert_same_components(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    for rule in RULES:
        assert got[rule].dtype == expected[rule].dtype == torch.float64, rule
        assert torch.equal(got[rule], expected[rule]), rule


tokens_strategy = st.sampled_from([NOTE_OFF, NO_EVENT, NO_EVENT, C4, D4, E4, G4, 28, 2, 37, 15])
few_tokens = st.sampled_from([NOTE_OFF, NO_EVENT, NO_EVENT, C4, C4, D4])   # long runs: repeats, repeated motifs


@settings(max_examples=80, deadline=None)
@given(data=st.data(), batch=st.integers(1, 3), steps=st.integers(1, 32), extra=st.integers(0, 4),
       key=st.sampled_from(["C major", "A minor", "F# major", "Eb minor"]))
def test_batched_rules_equal_the_scalar_reference(data, batch, steps, extra, key):
    alphabet = data.draw(st.sampled_from([tokens_strategy | st.integers(0, 37), few_tokens]))
    rows = [data.draw(st.lists(alphabet, min_size=steps, max_size=steps)) for _ in range(batch)]
    length = steps + extra
    out = batched_step_rewards(torch.tensor(rows), key=key, length=length)
    assert_same_components(incremental_rewards(torch.tensor(rows), key, length=length), out)
    for b, row in enumerate(rows):
        for t in range(steps):
            ref = step_rewards(row[:t], row[t], key=key, length=length)
            for rule in RULES:
                assert out[rule][b, t].item() == ref[rule], (rule, row[:t + 1])


@settings(max_examples=15, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 25), min_size=20, max_size=20), min_size=1, max_size=2))
def test_batched_rules_equal_reference_for_another_spec(rows):
    spec = TokenSpec(min_pitch=60, max_pitch=84, steps_per_bar=8)   # 26 classes, motif window 4
    out = batched_step_rewards(torch.tensor(rows), spec=spec, length=20, key="D major")
    assert_same_components(incremental_rewards(torch.tensor(rows), "D major", spec, 20), out)
    for b, row in enumerate(rows):
        for t in range(20):
            ref = step_rewards(row[:t], row[t], spec=spec, length=20, key="D major")
            assert {r: out[r][b, t].item() for r in RULES} == ref


def test_incremental_rules_on_many_random_compositions():
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 38, (2048, 32), generator=generator)
    runs = torch.tensor([NOTE_OFF, NO_EVENT, NO_EVENT, C4, C4, D4, G4])[torch.randint(0, 7, (512, 32),
                                                                                      generator=generator)]
    for batch in (tokens, runs):
        assert_same_components(incremental_rewards(batch), batched_step_rewards(batch))


def test_incremental_rules_without_exact_window_codes():
    # a 16-step motif window of 38 classes overflows int64 codes: windows are compared token by token instead
    spec = TokenSpec(steps_per_bar=32)
    rows = torch.tensor([[C4, D4, E4, NO_EVENT] * 10, [C4, D4, E4, G4] * 10])
    rows[1, 25] = NOTE_OFF
    expected = batched_step_rewards(rows, spec=spec, length=40)
    assert expected["repeated_motif"][0, -1] == 4.0 and expected["repeated_motif"][1, 25:34].eq(0).all()
    assert_same_components(incremental_rewards(rows, spec=spec, length=40), expected)


def test_incremental_rules_stop_at_the_composition_length():
    rules = IncrementalRules(1, key_tables(parse_key("C major"), PAPER_SPEC), PAPER_SPEC, 4)
    for token in (C4, D4, E4, F4):
        rules.step(torch.tensor([token]))
    with pytest.raises(UserError, match="reset"):
        rules.step(torch.tensor([C4]))
    rules.reset()
    assert rules.step(torch.tensor([C4]))["tonic"].item() == 3.0


@pytest.mark.gpu
def test_batched_rules_on_cuda_equal_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    tokens = torch.randint(0, 38, (256, 32), generator=torch.Generator().manual_seed(0))
    cpu = batched_step_rewards(tokens)
    gpu = batched_step_rewards(tokens.cuda())
    for rule in RULES:
        assert torch.equal(cpu[rule], gpu[rule].cpu()), rule
    rules = IncrementalRules(256, key_tables(parse_key("C major"), PAPER_SPEC), PAPER_SPEC, 32, "cuda")
    incremental = [rules.step(tokens[:, t].cuda()) for t in range(32)]
    for rule in RULES:
        assert torch.equal(torch.stack([c[rule] for c in incremental], 1).cpu(), cpu[rule]), rule


def test_presets_and_total_reward():
    assert REWARD_PRESETS["music_theory_all"] == {rule: 1.0 for rule in RULES}
    basic = REWARD_PRESETS["music_theory_basic"]
    assert {r for r, w in basic.items() if w} == {"key", "tonic", "repeat"}
    comps = step_rewards([C4] * 5, C4)
    assert total_reward(comps) == pytest.approx(sum(comps.values()))
    assert total_reward(comps, "music_theory_basic") == pytest.approx(comps["key"] + comps["tonic"] + comps["repeat"])
    batched = batched_step_rewards(torch.tensor([[C4] * 6]))
    assert total_reward(batched, {"repeat": 2.0})[0, 5].item() == -200.0
    with pytest.raises(UserError, match="unknown reward preset"):
        preset_weights("nope")
    with pytest.raises(UserError, match="unknown rule"):
        preset_weights({"harmony": 1.0})


def test_keys_parse_and_reject_unknown_names():
    assert parse_key("C major") == Key(0, "major")
    assert parse_key("a minor") == Key(9, "minor")
    assert parse_key("F# major") == Key(6, "major")
    assert parse_key("Bb minor") == Key(10, "minor")
    assert parse_key("Am") == Key(9, "minor")
    for bad in ("H major", "C dorian", "", "major"):
        with pytest.raises(UserError, match="unknown key"):
            parse_key(bad)


@pytest.mark.parametrize(("tokens", "message"), [
    (torch.tensor([[0, 38]]), "outside"),
    (torch.tensor([[0, -1]]), "outside"),
    (torch.tensor([[0.0, 1.0]]), "integer"),
    (torch.tensor([1, 2, 3]), r"\[batch, time\]"),
    (torch.zeros(2, 0, dtype=torch.long), "empty"),
    (torch.zeros(1, 33, dtype=torch.long), "more than the composition length"),
    (np.array([[1.5]]), "integers"),
])
def test_batched_rules_reject_bad_input(tokens, message):
    with pytest.raises(UserError, match=message):
        batched_step_rewards(tokens)


def test_scalar_rules_reject_bad_input():
    with pytest.raises(UserError, match="outside"):
        step_rewards([C4], 40)
    with pytest.raises(UserError, match="complete"):
        step_rewards([C4] * 32, C4)
    with pytest.raises(UserError, match="unknown key"):
        step_rewards([], C4, key="X minor")
