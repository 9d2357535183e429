"""The Sequence Tutor's music-theory reward r_MT: nine named components, a scalar reference and a batched version.

* :func:`step_rewards` — one step, plain Python (:mod:`rllab.music.theory_ref`): the readable definition.
* :func:`batched_step_rewards` — ``[B, T]`` token tensors on any device (:mod:`rllab.music.theory_torch`):
  what environments and tuners call. It equals the scalar version bit for bit.
* :func:`total_reward` — weighted sum of the components with a preset from :data:`REWARD_PRESETS`.

The rules, their constants (:mod:`rllab.music.rulebook`) and the two fixes to the original code are documented
in ``docs/music.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rllab.core.errors import UserError, choices_hint
from rllab.music.keys import A_MINOR, C_MAJOR, Key, key_tables, parse_key
from rllab.music.rulebook import (
    DEFAULT_PRESET,
    PRESETS_WITHOUT_PRIOR,
    REWARD_PRESETS,
    RULES,
)
from rllab.music.theory_ref import reference_step_rewards
from rllab.music.theory_torch import batched_rewards
from rllab.music.tokens import PAPER_SPEC, TokenSpec, validate_tokens

if TYPE_CHECKING:
    import torch

DEFAULT_LENGTH = 32


def _check_length(length: int) -> None:
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise UserError(f"composition length must be a positive integer, got {length!r}")


def step_rewards(composition: Sequence[int], action: int, *, key: Key | str = C_MAJOR,
                 spec: TokenSpec = PAPER_SPEC, length: int = DEFAULT_LENGTH) -> dict[str, float]:
    """The nine components for appending ``action`` at beat ``len(composition)`` of a ``length``-step melody."""
    _check_length(length)
    if len(composition) >= length:
        raise UserError(f"composition already has {len(composition)} steps; a {length}-step melody is complete")
    if len(composition):
        composition = [int(t) for t in validate_tokens(composition, spec, name="composition").reshape(-1)]
    action = int(validate_tokens([action], spec, name="action")[0])
    return reference_step_rewards(list(composition), action, key_tables(parse_key(key), spec), spec, length)


def batched_step_rewards(tokens: torch.Tensor, *, key: Key | str = C_MAJOR, spec: TokenSpec = PAPER_SPEC,
                         length: int = DEFAULT_LENGTH, validate: bool = True) -> dict[str, torch.Tensor]:
    """Component ``[:, t]`` = the scalar reward for ``tokens[:, t]`` given ``tokens[:, :t]`` (float64, tokens' device).

    ``tokens`` is an integer tensor (or array) ``[B, T]`` with ``1 <= T <= length``. ``validate=False`` skips
    the range check (one device sync) for callers that produce tokens themselves.
    """
    import torch


    _check_length(length)
    if not isinstance(tokens, torch.Tensor):
        tokens = torch.as_tensor(validate_tokens(tokens, spec))
    if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        raise UserError(f"tokens must be an integer tensor, got {tokens.dtype}")
    if tokens.dim() != 2:
        raise UserError(f"tokens must have shape [batch, time], got {tuple(tokens.shape)}")
    if tokens.shape[0] == 0 or tokens.shape[1] == 0:
        raise UserError(f"tokens is empty (shape {tuple(tokens.shape)})")
    if tokens.shape[1] > length:
        raise UserError(f"tokens has {tokens.shape[1]} steps, more than the composition length {length}")
    if validate:
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= spec.num_classes:
            raise UserError(f"tokens holds {low if low < 0 else high}, outside 0..{spec.num_classes - 1}")
    tokens = tokens.to(torch.int64)
    return batched_rewards(tokens, key_tables(parse_key(key), spec), spec, length)


def preset_weights(preset: str | Mapping[str, float]) -> dict[str, float]:
    """A preset name or a ``{rule: weight}`` mapping -> a full weight dict (unknown names are errors)."""
    if isinstance(preset, str):
        if preset not in REWARD_PRESETS:
            raise UserError(f"unknown reward preset {preset!r}; {choices_hint(REWARD_PRESETS)}")
        return dict(REWARD_PRESETS[preset])
    unknown = set(preset) - set(RULES)
    if unknown:
        raise UserError(f"unknown rule(s) {sorted(unknown)}; {choices_hint(RULES)}")
    return {rule: float(preset.get(rule, 0.0)) for rule in RULES}


def total_reward(components: Mapping[str, Any], weights: str | Mapping[str, float] = DEFAULT_PRESET) -> Any:
    """Weighted sum of the components (tensors, arrays or floats), in :data:`RULES` order."""
    resolved = preset_weights(weights)
    total: Any = components[RULES[0]] * 0.0  # keeps the components' type, shape and device
    for rule in RULES:
        if resolved[rule]:
            total = total + resolved[rule] * components[rule]
    return total


__all__ = [
    "A_MINOR",
    "C_MAJOR",
    "DEFAULT_LENGTH",
    "DEFAULT_PRESET",
    "PRESETS_WITHOUT_PRIOR",
    "REWARD_PRESETS",
    "RULES",
    "Key",
    "batched_step_rewards",
    "parse_key",
    "preset_weights",
    "step_rewards",
    "total_reward",
]
