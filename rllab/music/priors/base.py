"""What every melody prior shares with the Note RNN, so the env, the tuners, sampling and scoring take any of them.

The interface (the one :class:`~rllab.music.note_rnn.NoteRNN` has):

* ``num_classes``, ``bos_token = num_classes`` and ``config`` (a plain dict with ``num_classes``; a ``kind`` key
  names the family);
* ``forward(tokens[B, T], state=None) -> (logits[B, T, C], state)``: ``tokens`` may hold the start token; feeding a
  sequence in pieces with the returned state gives the logits of one call over the whole sequence;
* ``initial_state(batch, device)``.

Bar positions follow the Note RNN's convention: the output after the i-th input fed since ``state=None`` predicts
bar position ``i % steps_per_bar``; when the first input is the start token, that is the melody step being
predicted (corpus melodies start on a downbeat).

The count-based priors here keep the whole history as their state (``(history[B, L], offset[B])``, the offset being
the bar position the first input predicts) and recompute what they
need from it: their cost per call grows with the history, which is fine for the tutor's 33-step episodes and for
scoring whole melodies in one call.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from rllab.core.errors import UserError
from rllab.music.tokens import NO_EVENT, TokenSpec

State = tuple[torch.Tensor, ...]


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (count models have buffers only)."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


class HistoryPrior(nn.Module):
    """Base of the count-based priors: the state is the token history, the output log-probabilities."""

    kind = "history"

    def __init__(self, spec: TokenSpec):
        super().__init__()
        self.spec = spec
        self.num_classes = spec.num_classes
        self.bos_token = spec.num_classes
        self.steps_per_bar = spec.steps_per_bar
        self.config: dict[str, Any] = {"kind": self.kind, "num_classes": spec.num_classes, "spec": spec.to_dict()}

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu", position: Any = 0) -> State:
        """Empty history; ``position`` is the bar position the first input predicts (int or ``[B]``)."""
        offset = torch.as_tensor(position, dtype=torch.long, device=device).expand(batch_size) % self.steps_per_bar
        return (torch.zeros(batch_size, 0, dtype=torch.long, device=device), offset.clone())

    def primed_state(self, batch_size: int, primer_len: int, device: torch.device | str = "cpu") -> State:
        """The state to feed a primer of ``primer_len`` tokens with, so that the step after it is a downbeat."""
        return self.initial_state(batch_size, device, (1 - primer_len) % self.steps_per_bar)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        tokens = tokens.long()
        if state is None:
            state = self.initial_state(tokens.shape[0], tokens.device)
        history = torch.cat([state[0], tokens], dim=1)
        start = history.shape[1] - tokens.shape[1]
        return self.log_probs(history, start, state[1]), (history, state[1])

    def log_probs(self, history: torch.Tensor, start: int, offset: torch.Tensor) -> torch.Tensor:
        """``[B, L - start, C]`` log-probabilities of the step after each input ``history[:, start:]``; the output
        after input i predicts bar position ``(offset + i) % steps_per_bar``."""
        raise NotImplementedError


def onset_flags(history: torch.Tensor, bos: int) -> torch.Tensor:
    """Per input: 0 = hold (``NO_EVENT``), 1 = an onset (a pitch or ``NOTE_OFF``), 2 = the start token."""
    flags = (history != NO_EVENT).long()
    return torch.where(history == bos, torch.full_like(flags, 2), flags)


def onset_symbol_mask(num_classes: int, device: torch.device) -> torch.Tensor:
    """Which classes are onsets (every class but ``NO_EVENT``)."""
    mask = torch.ones(num_classes, dtype=torch.bool, device=device)
    mask[NO_EVENT] = False
    return mask


def check_spec(recorded: dict[str, Any], wanted: TokenSpec | None, source: str) -> TokenSpec:
    """The spec a prior was trained on; refuse one that differs from ``wanted`` (``None`` skips the check)."""
    spec = TokenSpec.from_dict(recorded)
    if wanted is not None and spec != wanted:
        raise UserError(f"{source} was trained on another token spec ({spec.num_classes} classes, "
                        f"{spec.to_dict()}) than the one asked for ({wanted.num_classes} classes, {wanted.to_dict()})")
    return spec
