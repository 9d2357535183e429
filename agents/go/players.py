"""Players that load a model, registered as player specs so every command and the env accept them.

``policy:<run dir or .zip>`` (or the bare path) plays a trained SB3 policy. Importing this module registers it.
"""

from __future__ import annotations

from pathlib import Path

from rllab.agents.go.models import load_model
from rllab.core.errors import UserError
from rllab.envs.go.player import Player
from rllab.envs.go.player_specs import PlayerSpec, register_player
from rllab.envs.go.players import PolicyPlayer


def policy_player(spec: PlayerSpec, deterministic: bool) -> Player:
    if not spec.arg:
        raise UserError("policy:<run dir or model .zip> needs a path")
    return PolicyPlayer(load_model(Path(spec.arg)), deterministic=deterministic, name=Path(spec.arg).name)


register_player("policy", policy_player, "policy:<run dir or model .zip>", raw_arg=True)
