"""Super Mario Bros commands: ``rllab setup mario``, ``rllab bench mario`` and ``rllab mario curve``."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress

from rllab.cli.console import console
from rllab.core.errors import UserError
from rllab.core.extras import install_mario, installed_mario_versions, mario_pip_commands
from rllab.lab.bench.mario import check_mario_bench, run_benchmark
from rllab.lab.mario_curve import write_curve

setup_app = typer.Typer(help="Install optional extras that need more than `pip install`.", no_args_is_help=True)
mario_app = typer.Typer(help="Super Mario Bros helpers: learning curves of training runs.", no_args_is_help=True)

_SMOKE = (
    "import gymnasium as gym, rllab.envs; "
    "env = gym.make('rllab/SuperMario-v0'); obs, _ = env.reset(seed=0); "
    "obs, *_ = env.step(1); env.close(); print('smoke test ok: observation', obs.shape, obs.dtype)"
)


def setup_mario(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the pip commands without running them."),
) -> None:
    """Install gym-super-mario-bros 9.1.0 + nes-py 9.0.1 (works on Python 3.11 too), then smoke-test the env."""
    if dry_run:
        for cmd in mario_pip_commands():  # quoted: `numpy<2.5` pasted into a shell must not become a redirect
            console.print(shlex.join(cmd), markup=False)
        return

    def run(cmd: list[str]) -> int:  # pip shows its own progress; nes-py compiles C++ for ~30-120 s
        console.print(f"[bold]$ {escape(shlex.join(cmd))}[/]")
        return subprocess.call(cmd)

    install_mario(run)
    # A fresh interpreter: this one may hold the numpy that pip just replaced.
    smoke = subprocess.run([sys.executable, "-c", _SMOKE], capture_output=True, text=True, check=False)
    if smoke.returncode != 0:
        last = (smoke.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"installed, but the smoke test failed: {last}")
    versions = ", ".join(f"{k} {v}" for k, v in installed_mario_versions().items())
    console.print(f"{smoke.stdout.strip()}\ninstalled: {versions}; next: `rllab bench mario`")


def bench_mario(
    steps: int = typer.Option(600, help="Agent steps per pipeline (4 emulated frames each)."),
    actions: str = typer.Option("simple", help="Action set: right_only, simple or complex."),
    seed: int = typer.Option(0, help="Seed of the random action sequence (the same for every pipeline)."),
) -> None:
    """Steps/s of the raw emulator, our wrapper stack and gymnasium's standard stack, in one run."""
    check_mario_bench(steps, actions)
    rounds = 3
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("raw / ours / gymnasium, interleaved", total=rounds)
        results = run_benchmark(steps, actions, seed, rounds, on_round=lambda: progress.advance(task))
    console.print("pipeline   agent-steps/s  per CPU-s  obs  (raw: 4 emulated frames = 1 agent step)")
    for r in results:
        console.print(f"{r.name:<10} {r.steps_per_s:13.1f} {r.steps_per_cpu_s:10.1f}  {r.obs_shape}")
    by_name = {r.name: r for r in results}
    ours, std = by_name["ours"], by_name["gymnasium"]
    console.print(f"ours / gymnasium: {ours.steps_per_s / std.steps_per_s:.2f}x wall, "
                  f"{ours.steps_per_cpu_s / std.steps_per_cpu_s:.2f}x per CPU-s (target >= 1.4x); "
                  f"ours / raw: {ours.steps_per_cpu_s / by_name['raw'].steps_per_cpu_s:.2f}x per CPU-s")


def curve(
    run: Path = typer.Argument(..., help="An `rllab train` run directory on rllab/SuperMario-v0."),
    out: Path | None = typer.Option(None, help="PNG to write (default RUN/x_pos_max_curve.png)."),
    bins: int = typer.Option(10, help="Number of equal-width step bins in the printed table."),
    baseline: float | None = typer.Option(None, help="Draw a reference line, e.g. a random policy's mean max x."),
) -> None:
    """Plot max x-position of training episodes against steps; print and save (CSV) its mean per step bin."""
    table, png, csv_path = write_curve(run, out, bins, baseline)
    console.print("steps up to   episodes  mean max x  flag rate")
    for row in table:
        console.print(f"{row.steps_to:11.0f} {row.episodes:10d} {row.mean_x_pos_max:11.1f} {row.flag_rate:10.2f}")
    console.print(f"{sum(r.episodes for r in table)} episodes; curve: {png} (table: {csv_path})")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach ``setup mario``, ``mario curve`` and ``bench mario``."""
    setup_app.command("mario")(setup_mario)
    app.add_typer(setup_app, name="setup")
    mario_app.command("curve")(curve)
    app.add_typer(mario_app, name="mario")
    bench.command("mario")(bench_mario)
