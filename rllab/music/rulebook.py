"""The constants of the Sequence Tutor's music-theory reward, shared by the scalar and the batched rules.

Both implementations read every number from here, so they compute the same IEEE doubles in the same order and
agree exactly (not just approximately). Values are the paper's / reference code's (``music_theory_all``).
"""

from __future__ import annotations

RULES: tuple[str, ...] = (
    "key", "tonic", "repeat", "autocorrelation", "motif", "repeated_motif", "intervals", "leaps",
    "high_low_unique",
)

KEY_PENALTY = -1.0
TONIC_REWARD = 3.0
REPEAT_PENALTY = -100.0
REPEAT_LIMIT = 4            # earlier copies allowed in a plain run; one more is penalized
REPEAT_LIMIT_INTERRUPTED = 6  # ... when holds or rests are interleaved in the run
NOTE_OFF_LIMIT = 1          # a rest after more than one earlier rest in the run is penalized
AUTOCORR_LAGS = (1, 2, 3)
AUTOCORR_THRESHOLD = 0.15
AUTOCORR_WEIGHT = 3.0
MOTIF_REWARD = 3.0
MOTIF_MIN_PITCHES = 3
MOTIF_BONUS_PER_PITCH = 0.3
REPEATED_MOTIF_REWARD = 4.0
REPEATED_MOTIF_BONUS_PER_PITCH = 1.0
LEAP_MIN_INTERVAL = 7       # semitones; a fifth or more is a leap
LEAP_RESOLVE_WAIT = 6       # a leap back only resolves after more than this many steps
LEAP_RESOLVED = 5.0
LEAP_DOUBLED = -5.0
UNIQUE_EXTREME_REWARD = 3.0

INTERVAL_SCALE = 5.0
HOLD_AFTER_TONIC_OR_FIFTH = 0.3 * INTERVAL_SCALE
REST_AFTER_TONIC_OR_FIFTH = 0.15 * INTERVAL_SCALE
HOLD_OTHERWISE = 0.075 * INTERVAL_SCALE
REST_OTHERWISE = 0.05 * INTERVAL_SCALE
IN_KEY_FIFTH = 0.1 * INTERVAL_SCALE
IN_KEY_THIRD = 0.15 * INTERVAL_SCALE
_INTERVAL_RAW = {2: 0.08, 4: 0.09, 5: 0.07, 7: 0.02, 9: 0.05, 11: -0.3}
BEYOND_OCTAVE = -1.0 * INTERVAL_SCALE


def interval_reward(semitones: int) -> float:
    """Reward for a melodic step of ``semitones`` (absolute) between two pitches, outside the in-key cases."""
    if semitones > 12:
        return BEYOND_OCTAVE
    return _INTERVAL_RAW.get(semitones, 0.0) * INTERVAL_SCALE


def _weights(*names: str) -> dict[str, float]:
    return {rule: (1.0 if rule in names else 0.0) for rule in RULES}


#: Weight per rule for each of the original ``reward_mode``s that are sums of the nine rules. Whether the Note RNN's
#: log p(a|s) is added is the tuner's business: :data:`PRESETS_WITHOUT_PRIOR` lists the modes that left it out.
REWARD_PRESETS: dict[str, dict[str, float]] = {
    "music_theory_all": _weights(*RULES),
    "music_theory_basic": _weights("key", "tonic", "repeat"),
    "music_theory_basic_plus_variety": _weights("key", "tonic", "repeat", "autocorrelation"),
    "music_theory_only": _weights(*RULES),
    "music_theory_random": _weights("key", "tonic", "repeat"),
    "key_and_tonic": _weights("key", "tonic"),
    "preferred_intervals": _weights("intervals"),
}
PRESETS_WITHOUT_PRIOR = frozenset({"music_theory_only", "music_theory_random", "key_and_tonic",
                                   "preferred_intervals"})
DEFAULT_PRESET = "music_theory_all"
