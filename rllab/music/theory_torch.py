"""The music-theory rules over whole batches: ``tokens[B, T]`` -> one ``[B, T]`` float64 tensor per rule.

Component ``[:, t]`` scores action ``tokens[:, t]`` given ``tokens[:, :t]``, exactly as the scalar reference in
:mod:`rllab.music.theory_ref` does (the hypothesis test checks bit-equality). Everything is tensor algebra on the
tokens' device: repeat runs from prefix counts and running maxima, prefix autocorrelations from cumulative integer
sums, motif pitch counts from distances to previous occurrences, repeated motifs from exact integer window codes,
interval rewards from lookup tables. Only the leap rule, a small state machine, loops over time (T steps of vector
ops, not B x T Python steps).
"""

from __future__ import annotations

import torch

from rllab.music import rulebook as rb
from rllab.music.keys import KeyTables
from rllab.music.tokens import NO_EVENT, NOTE_OFF, NUM_SPECIAL, TokenSpec

_F64 = torch.float64


def _tables(tables: KeyTables, spec: TokenSpec, device: torch.device) -> dict[str, torch.Tensor]:
    generic = [rb.interval_reward(d) for d in range(spec.num_classes)]
    return {
        "in_key": torch.tensor(tables.in_key, device=device),
        "tonic_or_fifth": torch.tensor(tables.tonic_or_fifth, device=device),
        "third_end": torch.tensor(tables.third_end, device=device),
        "interval": torch.tensor(generic, dtype=_F64, device=device),
    }


def _const(value: float, like: torch.Tensor) -> torch.Tensor:
    return torch.full_like(like, value, dtype=_F64)


def rule_key(tokens: torch.Tensor, in_key: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros(tokens.shape, dtype=_F64, device=tokens.device)
    return torch.where(in_key[tokens], zero, _const(rb.KEY_PENALTY, zero))


def rule_tonic(tokens: torch.Tensor, tonic_token: int, length: int) -> torch.Tensor:
    beat = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    last_tonic = length - 4
    hit = torch.where(
        (beat == 0) | (beat == last_tonic), tokens == tonic_token,
        torch.where(beat == last_tonic + 1, tokens == NO_EVENT,
                    (beat > last_tonic + 1) & ((tokens == NO_EVENT) | (tokens == NOTE_OFF))))
    return hit.to(_F64) * rb.TONIC_REWARD


def _last_pitch_index(tokens: torch.Tensor) -> torch.Tensor:
    """``[:, t]`` = index of the last pitch token strictly before ``t`` (-1 if none)."""
    batch, steps = tokens.shape
    idx = torch.arange(steps, device=tokens.device).expand(batch, steps)
    last = torch.where(tokens >= NUM_SPECIAL, idx, -1).cummax(dim=1).values
    return torch.cat([torch.full_like(last[:, :1], -1), last[:, :-1]], dim=1)


def _count_before(mask: torch.Tensor) -> torch.Tensor:
    """``[:, t]`` = number of True in ``mask[:, :t]`` (an exclusive prefix count, shape [B, T + 1])."""
    zero = torch.zeros_like(mask[:, :1], dtype=torch.int64)
    return torch.cat([zero, mask.to(torch.int64).cumsum(1)], dim=1)


def rule_repeat(tokens: torch.Tensor, last_pitch: torch.Tensor) -> torch.Tensor:
    """Per step: walk back over the run of the action (holds/rests may interleave) and count its copies.

    The run ends (going back) at the last pitch that differs from the action. For a special action that is the
    last pitch before ``t``; for a pitch action repeating the previous pitch it is the pitch before the start of
    that pitch's run, found with a running maximum. Counts inside the run come from prefix sums, so the rule is
    O(B x T).
    """
    batch, steps = tokens.shape
    t = torch.arange(steps, device=tokens.device).expand(batch, steps)
    is_pitch = tokens >= NUM_SPECIAL
    safe_last = last_pitch.clamp(min=0)
    prev_pitch = torch.where(last_pitch >= 0, tokens.gather(1, safe_last), -1)
    new_run = is_pitch & (tokens != prev_pitch)
    run_block = torch.where(new_run, last_pitch, -1).cummax(dim=1).values   # last differing pitch before a run
    repeats_pitch = is_pitch & (prev_pitch == tokens)
    start = torch.where(repeats_pitch, run_block.gather(1, safe_last), last_pitch)   # run = (start, t)
    pitches_before = _count_before(is_pitch)
    offs_before = _count_before(tokens == NOTE_OFF)
    holds_before = _count_before(tokens == NO_EVENT)
    after_start = (start + 1)
    copies_of = {
        "pitch": pitches_before[:, :-1] - pitches_before.gather(1, after_start),
        "off": offs_before[:, :-1] - offs_before.gather(1, after_start),
        "hold": holds_before[:, :-1] - holds_before.gather(1, after_start),
    }
    copies = torch.where(is_pitch, torch.where(repeats_pitch, copies_of["pitch"], 0),
                         torch.where(tokens == NOTE_OFF, copies_of["off"], copies_of["hold"]))
    interrupted = (t - start - 1 - copies) > 0
    limit = torch.where(interrupted, rb.REPEAT_LIMIT_INTERRUPTED, rb.REPEAT_LIMIT)
    excessive = ((tokens == NOTE_OFF) & (copies > rb.NOTE_OFF_LIMIT)) | (copies > limit)
    return excessive.to(_F64) * rb.REPEAT_PENALTY


def prefix_autocorrelation(tokens: torch.Tensor, lags: tuple[int, ...] = rb.AUTOCORR_LAGS) -> torch.Tensor:
    """``[k, :, t]`` = autocorrelation of ``tokens[:, :t+1]`` at ``lags[k]`` (NaN where the prefix is constant).

    Integer closed forms of the reference's ``sum(dev[i+lag] * dev[i]) / sum(dev**2)`` with ``dev = n*x - sum``.
    """
    x = tokens.to(torch.int64)
    batch, steps = x.shape
    n = torch.arange(1, steps + 1, device=x.device, dtype=torch.int64).expand(batch, steps)
    s = x.cumsum(1)
    denominator = n * n * (x * x).cumsum(1) - n * s * s
    constant = denominator == 0
    denominator = denominator.to(_F64)
    out = []
    for lag in lags:
        if lag >= steps:  # every prefix is shorter than the lag: empty sums
            numerator = torch.zeros_like(x)
        else:
            zeros = torch.zeros(batch, lag, dtype=torch.int64, device=x.device)
            # p[:, t] = sum_{i <= t-lag} x_i x_{i+lag}; head = sum_{i <= t-lag} x_i; tail = sum_{lag <= i <= t} x_i
            p = torch.cat([zeros, (x[:, lag:] * x[:, :steps - lag]).cumsum(1)], dim=1)
            head = torch.cat([zeros, s[:, :steps - lag]], dim=1)
            tail = s - s[:, lag - 1:lag]
            numerator = n * n * p - n * s * (head + tail) + (n - lag) * s * s
            numerator = torch.where(n > lag, numerator, 0)
        coeff = numerator.to(_F64) / denominator
        out.append(torch.where(constant, torch.full_like(coeff, float("nan")), coeff))
    return torch.stack(out)


def rule_autocorrelation(tokens: torch.Tensor) -> torch.Tensor:
    penalty = torch.zeros(tokens.shape, dtype=_F64, device=tokens.device)
    for coeff in prefix_autocorrelation(tokens, rb.AUTOCORR_LAGS):
        hit = ~torch.isnan(coeff) & (coeff.abs() > rb.AUTOCORR_THRESHOLD)
        penalty = torch.where(hit, penalty - rb.AUTOCORR_WEIGHT * coeff.abs(), penalty)
    return penalty


def window_pitch_counts(tokens: torch.Tensor, window: int) -> torch.Tensor:
    """``[:, t]`` = distinct pitches in ``tokens[:, t-window+1 : t+1]``; -1 where the window is not full yet.

    A pitch counts at its first position in the window: where the distance back to its previous occurrence
    exceeds its offset inside the window.
    """
    batch, steps = tokens.shape
    out = torch.full((batch, steps), -1, dtype=torch.int64, device=tokens.device)
    if steps < window:
        return out
    gap = torch.full_like(tokens, window)        # distance to the previous equal token (window = "none close")
    for d in range(window - 1, 0, -1):
        same = torch.zeros_like(tokens, dtype=torch.bool)
        same[:, d:] = tokens[:, d:] == tokens[:, :-d]
        gap = torch.where(same, d, gap)
    is_pitch = tokens >= NUM_SPECIAL
    count = torch.zeros(batch, steps - window + 1, dtype=torch.int64, device=tokens.device)
    for j in range(window):                      # position j of the window ending at e = start + window - 1
        span = slice(j, steps - window + 1 + j)
        count += (is_pitch[:, span] & (gap[:, span] > j)).to(torch.int64)
    out[:, window - 1:] = count
    return out


def rule_motif(distinct: torch.Tensor) -> torch.Tensor:
    is_motif = distinct >= rb.MOTIF_MIN_PITCHES
    bonus = (distinct - rb.MOTIF_MIN_PITCHES).to(_F64) * rb.MOTIF_BONUS_PER_PITCH
    reward = rb.MOTIF_REWARD + bonus
    return torch.where(is_motif, reward, torch.zeros_like(reward))


def _window_ids(windows: torch.Tensor, num_classes: int) -> torch.Tensor | None:
    """One exact int64 code per window (base-``num_classes`` digits), or None if the codes could overflow."""
    width = windows.shape[-1]
    if num_classes ** width >= 2 ** 62:
        return None
    powers = num_classes ** torch.arange(width, device=windows.device, dtype=torch.int64)
    return (windows * powers).sum(-1)


def rule_repeated_motif(tokens: torch.Tensor, distinct: torch.Tensor, window: int,
                        num_classes: int) -> torch.Tensor:
    batch, steps = tokens.shape
    out = torch.zeros(batch, steps, dtype=_F64, device=tokens.device)
    if steps < 2 * window:
        return out
    windows = tokens.unfold(1, window, 1)                       # [B, W, window]; window j ends at step j+window-1
    count = windows.shape[1]
    ids = _window_ids(windows, num_classes)
    if ids is not None:
        same = ids[:, :, None] == ids[:, None, :]                # [B, j, i]
    else:
        same = (windows[:, :, None, :] == windows[:, None, :, :]).all(-1)
    j = torch.arange(count, device=tokens.device)
    earlier = j[None, :] <= j[:, None] - window                  # window i ends before window j starts
    repeated = (same & earlier[None]).any(-1)
    k = distinct[:, window - 1:]
    hit = repeated & (k >= rb.MOTIF_MIN_PITCHES)
    reward = rb.REPEATED_MOTIF_REWARD + (k - rb.MOTIF_MIN_PITCHES).to(_F64) * rb.REPEATED_MOTIF_BONUS_PER_PITCH
    out[:, window - 1:] = torch.where(hit, reward, torch.zeros_like(reward))
    return out


def previous_pitches(tokens: torch.Tensor) -> torch.Tensor:
    """``[:, t]`` = the last pitch token in ``tokens[:, :t]``, or -1 if there is none."""
    last = _last_pitch_index(tokens)
    return torch.where(last >= 0, tokens.gather(1, last.clamp(min=0)), -1)


def rule_intervals(tokens: torch.Tensor, prev: torch.Tensor, lut: dict[str, torch.Tensor]) -> torch.Tensor:
    has_prev = prev >= 0
    safe_prev = prev.clamp(min=0)
    tonic_or_fifth = lut["tonic_or_fifth"][safe_prev]
    semitones = (tokens - safe_prev).abs()
    pitch_reward = lut["interval"][semitones]
    pitch_reward = torch.where((semitones == 4) & lut["third_end"][safe_prev],
                               _const(rb.IN_KEY_THIRD, pitch_reward), pitch_reward)
    pitch_reward = torch.where((semitones == 7) & tonic_or_fifth, _const(rb.IN_KEY_FIFTH, pitch_reward),
                               pitch_reward)
    hold = torch.where(tonic_or_fifth, rb.HOLD_AFTER_TONIC_OR_FIFTH, rb.HOLD_OTHERWISE).to(_F64)
    rest = torch.where(tonic_or_fifth, rb.REST_AFTER_TONIC_OR_FIFTH, rb.REST_OTHERWISE).to(_F64)
    reward = torch.where(tokens == NO_EVENT, hold, torch.where(tokens == NOTE_OFF, rest, pitch_reward))
    return torch.where(has_prev, reward, torch.zeros_like(reward))


def leap_outcomes(tokens: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """The leap state machine of the reference for the whole batch: +1 resolved / -1 doubled / 0 per step.

    Whether a step is a leap, its direction and the steps since the last leap depend only on the tokens, so they
    are computed for all steps at once; only the direction and the note leapt from are carried through time.
    """
    batch, steps = tokens.shape
    device = tokens.device
    t_idx = torch.arange(steps, device=device).expand(batch, steps)
    is_pitch = tokens >= NUM_SPECIAL
    leap = is_pitch & (prev >= 0) & ((tokens - prev).abs() >= rb.LEAP_MIN_INTERVAL) & (t_idx > 0)
    step = is_pitch & ~leap & (t_idx > 0)
    leap_dir = torch.where(tokens > prev, 1, -1)
    last_leap = torch.where(leap, t_idx, 0).cummax(dim=1).values
    last_leap_before = torch.cat([torch.zeros_like(last_leap[:, :1]), last_leap[:, :-1]], dim=1)
    waited = (t_idx - 1 - last_leap_before) > rb.LEAP_RESOLVE_WAIT
    direction = torch.zeros(batch, dtype=torch.int64, device=device)
    leapt_from = torch.zeros(batch, dtype=torch.int64, device=device)
    resolved = torch.zeros(batch, steps, dtype=torch.bool, device=device)
    doubled = torch.zeros(batch, steps, dtype=torch.bool, device=device)
    for t in range(1, steps):
        active = direction != 0
        same = direction == leap_dir[:, t]
        start = leap[:, t] & ~active
        back = leap[:, t] & active & ~same
        gradual = step[:, t] & active & (direction * (leapt_from - tokens[:, t]) >= 0)
        resolved[:, t] = (back & waited[:, t]) | gradual
        doubled[:, t] = leap[:, t] & active & same
        leapt_from = torch.where(start, prev[:, t], leapt_from)
        direction = torch.where(start, leap_dir[:, t], torch.where(back | gradual, 0, direction))
    return resolved.to(torch.int64) - doubled.to(torch.int64)


def rule_leaps(outcomes: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros(outcomes.shape, dtype=_F64, device=outcomes.device)
    return torch.where(outcomes > 0, _const(rb.LEAP_RESOLVED, zero),
                       torch.where(outcomes < 0, _const(rb.LEAP_DOUBLED, zero), zero))


def unique_extremes(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: is the highest pitch unique, is the lowest pitch unique (False for rows without pitches)."""
    is_pitch = tokens >= NUM_SPECIAL
    high = torch.where(is_pitch, tokens, -1).amax(dim=1, keepdim=True)
    low = torch.where(is_pitch, tokens, torch.iinfo(torch.int64).max).amin(dim=1, keepdim=True)
    any_pitch = is_pitch.any(dim=1)
    high_unique = any_pitch & ((tokens == high).sum(1) == 1)
    low_unique = any_pitch & ((tokens == low).sum(1) == 1)
    return high_unique, low_unique


def rule_high_low_unique(tokens: torch.Tensor, length: int) -> torch.Tensor:
    out = torch.zeros(tokens.shape, dtype=_F64, device=tokens.device)
    if tokens.shape[1] != length:
        return out
    high, low = unique_extremes(tokens)
    zero = torch.zeros_like(out[:, -1])
    last = torch.where(high, rb.UNIQUE_EXTREME_REWARD, zero) + torch.where(low, rb.UNIQUE_EXTREME_REWARD, zero)
    out[:, -1] = last
    return out


def batched_rewards(tokens: torch.Tensor, tables: KeyTables, spec: TokenSpec, length: int) -> dict[str, torch.Tensor]:
    """All nine components for validated ``int64`` tokens ``[B, T]`` with ``T <= length``."""
    lut = _tables(tables, spec, tokens.device)
    window = spec.steps_per_bar // 2
    distinct = window_pitch_counts(tokens, window)
    prev = previous_pitches(tokens)
    return {
        "key": rule_key(tokens, lut["in_key"]),
        "tonic": rule_tonic(tokens, tables.tonic_token, length),
        "repeat": rule_repeat(tokens, _last_pitch_index(tokens)),
        "autocorrelation": rule_autocorrelation(tokens),
        "motif": rule_motif(distinct),
        "repeated_motif": rule_repeated_motif(tokens, distinct, window, spec.num_classes),
        "intervals": rule_intervals(tokens, prev, lut),
        "leaps": rule_leaps(leap_outcomes(tokens, prev)),
        "high_low_unique": rule_high_low_unique(tokens, length),
    }
