"""Interval, rest and diversity statistics of one hand-made composition, each count worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rllab.music.metrics import composition_stats
from rllab.music.tokens import NO_EVENT, NOTE_OFF

C4, D4, E4, F4, A4, B4, CS5 = 14, 16, 18, 19, 23, 25, 27   # token = MIDI pitch - 46

# step: 0  1   2   3   4   5   6   7    8   9         10  11        12..31
ROW = [C4, F4, C4, A4, C4, B4, C4, CS5, C4, NOTE_OFF, D4, NOTE_OFF] + [NO_EVENT] * 20


def test_every_interval_class_is_counted_from_the_last_pitch():
    stats = composition_stats(np.array([ROW]))
    expected = {"fourths": 2, "sixths": 2, "sevenths": 2, "octave_jumps": 2,   # C-F, F-C / C-A, A-C / ...
                "seconds": 1,          # C4 (before the rest) -> D4
                "special_rests": 1,    # a rest after the tonic
                "rests": 1,            # a rest after D
                "holds": 20, "thirds": 0, "fifths": 0, "in_key_preferred": 0}
    for name, count in expected.items():
        assert stats[f"{name}_per_composition"] == count, name


def test_extremes_entropy_and_distinct_ngrams():
    stats = composition_stats(np.array([ROW, ROW]))
    assert stats["unique_max"] == 1.0        # C#5 once
    assert stats["unique_min"] == 0.0        # C4 five times
    rising = [C4, D4, E4, F4, A4, B4] + [NO_EVENT] * 26
    assert composition_stats(np.array([rising]))["unique_min"] == 1.0
    counts = np.array([5, 1, 1, 1, 1, 2, 1, 20]) / 32          # C4 F4 A4 B4 C#5 rest D4 hold
    assert stats["token_entropy"] == pytest.approx(float(-(counts * np.log2(counts)).sum()))
    # 29 windows of 4 per row: the 12 starting before step 12 are all different, the rest are four holds
    assert stats["distinct_4grams"] == pytest.approx(13 / 58)
    assert stats["unique_compositions"] == 0.5
    assert stats["rest_fraction"] == pytest.approx(2 / 32) and stats["hold_fraction"] == pytest.approx(20 / 32)
