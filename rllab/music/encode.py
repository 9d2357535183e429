"""music21 score -> token melody: the one-time corpus encoder (only the corpus build imports music21).

Steps per tune: first part, flattened; chord symbols and grace notes dropped, chords reduced to their top pitch,
same-pitch ties merged; transposed so the key signature has no accidentals (C major / A minor); moved by octaves
so most notes fit the range, leftovers folded; onsets and ends rounded to the grid; step 0 = the downbeat of the
first bar (a pickup is left-padded with NO_EVENT); NOTE_OFF where a rest starts and after the last note.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rllab.music.tokens import NO_EVENT, NOTE_OFF, TokenSpec

MIN_NOTES = 8


@dataclass
class EncodeStats:
    """What the encoder dropped or changed, summed per collection for the manifest."""

    counts: Counter = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n


def key_shift(sharps: int) -> int:
    """Semitones that move a key signature with ``sharps`` (negative: flats) to no accidentals, in -6..5."""
    tonic = (7 * sharps) % 12
    return ((6 - tonic) % 12) - 6


def octave_shift(pitches: list[int], spec: TokenSpec) -> int:
    """The multiple of 12 that puts most notes in range, ties broken towards the range centre."""
    low, high = min(pitches), max(pitches)
    centre = (spec.min_pitch + spec.max_pitch - 1) / 2
    best = None
    for k in range(-10, 11):
        shift = 12 * k
        outside = sum(1 for p in pitches if not spec.min_pitch <= p + shift < spec.max_pitch)
        score = (outside, abs((low + high) / 2 + shift - centre))
        if best is None or score < best[0]:
            best = (score, shift)
    return best[1]


def tokens_from_notes(notes: list[tuple[float, float, int]], pad: float, spec: TokenSpec,
                      stats: EncodeStats) -> np.ndarray | None:
    """``(offset_quarters, end_quarters, midi)`` notes -> uint8 tokens (None if too few notes survive)."""
    per_quarter = spec.steps_per_quarter
    shift = octave_shift([p for _, _, p in notes], spec)
    onsets: dict[int, tuple[int, int]] = {}
    for offset, end, pitch in notes:
        pitch += shift
        if not spec.min_pitch <= pitch < spec.max_pitch:
            stats.add("notes_folded")
            while pitch < spec.min_pitch:
                pitch += 12
            while pitch >= spec.max_pitch:
                pitch -= 12
        exact = (offset + pad) * per_quarter
        start = round(exact)
        if abs(exact - start) > 1e-6:
            stats.add("onsets_off_grid")
        stop = max(start + 1, round((end + pad) * per_quarter))
        if start in onsets:
            stats.add("onset_collisions")
            if onsets[start][0] >= pitch:
                continue
        onsets[start] = (pitch, stop)
    if len(onsets) < MIN_NOTES:
        return None
    starts = sorted(onsets)
    total = max(stop for _, stop in onsets.values()) + 1
    tokens = np.full(total, NO_EVENT, dtype=np.uint8)
    for i, start in enumerate(starts):
        pitch, stop = onsets[start]
        tokens[start] = spec.pitch_to_token(pitch)
        next_start = starts[i + 1] if i + 1 < len(starts) else None
        if next_start is None or stop < next_start:
            tokens[stop] = NOTE_OFF
    return tokens


def encode_score(score, spec: TokenSpec, stats: EncodeStats) -> np.ndarray | None:
    """One music21 score (or part) -> tokens, or None when it is not a usable melody."""
    from music21 import harmony, key, stream

    part = score.parts[0] if isinstance(score, stream.Score) and score.parts else score
    flat = part.flatten()
    signatures = list(flat.getElementsByClass(key.KeySignature))
    if not signatures:
        stats.add("no_key_signature")
    transpose = key_shift(signatures[0].sharps) if signatures else 0
    notes: list[tuple[float, float, int]] = []
    for element in flat.notesAndRests:
        if element.isRest or isinstance(element, harmony.ChordSymbol):
            continue
        length = float(element.quarterLength)
        if length <= 0 or element.duration.isGrace:
            stats.add("grace_notes_dropped")
            continue
        if element.isChord:
            stats.add("chords_reduced")
            midi = max(p.midi for p in element.pitches)
        else:
            midi = element.pitch.midi
        offset = float(element.offset)
        tie = element.tie.type if element.tie is not None else None
        if tie in ("stop", "continue") and notes and notes[-1][2] == midi + transpose \
                and abs(notes[-1][1] - offset) < 1e-6:
            notes[-1] = (notes[-1][0], offset + length, notes[-1][2])
            stats.add("ties_merged")
            continue
        notes.append((offset, offset + length, midi + transpose))
    if len(notes) < MIN_NOTES:
        stats.add("too_short")
        return None
    pad = 0.0
    measures = part.getElementsByClass(stream.Measure)
    if measures:
        first = measures[0]
        bar = float(first.barDuration.quarterLength)
        if float(first.paddingLeft) > 0:
            pad = float(first.paddingLeft)
        elif 0 < float(first.duration.quarterLength) < bar:
            pad = bar - float(first.duration.quarterLength)
    tokens = tokens_from_notes(notes, pad, spec, stats)
    if tokens is None:
        stats.add("too_short")
    return tokens


def _no_beams(self, *args, **kwargs):  # beaming is notation only; it costs ~2/3 of ABC parse time
    return self


def parse_file(path: Path, spec: TokenSpec) -> tuple[list[tuple[str, np.ndarray]], Counter]:
    """Parse one corpus file (an ABC opus, a single tune or a chorale) -> ``[(title, tokens)]`` and stats."""
    from music21 import converter, stream

    stream.Stream.makeBeams = _no_beams
    stats = EncodeStats()
    conv = converter.Converter()
    conv.parseFile(Path(path), forceSource=True, storePickle=False)
    parsed = conv.stream
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    melodies = []
    for i, score in enumerate(scores):
        stats.add("tunes")
        tokens = encode_score(score, spec, stats)
        if tokens is None:
            continue
        fallback = Path(path).stem if len(scores) == 1 else f"{Path(path).stem}#{i}"
        title = (score.metadata.title if score.metadata and score.metadata.title else "") or fallback
        melodies.append((str(title), tokens))
    return melodies, stats.counts
