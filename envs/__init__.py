"""rllab's Gymnasium environments, registered under the ``rllab/`` namespace on import.

Entry points are strings, so registering imports nothing heavy: the Mario emulator, for instance, is only
imported when ``gymnasium.make("rllab/SuperMario-v0")`` is called.
"""

from __future__ import annotations

import gymnasium as gym

_ENVS = {
    "rllab/GoLite-v0": "rllab.envs.go.env:GoLiteEnv",
    "rllab/SuperMario-v0": "rllab.envs.mario.env:make_super_mario",
    "rllab/Melody-v0": "rllab.envs.melody:MelodyEnv",
}

for _env_id, _entry_point in _ENVS.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point)

REGISTERED_IDS = tuple(_ENVS)
