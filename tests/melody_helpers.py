"""A synthetic melody corpus for trainer tests: a strict pattern, so a model that learns gets nearly every step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rllab.music.tokens import PAPER_SPEC


@dataclass
class TinyCorpus:
    """What the trainers read from a corpus: train and valid melodies, and the manifest with the token spec."""

    train: list = field(default_factory=list)
    valid: list = field(default_factory=list)
    manifest: dict = field(default_factory=lambda: {"spec": PAPER_SPEC.to_dict()})


def tiny_corpus() -> TinyCorpus:
    pattern = np.array([14, 1, 18, 1, 21, 1, 1, 0], dtype=np.uint8)
    melodies = [np.tile(pattern, 4 + i % 3) for i in range(12)]
    return TinyCorpus(train=melodies[:10], valid=melodies[10:])
