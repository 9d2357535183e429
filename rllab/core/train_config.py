"""The config of an SB3 training run: a preset (or SB3's defaults) + ``--set`` overrides -> :class:`TrainConfig`.

Every field is checked when the config is built, and a bad one is reported by name with the valid choices,
before a run directory is created.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rllab.core.config import TRAIN_PRESETS, from_mapping, set_dotted, unknown_name
from rllab.core.errors import UserError, choices_hint

#: The algorithms a preset can name, and where they live. Any ``module:Class`` works too.
ALGOS: dict[str, str] = {
    "ppo": "stable_baselines3:PPO",
    "worker_ppo": "rllab.agents.sb3.worker_ppo:WorkerPPO",  # PPO; with vec_env: workers the env processes sample
    "dqn": "stable_baselines3:DQN",
    "a2c": "stable_baselines3:A2C",
    "maskable_ppo": "sb3_contrib:MaskablePPO",
    "maskable_dqn": "rllab.agents.go.dqn:MaskableDQN",
}
VEC_ENVS = ("dummy", "subproc", "workers")


@dataclass
class EvalConfig:
    """Periodic evaluation on a separate env; ``info_keywords`` are read from each episode's final ``info``."""

    freq: int = 10_000
    episodes: int = 10
    deterministic: bool = True
    info_keywords: list[str] = field(default_factory=list)


@dataclass
class CheckpointConfig:
    freq: int = 10_000
    keep: int = 3


@dataclass
class TrainConfig:
    """Everything that decides a training run. Saved, resolved, as ``config.yaml`` in the run directory."""

    env: str
    algo: str
    preset: str | None = None
    description: str = ""
    steps: int = 100_000
    seed: int = 0
    device: str = "auto"
    n_envs: int = 1
    vec_env: str = "dummy"
    policy: str = "MlpPolicy"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: list[Any] = field(default_factory=list)
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    callbacks: list[Any] = field(default_factory=list)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    stop_at_reward: float | None = None
    progress_bar: bool = True
    tensorboard: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build and validate a config from a plain mapping (a preset, or a run's saved ``config.yaml``)."""
        data = {k: v for k, v in data.items() if k != "default"}
        for name in ("env", "algo"):
            if not data.get(name):
                raise UserError(f"{source}: missing required field {name!r}")
        config = from_mapping(cls, data, source)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        """Type- and range-check every field, naming the bad one."""
        _check_type(source, "env", self.env, str)
        _check_type(source, "algo", self.algo, str)
        if self.algo not in ALGOS and ":" not in self.algo:
            raise unknown_name("algo", self.algo, ALGOS, source)
        for name in ("steps", "seed", "n_envs"):
            _check_type(source, name, getattr(self, name), int)
        if self.steps <= 0 or self.n_envs <= 0 or self.seed < 0:
            raise UserError(f"{source}: steps and n_envs must be positive and seed non-negative "
                            f"(got steps={self.steps}, n_envs={self.n_envs}, seed={self.seed})")
        if self.vec_env not in VEC_ENVS:
            raise UserError(f"{source}: unknown vec_env {self.vec_env!r}; {choices_hint(VEC_ENVS)}")
        for name in ("env_kwargs", "hyperparams", "policy_kwargs"):
            _check_type(source, name, getattr(self, name), dict)
        for name in ("wrappers", "callbacks"):
            _check_type(source, name, getattr(self, name), list)
        _check_type(source, "eval.freq", self.eval.freq, int)
        _check_type(source, "eval.episodes", self.eval.episodes, int)
        _check_type(source, "eval.info_keywords", self.eval.info_keywords, list)
        _check_type(source, "checkpoint.freq", self.checkpoint.freq, int)
        _check_type(source, "checkpoint.keep", self.checkpoint.keep, int)
        if self.checkpoint.keep < 1:
            raise UserError(f"{source}: checkpoint.keep must be at least 1")
        if self.stop_at_reward is not None and not isinstance(self.stop_at_reward, (int, float)):
            raise UserError(f"{source}: stop_at_reward must be a number, got {self.stop_at_reward!r}")


def _check_type(source: str, name: str, value: Any, expected: type) -> None:
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise UserError(f"{source}: field {name!r} must be {expected.__name__}, got {value!r}")


TRAIN_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply dotted overrides to a preset mapping.

    A top-level config field (``steps``, ``n_envs``...) or a dotted path into a mapping field
    (``env_kwargs.size``, ``eval.episodes``, ``policy_kwargs.net_arch``) is set directly; any other key is an SB3
    hyperparameter, so ``learning_rate=0.0001`` works as in the experiment specs.
    """
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        head = key.partition(".")[0]
        if head in TRAIN_FIELDS:
            set_dotted(data, key, value)
        else:
            data.setdefault("hyperparams", {})[key] = value
    return data


def default_preset(env_id: str, algo: str) -> tuple[str, dict[str, Any]] | None:
    """The shipped preset marked ``default: true`` for this env and algo, if any."""
    for name, data in TRAIN_PRESETS.all().items():
        if data.get("env") == env_id and data.get("algo") == algo and data.get("default"):
            return name, data
    return None


def build_config(env_id: str | None, algo: str | None, preset: str | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config ``rllab train`` runs: preset (given, or the default for env x algo) + overrides."""
    if preset:
        name, data = TRAIN_PRESETS.load(preset)
        if env_id and data.get("env") and data["env"] != env_id:
            raise UserError(f"preset {name!r} is for env {data['env']!r}, not {env_id!r}")
        if algo and data.get("algo") and data["algo"] != algo:
            raise UserError(f"preset {name!r} is for algo {data['algo']!r}, not {algo!r}")
    else:
        if not env_id or not algo:
            raise UserError("give an env id and --algo, or --preset")
        found = default_preset(env_id, algo)
        name, data = found if found else (None, {})
    data = dict(data)
    data.setdefault("env", env_id)
    data.setdefault("algo", algo)
    data["preset"] = name
    data = apply_overrides(data, overrides or {})
    return TrainConfig.from_dict(data, source=f"preset {name}" if name else "config")
