"""Core commands: envs, presets, train, evaluate, experiment, report, bench train-overhead."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()


def list_envs() -> None:
    """List the registered environment ids (ours first), one line each."""
    import gymnasium as gym

    import envs

    for env_id in envs.REGISTERED_IDS:
        spec = gym.spec(env_id)
        console.print(f"[bold]{env_id}[/]  {spec.entry_point}")
    others = sorted(k for k in gym.registry if not k.startswith("rllab/"))
    console.print(f"[dim]+ {len(others)} other Gymnasium ids (e.g. CartPole-v1); any of them can be trained[/]")


def list_presets() -> None:
    """List the shipped training presets (name, env, algo, budget) and experiment specs."""
    from rllab.config import list_presets as presets, preset_dir

    for name, data in presets().items():
        steps = data.get("steps")
        budget = f"{steps:,} steps" if isinstance(steps, int) else "-"
        default = " [green](default)[/]" if data.get("default") else ""
        console.print(f"[bold]{name}[/]{default}  {data.get('env')} · {data.get('algo')} · {budget}", highlight=False)
        if data.get("description"):
            console.print(f"    [dim]{data['description']}[/]", highlight=False)
    specs = sorted((preset_dir() / "experiments").glob("*.yaml"))
    if specs:
        console.print("\n[bold]experiment specs[/] (run with `rllab experiment PATH`):")
        for spec in specs:
            console.print(f"  {spec}", highlight=False)


def train(
    env_id: Optional[str] = typer.Argument(None, help="Gymnasium id, e.g. CartPole-v1 or rllab/GoLite-v0."),
    algo: Optional[str] = typer.Option(None, "--algo", help="ppo | dqn | a2c | maskable_ppo | module:Class."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset name (see `rllab presets`) or YAML path."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Total timesteps (overrides the preset)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the model, envs and torch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/<env>/<algo>/<time>-s<seed>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a field: key=value (repeatable)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue a killed run from its last checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train an agent; the run directory records config, versions, seed, logs and checkpoints."""
    from agents import sb3
    from rllab.config import build_config, parse_overrides
    from rllab.runs import RunDir, default_run_path

    if resume is not None:
        run = RunDir.open(resume)
        latest = run.latest_checkpoint(".zip")
        console.print(f"resuming {run.path} from step {latest.step if latest else 0}")
        sb3.resume(run, progress=progress)
    else:
        extra = parse_overrides(overrides)
        if steps is not None:
            extra["steps"] = steps
        extra["seed"] = seed
        extra["device"] = device
        config = build_config(env_id, algo, preset, extra)
        sb3.validate(config)
        path = out or default_run_path("runs", config.env, config.algo, seed=config.seed)
        run = RunDir.create(path, config.to_dict(), seed=config.seed)
        console.print(f"run directory: {run.path}")
        sb3.train(config, run, progress=progress)
    status = run.status
    console.print(f"[green]done[/]: {status.get('steps'):,} steps in {status.get('train_seconds')} s "
                  f"({status.get('steps_per_second')} steps/s); model: {run.path / sb3.MODEL_FILE}")


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `rllab train`."),
    episodes: int = typer.Option(10, "--episodes", "-n", help="Number of episodes."),
    deterministic: bool = typer.Option(True, "--deterministic/--stochastic", help="Greedy or sampled actions."),
    video: Optional[Path] = typer.Option(None, "--video", help="Record the first episode (.gif or .mp4)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the first evaluation episode."),
) -> None:
    """Evaluate a trained run: per-episode returns, lengths and task metrics as JSON + CSV."""
    from agents import sb3
    from rllab.runs import RunDir

    summary = sb3.evaluate_run(RunDir.open(run_dir), episodes, deterministic, video, seed)
    shown = {k: v for k, v in summary.items() if k.endswith("_mean") or k == "return_std"}
    for key, value in shown.items():
        console.print(f"{key:>20}: {value:.4g}")
    console.print(f"wrote {run_dir / 'evaluation.json'} and {run_dir / 'evaluation.csv'}"
                  + (f" and {video}" if video else ""))


def experiment(
    spec: Path = typer.Argument(..., help="Experiment spec YAML (base env/algo/preset, variants, seeds)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Experiment directory (default experiments/<name>)."),
    workers: int = typer.Option(2, "--workers", "-k", help="Parallel runs (local processes or Ray tasks)."),
    backend: str = typer.Option("local", "--backend", help="local | ray."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Existing Ray cluster (default: local)."),
    report_after: bool = typer.Option(True, "--report/--no-report", help="Write the report when done."),
) -> None:
    """Run every variant x seed of a spec; re-running skips finished runs and resumes unfinished ones."""
    from rllab.experiment import load_spec, run_experiment

    spec_obj = load_spec(spec)
    root = out or Path("experiments") / spec_obj.name
    results = run_experiment(spec_obj, root, workers=workers, backend=backend, ray_address=ray_address)
    failed = [r for r in results if r["state"] != "finished"]
    console.print(f"{len(results) - len(failed)}/{len(results)} runs finished in {root}")
    for item in failed:
        console.print(f"[red]failed[/] {item['run']}: {item.get('error')}")
    if report_after and len(failed) < len(results):
        from rllab.report import write_report

        paths = write_report(root)
        console.print("report: " + ", ".join(str(p) for p in paths))
    if failed:
        raise typer.Exit(1)


def report(
    experiment_dir: Path = typer.Argument(..., help="A directory written by `rllab experiment`."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Rank by this metric (default: the spec's)."),
) -> None:
    """Aggregate an experiment: IQM with 95% stratified bootstrap CIs, curves PNG, markdown + CSV tables."""
    from rllab.report import write_report

    paths = write_report(experiment_dir, metric=metric)
    console.print((experiment_dir / "report.md").read_text())
    console.print("wrote " + ", ".join(str(p) for p in paths))


def bench_train_overhead(
    steps: int = typer.Option(20_000, "--steps", help="Timesteps per measured run."),
    repeats: int = typer.Option(3, "--repeats", help="Alternating repeats of each setup."),
) -> None:
    """Steps/s of `rllab train` machinery vs a bare SB3 PPO learn() on CartPole, same hyperparameters."""
    from rllab.bench_overhead import measure_overhead

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

