"""``rllab go az`` (AlphaZero-style self-play training) and ``rllab go az-export`` (ship a trained net)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rllab.agents.go.az.export import export_net
from rllab.agents.go.az.train import CURVE_FILE, EVAL_FILE, train_az
from rllab.cli.console import console
from rllab.core.config import parse_overrides


def az(
    out: Annotated[Path, typer.Option(help="Run directory (config, checkpoints, net.pt, best.pt, eval.csv, elo.png).")],
    size: Annotated[int | None, typer.Option(help="Board size (default 7; with --resume the run's).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its newest "
                                                          "checkpoint.")] = False,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda (default auto).")] = None,
    backend: Annotated[str | None, typer.Option(help="local | ray: self-play in this process or in Ray "
                                                     "actors (default local).")] = None,
    hours: Annotated[float | None, typer.Option(help="Wall-clock budget in hours, summed over resumes "
                                                     "(default 3).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config key=value, e.g. sims=32, blocks=6, "
                                                                      "baseline=gnugo:1 (repeatable).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a Go player from nothing: batched tree search self-play, a policy/value ResNet, Elo against time."""
    changes = parse_overrides(overrides or [])
    if hours is not None:
        changes["hours"] = hours
    run = train_az(out, size=size, overrides=changes, resume=resume, device=device, backend=backend,
                   progress=progress)
    status = run.status
    console.print(f"[green]done[/]: {status.get('games')} self-play games, {status.get('steps')} training steps in "
                  f"{status.get('hours')} h; {status.get('selfplay_games_per_s')} games/s, "
                  f"{status.get('network_evaluations_per_s')} network evaluations/s in self-play")
    if "last_vs_baseline" in status:
        console.print(f"last evaluation: {status['last_vs_baseline']:.0%} vs the baseline, "
                      f"Elo {status['last_elo_vs_baseline']:+.0f}")
    console.print(f"run: {run.path} (nets net.pt / best.pt, {EVAL_FILE}, {CURVE_FILE}); play it with "
                  f"`rllab match --black az:{run.path} --white gnugo:1`")


def az_export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `rllab go az`.")],
    name: Annotated[str | None, typer.Option(help="Shipped name (default az-<size>x<size>).")] = None,
    net: Annotated[str, typer.Option(help="best | latest.")] = "best",
    root: Annotated[Path | None, typer.Option(help="Models folder (default: the installed rllab/models).")] = None,
) -> None:
    """Copy a run's net into the shipped models with a provenance file, so `az:<name>` works anywhere."""
    target = export_net(run_dir, name, net, root)
    console.print(f"exported {net} net of {run_dir} to {target}")


def register(go_app: typer.Typer) -> None:
    go_app.command("az")(az)
    go_app.command("az-export")(az_export)
