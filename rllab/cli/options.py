"""Option parsing shared by commands."""

from __future__ import annotations

from rllab.core.errors import UserError


def int_list(text: str, flag: str) -> list[int]:
    """``"5,7,9"`` -> ``[5, 7, 9]``: positive integers, with a one-line error naming the flag."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise UserError(f"{flag} must list non-negative integers, got {text!r}")
    return values
