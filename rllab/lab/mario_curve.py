"""Learning curves of Mario training runs from their SB3 Monitor files: max x and flag rate against steps."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rllab.core.atomic import write_csv, write_with
from rllab.core.errors import UserError


def training_episodes(run_dir: Path) -> list[dict[str, float]]:
    """Every finished training episode of a run, in finishing order, from its SB3 Monitor files.

    ``timesteps`` is the run's total step count when the episode ended (episode lengths summed over all envs
    in order of their finishing time), so runs with different ``n_envs`` share an x axis.
    """
    files = sorted((run_dir / "monitor").glob("*.monitor.csv"))
    if not files:
        raise UserError(f"{run_dir} has no monitor/*.monitor.csv: is it an `rllab train` run directory?")
    episodes = []
    for path in files:
        with path.open() as f:
            f.readline()  # the Monitor's JSON header line
            for row in csv.DictReader(f):
                if "x_pos_max" not in row:
                    raise UserError(f"{path} has no x_pos_max column: train with eval.info_keywords [x_pos_max]")
                episodes.append({"t": float(row["t"]), "length": float(row["l"]), "return": float(row["r"]),
                                 "x_pos_max": float(row["x_pos_max"]), "flag_get": float(row.get("flag_get") or 0)})
    episodes.sort(key=lambda e: e["t"])
    total = 0.0
    for episode in episodes:
        total += episode["length"]
        episode["timesteps"] = total
    return episodes


@dataclass
class CurveBin:
    """Mean max x and flag rate of the training episodes that ended within one step bin."""

    steps_from: float
    steps_to: float
    episodes: int
    mean_x_pos_max: float
    flag_rate: float


def curve_bins(episodes: list[dict[str, float]], bins: int) -> list[CurveBin]:
    """Equal-width step bins over the run, empty bins left out."""
    if bins < 1:
        raise UserError(f"--bins must be >= 1, got {bins}")
    if not episodes:
        raise UserError("no finished training episode yet")
    steps = np.array([e["timesteps"] for e in episodes])
    x_max = np.array([e["x_pos_max"] for e in episodes])
    flags = np.array([e["flag_get"] for e in episodes])
    edges = np.linspace(0, steps[-1], bins + 1)
    which = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(CurveBin(float(edges[b]), float(edges[b + 1]), int(mask.sum()),
                                  round(float(x_max[mask].mean()), 1), round(float(flags[mask].mean()), 3)))
    return table


def plot_curve(episodes: list[dict[str, float]], table: list[CurveBin], out: Path, title: str,
               baseline: float | None = None) -> None:
    """Every episode's max x as a dot, the bin means as a line, and an optional reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter([e["timesteps"] for e in episodes], [e["x_pos_max"] for e in episodes], s=4, alpha=0.25,
               label="episode")
    width = table[0].steps_to - table[0].steps_from
    ax.plot([(b.steps_from + b.steps_to) / 2 for b in table], [b.mean_x_pos_max for b in table], "o-", color="C1",
            label=f"mean per {width:.0f} steps")
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label=f"baseline ({baseline:g})")
    ax.set_xlabel("training steps")
    ax.set_ylabel("max x-position in episode")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    write_with(out, lambda path: fig.savefig(path, dpi=120, format="png"), suffix=".png")
    plt.close(fig)


def write_curve(run: Path, out: Path | None = None, bins: int = 10,
                baseline: float | None = None) -> tuple[list[CurveBin], Path, Path]:
    """The curve of a run: PNG and CSV (default ``RUN/x_pos_max_curve.png`` and ``.csv``); returns the bins."""
    episodes = training_episodes(run)
    table = curve_bins(episodes, bins)
    out = out or run / "x_pos_max_curve.png"
    plot_curve(episodes, table, out, f"Super Mario Bros 1-1: {run.name}", baseline)
    csv_path = out.with_suffix(".csv")
    rows = [vars(b) for b in table]
    write_csv(csv_path, rows, list(rows[0]))
    return table, out, csv_path
