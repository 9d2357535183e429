"""The ``rllab`` command line: one typer app; each module of :mod:`rllab.cli` contributes its commands.

A command parses its options, calls one library function and prints. User errors become one line on stderr
(exit 2); Ctrl-C during a long job ends with a line saying where its checkpoint is and how to continue (exit 130).
"""

from __future__ import annotations

import sys

import typer
from rich.text import Text

from rllab.cli import core, go, mario, music, tune, tutor
from rllab.cli.console import err_console
from rllab.core.errors import UserError

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

for _module in (core, music, tutor, go, mario, tune):
    _module.register(app, bench)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line on stderr and a non-zero exit status."""
    try:
        app(args=argv, prog_name="rllab")
    except UserError as exc:
        err_console.print(Text("error: ", style="bold red") + Text(str(exc)))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print(Text("interrupted", style="yellow"))
        sys.exit(130)


if __name__ == "__main__":
    main()
