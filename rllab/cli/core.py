"""Core commands: envs, presets, train, evaluate, experiment, report, bench train-overhead."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import typer
from rich.markup import escape

import rllab.envs
from rllab.agents.sb3.env_factory import env_arguments
from rllab.cli.console import console
from rllab.cli.options import int_list
from rllab.core.config import EXPERIMENT_SPECS, TRAIN_PRESETS, parse_overrides
from rllab.lab import api
from rllab.lab.bench.train_overhead import measure_overhead
from rllab.lab.report import write_report


def list_envs(
    kwargs: str | None = typer.Option(None, "--kwargs", help="List this env's keyword arguments and defaults."),
) -> None:
    """List the registered environment ids (ours first), one line each; or one env's arguments."""
    if kwargs is not None:
        for name, param in env_arguments(kwargs).items():
            default = "(required)" if param.default is param.empty else f"= {param.default!r}"
            console.print(f"{name} {default}", markup=False)
        return
    for env_id in rllab.envs.REGISTERED_IDS:
        console.print(f"[bold]{env_id}[/]  {gym.spec(env_id).entry_point}")
    others = sorted(k for k in gym.registry if not k.startswith("rllab/"))
    console.print(f"[dim]+ {len(others)} other Gymnasium ids (e.g. CartPole-v1); any of them can be trained[/]")


def list_presets(
    show: str | None = typer.Option(None, "--show", help="Print one preset or experiment spec in full (YAML)."),
) -> None:
    """List the shipped training presets (name, env, algo, budget) and experiment specs."""
    if show is not None:
        kind = EXPERIMENT_SPECS if show in EXPERIMENT_SPECS.names() else TRAIN_PRESETS
        console.print(kind.file(kind.load(show)[0]).read_text(), markup=False)
        return
    for name, data in TRAIN_PRESETS.all().items():
        steps = data.get("steps")
        budget = f"{steps:,} steps" if isinstance(steps, int) else "-"
        default = " [green](default)[/]" if data.get("default") else ""
        console.print(f"[bold]{name}[/]{default}  {data.get('env')} · {data.get('algo')} · {budget}")
        if data.get("description"):
            console.print(f"    [dim]{escape(str(data['description']))}[/]")
    console.print("\n[bold]experiment specs[/] (run with `rllab experiment NAME`):")
    for name, data in EXPERIMENT_SPECS.all().items():
        console.print(f"[bold]{name}[/]  {escape(str(data.get('description', '')))}")


def train(
    env_id: str | None = typer.Argument(None, help="Gymnasium id, e.g. CartPole-v1 or rllab/GoLite-v0."),
    algo: str | None = typer.Option(None, "--algo", help="ppo | dqn | a2c | maskable_ppo | maskable_dqn | "
                                       "module:Class."),
    preset: str | None = typer.Option(None, "--preset", help="Preset name (see `rllab presets`) or YAML path."),
    steps: int | None = typer.Option(None, "--steps", help="Total timesteps (overrides the preset; with --resume, "
                                        "train a finished run on to this many)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the model, envs and torch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default runs/<env>/<algo>/<time>-s<seed>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a field: key=value (repeatable)."),
    n_envs: int | None = typer.Option(None, "--n-envs", help="Parallel training envs (same as --set n_envs=N)."),
    eval_freq: int | None = typer.Option(None, "--eval-freq", help="Evaluate every N steps (0 = never)."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also log to RUN/tensorboard/."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue a run from its last checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train an agent; the run directory records config, versions, seed, logs and checkpoints."""
    if resume is not None:
        console.print(f"resuming {resume}")
    extra = parse_overrides(overrides)
    flags = {"n_envs": n_envs, "eval.freq": eval_freq, "tensorboard": tensorboard or None}
    extra.update({key: value for key, value in flags.items() if value is not None})
    result = api.train(env_id, algo, preset=preset, steps=steps, seed=seed, device=device, out=out,
                       overrides=extra, resume=resume, progress=progress)
    status = result.status
    console.print(f"[green]done[/]: {status.get('steps'):,} steps in {status.get('train_seconds')} s "
                  f"({status.get('steps_per_second')} steps/s on {status.get('device', '?')}); "
                  f"model: {result.model_path}")


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory, a shipped model's name, or an SB3 .zip (final, "
                                             "best_model or a checkpoint)."),
    episodes: int = typer.Option(10, "--episodes", "-n", "--n", help="Number of episodes."),
    deterministic: bool = typer.Option(True, "--deterministic/--stochastic", help="Greedy or sampled actions."),
    video: Path | None = typer.Option(None, "--video", help="Record the first episode (.gif or .mp4)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the first evaluation episode."),
    out: Path | None = typer.Option(None, "--out", help="Directory for the results (default: the run directory; "
                                                        "RUN/evaluations/<zip>-<settings> for another zip or "
                                                        "--set; evaluations/NAME for a shipped model or a bare "
                                                        "zip)."),
    overrides: list[str] = typer.Option([], "--set", help="Change the env side: env_kwargs.K=V, "
                                        "eval.info_keywords=[...], wrappers=[...] (repeatable)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    env_id: str | None = typer.Option(None, "--env", help="For a .zip outside a run directory: its env id."),
    algo: str | None = typer.Option(None, "--algo", help="For a .zip outside a run directory: its algorithm."),
    preset: str | None = typer.Option(None, "--preset", help="For a .zip outside a run directory: the preset it "
                                                              "was trained with (env, algo, env kwargs)."),
) -> None:
    """Evaluate a trained model: per-episode returns, lengths and task metrics as JSON + CSV."""
    result = api.evaluate(run_dir, episodes, deterministic=deterministic, video=video, seed=seed, out=out,
                          overrides=parse_overrides(overrides), device=device, env=env_id, algo=algo, preset=preset)
    for key, value in result.metrics.items():
        console.print(f"{key:>20}: {value:.4g}")
    console.print(f"wrote {result.out_dir / 'evaluation.json'} and {result.out_dir / 'evaluation.csv'}"
                  + (f" and {video}" if video else ""), markup=False)


def experiment(
    spec: str = typer.Argument(..., help="A shipped spec name (see `rllab presets`) or a spec YAML path."),
    out: Path | None = typer.Option(None, "--out", help="Experiment directory (default experiments/<name>)."),
    workers: int = typer.Option(2, "--workers", "-k", help="Parallel runs (local processes or Ray tasks)."),
    backend: str = typer.Option("local", "--backend", help="local | ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Existing Ray cluster (default: local)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a field of every run: key=value."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma list replacing the spec's seeds, e.g. 0,1."),
    variants: str | None = typer.Option(None, "--variants", help="Comma list: run only these variants."),
    report_after: bool = typer.Option(True, "--report/--no-report", help="Write the report when done."),
) -> None:
    """Run every variant x seed of a spec; re-running skips finished runs and resumes unfinished ones."""
    seed_list = int_list(seeds, "--seeds") if seeds else None
    result = api.run_experiment(spec, out, workers=workers, backend=backend, ray_address=ray_address,
                                overrides=parse_overrides(overrides), seeds=seed_list, report=report_after,
                                variants=[v.strip() for v in variants.split(",") if v.strip()] if variants else None)
    console.print(f"{len(result.runs) - len(result.failed)}/{len(result.runs)} runs finished in {result.root}")
    for item in result.failed:
        console.print(f"[red]failed[/] {item['run']}: {escape(str(item.get('error')))}")
    if result.report_files:
        console.print("report: " + ", ".join(str(p) for p in result.report_files))
    if result.failed:
        raise typer.Exit(1)


def report(
    experiment_dir: Path = typer.Argument(..., help="A directory written by `rllab experiment`."),
    metric: str | None = typer.Option(None, "--metric", help="Rank by this metric (default: the spec's)."),
) -> None:
    """Aggregate an experiment: IQM with 95% stratified bootstrap CIs, curves PNG, markdown + CSV tables."""
    paths = write_report(experiment_dir, metric=metric)
    console.print((experiment_dir / "report.md").read_text(), markup=False)
    console.print("wrote " + ", ".join(str(p) for p in paths))


def bench_train_overhead(
    steps: int = typer.Option(20_000, "--steps", help="Timesteps per measured run."),
    repeats: int = typer.Option(3, "--repeats", help="Alternating repeats of each setup."),
) -> None:
    """Steps/s of `rllab train` machinery vs a bare SB3 PPO learn() on CartPole, same hyperparameters."""
    result = measure_overhead(steps=steps, repeats=repeats, echo=console.print)
    console.print(f"bare SB3: {result['bare_sps']:,.0f} | rllab train: {result['rllab_sps']:,.0f} steps per CPU-s "
                  f"| overhead {result['overhead_pct']:+.1f}%")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("envs")(list_envs)
    app.command("presets")(list_presets)
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("experiment")(experiment)
    app.command("report")(report)
    bench.command("train-overhead")(bench_train_overhead)
