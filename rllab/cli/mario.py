"""Super Mario Bros commands: ``rllab setup mario``, ``rllab bench mario``, ``rllab mario curve`` and ``route``."""

from __future__ import annotations

import os
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
from rllab.envs.mario.route_search import record_route
from rllab.lab.bench.mario import (
    TRAIN_PRESETS,
    check_mario_bench,
    curriculum_start_cost,
    run_benchmark,
    run_train_benchmark,
)
from rllab.lab.mario_curve import write_curve, write_evaluation_curve

setup_app = typer.Typer(help="Install optional extras that need more than `pip install`.", no_args_is_help=True)
mario_app = typer.Typer(help="Super Mario Bros helpers: learning curves of training runs, curriculum routes.",
                        no_args_is_help=True)

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
    train_steps: int = typer.Option(0, help="Also time the whole PPO loop of mario-ppo-cpu and mario-ram-ppo for "
                                            "this many steps each (0: skip; 8192 takes ~4 minutes a round)."),
    train_rounds: int = typer.Option(2, help="Alternating rounds of the PPO loops (a load spike hits both)."),
    train_extra: list[str] = typer.Option([], help="Also time this loop: mario-ram-ppo+lockstep "
                                                   "(SB3's lock-step loop, same envs)."),
    curriculum: bool = typer.Option(False, "--curriculum/--no-curriculum",
                                    help="Also time a curriculum start: snapshot load vs replaying the route."),
) -> None:
    """Steps/s of the raw emulator, our env (pixels, RAM), gymnasium's stack and optionally the PPO loops."""
    check_mario_bench(steps, actions, train_steps, train_rounds, tuple(train_extra))
    loops = (*TRAIN_PRESETS, *train_extra)
    load_before = os.getloadavg()[0]  # other jobs on the cores slow the two-process RAM loop most: print the load
    rounds = 3
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("raw / ours / ours-ram / gymnasium, interleaved", total=rounds)
        results = run_benchmark(steps, actions, seed, rounds, on_round=lambda: progress.advance(task))
        if train_steps:
            task = progress.add_task("PPO loops, interleaved", total=len(loops) * train_rounds)
            trained = run_train_benchmark(train_steps, loops, train_rounds, on_preset=lambda _: progress.advance(task))
        if curriculum:
            cost = curriculum_start_cost()
    console.print(f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
                  f"on {os.cpu_count()} CPUs")
    console.print("pipeline   agent-steps/s  per CPU-s  obs  (raw: 4 emulated frames = 1 agent step)")
    for r in results:
        console.print(f"{r.name:<10} {r.steps_per_s:13.1f} {r.steps_per_cpu_s:10.1f}  {r.obs_shape}")
    by_name = {r.name: r for r in results}
    ours, std = by_name["ours"], by_name["gymnasium"]
    console.print(f"ours / gymnasium: {ours.steps_per_s / std.steps_per_s:.2f}x wall, "
                  f"{ours.steps_per_cpu_s / std.steps_per_cpu_s:.2f}x per CPU-s (target >= 1.4x); "
                  f"ours / raw: {ours.steps_per_cpu_s / by_name['raw'].steps_per_cpu_s:.2f}x per CPU-s; "
                  f"ours-ram / ours: {by_name['ours-ram'].steps_per_cpu_s / ours.steps_per_cpu_s:.2f}x per CPU-s")
    if train_steps:
        console.print(f"PPO loop, {train_rounds} interleaved rounds  steps  wall s  steps/s  envs")
        for t in trained:
            console.print(f"{t.preset:<24} {t.steps:6d} {t.wall_s:7.1f} {t.steps_per_s:8.1f}  "
                          f"{t.n_envs} x {t.vec_env}, {t.policy}")
        base = trained[0]
        for ram in trained[1:]:
            console.print(f"{ram.preset} / {base.preset}: {ram.steps_per_s / base.steps_per_s:.2f}x (target >= 3x)")
    if curriculum:
        console.print(f"curriculum start, 1-1 route: building {cost.points} snapshots {cost.build_s:.2f} s once per "
                      f"env; a start from a snapshot {cost.load_s * 1e6:.0f} us vs replaying to the farthest "
                      f"point {cost.replay_s:.2f} s")


def curve(
    run: Path = typer.Argument(..., help="An `rllab train` run directory on rllab/SuperMario-v0."),
    out: Path | None = typer.Option(None, help="PNG to write (default RUN/x_pos_max_curve.png)."),
    bins: int = typer.Option(10, help="Number of equal-width step bins in the printed table."),
    baseline: float | None = typer.Option(None, help="Draw a reference line, e.g. a random policy's mean max x."),
) -> None:
    """Plot max x of training episodes from the level start against steps, and the periodic evaluations (flag rate,
    mean max x) against steps and wall time; print and save (CSV) both."""
    table, png, csv_path = write_curve(run, out, bins, baseline)
    console.print("training episodes from the level start\nsteps up to   episodes  mean max x  flag rate")
    for row in table:
        console.print(f"{row.steps_to:11.0f} {row.episodes:10d} {row.mean_x_pos_max:11.1f} {row.flag_rate:10.2f}")
    console.print(f"{sum(r.episodes for r in table)} finished episodes (one still running when training stopped "
                  f"is not counted); curve: {png} (table: {csv_path})")
    if (run / "evaluations.csv").exists():
        points, eval_png, eval_csv = write_evaluation_curve(run)
        console.print("evaluations (from the level start)\n      steps  wall min  episodes  mean max x  flag rate")
        for p in points:
            console.print(f"{p.steps:11d} {p.wall_s / 60:9.1f} {p.episodes:9d} {p.x_pos_max_mean:11.1f} "
                          f"{p.flag_rate:10.2f}")
        console.print(f"evaluation curve: {eval_png} (table: {eval_csv})")


def route(
    stage: str = typer.Option("1-1", "--stage", help="World-stage to record, e.g. 1-1 or 4-1."),
    out: Path = typer.Option(..., "--out", help="Route JSON to write (then pass it as curriculum.route)."),
    beam: int = typer.Option(8, help="States kept per search depth."),
    branch: int = typer.Option(6, help="Random held buttons tried from each kept state."),
    seed: int = typer.Option(0, help="Seed of the search."),
) -> None:
    """Record a curriculum route to the flag by beam search over emulator states (no agent needed)."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"searching {stage}", total=None)
        found = record_route(stage, out, beam, branch, seed, on_depth=lambda depth, x: progress.update(
            task, description=f"searching {stage}: depth {depth}, best x {x}"))
    console.print(f"route to the flag of {stage}: {found.frames} frames, flag at x={found.end_x}; wrote {out}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach ``setup mario``, ``mario curve`` and ``bench mario``."""
    setup_app.command("mario")(setup_mario)
    app.add_typer(setup_app, name="setup")
    mario_app.command("curve")(curve)
    mario_app.command("route")(route)
    app.add_typer(mario_app, name="mario")
    bench.command("mario")(bench_mario)
