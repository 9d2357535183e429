"""The melody token spec: one token per sixteenth-note step.

Order (fixed here, used by every module, tested by a MIDI round trip):

* ``NOTE_OFF = 0`` — a rest starts (the sounding note, if any, ends);
* ``NO_EVENT = 1`` — nothing new happens: a sounding note is held, a rest continues;
* ``2 ..`` — a new note starts: token ``k`` is MIDI pitch ``min_pitch + k - 2``.

This is the order of the Sequence Tutor paper and of its reward code. The original implementation's MIDI decoder
used the opposite order and wrote pitches two semitones too high; neither defect exists here, because encoding and
decoding both go through :meth:`TokenSpec.pitch_to_token` / :meth:`TokenSpec.token_to_pitch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rllab.core.errors import UserError

NOTE_OFF = 0
NO_EVENT = 1
NUM_SPECIAL = 2


@dataclass(frozen=True)
class TokenSpec:
    """Pitch range ``[min_pitch, max_pitch)`` (MIDI numbers) and the time grid."""

    min_pitch: int = 48
    max_pitch: int = 84
    steps_per_bar: int = 16

    def __post_init__(self) -> None:
        if not 0 <= self.min_pitch < self.max_pitch <= 128:
            raise UserError(f"pitch range [{self.min_pitch}, {self.max_pitch}) must lie inside MIDI 0..127 "
                            "and hold at least one pitch")
        if self.max_pitch - self.min_pitch + NUM_SPECIAL > 256:
            raise UserError("at most 254 pitches fit the uint8 token arrays")
        if self.steps_per_bar < 2 or self.steps_per_bar % 2:
            raise UserError(f"steps_per_bar must be an even number >= 2, got {self.steps_per_bar}")

    @property
    def num_pitches(self) -> int:
        return self.max_pitch - self.min_pitch

    @property
    def num_classes(self) -> int:
        """Vocabulary size: the two specials plus one class per pitch (38 for the paper spec)."""
        return self.num_pitches + NUM_SPECIAL

    @property
    def steps_per_quarter(self) -> int:
        """Steps per quarter note, assuming 4/4 (the grid the corpus is quantized to)."""
        return self.steps_per_bar // 4 if self.steps_per_bar % 4 == 0 else self.steps_per_bar // 2

    def pitch_to_token(self, midi: int) -> int:
        if not self.min_pitch <= midi < self.max_pitch:
            raise UserError(f"MIDI pitch {midi} is outside the token range [{self.min_pitch}, {self.max_pitch})")
        return int(midi) - self.min_pitch + NUM_SPECIAL

    def token_to_pitch(self, token: int) -> int:
        if not NUM_SPECIAL <= token < self.num_classes:
            raise UserError(f"token {token} is not a pitch token (valid: {NUM_SPECIAL}..{self.num_classes - 1})")
        return int(token) - NUM_SPECIAL + self.min_pitch

    def pitch_classes(self) -> np.ndarray:
        """Pitch class (0 = C) of every token; -1 for the two specials."""
        pcs = np.full(self.num_classes, -1, dtype=np.int64)
        pcs[NUM_SPECIAL:] = np.arange(self.min_pitch, self.max_pitch) % 12
        return pcs

    def to_dict(self) -> dict[str, int]:
        return {"min_pitch": self.min_pitch, "max_pitch": self.max_pitch, "steps_per_bar": self.steps_per_bar}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSpec:
        return cls(int(data["min_pitch"]), int(data["max_pitch"]), int(data["steps_per_bar"]))


PAPER_SPEC = TokenSpec()


def validate_tokens(array: Any, spec: TokenSpec = PAPER_SPEC, *, name: str = "tokens") -> np.ndarray:
    """Check a token array (any shape, integer dtype, non-empty, values in range) and return it as numpy."""
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    arr = np.asarray(array)
    if arr.size == 0:
        raise UserError(f"{name} is empty")
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise UserError(f"{name} must hold integers, got dtype {arr.dtype}")
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high >= spec.num_classes:
        bad = low if low < 0 else high
        raise UserError(f"{name} holds token {bad}, outside 0..{spec.num_classes - 1} for this spec")
    return arr
