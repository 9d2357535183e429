"""The lab for scripts and notebooks: each function is what the matching ``rllab`` command calls.

>>> import rllab
>>> result = rllab.train("CartPole-v1", algo="ppo", steps=20_000, seed=0)
>>> rllab.evaluate(result.run_dir, episodes=20).metrics["return_mean"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rllab.agents import sb3
from rllab.core.device import resolve_device
from rllab.core.errors import Interrupted, UserError
from rllab.core.runs import RunDir, default_run_path
from rllab.core.shipped import resolve_model_path, shipped_names
from rllab.core.train_config import TrainConfig, build_config
from rllab.lab.compose import ComposeResult, compose
from rllab.lab.experiment import load_spec
from rllab.lab.experiment import run_experiment as _run_experiment
from rllab.lab.report import write_report
from rllab.lab.tune import StudyResult, TuneConfig, run_study
from rllab.lab.tutor import TutorConfig, TutorResult, run_tutor

__all__ = ["ComposeResult", "EvaluationResult", "ExperimentResult", "StudyResult", "TrainResult", "TutorResult",
           "compose", "evaluate", "run_experiment", "train", "tune", "tutor"]


@dataclass
class TrainResult:
    """A finished (or resumed) training run."""

    run_dir: Path
    config: TrainConfig
    status: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.run_dir / sb3.MODEL_FILE


@dataclass
class EvaluationResult:
    """Per-episode records and their means (``return_mean``, and every info keyword's ``<name>_mean``)."""

    run_dir: Path
    metrics: dict[str, float]
    episodes: list[dict[str, float]]
    out_dir: Path | None = None  # where evaluation.json / .csv went (the run directory unless --out)


@dataclass
class ExperimentResult:
    """One record per run (variant, seed, state, error) and the report files."""

    root: Path
    runs: list[dict[str, Any]]
    report_files: list[Path]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["state"] != "finished"]


def train(env: str | None = None, algo: str | None = None, *, preset: str | None = None, steps: int | None = None,
          seed: int = 0, device: str = "auto", out: str | Path | None = None, overrides: dict[str, Any] | None = None,
          resume: str | Path | None = None, progress: bool = True) -> TrainResult:
    """Train an SB3 agent into a run directory (``rllab train``); ``resume`` continues a run instead.

    ``overrides`` are ``--set`` keys: top-level fields (``n_envs``), dotted paths (``env_kwargs.size``) or SB3
    hyperparameters (``learning_rate``). With ``resume`` and ``steps``, a finished run trains on to ``steps``.
    """
    if resume is not None:
        run = RunDir.open(resume)
        try:
            sb3.resume(run, progress=progress, steps=steps)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; checkpoint saved in {run.path}; continue with "
                              f"`rllab train --resume {run.path}`") from None
        return TrainResult(run.path, sb3.algos.run_config(run), run.status)
    extra = dict(overrides or {})
    if steps is not None:
        extra["steps"] = steps
    extra.update(seed=seed, device=device)
    config = build_config(env, algo, preset, extra)
    sb3.validate(config)
    path = Path(out) if out is not None else default_run_path("runs", config.env, config.algo, seed=config.seed)
    run = RunDir.create(path, config.to_dict(), seed=config.seed)
    try:
        sb3.train(config, run, progress=progress)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; checkpoint saved in {run.path}; continue with "
                          f"`rllab train --resume {run.path}`") from None
    return TrainResult(run.path, config, run.status)


def evaluate(run_dir: str | Path, episodes: int = 10, *, deterministic: bool = True, video: str | Path | None = None,
             seed: int | None = None, out: str | Path | None = None, overrides: dict[str, Any] | None = None,
             device: str = "auto", env: str | None = None, algo: str | None = None, preset: str | None = None
             ) -> EvaluationResult:
    """Evaluate a model on its task metrics (``rllab evaluate``); writes ``evaluation.json`` / ``.csv``.

    ``run_dir`` is a run directory, a shipped model's name (results go to ``out``, default ``evaluations/<name>``:
    package data is read-only) or an SB3 ``.zip``: inside a run it is evaluated on that run's env, elsewhere
    ``env`` + ``algo`` or ``preset`` say what it was trained on. ``overrides`` change the env side
    (``{"env_kwargs.opponent": "gnugo:1"}``).
    """
    if not Path(run_dir).exists() and str(run_dir) not in shipped_names():
        raise UserError(f"{run_dir} not found: it is neither a run directory nor a shipped model; "
                        f"shipped models: {', '.join(shipped_names()) or 'none'}; or give an SB3 .zip's path")
    path = resolve_model_path(run_dir)
    target = sb3.resolve_target(path, env=env, algo=algo, preset=preset, overrides=overrides)
    out_dir = Path(out) if out is not None else target.out
    summary = sb3.evaluate_target(target, episodes, deterministic, Path(video) if video else None, seed,
                                  out=out_dir, device=resolve_device(device))
    metrics = {k: v for k, v in summary.items()
               if k.endswith(("_mean", "_rate")) or k in ("return_std", "episodes")}
    return EvaluationResult(path, metrics, summary["episodes_detail"], out_dir)


def run_experiment(spec: str | Path, out: str | Path | None = None, *, workers: int = 2, backend: str = "local",
                   ray_address: str | None = None, overrides: dict[str, Any] | None = None,
                   seeds: Sequence[int] | None = None, variants: Sequence[str] | None = None, report: bool = True,
                   progress: bool = True) -> ExperimentResult:
    """Run every variant x seed of a spec (a shipped name or a YAML path) and write its report.

    ``overrides``, ``seeds`` and ``variants`` shrink a shipped spec, e.g. to try it on a small budget.
    """
    spec_obj = load_spec(spec, overrides, list(seeds) if seeds is not None else None,
                         list(variants) if variants is not None else None)
    root = Path(out) if out is not None else Path("experiments") / spec_obj.name
    runs = _run_experiment(spec_obj, root, workers=workers, backend=backend, ray_address=ray_address,
                           progress=progress)
    finished = [r for r in runs if r["state"] == "finished"]
    files = write_report(root) if report and finished else []
    return ExperimentResult(root, runs, files)


def tune(env: str | None = None, algo: str | None = None, *, preset: str | None = None, trials: int = 20,
         study: str | Path | None = None, workers: int = 1, steps: int | None = None, seed: int = 0,
         overrides: dict[str, Any] | None = None, space: str | Path | None = None, sampler: str = "tpe",
         pruner: str = "median", objective: str = "last", startup_trials: int = 5, progress: bool = True
         ) -> StudyResult:
    """Hyperparameter search on Optuna (``rllab tune``): ``trials`` runs of ``steps`` each under ``study``
    (default ``studies/<env>-<algo>``); rerunning continues the study. Needs the ``[tune]`` extra."""
    return run_study(TuneConfig(env=env, algo=algo, preset=preset, trials=trials,
                                study=Path(study) if study is not None else None, workers=workers, steps=steps,
                                seed=seed, overrides=dict(overrides or {}), space=str(space) if space else None,
                                sampler=sampler, pruner=pruner, objective=objective, startup_trials=startup_trials,
                                progress=progress))


def tutor(out: str | Path = "runs/tutor", *, preset: str = "fast", methods: Sequence[str] | str = ("q", "psi", "g"),
          device: str = "auto", note_rnn: str | Path | None = None, steps: int | None = None, c: float | None = None,
          compositions: int | None = None, samples: int | None = None, seed: int = 0,
          workers: int | None = None) -> TutorResult:
    """The Sequence Tutor end to end (``rllab tutor``): prior, tuning (``workers`` processes on a CPU; default one per
    method on 2+ cores), report with Table-1 statistics."""
    config = TutorConfig(out=Path(out), preset=preset, methods=methods if isinstance(methods, str) else tuple(methods),
                         device=device, note_rnn=Path(note_rnn) if note_rnn else None, steps=steps, c=c,
                         compositions=compositions, samples=samples, seed=seed, workers=workers)
    return run_tutor(config)
