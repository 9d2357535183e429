"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Every artefact is written to a temporary file in the same directory, flushed to disk, then renamed over the
target with :func:`os.replace`, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    ``suffix`` keeps the extension for writers that insist on one (SB3 appends ``.zip`` otherwise).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=target.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; artefacts get the usual permissions
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_yaml(target: str | os.PathLike[str], obj: Any) -> None:
    write_text(target, yaml.safe_dump(obj, sort_keys=False))


def write_csv(target: str | os.PathLike[str], rows: Iterable[dict[str, Any]], fieldnames: list[str]) -> None:
    """Write dict rows as CSV with a header (columns in ``fieldnames`` order)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    write_text(target, buffer.getvalue())


def write_with(target: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> None:
    """Atomically write ``target`` with a callback that writes to the path it is given."""
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)
