"""Player specs -> players, through one registry.

A spec is ``name[:arg][:key=value...]``: ``random``, ``heuristic``, ``self``, ``gnugo[:LEVEL]``, ``gtp:<command
line>``, ``mcts[:sims=N][:time=S]`` (search, no network) and ``openspiel-mcts[:sims=N][:time=S]`` are built in here;
the agents layer registers the players that load a model (``policy:<run or .zip>``, ``az``...), so the env accepts
them without importing agents. A bare path to a run directory or a ``.zip`` means ``policy:<path>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rllab.core.config import did_you_mean
from rllab.core.errors import UserError
from rllab.envs.go.gtp_client import GtpPlayer, gnugo_command, split_command
from rllab.envs.go.mcts import mcts_player
from rllab.envs.go.openspiel_mcts import openspiel_mcts_player
from rllab.envs.go.player import Player
from rllab.envs.go.players import HeuristicPlayer, RandomPlayer, SelfPlayPool


@dataclass(frozen=True)
class PlayerSpec:
    """A parsed spec: ``mcts:sims=800:time=5`` -> name ``mcts``, options ``{sims: "800", time: "5"}``."""

    text: str
    name: str
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def option(self, key: str, cast: Callable[[str], float], default: float | None, *,
               low: float | None = None) -> float | None:
        """An option converted with ``cast`` and checked against ``low``, with a one-line error naming the spec."""
        if key not in self.options:
            return default
        raw = self.options[key]
        try:
            value = cast(raw)
        except ValueError:
            raise UserError(f"player {self.text!r}: {key}={raw!r} is not a {cast.__name__}") from None
        if low is not None and value < low:
            raise UserError(f"player {self.text!r}: {key} must be >= {low:g}, got {raw}")
        return value

    def check_options(self, known: tuple[str, ...]) -> None:
        for key in self.options:
            if key not in known:
                hint = did_you_mean(key, known)
                raise UserError(f"player {self.text!r}: unknown option {key!r}{hint}; valid: "
                                f"{', '.join(known) or 'none'}")


Factory = Callable[[PlayerSpec, bool], Player]


@dataclass(frozen=True)
class Registration:
    factory: Factory
    usage: str
    raw_arg: bool = False   # the rest of the spec is one argument (a command line or a path), not options


_REGISTRY: dict[str, Registration] = {}


def register_player(name: str, factory: Factory, usage: str, raw_arg: bool = False) -> None:
    """Make ``name[:...]`` a player spec; ``factory(spec, deterministic)`` builds the player."""
    _REGISTRY[name] = Registration(factory, usage, raw_arg)


def spec_help() -> str:
    """One line listing every registered spec form."""
    return " | ".join(reg.usage for reg in _REGISTRY.values()) + " | <run dir or model .zip>"


def parse_spec(text: str) -> PlayerSpec:
    name, _, rest = text.partition(":")
    registration = _REGISTRY.get(name)
    if registration is not None and registration.raw_arg:
        return PlayerSpec(text, name, rest)
    arg, options = "", {}
    for part in (p for p in rest.split(":") if p) if rest else ():
        key, sep, value = part.partition("=")
        if sep:
            options[key.strip()] = value.strip()
        elif not arg:
            arg = part
        else:
            raise UserError(f"player {text!r}: more than one argument ({arg!r}, {part!r}); use key=value options")
    return PlayerSpec(text, name, arg, options)


def make_player(spec: str | Player | None, *, deterministic: bool = False) -> Player:
    """Build a player from a spec string (see :func:`spec_help`); an existing :class:`Player` passes through."""
    if isinstance(spec, Player):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"unknown player {spec!r}; {spec_help()}")
    parsed = parse_spec(spec.strip())
    if parsed.name in _REGISTRY:
        return _REGISTRY[parsed.name].factory(parsed, deterministic)
    if Path(spec).exists() and "policy" in _REGISTRY:
        return _REGISTRY["policy"].factory(PlayerSpec(spec, "policy", spec), deterministic)
    if "policy" not in _REGISTRY and Path(spec).exists():
        raise UserError(f"player {spec!r} names a model; import rllab.agents (or rllab) to load models")
    raise UserError(f"unknown player {spec!r}{did_you_mean(parsed.name, _REGISTRY)} (not a registered player and "
                    f"no such path); {spec_help()}")


def _gnugo(spec: PlayerSpec, deterministic: bool) -> Player:
    level = spec.arg or "1"
    if not level.isdigit() or not 0 <= int(level) <= 10:
        raise UserError(f"GNU Go level must be 0..10, got {level!r}")
    spec.check_options(())
    return _named(GtpPlayer(gnugo_command(int(level))), spec.text)


def _named(player: Player, name: str) -> Player:
    """Name an engine player by its spec, so game records tell ``gnugo:1`` from ``gnugo:10``."""
    player.name = name
    return player


def _simple(cls: type[Player]) -> Factory:
    def factory(spec: PlayerSpec, deterministic: bool) -> Player:
        if spec.arg or spec.options:
            raise UserError(f"player {spec.name!r} takes no arguments, got {spec.text!r}")
        return cls()

    return factory


register_player("random", _simple(RandomPlayer), "random")
register_player("heuristic", _simple(HeuristicPlayer), "heuristic")
register_player("self", _simple(SelfPlayPool), "self")
register_player("gnugo", _gnugo, "gnugo[:LEVEL]")
register_player("mcts", mcts_player, "mcts[:sims=N][:time=S][:resign=R]")
register_player("openspiel-mcts", openspiel_mcts_player, "openspiel-mcts[:sims=N][:time=S]")
register_player("gtp", lambda spec, det: _named(GtpPlayer(split_command(spec.arg)), spec.text), "gtp:<command line>",
                raw_arg=True)
