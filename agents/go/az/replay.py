"""The replay window: the newest ``capacity`` self-play positions, sampled uniformly, each turned by a random one of
the 8 board symmetries (Go's rules and a square board do not change under them, so it is 8x the data for free).

Planes are 0/1, so a checkpoint stores them bit-packed (8x smaller); the rest is stored as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rllab.agents.go.az.features import NUM_PLANES, augment
from rllab.agents.go.az.selfplay import Samples
from rllab.core.errors import UserError


class Replay:
    def __init__(self, capacity: int, size: int):
        if capacity < 1:
            raise UserError(f"replay_size must be a positive integer, got {capacity}")
        p = size * size
        self.capacity, self.size = capacity, size
        self.planes = torch.zeros((capacity, NUM_PLANES, size, size), dtype=torch.uint8)
        self.policy = torch.zeros((capacity, p + 1))
        self.value = torch.zeros(capacity)
        self.owner = torch.zeros((capacity, p), dtype=torch.int8)
        self.count = 0        # positions ever added; the newest sits at (count - 1) % capacity

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def add(self, samples: Samples) -> None:
        n = len(samples)
        if n == 0:
            return
        if n > self.capacity:   # only the newest fit
            samples = Samples(samples.planes[-self.capacity:], samples.policy[-self.capacity:],
                              samples.value[-self.capacity:], samples.owner[-self.capacity:])
            self.count += n - self.capacity
            n = self.capacity
        idx = (self.count + torch.arange(n)) % self.capacity
        self.planes[idx] = samples.planes
        self.policy[idx] = samples.policy
        self.value[idx] = samples.value
        self.owner[idx] = samples.owner
        self.count += n

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(planes, policy, value, ownership) of ``batch`` random positions, each under a random symmetry."""
        idx = torch.randint(len(self), (batch,), generator=generator)
        syms = torch.randint(8, (batch,), generator=generator)
        x, policy, owner = augment(self.planes[idx], self.policy[idx], self.owner[idx], syms)
        return x, policy, self.value[idx], owner

    # -- checkpoints -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        n = len(self)
        packed = np.packbits(self.planes[:n].numpy().reshape(n, -1), axis=1)
        return {"capacity": self.capacity, "size": self.size, "count": self.count,
                "planes": torch.from_numpy(packed), "policy": self.policy[:n].clone(),
                "value": self.value[:n].clone(), "owner": self.owner[:n].clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity or state["size"] != self.size:
            raise UserError("the checkpoint's replay window does not match this config")
        n = len(state["value"])
        bits = np.unpackbits(state["planes"].numpy(), axis=1, count=NUM_PLANES * self.size * self.size)
        self.planes[:n] = torch.from_numpy(bits).view(n, NUM_PLANES, self.size, self.size)
        self.policy[:n] = state["policy"]
        self.value[:n] = state["value"]
        self.owner[:n] = state["owner"]
        self.count = int(state["count"])
