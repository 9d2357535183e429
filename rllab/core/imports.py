"""``"package.module:Name"`` strings -> objects, for presets that name wrappers, callbacks and classes."""

from __future__ import annotations

import importlib
from typing import Any

from rllab.core.errors import UserError

#: Module paths of the layout before rllab.envs / rllab.agents existed, so old presets and run directories load.
LEGACY_MODULES = {
    "envs.go.env": "rllab.envs.go.env",
    "envs.mario": "rllab.envs.mario.env",
    "envs.melody": "rllab.envs.melody",
    "agents.go_dqn": "rllab.agents.go.dqn",
    "agents.go_selfplay": "rllab.agents.go.selfplay",
    "agents.go_curriculum": "rllab.agents.go.curriculum",
    "agents.go_models": "rllab.agents.go.models",
}


def import_object(spec: str) -> Any:
    """``"package.module:Name"`` -> the object, with a clear error when it does not exist."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise UserError(f"expected 'module:Name', got {spec!r}")
    module_name = LEGACY_MODULES.get(module_name, module_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import {module_name!r} for {spec!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UserError(f"{module_name!r} has no attribute {attr!r}") from None
