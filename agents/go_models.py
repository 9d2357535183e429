"""Loading trained Go policies for opponents, ``rllab gtp`` and ``rllab match``.

A player spec may name a run directory (its ``config.yaml`` says which algorithm and env kwargs) or a bare SB3
``.zip`` (the algorithm is then found by trying the ones we train Go with).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rllab.errors import UserError

_ZIP_LOADERS = ("sb3_contrib:MaskablePPO", "stable_baselines3:PPO", "stable_baselines3:DQN", "agents.go_dqn:MaskedDQN")


def load_model(path: Path, device: str = "cpu") -> Any:
    """The SB3 model stored at ``path`` (run directory or ``.zip``)."""
    return load_model_and_env_kwargs(path, device)[0]


def load_model_and_env_kwargs(path: Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(model, the env kwargs it was trained with; empty for a bare ``.zip``)."""
    from agents.sb3 import import_object, load_run_model
    from rllab.runs import RunDir

    path = Path(path)
    if path.is_dir():
        config, model = load_run_model(RunDir.open(path), device=device)
        return model, dict(config.env_kwargs)
    if not path.is_file():
        raise UserError(f"no model at {path} (expected a run directory or an SB3 .zip)")
    errors = []
    for spec in _ZIP_LOADERS:
        try:
            return import_object(spec).load(str(path), device=device), {}
        except Exception as exc:  # noqa: BLE001  (each SB3 class rejects the others' zips differently)
            errors.append(f"{spec.split(':')[1]}: {type(exc).__name__}")
    raise UserError(f"cannot load {path} as a Go policy ({'; '.join(errors)})")
