"""User-facing errors.

Anything a user can cause (a bad flag, a missing file, a mistyped YAML field, an illegal move) raises
:class:`UserError`. The CLI prints its message as one line and exits with status 2, without a traceback;
library callers get an ordinary exception they can catch.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """An error caused by the user's input, reported as one clear line."""

    exit_code = 2


class Interrupted(UserError):
    """Ctrl-C after a long job saved its state: the message says how to continue. Exit status 130, as for SIGINT."""

    exit_code = 130


def choices_hint(valid: Iterable[object]) -> str:
    """Format valid choices for an error message: ``valid: a, b, c``."""
    items = sorted(str(v) for v in valid)
    return "valid: " + ", ".join(items) if items else "no valid choices available"
