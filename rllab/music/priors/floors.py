"""The floors every prior must clear: the class frequencies of the training melodies, and "always hold".

* ``unigram``: p(x) = the training frequency of class x (add-one smoothed), whatever came before.
* ``hold``: always predicts ``NO_EVENT``, with the training frequency of holds as its probability and the rest
  spread evenly over the other classes: its accuracy is the share of holds, its NLL what knowing only that share
  is worth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rllab.core.errors import UserError
from rllab.music.priors.base import HistoryPrior
from rllab.music.tokens import NO_EVENT, TokenSpec


class ConstantPrior(HistoryPrior):
    """The same distribution at every step (a buffer of log-probabilities)."""

    def __init__(self, kind: str, spec: TokenSpec, log_p: torch.Tensor):
        self.kind = kind
        super().__init__(spec)
        if log_p.shape != (spec.num_classes,):
            raise UserError(f"a {kind} prior needs {spec.num_classes} log-probabilities, got {tuple(log_p.shape)}")
        self.register_buffer("log_p", log_p.float())

    def log_probs(self, history: torch.Tensor, start: int, offset: torch.Tensor) -> torch.Tensor:
        batch, steps = history.shape[0], history.shape[1] - start
        return self.log_p.expand(batch, steps, -1).clone()


def class_counts(melodies: Sequence[np.ndarray], spec: TokenSpec) -> np.ndarray:
    if not melodies:
        raise UserError("the training corpus is empty")
    return np.bincount(np.concatenate(melodies).astype(np.int64), minlength=spec.num_classes)[:spec.num_classes]


def fit_unigram(melodies: Sequence[np.ndarray], spec: TokenSpec) -> ConstantPrior:
    counts = torch.as_tensor(class_counts(melodies, spec), dtype=torch.float64) + 1.0
    return ConstantPrior("unigram", spec, (counts / counts.sum()).log())


def fit_hold(melodies: Sequence[np.ndarray], spec: TokenSpec) -> ConstantPrior:
    counts = class_counts(melodies, spec)
    hold = (counts[NO_EVENT] + 1.0) / (counts.sum() + 2.0)
    probs = torch.full((spec.num_classes,), (1.0 - hold) / (spec.num_classes - 1), dtype=torch.float64)
    probs[NO_EVENT] = hold
    return ConstantPrior("hold", spec, probs.log())
