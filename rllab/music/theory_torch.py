"""The music-theory rules over whole batches: ``tokens[B, T]`` -> one ``[B, T]`` float64 tensor per rule.

Component ``[:, t]`` scores action ``tokens[:, t]`` given ``tokens[:, :t]``, exactly as the scalar reference in
:mod:`rllab.music.theory_ref` does (the hypothesis test checks bit-equality). Everything is tensor algebra on the
tokens' device: repeat runs from prefix counts and running maxima, prefix autocorrelations from cumulative integer
sums, motif pitch counts from distances to previous occurrences, repeated motifs from exact integer window codes,
interval rewards from lookup tables. Only the leap rule, a small state machine, loops over time (T steps of vector
ops, not B x T Python steps).

:class:`IncrementalRules` scores one new column at a time from a few carried tensors (run lengths, running sums,
the leap state), for environments that need every step's reward as it is taken: rescoring the whole prefix each
step would cost O(T) per step. It shares the element-wise formulas below with :func:`batched_rewards`, so the two
agree bit for bit (tested).
"""

from __future__ import annotations

import torch

from rllab.core.errors import UserError
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
    return _repeat_penalty(tokens, copies, interrupted)


def _repeat_penalty(tokens: torch.Tensor, copies: torch.Tensor, interrupted: torch.Tensor) -> torch.Tensor:
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
            numerator = _autocorr_numerator(n, s, p, head, tail, lag)
        out.append(_autocorr_coeff(numerator, denominator, constant))
    return torch.stack(out)


def _autocorr_numerator(n: torch.Tensor, s: torch.Tensor, p: torch.Tensor, head: torch.Tensor, tail: torch.Tensor,
                        lag: int) -> torch.Tensor:
    numerator = n * n * p - n * s * (head + tail) + (n - lag) * s * s
    return torch.where(n > lag, numerator, 0)


def _autocorr_coeff(numerator: torch.Tensor, denominator: torch.Tensor, constant: torch.Tensor) -> torch.Tensor:
    coeff = numerator.to(_F64) / denominator
    return torch.where(constant, torch.full_like(coeff, float("nan")), coeff)


def _autocorr_penalty(coeffs: torch.Tensor) -> torch.Tensor:
    """Sum of the penalties of ``coeffs[k]`` (one per lag), added in lag order as the reference does."""
    penalty = torch.zeros(coeffs.shape[1:], dtype=_F64, device=coeffs.device)
    for coeff in coeffs:
        hit = ~torch.isnan(coeff) & (coeff.abs() > rb.AUTOCORR_THRESHOLD)
        penalty = torch.where(hit, penalty - rb.AUTOCORR_WEIGHT * coeff.abs(), penalty)
    return penalty


def rule_autocorrelation(tokens: torch.Tensor) -> torch.Tensor:
    return _autocorr_penalty(prefix_autocorrelation(tokens, rb.AUTOCORR_LAGS))


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
    out[:, window - 1:] = _repeated_motif_reward(repeated, distinct[:, window - 1:])
    return out


def _repeated_motif_reward(repeated: torch.Tensor, distinct: torch.Tensor) -> torch.Tensor:
    hit = repeated & (distinct >= rb.MOTIF_MIN_PITCHES)
    reward = rb.REPEATED_MOTIF_REWARD + (distinct - rb.MOTIF_MIN_PITCHES).to(_F64) * rb.REPEATED_MOTIF_BONUS_PER_PITCH
    return torch.where(hit, reward, torch.zeros_like(reward))


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
        resolved[:, t], doubled[:, t], direction, leapt_from = _leap_transition(
            tokens[:, t], prev[:, t], leap[:, t], step[:, t], leap_dir[:, t], waited[:, t], direction, leapt_from)
    return resolved.to(torch.int64) - doubled.to(torch.int64)


def _leap_transition(action: torch.Tensor, prev: torch.Tensor, leap: torch.Tensor, step: torch.Tensor,
                     leap_dir: torch.Tensor, waited: torch.Tensor, direction: torch.Tensor, leapt_from: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of the leap state machine: ``(resolved, doubled, direction, leapt_from)`` after ``action``."""
    active = direction != 0
    same = direction == leap_dir
    start = leap & ~active
    back = leap & active & ~same
    gradual = step & active & (direction * (leapt_from - action) >= 0)
    resolved = (back & waited) | gradual
    doubled = leap & active & same
    leapt_from = torch.where(start, prev, leapt_from)
    direction = torch.where(start, leap_dir, torch.where(back | gradual, 0, direction))
    return resolved, doubled, direction, leapt_from


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


class IncrementalRules:
    """The nine components of one new column per call, for ``batch`` compositions written in lock-step.

    ``step(actions)`` scores ``actions`` (``[B]``) at beat ``t`` given the columns already passed, in a fixed
    number of tensor ops: the state carried between calls is the last pitch, the repeat run (copies of the last
    pitch, whether holds/rests interleave it, holds and rests since it), integer running sums for the
    autocorrelations, per-class counts of the motif window, exact window codes for repeated motifs, the leap state
    machine, and the columns themselves (for the final unique-extremes check). Rules that depend only on (beat,
    action) or (previous pitch, action) are looked up in tables built once by the batched rule functions. Each
    component equals ``batched_rewards(tokens[:, :t + 1], ...)[:, t]`` exactly.
    """

    def __init__(self, batch: int, tables: KeyTables, spec: TokenSpec, length: int,
                 device: str | torch.device = "cpu"):
        self.batch, self.spec, self.length = batch, spec, length
        self.device = torch.device(device)
        self.window = spec.steps_per_bar // 2
        self.lags = torch.tensor(rb.AUTOCORR_LAGS, device=self.device)[:, None]
        classes = torch.arange(spec.num_classes, device=self.device)
        lut = _tables(tables, spec, self.device)
        self.key_table = rule_key(classes, lut["in_key"])                                      # [C]
        self.tonic_table = rule_tonic(classes[:, None].expand(-1, length), tables.tonic_token, length).T  # [T, C]
        prev = torch.arange(-1, spec.num_classes, device=self.device)[:, None].expand(-1, spec.num_classes)
        self.interval_table = rule_intervals(classes.expand_as(prev), prev, lut)                   # [1 + C, C]
        codes = _window_ids(torch.zeros(1, self.window, dtype=torch.int64, device=self.device), spec.num_classes)
        self.exact_codes = codes is not None
        self.rows = torch.arange(batch, device=self.device)
        self.reset()

    def reset(self) -> None:
        """Forget every column: the next :meth:`step` scores beat 0."""
        b, dev, i64 = self.batch, self.device, torch.int64
        self.t = 0
        self.tokens = torch.zeros(b, self.length, dtype=i64, device=dev)
        self.prefix_sum = torch.zeros(b, self.length, dtype=i64, device=dev)   # [:, t] = sum of tokens[:, :t+1]
        self.square_sum = torch.zeros(b, dtype=i64, device=dev)
        self.lag_products = torch.zeros(len(self.lags), b, dtype=i64, device=dev)
        self.window_counts = torch.zeros(b, self.spec.num_classes, dtype=i64, device=dev)   # classes in the window
        self.window_codes = torch.zeros(b, self.length, dtype=i64, device=dev)   # [:, t] = window ending at t
        self.last_pitch = torch.full((b,), -1, dtype=i64, device=dev)
        self.run_copies = torch.zeros(b, dtype=i64, device=dev)       # copies of last_pitch in its current run
        self.run_broken = torch.zeros(b, dtype=torch.bool, device=dev)  # holds/rests inside that run
        self.offs_since = torch.zeros(b, dtype=i64, device=dev)       # rests since the last pitch (or the start)
        self.holds_since = torch.zeros(b, dtype=i64, device=dev)
        self.direction = torch.zeros(b, dtype=i64, device=dev)        # leap state machine
        self.leapt_from = torch.zeros(b, dtype=i64, device=dev)
        self.last_leap = torch.zeros(b, dtype=i64, device=dev)        # beat of the last leap (0 if none)

    def step(self, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Score ``actions`` ([B] int64, valid classes) at beat ``self.t`` and append them."""
        if self.t >= self.length:
            raise UserError(f"all {self.length} steps are scored: call reset() first")
        t, a = self.t, actions
        self.tokens[:, t] = a
        prev = self.last_pitch
        parts = {
            "key": self.key_table[a],
            "tonic": self.tonic_table[t][a],
            "repeat": self._repeat(a),
            "autocorrelation": self._autocorrelation(a),
            **self._motifs(a),
            "intervals": self.interval_table[prev + 1, a],
            "leaps": self._leaps(a, prev),
            "high_low_unique": (rule_high_low_unique(self.tokens, self.length)[:, -1] if t == self.length - 1
                                else torch.zeros(self.batch, dtype=_F64, device=self.device)),
        }
        self.t += 1
        return parts

    def _repeat(self, a: torch.Tensor) -> torch.Tensor:
        is_pitch = a >= NUM_SPECIAL
        is_off = a == NOTE_OFF
        same = a == self.last_pitch
        copies = torch.where(is_pitch, torch.where(same, self.run_copies, 0),
                             torch.where(is_off, self.offs_since, self.holds_since))
        interrupted = torch.where(is_pitch, self.run_broken,
                                  torch.where(is_off, self.holds_since, self.offs_since) > 0)
        penalty = _repeat_penalty(a, copies, interrupted)
        new_run = is_pitch & ~same
        specials_before = (self.offs_since + self.holds_since) > 0
        self.run_copies = torch.where(new_run, 1, torch.where(is_pitch, self.run_copies + 1, self.run_copies))
        self.run_broken = torch.where(new_run, specials_before, self.run_broken | ~is_pitch)
        self.offs_since = torch.where(is_pitch, 0, self.offs_since + is_off.to(torch.int64))
        self.holds_since = torch.where(is_pitch, 0, self.holds_since + (a == NO_EVENT).to(torch.int64))
        self.last_pitch = torch.where(is_pitch, a, self.last_pitch)
        return penalty

    def _autocorrelation(self, a: torch.Tensor) -> torch.Tensor:
        t = self.t
        n = torch.full_like(a, t + 1)
        s = a if t == 0 else self.prefix_sum[:, t - 1] + a
        self.prefix_sum[:, t] = s
        self.square_sum = self.square_sum + a * a
        denominator = n * n * self.square_sum - n * s * s
        constant = denominator == 0
        denominator = denominator.to(_F64)
        # all lags at once ([lags, B]); a lag longer than the prefix reads clamped columns that the numerator's
        # n > lag mask discards, and adds nothing to its running product
        back = (t - self.lags).clamp(min=0)[:, 0]
        active = (self.lags <= t).to(torch.int64)
        self.lag_products += active * a * self.tokens[:, back].T
        head = self.prefix_sum[:, back].T
        tail = s - self.prefix_sum[:, (self.lags[:, 0] - 1).clamp(max=t)].T
        numerator = _autocorr_numerator(n, s, self.lag_products, head, tail, self.lags)
        return _autocorr_penalty(_autocorr_coeff(numerator, denominator, constant))

    def _motifs(self, a: torch.Tensor) -> dict[str, torch.Tensor]:
        t, w = self.t, self.window
        self.window_counts[self.rows, a] += 1
        if t >= w:
            self.window_counts[self.rows, self.tokens[:, t - w]] -= 1
        zero = torch.zeros(self.batch, dtype=_F64, device=self.device)
        if t + 1 < w:
            return {"motif": zero, "repeated_motif": zero}
        distinct = (self.window_counts[:, NUM_SPECIAL:] > 0).sum(1)
        window = self.tokens[:, t + 1 - w:t + 1]
        repeated = torch.zeros(self.batch, dtype=torch.bool, device=self.device)
        if self.exact_codes:
            self.window_codes[:, t] = _window_ids(window, self.spec.num_classes)
            if t + 1 >= 2 * w:    # earlier windows end at or before t - w
                repeated = (self.window_codes[:, w - 1:t + 1 - w] == self.window_codes[:, t:t + 1]).any(1)
        elif t + 1 >= 2 * w:
            earlier = self.tokens[:, :t + 1 - w].unfold(1, w, 1)
            repeated = (earlier == window[:, None, :]).all(-1).any(-1)
        return {"motif": rule_motif(distinct), "repeated_motif": _repeated_motif_reward(repeated, distinct)}

    def _leaps(self, a: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        t = self.t
        if t == 0:
            return torch.zeros(self.batch, dtype=_F64, device=self.device)
        is_pitch = a >= NUM_SPECIAL
        leap = is_pitch & (prev >= 0) & ((a - prev).abs() >= rb.LEAP_MIN_INTERVAL)
        step = is_pitch & ~leap
        leap_dir = torch.where(a > prev, 1, -1)
        waited = (t - 1 - self.last_leap) > rb.LEAP_RESOLVE_WAIT
        resolved, doubled, self.direction, self.leapt_from = _leap_transition(
            a, prev, leap, step, leap_dir, waited, self.direction, self.leapt_from)
        self.last_leap = torch.where(leap, t, self.last_leap)
        return rule_leaps(resolved.to(torch.int64) - doubled.to(torch.int64))
