"""The consoles every command prints to. ``soft_wrap`` keeps long lines (paths) whole when the output is a log."""

from rich.console import Console

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)
