"""From a :class:`TrainConfig` to an SB3 algorithm: the class, its constructor kwargs and schedules."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch.nn as nn

from rllab.core.config import did_you_mean, unknown_name
from rllab.core.errors import UserError, choices_hint
from rllab.core.imports import import_object
from rllab.core.runs import CONFIG_FILE, RunDir
from rllab.core.train_config import ALGOS, TrainConfig

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
               "silu": nn.SiLU}
MODEL_FILE = "model.zip"
#: Constructor arguments the trainer sets itself; a preset cannot.
RESERVED_KWARGS = frozenset({"self", "policy", "env", "seed", "device", "verbose", "policy_kwargs",
                             "tensorboard_log", "_init_setup_model"})


def algo_class(name: str) -> type:
    """A name from :data:`ALGOS` or any ``module:Class``."""
    if name in ALGOS:
        return import_object(ALGOS[name])
    if ":" in name:
        return import_object(name)
    raise unknown_name("algo", name, ALGOS)


def uses_masks(algo_cls: type) -> bool:
    """Whether ``predict`` takes ``action_masks`` (sb3-contrib's maskable algorithms and our masked DQN)."""
    return "action_masks" in inspect.signature(algo_cls.predict).parameters


class LinearSchedule:
    """``lin_X``: X at the start of training, falling linearly to 0 (rl-zoo's convention)."""

    def __init__(self, start: float):
        self.start = start

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.start

    def __repr__(self) -> str:
        return f"lin_{self.start:g}"


def parse_schedule(key: str, value: Any) -> Any:
    """``"lin_0.001"`` -> :class:`LinearSchedule`; anything else as is."""
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            return LinearSchedule(float(value[4:]))
        except ValueError:
            raise UserError(f"hyperparameter {key}: bad linear schedule {value!r} (use lin_<float>)") from None
    return value


def model_kwargs(config: TrainConfig, algo_cls: type) -> dict[str, Any]:
    """SB3 constructor kwargs from the config, checked against the algorithm's signature."""
    valid = set(inspect.signature(algo_cls.__init__).parameters) - RESERVED_KWARGS
    kwargs: dict[str, Any] = {}
    for key, value in config.hyperparams.items():
        if key not in valid:
            raise UserError(f"unknown hyperparameter {key!r} for {algo_cls.__name__}{did_you_mean(key, valid)}; "
                            f"{choices_hint(valid)}")
        kwargs[key] = parse_schedule(key, value)
    policy_kwargs = dict(config.policy_kwargs)
    for key, value in policy_kwargs.items():  # e.g. features_extractor_class: "package.module:SmallBoardCNN"
        if key.endswith("_class") and isinstance(value, str) and ":" in value:
            policy_kwargs[key] = import_object(value)
    if isinstance(policy_kwargs.get("activation_fn"), str):
        name = policy_kwargs["activation_fn"].lower()
        if name not in ACTIVATIONS:
            raise unknown_name("activation_fn", name, ACTIVATIONS)
        policy_kwargs["activation_fn"] = ACTIVATIONS[name]
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def build_model(config: TrainConfig, env: Any, device: str) -> Any:
    """A fresh model for ``config`` on ``env``."""
    algo_cls = algo_class(config.algo)
    return algo_cls(config.policy, env, seed=config.seed, device=device, verbose=0, **model_kwargs(config, algo_cls))


def load_model(algo_cls: type, path: Any, env: Any = None, device: str = "cpu") -> Any:
    """SB3's loader (a zip of state dicts; no pickled code for the weights), with a clear error if corrupt."""
    try:
        return algo_cls.load(str(path), env=env, device=device)
    except Exception as exc:  # zipfile, torch and pickle raise many types for a damaged file
        raise UserError(f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None



def run_config(run: RunDir) -> TrainConfig:
    """The config a run directory was trained with."""
    return TrainConfig.from_dict(run.config, source=str(run.path / CONFIG_FILE))


def run_model_path(run: RunDir) -> Path:
    """The run's final model, or its newest checkpoint if it has not finished."""
    path = run.path / MODEL_FILE
    if not path.exists():
        latest = run.latest_checkpoint(".zip")
        if latest is None:
            raise UserError(f"{run.path} has no model yet (no {MODEL_FILE} and no checkpoint)")
        path = latest.path
    return path


def load_run_model(run: RunDir, device: str = "cpu") -> tuple[TrainConfig, Any]:
    """The run's config and its final model (or newest checkpoint)."""
    config = run_config(run)
    return config, load_model(algo_class(config.algo), run_model_path(run), None, device)
