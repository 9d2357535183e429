"""The ``rllab`` command line: one typer app, commands contributed by modules in :mod:`rllab.commands`.

Each command module exposes ``register(app, bench)`` and imports heavy libraries inside the commands, so
``rllab --help`` is fast and an optional extra that is not installed only affects its own commands.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from rllab.errors import UserError

COMMAND_MODULES = (
    "rllab.commands.core",
    "rllab.commands.music",
    "rllab.commands.tutor",
    "rllab.commands.go",
    "rllab.commands.mario",
)

app = typer.Typer(
    name="rllab",
    help="rllab: train and compare RL agents on Go-lite, Super Mario Bros and melody composition; "
    "tune a Note RNN with the Sequence Tutor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench = typer.Typer(help="Throughput benchmarks: print steps per second.", no_args_is_help=True)
app.add_typer(bench, name="bench")

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app, bench)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line on stderr and exit status 2."""
    try:
        app(args=argv, prog_name="rllab")
    except UserError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
