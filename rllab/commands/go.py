"""CLI commands for the go part (being written)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach this module's commands to the app and the `bench` group."""
