"""Core commands: envs, presets, train, evaluate, experiment, report, bench cartpole."""

from __future__ import annotations

import typer


def list_envs() -> None:
    """List the registered environment ids (ours first), one line each."""
    import gymnasium as gym
    from rich.console import Console

    import envs

    console = Console()
    for env_id in envs.REGISTERED_IDS:
        spec = gym.spec(env_id)
        console.print(f"[bold]{env_id}[/]  {spec.entry_point}")
    others = sorted(k for k in gym.registry if not k.startswith("rllab/"))
    console.print(f"[dim]+ {len(others)} other Gymnasium ids (e.g. CartPole-v1); any of them can be trained[/]")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("envs")(list_envs)
