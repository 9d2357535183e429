"""CLI commands for Super Mario Bros: ``rllab setup mario``, ``rllab bench mario`` and ``rllab mario curve``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

setup_app = typer.Typer(help="Install optional extras that need more than `pip install`.", no_args_is_help=True)
mario_app = typer.Typer(help="Super Mario Bros helpers: learning curves of training runs.", no_args_is_help=True)

_SMOKE = (
    "import gymnasium as gym, envs; "
    "env = gym.make('rllab/SuperMario-v0'); obs, _ = env.reset(seed=0); "
    "obs, *_ = env.step(1); env.close(); print('smoke test ok: observation', obs.shape, obs.dtype)"
)


def setup_mario(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the pip commands without running them."),
) -> None:
    """Install gym-super-mario-bros 9.1.0 + nes-py 9.0.1 (works on Python 3.11 too), then smoke-test the env."""
    from rich.console import Console
    from rich.markup import escape

    from rllab.errors import UserError
    from rllab.setup_extras import install_mario, installed_mario_versions, mario_pip_commands

    console = Console()
    if dry_run:
        for cmd in mario_pip_commands():
            console.print(" ".join(cmd), highlight=False, soft_wrap=True)
        return

    def run(cmd: list[str]) -> int:  # pip shows its own progress; nes-py compiles C++ for ~30-120 s
        console.print(f"[bold]$ {escape(' '.join(cmd))}[/]", highlight=False, soft_wrap=True)
        return subprocess.call(cmd)

    install_mario(run)
    # A fresh interpreter: this one may hold the numpy that pip just replaced.
    smoke = subprocess.run([sys.executable, "-c", _SMOKE], capture_output=True, text=True, check=False)
    if smoke.returncode != 0:
        last = (smoke.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"installed, but the smoke test failed: {last}")
    versions = ", ".join(f"{k} {v}" for k, v in installed_mario_versions().items())
    console.print(f"{smoke.stdout.strip()}\ninstalled: {versions}; next: `rllab bench mario`")


@dataclass
class BenchResult:
    """Throughput of one pipeline, summed over the interleaved rounds."""

    name: str
    agent_steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    obs_shape: tuple[int, ...] = ()

    @property
    def steps_per_s(self) -> float:
        return self.agent_steps / max(self.wall_s, 1e-9)

    @property
    def steps_per_cpu_s(self) -> float:
        return self.agent_steps / max(self.cpu_s, 1e-9)


def _pipelines(actions: str) -> dict[str, tuple[Any, int]]:
    """name -> (env, emulated frames per agent step); all three on World 1-1 with the same action set."""
    import gym_super_mario_bros  # noqa: F401  (registers SuperMarioBros-*)
    import gym_super_mario_bros.actions as action_lists
    import gymnasium as gym
    from nes_py.wrappers import JoypadSpace

    import envs  # noqa: F401
    from envs.mario import _ACTION_LISTS
    from envs.mario_wrappers import standard_gymnasium_stack

    buttons = getattr(action_lists, _ACTION_LISTS[actions])
    raw = JoypadSpace(gym.make("SuperMarioBros-1-1-v0"), buttons)
    standard = standard_gymnasium_stack(JoypadSpace(gym.make("SuperMarioBros-1-1-v0"), buttons))
    ours = gym.make("rllab/SuperMario-v0", actions=actions, noop_max=0)
    return {"raw": (raw, 1), "ours": (ours, 4), "gymnasium": (standard, 4)}


def run_benchmark(steps: int, actions: str, seed: int, rounds: int = 3,
                  on_round: Callable[[], None] | None = None) -> list[BenchResult]:
    """Random actions through each pipeline in interleaved rounds, so load spikes on a shared CPU hit all."""
    import numpy as np

    pipelines = _pipelines(actions)
    results = {name: BenchResult(name) for name in pipelines}
    try:
        for env, _ in pipelines.values():
            env.reset(seed=seed)
        for _ in range(rounds):
            for name, (env, skip) in pipelines.items():
                rng = np.random.default_rng(seed)
                n = env.action_space.n
                frames = steps * 4 // rounds
                t_wall, t_cpu = time.perf_counter(), time.process_time()
                for _ in range(frames // skip):
                    obs, _, terminated, truncated, _ = env.step(int(rng.integers(n)))
                    if terminated or truncated:
                        env.reset()
                result = results[name]
                result.wall_s += time.perf_counter() - t_wall
                result.cpu_s += time.process_time() - t_cpu
                result.agent_steps += frames // 4
                result.obs_shape = tuple(np.shape(obs))
            if on_round is not None:
                on_round()
    finally:
        for env, _ in pipelines.values():
            env.close()
    return list(results.values())


def bench_mario(
    steps: int = typer.Option(600, help="Agent steps per pipeline (4 emulated frames each)."),
    actions: str = typer.Option("simple", help="Action set: right_only, simple or complex."),
    seed: int = typer.Option(0, help="Seed of the random action sequence (the same for every pipeline)."),
) -> None:
    """Steps/s of the raw emulator, our wrapper stack and gymnasium's standard stack, in one run."""
    from rich.console import Console
    from rich.progress import Progress

    from envs.mario import ACTION_SETS, mario_available
    from rllab.errors import UserError, choices_hint
    from rllab.setup_extras import MARIO_INSTALL_HINT

    if steps < 3:
        raise UserError(f"--steps must be >= 3, got {steps}")
    if actions not in ACTION_SETS:
        raise UserError(f"unknown --actions {actions!r}; {choices_hint(ACTION_SETS)}")
    if not mario_available():
        raise UserError(f"the Mario benchmark needs the emulator: {MARIO_INSTALL_HINT}")
    console = Console()
    rounds = 3
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("raw / ours / gymnasium, interleaved", total=rounds)
        results = run_benchmark(steps, actions, seed, rounds, on_round=lambda: progress.advance(task))
    console.print("pipeline   agent-steps/s  per CPU-s  obs  (raw: 4 emulated frames = 1 agent step)")
    for r in results:
        console.print(f"{r.name:<10} {r.steps_per_s:13.1f} {r.steps_per_cpu_s:10.1f}  {r.obs_shape}",
                      highlight=False)
    by_name = {r.name: r for r in results}
    ours, std = by_name["ours"], by_name["gymnasium"]
    console.print(f"ours / gymnasium: {ours.steps_per_s / std.steps_per_s:.2f}x wall, "
                  f"{ours.steps_per_cpu_s / std.steps_per_cpu_s:.2f}x per CPU-s (target >= 1.4x); "
                  f"ours / raw: {ours.steps_per_cpu_s / by_name['raw'].steps_per_cpu_s:.2f}x per CPU-s")


def training_episodes(run_dir: Path) -> list[dict[str, float]]:
    """Every finished training episode of a run, in finishing order, from its SB3 Monitor files.

    ``timesteps`` is the run's total step count when the episode ended (episode lengths summed over all envs
    in order of their finishing time), so runs with different ``n_envs`` share an x axis.
    """
    import csv

    from rllab.errors import UserError

    files = sorted((run_dir / "monitor").glob("*.monitor.csv"))
    if not files:
        raise UserError(f"{run_dir} has no monitor/*.monitor.csv: is it an `rllab train` run directory?")
    episodes = []
    for path in files:
        with path.open() as f:
            f.readline()  # the Monitor's JSON header line
            for row in csv.DictReader(f):
                if "x_pos_max" not in row:
                    raise UserError(f"{path} has no x_pos_max column: train with eval.info_keywords [x_pos_max]")
                episodes.append({"t": float(row["t"]), "length": float(row["l"]), "return": float(row["r"]),
                                 "x_pos_max": float(row["x_pos_max"]), "flag_get": float(row.get("flag_get") or 0)})
    episodes.sort(key=lambda e: e["t"])
    total = 0.0
    for episode in episodes:
        total += episode["length"]
        episode["timesteps"] = total
    return episodes


def curve(
    run: Path = typer.Argument(..., help="An `rllab train` run directory on rllab/SuperMario-v0."),
    out: Path | None = typer.Option(None, help="PNG to write (default RUN/x_pos_max_curve.png)."),
    bins: int = typer.Option(10, help="Number of equal-width step bins in the printed table."),
    baseline: float | None = typer.Option(None, help="Draw a reference line, e.g. a random policy's mean max x."),
) -> None:
    """Plot max x-position of training episodes against steps; print and save (CSV) its mean per step bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from rich.console import Console

    from rllab.atomic import write_text, write_with
    from rllab.errors import UserError

    if bins < 1:
        raise UserError(f"--bins must be >= 1, got {bins}")
    episodes = training_episodes(run)
    if not episodes:
        raise UserError(f"{run} has no finished training episode yet")
    steps = np.array([e["timesteps"] for e in episodes])
    x_max = np.array([e["x_pos_max"] for e in episodes])
    flags = np.array([e["flag_get"] for e in episodes])
    edges = np.linspace(0, steps[-1], bins + 1)
    which = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append({"steps_from": edges[b], "steps_to": edges[b + 1], "episodes": int(mask.sum()),
                          "mean_x_pos_max": round(float(x_max[mask].mean()), 1),
                          "flag_rate": round(float(flags[mask].mean()), 3)})
    console = Console()
    console.print("steps up to   episodes  mean max x  flag rate")
    for row in table:
        console.print(f"{row['steps_to']:11.0f} {row['episodes']:10d} {row['mean_x_pos_max']:11.1f} "
                      f"{row['flag_rate']:10.2f}", highlight=False)
    centres = [(row["steps_from"] + row["steps_to"]) / 2 for row in table]
    means = [row["mean_x_pos_max"] for row in table]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(steps, x_max, s=4, alpha=0.25, label="episode")
    ax.plot(centres, means, "o-", color="C1", label=f"mean per {edges[1]:.0f} steps")
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label=f"baseline ({baseline:g})")
    ax.set_xlabel("training steps")
    ax.set_ylabel("max x-position in episode")
    ax.set_title(f"Super Mario Bros 1-1: {run.name}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = out or run / "x_pos_max_curve.png"
    write_with(out, lambda path: fig.savefig(path, dpi=120, format="png"), suffix=".png")
    plt.close(fig)
    csv_path = out.with_suffix(".csv")
    lines = [",".join(table[0])] + [",".join(f"{v:.0f}" if "steps" in k else str(v) for k, v in row.items())
                                     for row in table]
    write_text(csv_path, "\n".join(lines) + "\n")
    console.print(f"{len(episodes)} episodes; curve: {out} (table: {csv_path})")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach ``setup mario``, ``mario curve`` and ``bench mario``."""
    setup_app.command("mario")(setup_mario)
    app.add_typer(setup_app, name="setup")
    mario_app.command("curve")(curve)
    app.add_typer(mario_app, name="mario")
    bench.command("mario")(bench_mario)
