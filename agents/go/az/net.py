"""The policy/value ResNet and its file format.

A small AlphaGo-Zero-style residual tower (``blocks`` x ``width``) with three heads: policy logits over the N²+1
moves, a value in [-1, 1] for the side to move, and the ownership of every point (an auxiliary target). A net file
is a ``torch.save`` dict of tensors and plain values (loaded with ``weights_only=True``) that records the board size,
komi and shape, so a net is never run on a board it was not trained for.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rllab.agents.go.az.features import NUM_PLANES
from rllab.core.errors import UserError
from rllab.core.runs import load_torch, save_torch

NET_FORMAT = "rllab-az-net-1"


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class AZNet(nn.Module):
    """``forward(planes) -> (policy logits (B, N²+1), value (B,), ownership (B, N²))``; planes may be uint8."""

    def __init__(self, size: int, blocks: int, width: int, planes: int = NUM_PLANES):
        super().__init__()
        self.size, self.blocks, self.width, self.planes = size, blocks, width, planes
        points = size * size
        self.stem = nn.Sequential(nn.Conv2d(planes, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.tower = nn.Sequential(*(_Block(width) for _ in range(blocks)))
        self.policy_conv = nn.Sequential(nn.Conv2d(width, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        self.policy_fc = nn.Linear(2 * points, points + 1)
        self.value_conv = nn.Sequential(nn.Conv2d(width, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(2 * points, 64), nn.ReLU(), nn.Linear(64, 1))
        self.owner_conv = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.tower(self.stem(x.float()))
        logits = self.policy_fc(self.policy_conv(h).flatten(1))
        value = torch.tanh(self.value_fc(self.value_conv(h).flatten(1))).squeeze(1)
        owner = torch.tanh(self.owner_conv(h).flatten(1))
        return logits, value, owner

    def shape(self) -> dict[str, int]:
        return {"size": self.size, "blocks": self.blocks, "width": self.width, "planes": self.planes}


def evaluator(net: AZNet, jit: bool = False) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The search's view of ``net``: planes -> (logits, value), in eval mode without gradients.

    With ``jit``, a frozen TorchScript trace of a copy (batch norm folded into the convolutions), measured ~1.5x
    faster on this CPU at batch 64; the copy does not follow later weight updates, so make a new one after them.
    """
    if not jit:
        net.eval()
        return lambda x: net(x.float())[:2]
    param = next(net.parameters())
    example = torch.zeros((2, net.planes, net.size, net.size), device=param.device)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.freeze(torch.jit.trace(copy.deepcopy(net).eval(), example))
    return lambda x: frozen(x.float())[:2]


def save_net(net: AZNet, path: str | Path, komi: float, **info: Any) -> None:
    """Atomically write ``net`` with its shape, komi and ``info`` (steps, games, ... plain values only)."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    save_torch({"format": NET_FORMAT, **net.shape(), "komi": float(komi), "info": info, "state_dict": state}, path)


def net_from_blob(blob: Any, source: str, device: str | torch.device = "cpu") -> tuple[AZNet, dict[str, Any]]:
    """Rebuild a net from a loaded net file; a file of another kind or a mismatched state is one clear error."""
    if not isinstance(blob, dict) or blob.get("format") != NET_FORMAT:
        raise UserError(f"{source} is not an AZ net file (expected format {NET_FORMAT})")
    try:
        net = AZNet(int(blob["size"]), int(blob["blocks"]), int(blob["width"]), int(blob["planes"]))
        net.load_state_dict(blob["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise UserError(f"{source}: damaged AZ net ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    return net.to(device).eval(), meta


def load_net(path: str | Path, device: str | torch.device = "cpu") -> tuple[AZNet, dict[str, Any]]:
    """(net in eval mode, its metadata: size, komi, blocks, width, info)."""
    return net_from_blob(load_torch(path), str(path), device)
