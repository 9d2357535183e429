"""The scalar reference of the music-theory rules: one action, plain Python, written to be read.

Each ``rule_*`` function scores appending ``action`` at beat ``len(composition)`` of a composition of ``length``
steps. The batched torch version (:mod:`rllab.music.theory_torch`) must agree with these exactly.

Behaviour follows the reference implementation of the paper, with two deliberate fixes:

* the leap rule's state (direction, note leapt from, steps since the leap) is replayed from the composition, so
  each call is a pure function of its arguments;
* ``high_low_unique`` looks for the highest *pitch*: the original took the maximum over all tokens, so a
  composition made only of rests and holds could "win" it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rllab.music import rulebook as rb
from rllab.music.keys import KeyTables
from rllab.music.tokens import NO_EVENT, NOTE_OFF, NUM_SPECIAL, TokenSpec


def _is_pitch(token: int) -> bool:
    return token >= NUM_SPECIAL


def rule_key(action: int, tables: KeyTables) -> float:
    return 0.0 if tables.in_key[action] else rb.KEY_PENALTY


def rule_tonic(beat: int, action: int, tables: KeyTables, length: int) -> float:
    """Tonic on the first beat and 4 steps before the end, then a hold, then holds or rests to the end."""
    last_tonic = length - 4
    if beat in (0, last_tonic):
        return rb.TONIC_REWARD if action == tables.tonic_token else 0.0
    if beat == last_tonic + 1:
        return rb.TONIC_REWARD if action == NO_EVENT else 0.0
    if beat > last_tonic + 1:
        return rb.TONIC_REWARD if action in (NO_EVENT, NOTE_OFF) else 0.0
    return 0.0


def is_excessive_repeat(composition: Sequence[int], action: int) -> bool:
    """Walk back over the run of ``action`` (holds and rests may interleave) and count earlier copies."""
    copies, interrupted = 0, False
    for token in reversed(composition):
        if token == action:
            copies += 1
        elif token in (NOTE_OFF, NO_EVENT):
            interrupted = True
        else:
            break
    if action == NOTE_OFF and copies > rb.NOTE_OFF_LIMIT:
        return True
    return copies > (rb.REPEAT_LIMIT_INTERRUPTED if interrupted else rb.REPEAT_LIMIT)


def rule_repeat(composition: Sequence[int], action: int) -> float:
    return rb.REPEAT_PENALTY if is_excessive_repeat(composition, action) else 0.0


def autocorrelation(sequence: Sequence[int], lag: int) -> float:
    """Lag-``lag`` autocorrelation of the token integers, computed exactly in integers; NaN when constant.

    Mean-centring ``x`` as ``n*x - sum`` keeps everything integral, so the coefficient is one correctly rounded
    division (identical on every device).
    """
    n, total = len(sequence), sum(sequence)
    dev = [n * x - total for x in sequence]
    denominator = sum(d * d for d in dev)
    if denominator == 0:
        return float("nan")
    numerator = sum(dev[i + lag] * dev[i] for i in range(n - lag))
    return numerator / denominator


def rule_autocorrelation(composition: Sequence[int], action: int) -> float:
    sequence = [*composition, action]
    penalty = 0.0
    for lag in rb.AUTOCORR_LAGS:
        coeff = autocorrelation(sequence, lag)
        if coeff == coeff and abs(coeff) > rb.AUTOCORR_THRESHOLD:  # coeff == coeff: not NaN
            penalty = penalty - rb.AUTOCORR_WEIGHT * abs(coeff)
    return penalty


def motif_pitches(window: Sequence[int]) -> int:
    """Number of distinct pitches in a window (holds and rests do not count)."""
    return len({t for t in window if _is_pitch(t)})


def rule_motif(composition: Sequence[int], action: int, spec: TokenSpec) -> float:
    window = motif_window(spec)
    sequence = [*composition, action]
    if len(sequence) < window:
        return 0.0
    k = motif_pitches(sequence[-window:])
    if k < rb.MOTIF_MIN_PITCHES:
        return 0.0
    return rb.MOTIF_REWARD + (k - rb.MOTIF_MIN_PITCHES) * rb.MOTIF_BONUS_PER_PITCH


def rule_repeated_motif(composition: Sequence[int], action: int, spec: TokenSpec) -> float:
    """The last window is a motif that also occurs, without overlapping it, earlier in the composition."""
    window = motif_window(spec)
    sequence = [*composition, action]
    if len(sequence) < window:
        return 0.0
    motif = sequence[-window:]
    k = motif_pitches(motif)
    if k < rb.MOTIF_MIN_PITCHES:
        return 0.0
    earlier = sequence[:-window]
    for start in range(len(earlier) - window + 1):
        if earlier[start:start + window] == motif:
            return rb.REPEATED_MOTIF_REWARD + (k - rb.MOTIF_MIN_PITCHES) * rb.REPEATED_MOTIF_BONUS_PER_PITCH
    return 0.0


def previous_pitch(composition: Sequence[int]) -> int | None:
    """The last pitch token played (holds and rests skipped back over), or None."""
    for token in reversed(composition):
        if _is_pitch(token):
            return token
    return None


def rule_intervals(composition: Sequence[int], action: int, tables: KeyTables) -> float:
    prev = previous_pitch(composition)
    if prev is None:
        return 0.0
    if action == NO_EVENT:
        return rb.HOLD_AFTER_TONIC_OR_FIFTH if tables.tonic_or_fifth[prev] else rb.HOLD_OTHERWISE
    if action == NOTE_OFF:
        return rb.REST_AFTER_TONIC_OR_FIFTH if tables.tonic_or_fifth[prev] else rb.REST_OTHERWISE
    semitones = abs(action - prev)
    if semitones == 7 and tables.tonic_or_fifth[prev]:
        return rb.IN_KEY_FIFTH
    if semitones == 4 and tables.third_end[prev]:
        return rb.IN_KEY_THIRD
    return rb.interval_reward(semitones)


def leap_outcomes(sequence: Sequence[int]) -> list[int]:
    """Run the leap state machine over a composition: +1 resolved, -1 doubled, 0 neither, per step.

    A leap is a step of a fifth or more between pitches. It is resolved by a leap back in the other direction
    after more than ``LEAP_RESOLVE_WAIT`` steps, or by a gradual return to (or past) the note leapt from; a second
    leap in the same direction doubles it.
    """
    outcomes = []
    direction, leapt_from, since = 0, 0, 0
    prev: int | None = None
    for beat, action in enumerate(sequence):
        outcome = 0
        if beat == 0:
            pass
        elif not _is_pitch(action):
            since += 1
        elif prev is not None and abs(action - prev) >= rb.LEAP_MIN_INTERVAL:
            leap = 1 if action > prev else -1
            if direction == 0:
                direction, leapt_from = leap, prev
            elif direction != leap:
                if since > rb.LEAP_RESOLVE_WAIT:
                    outcome = 1
                direction = 0
            else:
                outcome = -1
            since = 0
        else:
            since += 1
            if (direction == 1 and action <= leapt_from) or (direction == -1 and action >= leapt_from):
                outcome, direction = 1, 0
        if _is_pitch(action):
            prev = action
        outcomes.append(outcome)
    return outcomes


def rule_leaps(composition: Sequence[int], action: int) -> float:
    outcome = leap_outcomes([*composition, action])[-1]
    return rb.LEAP_RESOLVED if outcome > 0 else rb.LEAP_DOUBLED if outcome < 0 else 0.0


def unique_extremes(sequence: Sequence[int]) -> tuple[bool, bool]:
    """Whether the highest and the lowest pitch of a composition each occur exactly once."""
    pitches = [t for t in sequence if _is_pitch(t)]
    if not pitches:
        return False, False
    return pitches.count(max(pitches)) == 1, pitches.count(min(pitches)) == 1


def rule_high_low_unique(composition: Sequence[int], action: int, length: int) -> float:
    if len(composition) + 1 != length:
        return 0.0
    high, low = unique_extremes([*composition, action])
    return (rb.UNIQUE_EXTREME_REWARD if high else 0.0) + (rb.UNIQUE_EXTREME_REWARD if low else 0.0)


def motif_window(spec: TokenSpec) -> int:
    """The motif "bar": half a 4/4 bar, 8 steps on the paper's sixteenth grid (as in the reference code)."""
    return spec.steps_per_bar // 2


def reference_step_rewards(composition: Sequence[int], action: int, tables: KeyTables, spec: TokenSpec,
                           length: int) -> dict[str, float]:
    """All nine components for one (already validated) step, in :data:`rulebook.RULES` order."""
    beat = len(composition)
    return {
        "key": rule_key(action, tables),
        "tonic": rule_tonic(beat, action, tables, length),
        "repeat": rule_repeat(composition, action),
        "autocorrelation": rule_autocorrelation(composition, action),
        "motif": rule_motif(composition, action, spec),
        "repeated_motif": rule_repeated_motif(composition, action, spec),
        "intervals": rule_intervals(composition, action, tables),
        "leaps": rule_leaps(composition, action),
        "high_low_unique": rule_high_low_unique(composition, action, length),
    }
