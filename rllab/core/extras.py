"""Installers for optional extras whose upstream metadata pip cannot resolve on its own.

gym-super-mario-bros 9.1.0 and nes-py 9.0.1 declare ``Requires-Python >=3.13`` but run on 3.11. pip's
``--ignore-requires-python`` is global, so a requirements file cannot express the workaround: the pinned
dependencies go in first (``numpy<2.5``, because ignoring the Python requirement for the whole set would pick a
numpy sdist that needs 3.12), then the two packages with ``--no-deps --ignore-requires-python``. On 3.13+ the
plain install works and is used instead.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable, Sequence

from rllab.core.errors import UserError

MARIO_PACKAGES = ("nes-py==9.0.1", "gym-super-mario-bros==9.1.0")
MARIO_DEPENDENCIES = (
    "numpy<2.5",
    "gymnasium>=1.0",
    "pyglet>=1.4.0,<=1.5.21",
    "tqdm>=4.48.2",
    "opencv-python-headless>=4.8",
    "imageio>=2.31",
    "imageio-ffmpeg>=0.5",
)
MARIO_INSTALL_COMMAND = "rllab setup mario"
MARIO_INSTALL_HINT = f"install the Mario extra with `{MARIO_INSTALL_COMMAND}`"


def mario_pip_commands(
    python: str = sys.executable, version: tuple[int, int] = sys.version_info[:2]
) -> list[list[str]]:
    """The pip invocations that install the Mario extra for ``python`` of the given version."""
    pip = [python, "-m", "pip", "install"]
    if version >= (3, 13):
        return [pip + [*MARIO_DEPENDENCIES, *MARIO_PACKAGES]]
    return [
        pip + list(MARIO_DEPENDENCIES),
        pip + ["--no-deps", "--ignore-requires-python", *MARIO_PACKAGES],
    ]


def installed_mario_versions() -> dict[str, str | None]:
    """Installed versions of the two emulator packages (None where missing)."""
    versions: dict[str, str | None] = {}
    for requirement in MARIO_PACKAGES:
        name = requirement.split("==")[0]
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def install_mario(run: Callable[[Sequence[str]], int] | None = None) -> list[list[str]]:
    """Run the pip commands in order; stop with a :class:`UserError` naming the failed command."""
    run = run or (lambda cmd: subprocess.call(list(cmd)))
    commands = mario_pip_commands()
    for cmd in commands:
        status = run(cmd)
        if status != 0:
            raise UserError(f"pip failed (exit {status}): {' '.join(cmd)}")
    return commands
