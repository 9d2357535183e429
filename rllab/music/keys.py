"""Musical keys as pitch-class sets, and the per-token lookup tables the rules need.

The original reward code hard-wired C major as lists of class indices. Here a :class:`Key` is a tonic pitch class
and a mode, and :func:`key_tables` turns it into boolean masks over a :class:`~rllab.music.tokens.TokenSpec`'s
vocabulary, so any major or (natural) minor key works with any pitch range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rllab.core.errors import UserError
from rllab.music.tokens import PAPER_SPEC, TokenSpec

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|b|♯|♭)?\s*(major|minor|maj|min|m)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class (0 = C .. 11 = B) and mode (``major`` or ``minor``)."""

    tonic: int = 0
    mode: str = "major"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12:
            raise UserError(f"key tonic must be a pitch class 0..11, got {self.tonic}")
        if self.mode not in SCALES:
            raise UserError(f"unknown mode {self.mode!r}; valid: major, minor")

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    @property
    def scale(self) -> frozenset[int]:
        return frozenset((self.tonic + step) % 12 for step in SCALES[self.mode])

    def __str__(self) -> str:
        return self.name


C_MAJOR = Key(0, "major")
A_MINOR = Key(9, "minor")


def parse_key(name: str | Key) -> Key:
    """``"C major"``, ``"A minor"``, ``"F# major"``, ``"Bb minor"``, ``"Am"`` -> :class:`Key`."""
    if isinstance(name, Key):
        return name
    match = _KEY_RE.match(str(name))
    if not match:
        raise UserError(f"unknown key {name!r}; write a tonic and a mode, e.g. 'C major', 'A minor', 'F# major'")
    letter, accidental, mode = match.groups()
    pc = _LETTER_PC[letter.upper()]
    if accidental in ("#", "♯"):
        pc += 1
    elif accidental in ("b", "♭"):
        pc -= 1
    mode = (mode or "major").lower()
    return Key(pc % 12, "minor" if mode in ("minor", "min", "m") else "major")


@dataclass(frozen=True)
class KeyTables:
    """Per-token lookups for one key and one token spec (all arrays have ``spec.num_classes`` entries).

    ``in_key``: the specials and the scale's pitches (the paper counts rests and holds as in key).
    ``tonic_token``: the tonic the ``tonic`` rule asks for (C4 = token 14 in C major with the paper spec).
    ``tonic_or_fifth``: pitches after which a hold/rest earns the larger interval reward, and from which a
    fifth counts as the in-key fifth (C and G in C major).
    ``third_end``: pitches from which a major third counts as the in-key third (C and E in C major; in a minor
    key the major third of the relative major's tonic triad, C and E in A minor).
    """

    in_key: np.ndarray
    tonic_token: int
    tonic_or_fifth: np.ndarray
    third_end: np.ndarray


@lru_cache(maxsize=64)
def key_tables(key: Key = C_MAJOR, spec: TokenSpec = PAPER_SPEC) -> KeyTables:
    pcs = spec.pitch_classes()
    is_pitch = pcs >= 0
    in_key = np.isin(pcs, sorted(key.scale)) | ~is_pitch
    fifth = (key.tonic + 7) % 12
    tonic_or_fifth = is_pitch & np.isin(pcs, [key.tonic, fifth])
    third_root = key.tonic if key.mode == "major" else (key.tonic + 3) % 12
    third_end = is_pitch & np.isin(pcs, [third_root, (third_root + 4) % 12])
    candidates = [p for p in range(spec.min_pitch, spec.max_pitch) if p % 12 == key.tonic]
    if not candidates:
        raise UserError(f"the pitch range [{spec.min_pitch}, {spec.max_pitch}) holds no {PITCH_NAMES[key.tonic]}")
    target = 60 + key.tonic  # the tonic in the octave above middle C, as in the paper (C4 for C, A4 for A minor)
    tonic_pitch = min(candidates, key=lambda p: (abs(p - target), p))
    for table in (in_key, tonic_or_fifth, third_end):
        table.setflags(write=False)
    return KeyTables(in_key, spec.pitch_to_token(tonic_pitch), tonic_or_fifth, third_end)
