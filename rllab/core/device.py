"""The one device switch: ``--device auto|cpu|cuda``."""

from __future__ import annotations

from rllab.core.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> str:
    """Map ``auto`` to ``cuda`` when a GPU is present, else ``cpu``; refuse ``cuda`` without one."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("--device cuda requested but no CUDA GPU is available (use --device cpu or auto)")
        return name
    if name == "cpu":
        return "cpu"
    raise UserError(f"unknown device {name!r}; valid: auto, cpu, cuda")


def limit_cpu_threads(n: int = 1) -> None:
    """Small policies on CPU run faster with one torch thread per process than with two."""
    import torch

    torch.set_num_threads(n)
