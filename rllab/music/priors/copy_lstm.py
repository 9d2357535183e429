"""An LSTM with attention over its own past: the cheap repetition-aware neural prior.

The LSTM (token + bar-position input, as the Note RNN's ``bar_position``) reads the melody; at each step an
attention layer compares the LSTM state with the states at every earlier step of the same melody and reads out
*what came next there* (the embedding of the input that followed each earlier step, plus a projection of that
step's state). When the tune repeats a phrase, the state before the repeat resembles the state before the
original, and the attention copies its continuation — the within-tune copying of IDyOM's short-term model, learned.
A learned bias per head over bucketed relative distances (as in :mod:`.transformer`) lets heads look "one bar" or
"eight bars" back. Output: ``head(LayerNorm(h + attention))``.

The LSTM's cost per token is about a tenth of a Transformer block's on a CPU, which is what a 30-minute budget
needs. The state is ``(h, c, bar offset, past states [B, S, H], past inputs [B, S])``, so step-by-step calls equal
one call over the sequence.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rllab.core.errors import UserError
from rllab.music.priors.transformer import relative_buckets

State = tuple[torch.Tensor, ...]


class CopyLSTMPrior(nn.Module):
    """LSTM over one-hot tokens and bar positions, attention over its past states with "what came next" values."""

    def __init__(self, num_classes: int = 38, hidden: int = 128, heads: int = 4, key_dim: int = 32,
                 dropout: float = 0.0, bar_steps: int = 16, exact_distance: int = 64, buckets: int = 80,
                 max_distance: int = 1024):
        super().__init__()
        if (num_classes < 3 or hidden < 1 or heads < 1 or key_dim < 1 or bar_steps < 1 or not 0 <= dropout < 1
                or not 0 < exact_distance < buckets or max_distance <= exact_distance):
            raise UserError(f"bad copy-LSTM prior shape: classes={num_classes} hidden={hidden} heads={heads} "
                            f"key_dim={key_dim} bar_steps={bar_steps} buckets={buckets}")
        self.config: dict[str, Any] = {
            "arch": "copy_lstm", "num_classes": int(num_classes), "hidden": int(hidden), "heads": int(heads),
            "key_dim": int(key_dim), "dropout": float(dropout), "bar_steps": int(bar_steps),
            "exact_distance": int(exact_distance), "buckets": int(buckets), "max_distance": int(max_distance)}
        self.num_classes = num_classes
        self.bos_token = num_classes
        self.bar_steps = bar_steps
        self.heads, self.key_dim = heads, key_dim
        self.lstm = nn.LSTM(num_classes + 1 + bar_steps, hidden, batch_first=True)
        self.query = nn.Linear(hidden, heads * key_dim)
        self.key = nn.Linear(hidden, heads * key_dim)
        self.value_state = nn.Linear(hidden, heads * key_dim)
        self.value_next = nn.Embedding(num_classes + 1, heads * key_dim)
        self.bias = nn.Parameter(torch.zeros(heads, buckets))
        self.out = nn.Linear(heads * key_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, num_classes)
        self.drop = nn.Dropout(dropout)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu", position: Any = 0) -> State:
        """Zero LSTM state, no past; ``position`` is the bar position the first input predicts (int or ``[B]``)."""
        hidden = self.config["hidden"]
        zeros = torch.zeros(1, batch_size, hidden, device=device)
        offset = torch.as_tensor(position, dtype=torch.long, device=device).expand(batch_size) % self.bar_steps
        return (zeros, zeros.clone(), offset.clone(), torch.zeros(batch_size, 0, hidden, device=device),
                torch.zeros(batch_size, 0, dtype=torch.long, device=device))

    def primed_state(self, batch_size: int, primer_len: int, device: torch.device | str = "cpu") -> State:
        """The state to feed a primer of ``primer_len`` tokens with, so that the step after it is a downbeat."""
        return self.initial_state(batch_size, device, (1 - primer_len) % self.bar_steps)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if state is None:
            state = self.initial_state(tokens.shape[0], tokens.device)
        h0, c0, offset, past_h, past_x = state
        tokens = tokens.long()
        start = past_x.shape[1]
        where = offset[:, None] + start + torch.arange(tokens.shape[1], device=tokens.device)[None, :]
        x = torch.cat([nn.functional.one_hot(tokens, self.num_classes + 1),
                       nn.functional.one_hot(where % self.bar_steps, self.bar_steps)], -1).to(self.head.weight.dtype)
        out, (h, c) = self.lstm(x, (h0, c0))
        states = torch.cat([past_h, out], 1)
        inputs = torch.cat([past_x, tokens], 1)
        logits = self._read(states, inputs, start)
        return logits, (h, c, offset, states, inputs)

    def forward_window(self, tokens: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Logits of training windows whose first input has index ``offsets[B]`` in its melody (start token = 0)."""
        return self(tokens, self.initial_state(tokens.shape[0], tokens.device, offsets.to(tokens.device)))[0]

    def _read(self, states: torch.Tensor, inputs: torch.Tensor, start: int) -> torch.Tensor:
        """Logits for the steps ``start..`` of ``states [B, L, H]``; step j's value holds input j + 1."""
        batch, length, _ = states.shape
        heads, dim = self.heads, self.key_dim
        query = self.query(states[:, start:]).view(batch, -1, heads, dim).transpose(1, 2)
        key = self.key(states).view(batch, length, heads, dim).transpose(1, 2)
        following = torch.cat([inputs[:, 1:], inputs[:, -1:]], 1)      # the last step has no successor yet
        value = (self.value_state(states) + self.value_next(following)).view(batch, length, heads, dim)
        value = value.transpose(1, 2)
        steps = torch.arange(start, length, device=states.device)
        distance = steps[:, None] - torch.arange(length, device=states.device)[None, :]
        cfg = self.config
        bucket = relative_buckets(distance, cfg["exact_distance"], cfg["buckets"], cfg["max_distance"])
        earlier = distance > 0                                             # strictly earlier steps only
        bias = nn.functional.embedding(bucket, self.bias.t()).permute(2, 0, 1).masked_fill(~earlier[None], -1e9)
        scores = query @ key.transpose(-1, -2) / math.sqrt(dim) + bias
        weights = torch.softmax(scores, -1) * earlier.any(-1)[None, :, None]   # the first step reads nothing
        read = (weights @ value).transpose(1, 2).reshape(batch, length - start, heads * dim)
        return self.head(self.norm(states[:, start:] + self.drop(self.out(read))))
