"""Ship a run's net as package data: ``rllab/models/<name>/net.pt`` + ``provenance.json``, found by
:mod:`rllab.core.shipped`, so ``az:<name>`` works on a fresh install."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from rllab.agents.go.az.net import load_net
from rllab.agents.go.az.player import NET_CHOICES
from rllab.agents.go.az.train import EVAL_FILE
from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.core.shipped import PROVENANCE_FILE, models_root

MAX_NET_BYTES = 8 * 1024 * 1024    # package data stays small: a 7x7 4x32 net is ~0.3 MB


def export_net(run_dir: str | Path, name: str | None = None, which: str = "best",
               root: str | Path | None = None) -> Path:
    """Copy the run's ``best.pt`` (or ``net.pt`` with ``which="latest"``) to ``<root>/<name>/`` with its provenance.

    ``root`` defaults to the installed package's ``rllab/models``; ``name`` to ``az-<size>x<size>``.
    """
    if which not in NET_CHOICES:
        raise UserError(f"unknown net {which!r}; valid: {', '.join(NET_CHOICES)}")
    run = RunDir.open(run_dir)
    source = run.path / NET_CHOICES[which]
    net, meta = load_net(source)
    if source.stat().st_size > MAX_NET_BYTES:
        raise UserError(f"{source} is {source.stat().st_size / 2**20:.1f} MB; shipped nets stay under "
                        f"{MAX_NET_BYTES / 2**20:.0f} MB")
    name = name or f"az-{net.size}x{net.size}"
    dest = Path(root) if root is not None else models_root()
    target = dest / name
    atomic.write_bytes(target / "net.pt", source.read_bytes())
    status, run_meta = run.status, run.meta
    info = meta.get("info", {})
    provenance: dict[str, Any] = {
        "name": name, "kind": "az", "board_size": net.size, "komi": meta["komi"],
        "net": {"blocks": net.blocks, "width": net.width, "planes": net.planes, "file": "net.pt", "which": which},
        "command": run_meta.get("command"), "commit": status.get("commit"), "dirty": status.get("dirty"),
        "seed": run_meta.get("seed"), "steps": info.get("steps"), "games": info.get("games"),
        "wall_s": info.get("wall_s"), "run_wall_s": status.get("wall_s"), "run_state": status.get("state"),
        "versions": run_meta.get("versions"), "config": run.config, "last_evaluation": _last_eval(run.path),
        "exported": _dt.datetime.now().isoformat(timespec="seconds"), "source": str(source.resolve())}
    atomic.write_json(target / PROVENANCE_FILE, provenance)
    return target


def _last_eval(path: Path) -> dict[str, str] | None:
    import csv

    file = path / EVAL_FILE
    if not file.is_file():
        return None
    with file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[-1] if rows else None
