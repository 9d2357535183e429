"""Scoring a prior on whole melodies: NLL per step, bits per note, accuracy split by what the next step is.

Every melody is scored from the start token, one call per batch of melodies of similar length (the count priors'
short-term model and the Transformer's attention cost grows with the square of the length, so long melodies go
in small batches). Accuracy is the argmax's, split into holds (``NO_EVENT`` targets), rests (``NOTE_OFF``) and
onsets (pitches), because holds are more than half of the steps and an always-hold model is already right that
often.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from rllab.core.errors import UserError
from rllab.music.priors.base import model_device
from rllab.music.tokens import NO_EVENT, NOTE_OFF, NUM_SPECIAL


@dataclass
class PriorScore:
    """Validation figures of one prior."""

    nll: float                # nats per step
    bits_per_note: float      # total bits / number of notes (pitch onsets)
    accuracy: float
    hold_accuracy: float
    rest_accuracy: float
    onset_accuracy: float
    steps: int
    notes: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def length_batches(melodies: Sequence[np.ndarray], budget: int, max_batch: int = 64) -> list[list[int]]:
    """Indices of melodies grouped by length so that ``batch * length**2`` stays within ``budget``."""
    order = sorted(range(len(melodies)), key=lambda i: len(melodies[i]))
    groups: list[list[int]] = [[]]
    for i in order:
        size = len(groups[-1]) + 1
        if groups[-1] and (size > max_batch or size * len(melodies[i]) ** 2 > budget):
            groups.append([])
        groups[-1].append(i)
    return [g for g in groups if g]


@torch.no_grad()
def score_prior(model: nn.Module, melodies: Sequence[np.ndarray], *, budget: int = 4_000_000) -> PriorScore:
    """Score ``model`` (any prior with the Note RNN interface) on ``melodies``."""
    if not melodies:
        raise UserError("no melodies to score")
    device = model_device(model)
    was_training = model.training
    model.eval()
    nll = 0.0
    right = {"all": 0, "hold": 0, "rest": 0, "onset": 0}
    total = {"all": 0, "hold": 0, "rest": 0, "onset": 0}
    for group in length_batches(melodies, budget):
        chunk = [melodies[i] for i in group]
        width = max(len(m) for m in chunk)
        targets = torch.full((len(chunk), width), -1, dtype=torch.long)
        for row, melody in enumerate(chunk):
            targets[row, :len(melody)] = torch.from_numpy(np.asarray(melody, dtype=np.int64))
        inputs = torch.cat([torch.full((len(chunk), 1), model.bos_token),
                            torch.where(targets[:, :-1] >= 0, targets[:, :-1], NO_EVENT)], dim=1)
        logits, _ = model(inputs.to(device))
        log_probs = torch.log_softmax(logits.float(), -1).cpu()
        mask = targets >= 0
        target = targets[mask]
        nll -= float(log_probs[mask].gather(1, target[:, None]).sum())
        hit = log_probs[mask].argmax(-1) == target
        for name, where in (("all", torch.ones_like(hit)), ("hold", target == NO_EVENT),
                            ("rest", target == NOTE_OFF), ("onset", target >= NUM_SPECIAL)):
            right[name] += int((hit & where).sum())
            total[name] += int(where.sum())
    model.train(was_training)
    steps, notes = total["all"], total["onset"]

    def rate(name: str) -> float:
        return right[name] / total[name] if total[name] else float("nan")

    return PriorScore(nll / steps, nll / math.log(2) / notes if notes else float("nan"), rate("all"), rate("hold"),
                      rate("rest"), rate("onset"), steps, notes)
