"""Run the ``rllab`` CLI in-process (fast) and return its exit status, as the shell would see it."""

from __future__ import annotations

from rllab.cli.app import main


def run_main(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
