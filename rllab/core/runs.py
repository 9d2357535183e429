"""Run directories: everything needed to understand, reproduce and resume one run.

Layout (created by :meth:`RunDir.create`)::

    <run>/config.yaml      the resolved configuration
    <run>/meta.json        seed, command line, start time, host, package versions
    <run>/command.txt      every command line that wrote the run: the first created it, later ones resumed it
    <run>/status.json      state (running|finished|failed|interrupted), steps done, wall time
    <run>/checkpoints/     ckpt_<step><suffix>, written atomically, newest K kept
    <run>/...              whatever the trainer writes (monitor CSVs, progress.csv, model, samples)

A run killed at any moment leaves at most a stale temporary file; the newest complete checkpoint is what
``--resume`` continues from.
"""

from __future__ import annotations

import csv
import datetime as _dt
import importlib.metadata
import json
import os
import pickle
import platform
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rllab.core import atomic
from rllab.core.config import read_yaml, to_plain
from rllab.core.errors import UserError

_TRACKED_PACKAGES = (
    "rllab", "torch", "numpy", "gymnasium", "stable-baselines3", "sb3-contrib", "pretty_midi", "music21",
    "ray", "open-spiel", "gym-super-mario-bros", "nes-py",
)
_CKPT_RE = re.compile(r"^ckpt_(\d+)(\..+)?$")

CONFIG_FILE = "config.yaml"
META_FILE = "meta.json"
STATUS_FILE = "status.json"
COMMAND_FILE = "command.txt"
CHECKPOINT_DIR = "checkpoints"


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide a run's numbers (absent ones are skipped)."""
    versions = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def slug(text: str) -> str:
    """A file-system-safe name for an env id or variant (``rllab/GoLite-v0`` -> ``rllab-GoLite-v0``)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-") or "run"


def default_run_path(root: str | os.PathLike[str], *parts: str, seed: int) -> Path:
    """``root/<part>/.../<timestamp>-s<seed>``, unique even when two runs start in the same second."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root).joinpath(*(slug(p) for p in parts))
    path = base / f"{stamp}-s{seed}"
    n = 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}-s{seed}"
    return path


@dataclass
class Checkpoint:
    step: int
    path: Path


class RunDir:
    """A run directory on disk. Create a new one with :meth:`create`, reopen one with :meth:`open`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    # -- creation / opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], config: dict[str, Any], seed: int,
               command: list[str] | None = None) -> RunDir:
        """Make a fresh run directory and record config, seed, command line and versions.

        Refuses to write into a directory that already holds a run, so existing results are never overwritten.
        """
        run = cls(path)
        if (run.path / CONFIG_FILE).exists():
            raise UserError(f"{run.path} already holds a run; use --resume to continue it or choose another --out")
        run.path.mkdir(parents=True, exist_ok=True)
        atomic.write_yaml(run.path / CONFIG_FILE, to_plain(config))
        argv = command if command is not None else sys.argv
        atomic.write_json(run.path / META_FILE, {
            "seed": seed,
            "command": shlex.join(argv),
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "versions": package_versions(),
        })
        atomic.write_text(run.path / COMMAND_FILE, shlex.join(argv) + "\n")
        run.set_status("created", steps=0)
        return run

    def record_command(self, command: list[str] | None = None) -> None:
        """Append a command line (default: this process's) to ``command.txt`` when a resumed run goes on.

        A run may go on under other flags (more steps, more games per pair); without the added line its directory
        would name only the command that started it. Call it after the resume is validated, so that a refused
        resume leaves the run as it was.
        """
        file = self.path / COMMAND_FILE
        earlier = file.read_text() if file.is_file() else ""
        argv = command if command is not None else sys.argv
        atomic.write_text(file, earlier + shlex.join(argv) + "\n")

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """Open an existing run directory, with a clear error when it is not one."""
        run = cls(path)
        if not run.path.is_dir():
            raise UserError(f"run directory not found: {run.path}")
        if not (run.path / CONFIG_FILE).is_file():
            raise UserError(f"{run.path} is not a run directory (no {CONFIG_FILE})")
        return run

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], config: dict[str, Any], seed: int,
                       ignore: tuple[str, ...] = ("device",)) -> RunDir:
        """Reopen the run at ``path`` if it was started with the same config, else create it.

        The configs are compared in their stored (YAML) form, leaving out the ``ignore`` keys (the device a run
        happens on does not change what it computes). A different config is refused: results of one config are
        never continued under another.
        """
        run = cls(path)
        if not (run.path / CONFIG_FILE).exists():
            return cls.create(path, config, seed)
        stored = {k: v for k, v in run.config.items() if k not in ignore}
        wanted = {k: v for k, v in to_plain(config).items() if k not in ignore}
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise UserError(f"{run.path} holds a run with a different config (differs in: {', '.join(changed)}); "
                            "use another output directory")
        run.record_command()
        return run

    # -- recorded facts -----------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        data = read_yaml(self.path / CONFIG_FILE)
        if not isinstance(data, dict):
            raise UserError(f"{self.path / CONFIG_FILE} does not hold a mapping")
        return data

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / META_FILE).read_text())

    @property
    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / STATUS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"state": "unknown", "steps": 0}

    def set_status(self, state: str, **fields: Any) -> None:
        status = {k: v for k, v in self.status.items() if k != "state"} if (self.path / STATUS_FILE).exists() else {}
        if state != "failed":
            status.pop("error", None)  # a resumed run is no longer failed; keep only the latest error
        status.update(fields)
        status["state"] = state
        status["updated"] = time.time()
        atomic.write_json(self.path / STATUS_FILE, status)

    @property
    def finished(self) -> bool:
        return self.status.get("state") == "finished"

    # -- checkpoints ----------------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    def checkpoints(self, suffix: str | None = None) -> list[Checkpoint]:
        """Complete checkpoints (with ``suffix``, only those), oldest first; temporary files are ignored."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = []
        for entry in self.checkpoint_dir.iterdir():
            match = _CKPT_RE.match(entry.name)
            if match and entry.is_file() and (suffix is None or (match.group(2) or "") == suffix):
                found.append(Checkpoint(int(match.group(1)), entry))
        return sorted(found, key=lambda c: c.step)

    def latest_checkpoint(self, suffix: str | None = None) -> Checkpoint | None:
        ckpts = self.checkpoints(suffix)
        return ckpts[-1] if ckpts else None

    def save_checkpoint(self, step: int, writer: Callable[[Path], None], suffix: str = ".pt",
                        keep: int = 3) -> Path:
        """Atomically write ``ckpt_<step><suffix>`` with ``writer(tmp_path)`` and keep the newest ``keep``."""
        target = self.checkpoint_dir / f"ckpt_{step:010d}{suffix}"
        atomic.write_with(target, writer, suffix=suffix)
        stale = self.checkpoints(suffix)
        for old in stale[:-keep] if keep > 0 else []:
            old.path.unlink(missing_ok=True)
        return target


    # -- CSV logs -------------------------------------------------------------------------------------------------
    def append_row(self, name: str, row: dict[str, Any]) -> None:
        """Append one row to the CSV log ``name``; the header is written once and fixes the columns after."""
        append_csv_row(self.path / name, row)

    def truncate_rows(self, name: str, column: str, max_value: float) -> None:
        """Drop the rows of ``name`` past ``max_value`` in ``column``: a resumed run restarts from its checkpoint,
        so what was logged after that checkpoint is logged again."""
        truncate_csv_rows(self.path / name, column, max_value)


def append_csv_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to ``path`` (header from the first row; columns the file lacks are dropped)."""
    fields = list(row)
    if path.exists():
        with path.open(newline="") as handle:
            fields = next(csv.reader(handle), fields)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def truncate_csv_rows(path: Path, column: str, max_value: float) -> None:
    """Rewrite ``path`` (atomically) without the rows whose ``column`` exceeds ``max_value``."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    if not fields:
        return
    kept = [r for r in rows if r.get(column) in (None, "") or float(r[column]) <= max_value]
    atomic.write_csv(path, kept, fields)


def save_torch(obj: Any, path: str | os.PathLike[str]) -> None:
    """Atomically ``torch.save`` a state dict (tensors, numbers, strings, lists, dicts only)."""
    atomic.write_with(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """Load a torch checkpoint safely (``weights_only=True``), with a clear error when it is corrupt."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's message suggests weights_only=False, i.e. running code from the file: never do that here
        raise UserError(f"cannot load checkpoint {path}: not a checkpoint of tensors and plain values "
                        "(corrupt, truncated, or holding pickled objects); it is not loaded") from None
    except Exception as exc:  # torch raises several types for truncated/foreign files
        raise UserError(f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
