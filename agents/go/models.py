"""Loading trained Go policies for opponents, ``rllab gtp`` and ``rllab match``.

A player spec may name a run directory (its ``config.yaml`` says which algorithm and env kwargs) or a bare SB3
``.zip``, which is loaded by the first algorithm that accepts it, masked ones first (a masked policy plays only
legal moves; a zip of an unmasked DQN loads as a masked one and then simply never picks an illegal move).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rllab.agents.sb3.algos import algo_class, load_run_model
from rllab.agents.sb3.algos import load_model as load_zip
from rllab.core.errors import UserError
from rllab.core.runs import RunDir

#: Algorithms tried for a bare ``.zip`` (masked ones first: their policies also load as unmasked ones).
ZIP_ALGOS = ("maskable_ppo", "maskable_dqn", "ppo", "dqn")


def load_model(path: Path, device: str = "cpu") -> Any:
    """The SB3 model stored at ``path`` (run directory or ``.zip``)."""
    return load_model_and_env_kwargs(path, device)[0]


def load_model_and_env_kwargs(path: Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(model, the env kwargs it was trained with; empty for a bare ``.zip``)."""
    path = Path(path)
    if path.is_dir():
        config, model = load_run_model(RunDir.open(path), device=device)
        return model, dict(config.env_kwargs)
    if not path.is_file():
        raise UserError(f"no model at {path} (expected a run directory or an SB3 .zip)")
    errors = []
    for name in ZIP_ALGOS:
        try:
            return load_zip(algo_class(name), path, device=device), {}
        except UserError as exc:  # each SB3 class rejects the others' zips differently
            errors.append(f"{name}: {str(exc).rsplit(': ', 1)[-1]}")
    raise UserError(f"cannot load {path} as a Go policy ({'; '.join(errors)})")
