"""``rllab tune``: hyperparameter search on Optuna (the ``[tune]`` extra)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rllab.cli.console import console
from rllab.core.config import parse_overrides
from rllab.lab import api


def tune(
    env_id: str | None = typer.Argument(None, help="Gymnasium id, e.g. CartPole-v1."),
    algo: str | None = typer.Option(None, "--algo", help="ppo | maskable_ppo | a2c | dqn | maskable_dqn | "
                                       "module:Class (with --space)."),
    preset: str | None = typer.Option(None, "--preset", help="Training preset the trials start from (default: "
                                         "the env x algo default)."),
    trials: int = typer.Option(20, "--trials", "-n", help="Trials the study should hold (finished or pruned); "
                                   "rerun with more to extend it."),
    study: Path | None = typer.Option(None, "--study", help="Study directory (default studies/<env>-<algo>); "
                                         "rerunning the command continues it."),
    workers: int = typer.Option(1, "--workers", "-k", help="Trials run in parallel processes on one database."),
    steps: int | None = typer.Option(None, "--steps", help="Timesteps per trial (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every trial's training and of the sampler."),
    overrides: list[str] = typer.Option([], "--set", help="Override a field of every trial: key=value."),
    space: str | None = typer.Option(None, "--space", help="Search-space YAML whose entries replace the "
                                        "algorithm's (name: null drops one)."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe | random."),
    pruner: str = typer.Option("median", "--pruner", help="median | halving | none."),
    objective: str = typer.Option("last", "--objective", help="last (final evaluation return, as rl-zoo) | auc "
                                      "(mean over all evaluations: rewards learning fast)."),
    startup_trials: int = typer.Option(5, "--startup-trials", help="Random trials before TPE, and trials before "
                                           "the pruner acts."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Search hyperparameters with Optuna (TPE + pruning on the periodic evaluations); writes the best preset."""
    result = api.tune(env_id, algo, preset=preset, trials=trials, study=study, workers=workers, steps=steps,
                      seed=seed, overrides=parse_overrides(overrides), space=space, sampler=sampler, pruner=pruner,
                      objective=objective, startup_trials=startup_trials, progress=progress)
    if result.stale_failed:
        console.print(f"[yellow]{result.stale_failed} trial(s) left running by a killed study marked failed[/]")
    console.print(f"{len(result.trials)} trials: {result.count('complete')} complete, {result.count('pruned')} "
                  f"pruned, {result.count('fail')} failed")
    if result.best is not None:
        best = result.best
        console.print(f"[green]best[/]: trial {best['number']}, value {best['value']:.2f} ({best['run_dir']})")
        for name, value in best["params"].items():
            console.print(f"  {name} = {escape(repr(value))}")
    for name, share in result.importance.items():
        console.print(f"  importance {name:>28}: {share:.3f}")
    console.print("wrote " + ", ".join(str(p) for p in result.files))
    if result.best is None:
        raise typer.Exit(1)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("tune")(tune)
