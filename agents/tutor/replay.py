"""Replay of whole episodes (primer + actions) for the value tuners, kept as tensors on the training device."""

from __future__ import annotations

from typing import Any

import torch

from rllab.agents.tutor.sampling import Samples


class EpisodeReplay:
    """FIFO replay of whole episodes kept as tensors on the training device."""

    def __init__(self, capacity: int, primer_len: int, length: int, device: torch.device):
        self.capacity = capacity
        self.primer = torch.zeros(capacity, primer_len, dtype=torch.long, device=device)
        self.tokens = torch.zeros(capacity, length, dtype=torch.long, device=device)
        self.r_mt = torch.zeros(capacity, length, device=device)
        self.log_p = torch.zeros(capacity, length, device=device)
        self.size = 0
        self.next = 0

    def add(self, samples: Samples) -> None:
        n = samples.tokens.shape[0]
        index = (self.next + torch.arange(n, device=self.tokens.device)) % self.capacity
        self.primer[index] = samples.primer
        self.tokens[index] = samples.tokens
        self.r_mt[index] = samples.r_mt
        self.log_p[index] = samples.log_p
        self.next = (self.next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        index = torch.randint(self.size, (batch,), device=self.tokens.device, generator=generator)
        return self.primer[index], self.tokens[index], self.r_mt[index], self.log_p[index]

    def state_dict(self) -> dict[str, Any]:
        keep = slice(0, self.size)
        return {"primer": self.primer[keep].cpu(), "tokens": self.tokens[keep].cpu(), "r_mt": self.r_mt[keep].cpu(),
                "log_p": self.log_p[keep].cpu(), "next": self.next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = state["tokens"].shape[0]
        for name in ("primer", "tokens", "r_mt", "log_p"):
            getattr(self, name)[: self.size] = state[name].to(self.tokens.device)
        self.next = int(state["next"])
