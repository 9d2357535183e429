"""Trained models shipped as package data (``rllab/models/<name>/``), each with a ``provenance.json`` that records
the command, commit, seed, steps and wall time that made it. A shipped name is accepted wherever a run directory
is; since package data is read-only, anything written about it goes to a directory the user names."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rllab.core.config import unknown_name

PROVENANCE_FILE = "provenance.json"


def models_root() -> Path:
    return Path(str(resources.files("rllab") / "models"))


def shipped_names() -> list[str]:
    """Names of the shipped models (folders of ``rllab/models/`` with a provenance file)."""
    root = models_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / PROVENANCE_FILE).is_file())


def shipped_model(name: str) -> Path:
    """The folder of a shipped model; an unknown name lists the shipped ones."""
    if name not in shipped_names():
        raise unknown_name("shipped model", name, shipped_names())
    return models_root() / name


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A path as given when it exists, else the shipped model of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    return shipped_model(str(name_or_path))


def is_shipped(path: Path) -> bool:
    """Whether ``path`` lies inside the shipped models (read-only package data)."""
    try:
        Path(path).resolve().relative_to(models_root().resolve())
    except ValueError:
        return False
    return True
