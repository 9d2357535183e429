"""The ``az:<run dir, net file or shipped name>[:sims=N][:net=latest|best]`` player: a trained net with search.

It searches the game it is shown with :class:`~.game_search.GameSearch` (the training search's rules, one game at a
time), so it follows any game: a match, a GTP session with ``undo``, an env opponent. Deterministic play (the
default of ``rllab match``) searches without Gumbel noise, so it plays the move the search rates best.
Importing this module registers the spec.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rllab.agents.go.az.game_search import GameSearch
from rllab.agents.go.az.net import AZNet, evaluator, load_net
from rllab.agents.go.az.search import SEARCH_KINDS, SearchConfig
from rllab.core.device import limit_cpu_threads
from rllab.core.errors import UserError
from rllab.core.shipped import shipped_model, shipped_names
from rllab.envs.go.engine import GoGame
from rllab.envs.go.player import Player
from rllab.envs.go.player_specs import PlayerSpec, register_player

NET_CHOICES = {"latest": "net.pt", "best": "best.pt"}
DEFAULT_SIMS = 200


class AZPlayer(Player):
    needs_observation = False

    def __init__(self, net: AZNet, sims: int = DEFAULT_SIMS, deterministic: bool = True, name: str = "az",
                 search: str = "gumbel", jit: bool = True):
        self.net, self.size, self.name = net.eval(), net.size, name
        self.obs_shape = (net.planes, net.size, net.size)     # what the match runner reads for the board size
        self.deterministic = deterministic
        self.search = GameSearch(evaluator(net, jit), SearchConfig(kind=search, sims=sims))
        self.rng = np.random.default_rng()

    def check_size(self, size: int) -> None:
        if size != self.size:
            raise UserError(f"AZ net {self.name} plays {self.size}x{self.size} boards, not {size}x{size}")

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.check_size(game.size)
        self.rng = rng

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        self.check_size(game.size)
        return int(self.search.run(game, self.rng, noise=not self.deterministic).action[0])


def net_path(target: str, which: str = "latest") -> Path:
    """The net file a spec names: a ``.pt`` file, a run directory's ``net.pt`` / ``best.pt``, or a shipped net."""
    path = Path(target)
    if not path.exists():
        names = shipped_names()
        if target not in names and f"az-{target}" in names:
            target = f"az-{target}"  # az:7x7 is the shipped az-7x7
        if target not in names:
            shipped = ", ".join(n for n in names if n.startswith("az")) or "none"
            raise UserError(f"az: {target!r} is neither a run directory, a net file nor a shipped net "
                            f"(shipped AZ nets: {shipped})")
        path = shipped_model(target)
    if path.is_dir():
        file = path / NET_CHOICES[which]
        if not file.is_file() and which == "best" and (path / NET_CHOICES["latest"]).is_file():
            raise UserError(f"az: {path} has no best.pt yet (it is written at the first evaluation); use net=latest")
        if not file.is_file():
            raise UserError(f"az: no AZ net in {path} (expected {file.name}; train one with `rllab go az`)")
        return file
    return path


def az_player(spec: PlayerSpec, deterministic: bool) -> Player:
    if not spec.arg:
        raise UserError("az:<run dir, net file or shipped name> needs a target, e.g. az:runs/az7:sims=200")
    spec.check_options(("sims", "net", "search"))
    sims = int(spec.option("sims", int, DEFAULT_SIMS, low=1))
    which = spec.options.get("net", "latest")
    if which not in NET_CHOICES:
        raise UserError(f"player {spec.text!r}: net must be one of {', '.join(NET_CHOICES)}, got {which!r}")
    search = spec.options.get("search", "gumbel")
    if search not in SEARCH_KINDS:
        raise UserError(f"player {spec.text!r}: search must be one of {', '.join(SEARCH_KINDS)}, got {search!r}")
    net, _meta = load_net(net_path(spec.arg, which))
    limit_cpu_threads(1)    # batch-1 searches: a second thread only adds synchronisation (measured 4x slower)
    name = f"az:{Path(spec.arg).name}:sims={sims}" + ("" if search == "gumbel" else f":search={search}")
    return AZPlayer(net, sims, deterministic, name=name, search=search)


register_player("az", az_player, "az:<run dir or shipped net>[:sims=N][:net=latest|best]")
