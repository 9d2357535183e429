"""A small decoder-only Transformer prior with relative positions: the repetition-aware neural prior.

Folk tunes repeat whole phrases (AABB forms). An LSTM of 100 units forgets the A part before it comes back; causal
self-attention can look it up and copy what followed it, which is what IDyOM's short-term model does with counts.
Positions enter twice, both shift-invariant within a melody: a learned embedding of the **bar position** of the
predicted step (added to the token embedding; the Note RNN's ``bar_position`` input) and a learned **relative
position bias** per head and layer over bucketed distances (T5-style: every distance below ``exact_distance``
has its own bucket, longer ones share logarithmic buckets), so a model trained on windows scores melodies of any
length.

The interface is the Note RNN's (:mod:`rllab.music.priors.base`): ``forward(tokens, state)``; the state is the bar
offset and the key/value cache of every layer, so step-by-step calls give the logits of one call over the whole
sequence.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rllab.core.errors import UserError

State = tuple[torch.Tensor, ...]


def relative_buckets(distance: torch.Tensor, exact: int, buckets: int, max_distance: int) -> torch.Tensor:
    """Bucket of each (non-negative) distance: itself below ``exact``, then logarithmic up to ``max_distance``."""
    distance = distance.clamp(min=0)
    log_part = exact + (torch.log(distance.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                        * (buckets - exact)).long()
    return torch.where(distance < exact, distance, log_part.clamp(max=buckets - 1))


class Block(nn.Module):
    """Pre-norm attention + feed-forward, with a learned relative-position bias per head."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, buckets: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Linear(ff, dim))
        self.bias = nn.Parameter(torch.zeros(heads, buckets))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bucket: torch.Tensor, mask: torch.Tensor,
                cache: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, steps, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, steps, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        bias = self.bias[:, bucket].masked_fill(~mask, -math.inf)      # [H, T, S]
        attn = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        x = x + self.drop(self.proj(attn.transpose(1, 2).reshape(batch, steps, dim)))
        x = x + self.drop(self.ff(self.norm2(x)))
        return x, k, v


class TransformerPrior(nn.Module):
    """Token + bar-position embeddings -> ``layers`` blocks -> logits over ``num_classes``."""

    def __init__(self, num_classes: int = 38, dim: int = 128, layers: int = 4, heads: int = 4, ff: int = 512,
                 dropout: float = 0.1, bar_steps: int = 16, exact_distance: int = 64, buckets: int = 80,
                 max_distance: int = 1024):
        super().__init__()
        if (num_classes < 3 or dim < 1 or layers < 1 or heads < 1 or dim % heads or ff < 1 or bar_steps < 1
                or not 0.0 <= dropout < 1.0 or not 0 < exact_distance < buckets or max_distance <= exact_distance):
            raise UserError(f"bad Transformer prior shape: classes={num_classes} dim={dim} layers={layers} "
                            f"heads={heads} ff={ff} dropout={dropout} bar_steps={bar_steps} "
                            f"buckets={buckets} exact={exact_distance} max={max_distance}")
        self.config: dict[str, Any] = {
            "arch": "transformer", "num_classes": int(num_classes), "dim": int(dim), "layers": int(layers),
            "heads": int(heads), "ff": int(ff), "dropout": float(dropout), "bar_steps": int(bar_steps),
            "exact_distance": int(exact_distance), "buckets": int(buckets), "max_distance": int(max_distance)}
        self.num_classes = num_classes
        self.bos_token = num_classes
        self.bar_steps = bar_steps
        self.embed = nn.Embedding(num_classes + 1, dim)
        self.bar = nn.Embedding(bar_steps, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, ff, dropout, buckets) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.drop = nn.Dropout(dropout)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu", position: Any = 0) -> State:
        """No cache yet; ``position`` is the bar position the first input predicts (int or ``[B]``)."""
        offset = torch.as_tensor(position, dtype=torch.long, device=device).expand(batch_size) % self.bar_steps
        return (offset.clone(),)

    def primed_state(self, batch_size: int, primer_len: int, device: torch.device | str = "cpu") -> State:
        """The state to feed a primer of ``primer_len`` tokens with, so that the step after it is a downbeat."""
        return self.initial_state(batch_size, device, (1 - primer_len) % self.bar_steps)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """``tokens[B, T]`` -> ``(logits[B, T, C], state)``; the state holds the bar offset and the keys and values
        of every input so far."""
        if state is None:
            state = self.initial_state(tokens.shape[0], tokens.device)
        offset, cache = state[0], state[1:]
        past = cache[0].shape[2] if cache else 0
        logits, new_cache = self._run(tokens, past, offset, cache or None)
        return logits, (offset, *new_cache)

    def forward_window(self, tokens: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Logits of training windows: ``offsets[B]`` is the index of each window's first input in its melody
        (with the start token at index 0), which fixes the bar positions."""
        return self._run(tokens, 0, offsets, None)[0]

    def _run(self, tokens: torch.Tensor, past: int, offsets: torch.Tensor,
             cache: State | None) -> tuple[torch.Tensor, State]:
        steps = tokens.shape[1]
        device = tokens.device
        index = torch.arange(past, past + steps, device=device)
        where = offsets[:, None].to(device) + index[None, :]
        x = self.drop(self.embed(tokens.long()) + self.bar(where % self.bar_steps))
        keys = torch.arange(past + steps, device=device)
        distance = index[:, None] - keys[None, :]
        cfg = self.config
        bucket = relative_buckets(distance, cfg["exact_distance"], cfg["buckets"], cfg["max_distance"])
        mask = distance >= 0
        new_cache: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            layer_cache = (cache[2 * i], cache[2 * i + 1]) if cache else None
            x, k, v = block(x, bucket, mask, layer_cache)
            new_cache += [k, v]
        return self.head(self.norm(x)), tuple(new_cache)
