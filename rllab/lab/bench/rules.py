"""Token-steps per second of the batched torch music-theory rules vs the scalar reference, timed alternately.

Alternating the two paths and keeping each one's best round makes the ratio robust to other jobs on a shared
machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.music.theory import batched_step_rewards, step_rewards


@dataclass
class RulesBench:
    device: str
    batch: int
    length: int
    scalar_rows: int
    scalar_rate: float
    batched_rate: float
    batched_ms: float

    @property
    def speedup(self) -> float:
        return self.batched_rate / self.scalar_rate


def bench_rules(batch: int = 1024, length: int = 32, rounds: int = 5, scalar_rows: int = 16,
                device: str = "cpu") -> RulesBench:
    if batch < 1 or length < 1 or rounds < 1 or scalar_rows < 1:
        raise UserError("--batch, --length, --rounds and --scalar-rows must be positive")
    limit_cpu_threads(1)
    dev = resolve_device(device)
    tokens = torch.randint(0, 38, (batch, length), generator=torch.Generator().manual_seed(0))
    rows = tokens[:min(scalar_rows, batch)].tolist()
    on_device = tokens.to(dev)
    batched_step_rewards(on_device, length=length)  # warm-up (kernels, caches)

    def sync() -> None:
        if dev.startswith("cuda"):
            torch.cuda.synchronize()

    best_scalar = best_batched = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for row in rows:
            for t in range(length):
                step_rewards(row[:t], row[t], length=length)
        best_scalar = min(best_scalar, time.perf_counter() - start)
        sync()
        start = time.perf_counter()
        batched_step_rewards(on_device, length=length, validate=False)
        sync()
        best_batched = min(best_batched, time.perf_counter() - start)
    return RulesBench(dev, batch, length, len(rows), len(rows) * length / best_scalar, batch * length / best_batched,
                      1000 * best_batched)
