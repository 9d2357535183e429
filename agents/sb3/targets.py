"""What ``rllab evaluate`` accepts: a run directory, a shipped model, or an SB3 ``.zip`` (final, best or checkpoint).

A ``.zip`` carries weights but not the env it was trained on, so its config comes from the run directory it lies
in (``RUN/model.zip``, ``RUN/best_model.zip``, ``RUN/checkpoints/ckpt_N.zip``), or from ``--env``/``--algo`` or
``--preset`` for a zip from elsewhere (an rl-zoo download, a copied file; given for a run's zip, they win).
``--set`` then changes the env side only (``env_kwargs.opponent=gnugo:1``, ``eval.info_keywords=[...]``): the
weights fix everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rllab.agents.sb3.algos import MODEL_FILE, run_config
from rllab.core.config import did_you_mean
from rllab.core.errors import UserError
from rllab.core.runs import CONFIG_FILE, RunDir
from rllab.core.shipped import is_shipped
from rllab.core.train_config import TrainConfig, apply_overrides, build_config

#: Config fields an evaluation may override: what the env is and how an episode is scored.
EVAL_FIELDS = ("env_kwargs", "wrappers", "eval")


@dataclass(frozen=True)
class EvalTarget:
    """A model to evaluate: its config, the file with its weights, its run (if any) and the default output."""

    config: TrainConfig
    model: Path | None          # None: the run's final model, or its newest checkpoint
    run: RunDir | None
    out: Path


def run_of_zip(path: Path) -> Path | None:
    """The run directory holding ``path`` (the zip's folder, or the one above ``checkpoints/``), if any."""
    for folder in (path.parent, path.parent.parent):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def with_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """The config with env-side overrides; a hyperparameter or a typo is refused (it would change nothing)."""
    for key in overrides:
        head = key.partition(".")[0]
        if head not in EVAL_FIELDS:
            raise UserError(f"evaluate --set {key}: only {', '.join(EVAL_FIELDS)} can change at evaluation "
                            f"(the weights fix the rest){did_you_mean(head, EVAL_FIELDS)}")
    if not overrides:
        return config
    return TrainConfig.from_dict(apply_overrides(config.to_dict(), overrides), source="evaluate --set")


def explicit_config(env: str | None, algo: str | None, preset: str | None) -> TrainConfig | None:
    """The config named by ``--env``/``--algo``/``--preset``, or None when none was given."""
    if not (env or algo or preset):
        return None
    if not preset and not (env and algo):
        raise UserError("to evaluate a bare .zip give --env and --algo (or --preset)")
    return build_config(env, algo, preset)


def default_out(path: Path, run: RunDir | None, overrides: dict[str, Any]) -> Path:
    """Where results go unless ``--out`` says: a run's own folder for its final model as trained; next to the run
    (``RUN/evaluations/<zip>-<overrides>``) for another zip or other env settings, so an experiment's
    ``evaluation.json`` is never replaced by a different evaluation; ``evaluations/<name>`` for read-only
    shipped models and zips from elsewhere."""
    zip_name = path.stem if path.suffix == ".zip" and not (run and path == run.path / MODEL_FILE) else None
    setting = re.sub(r"[^\w.=+-]+", "_", "+".join(f"{k}={v}" for k, v in overrides.items()))[:100]
    if run is None or is_shipped(run.path):
        name = zip_name or run.path.name          # without a run, ``path`` is a zip
        return Path("evaluations") / "-".join(part for part in (name, setting) if part)
    parts = [part for part in (zip_name, setting) if part]
    return run.path / "evaluations" / "-".join(parts) if parts else run.path


def resolve_target(path: Path, *, env: str | None = None, algo: str | None = None, preset: str | None = None,
                   overrides: dict[str, Any] | None = None) -> EvalTarget:
    """From what the user typed to a config and a weights file, or one line saying what is missing."""
    overrides = overrides or {}
    given = explicit_config(env, algo, preset)
    if path.is_dir():
        if given is not None:
            raise UserError(f"{path} is a run directory: its config.yaml says what it was trained on "
                            "(--env/--algo/--preset are for a bare .zip)")
        run = RunDir.open(path)
        return EvalTarget(with_overrides(run_config(run), overrides), None, run, default_out(path, run, overrides))
    if path.suffix != ".zip" or not path.is_file():
        raise UserError(f"{path} is neither a run directory nor an SB3 .zip")
    run_path = run_of_zip(path)
    run = RunDir.open(run_path) if run_path is not None else None
    if given is None and run is None:
        raise UserError(f"{path} is not inside a run directory, so nothing says what it was trained on: "
                        "pass --env ENV --algo ALGO or --preset PRESET")
    config = given if given is not None else run_config(run)
    return EvalTarget(with_overrides(config, overrides), path, run, default_out(path, run, overrides))
