"""Training configuration: YAML presets -> a typed :class:`TrainConfig`, with ``--set`` overrides.

A preset is one YAML file in ``rllab/presets/`` (its name is the file stem) or any path a user gives. Every
field is checked when the config is built, and a bad one is reported by name with the valid choices, before a
run directory is created.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rllab.errors import UserError, choices_hint

ALGO_NAMES = ("ppo", "dqn", "a2c", "maskable_ppo")


class YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-4`` as a float (YAML 1.1 wants ``1.0e-4``)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction), with scientific-notation floats."""
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader
VEC_ENVS = ("dummy", "subproc")


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
        data = copy.deepcopy(data)
        data.pop("default", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{source}: unknown field {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
                            f"{choices_hint(known)}")
        for name in ("env", "algo"):
            if not data.get(name):
                raise UserError(f"{source}: missing required field {name!r}")
        data["eval"] = _sub_config(EvalConfig, data.get("eval") or {}, f"{source}: eval")
        data["checkpoint"] = _sub_config(CheckpointConfig, data.get("checkpoint") or {}, f"{source}: checkpoint")
        config = cls(**data)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        """Type- and range-check every field, naming the bad one."""
        _check_type(source, "env", self.env, str)
        _check_type(source, "algo", self.algo, str)
        if self.algo not in ALGO_NAMES and ":" not in self.algo:
            raise UserError(f"{source}: unknown algo {self.algo!r}; {choices_hint(ALGO_NAMES)} "
                            "(or 'module:Class')")
        for name in ("steps", "seed", "n_envs"):
            value = getattr(self, name)
            _check_type(source, name, value, int)
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


def _sub_config(cls: type, data: Any, source: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"{source} must be a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"{source}: unknown field {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
                        f"{choices_hint(known)}")
    return cls(**data)


def _check_type(source: str, name: str, value: Any, expected: type) -> None:
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise UserError(f"{source}: field {name!r} must be {expected.__name__}, got {value!r}")


def did_you_mean(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- presets -----------------------------------------------------------------------------------------------------

def preset_dir() -> Path:
    return Path(str(resources.files("rllab") / "presets"))


def read_yaml(path: Path) -> Any:
    """``yaml.safe_load`` a file with one-line errors for a missing or malformed file."""
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        return safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None


def list_presets() -> dict[str, dict[str, Any]]:
    """All shipped training presets by name (experiment specs and sub-folders are not training presets)."""
    presets = {}
    for path in sorted(preset_dir().glob("*.yaml")):
        data = read_yaml(path)
        if isinstance(data, dict):
            presets[path.stem] = data
    return presets


def load_preset(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """Resolve a preset name or a YAML path to ``(name, mapping)``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        data = read_yaml(path)
        name = path.stem
    else:
        presets = list_presets()
        if name_or_path not in presets:
            raise UserError(f"unknown preset {name_or_path!r}{did_you_mean(name_or_path, set(presets))}; "
                            f"{choices_hint(presets)}")
        name, data = name_or_path, presets[name_or_path]
    if not isinstance(data, dict):
        raise UserError(f"preset {name_or_path}: expected a mapping of fields, got {type(data).__name__}")
    return name, data


def default_preset(env_id: str, algo: str) -> tuple[str, dict[str, Any]] | None:
    """The shipped preset marked ``default: true`` for this env and algo, if any."""
    for name, data in list_presets().items():
        if data.get("env") == env_id and data.get("algo") == algo and data.get("default"):
            return name, data
    return None


# -- overrides ---------------------------------------------------------------------------------------------------

def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["a=1", "env_kwargs.size=7"]`` -> ``{"a": 1, "env_kwargs.size": 7}``; values are YAML scalars/lists."""
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise UserError(f"--set {key}: cannot parse value {raw!r}") from None
    return overrides


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply dotted overrides to a preset mapping.

    A top-level config field (``steps``, ``n_envs``...) or a dotted path into a mapping field
    (``env_kwargs.size``, ``eval.episodes``, ``policy_kwargs.net_arch``) is set directly; any other key is an SB3
    hyperparameter, so ``learning_rate=0.0001`` works as in the experiment specs.
    """
    data = copy.deepcopy(data)
    top_level = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head in top_level and not rest:
            data[head] = value
        elif head in top_level and rest:
            node = data.setdefault(head, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {key}: {head!r} is not a mapping")
            parts = rest.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        else:
            data.setdefault("hyperparams", {})[key] = value
    return data


def build_config(env_id: str | None, algo: str | None, preset: str | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config ``rllab train`` runs: preset (given, or the default for env x algo) + overrides."""
    if preset:
        name, data = load_preset(preset)
        data = dict(data)
        if env_id and data.get("env") and data["env"] != env_id:
            raise UserError(f"preset {name!r} is for env {data['env']!r}, not {env_id!r}")
        if algo and data.get("algo") and data["algo"] != algo:
            raise UserError(f"preset {name!r} is for algo {data['algo']!r}, not {algo!r}")
    else:
        if not env_id or not algo:
            raise UserError("give an env id and --algo, or --preset")
        found = default_preset(env_id, algo)
        name, data = found if found else (None, {})
    data.setdefault("env", env_id)
    data.setdefault("algo", algo)
    data["preset"] = name
    data = apply_overrides(data, overrides or {})
    return TrainConfig.from_dict(data, source=f"preset {name}" if name else "config")
