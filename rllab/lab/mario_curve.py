"""Learning curves of Mario training runs: max x and flag rate against steps and wall time.

Two sources: the training episodes in the SB3 Monitor files (only those that started at the level start count,
since curriculum episodes start further on and would inflate max x), and the periodic evaluation episodes in
``evaluations.csv``, which always start at the level start; ``progress.csv`` maps their steps to wall time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rllab.core.atomic import write_csv, write_with
from rllab.core.errors import UserError


def training_episodes(run_dir: Path) -> list[dict[str, float]]:
    """The finished training episodes of a run that started at the level start, in finishing order.

    ``timesteps`` is the run's total step count when the episode ended (episode lengths of all episodes, from
    every env and every start, summed in order of their finishing time), so runs with different ``n_envs`` or
    curricula share an x axis. Episodes that a curriculum started further on (a larger ``start_x``) are left out.
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
                                 "x_pos_max": float(row["x_pos_max"]), "flag_get": float(row.get("flag_get") or 0),
                                 "start_x": float(row.get("start_x") or 0)})
    episodes.sort(key=lambda e: e["t"])
    total = 0.0
    for episode in episodes:
        total += episode["length"]
        episode["timesteps"] = total
    level_start = min(e["start_x"] for e in episodes) if episodes else 0.0
    return [e for e in episodes if e["start_x"] == level_start]


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
        raise UserError("no finished training episode from the level start yet: the curve counts finished episodes "
                        "only (the Monitor files hold nothing of an episode still running); train longer")
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


@dataclass
class EvalPoint:
    """One periodic evaluation (episodes from the level start): steps, training wall time, task metrics."""

    steps: int
    wall_s: float
    episodes: int
    x_pos_max_mean: float
    flag_rate: float


def wall_clock(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, wall seconds) of every PPO iteration in ``progress.csv``, summed over resumes.

    SB3 restarts ``time/time_elapsed`` at each ``learn()`` call, so a drop marks a resume; the time up to the
    drop is carried over. (Steps re-trained after a kill, past the newest checkpoint, are not counted twice.)
    """
    path = run_dir / "progress.csv"
    if not path.exists():
        raise UserError(f"{run_dir} has no progress.csv: is it an `rllab train` run directory?")
    steps, wall = [], []
    offset = previous = 0.0
    with path.open() as f:
        for row in csv.DictReader(f):
            if not row.get("time/time_elapsed") or not row.get("time/total_timesteps"):
                continue
            elapsed = float(row["time/time_elapsed"])
            if elapsed < previous:
                offset += previous
            previous = elapsed
            steps.append(float(row["time/total_timesteps"]))
            wall.append(offset + elapsed)
    return np.array(steps), np.array(wall)


def evaluation_curve(run_dir: Path) -> list[EvalPoint]:
    """The run's periodic evaluations (``evaluations.csv``) with the wall time at which each happened."""
    path = run_dir / "evaluations.csv"
    if not path.exists():
        raise UserError(f"{run_dir} has no evaluations.csv: train with eval.freq > 0 and eval.episodes > 0")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows or "x_pos_max_mean" not in rows[0]:
        raise UserError(f"{path} has no x_pos_max_mean column: train with eval.info_keywords [x_pos_max, flag_get]")
    steps, wall = wall_clock(run_dir)
    points = []
    for row in rows:
        at = float(row["timesteps"])
        seconds = float(np.interp(at, steps, wall)) if len(steps) else float("nan")
        points.append(EvalPoint(int(at), round(seconds, 1), int(float(row["episodes"])),
                                round(float(row["x_pos_max_mean"]), 1), round(float(row.get("flag_get_mean") or 0), 3)))
    return points


def plot_evaluation(points: list[EvalPoint], out: Path, title: str) -> None:
    """Mean max x (left axis) and flag rate (right axis) against steps and against wall-clock minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, xs, label in ((axes[0], [p.steps for p in points], "training steps"),
                          (axes[1], [p.wall_s / 60 for p in points], "training wall time (min)")):
        ax.plot(xs, [p.x_pos_max_mean for p in points], "o-", color="C0", label="mean max x")
        ax.set_xlabel(label)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("mean max x (1-1's flag at 3161)", color="C0")
        twin = ax.twinx()
        twin.plot(xs, [p.flag_rate for p in points], "s--", color="C3", label="flag rate")
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("flag rate", color="C3")
    fig.suptitle(title)
    fig.tight_layout()
    write_with(out, lambda path: fig.savefig(path, dpi=120, format="png"), suffix=".png")
    plt.close(fig)


def write_evaluation_curve(run: Path, out: Path | None = None) -> tuple[list[EvalPoint], Path, Path]:
    """PNG and CSV of the evaluation curve (default ``RUN/evaluation_curve.png`` and ``.csv``)."""
    points = evaluation_curve(run)
    out = out or run / "evaluation_curve.png"
    episodes = points[0].episodes if points else 0
    plot_evaluation(points, out, f"Super Mario Bros 1-1 from the start, {episodes} episodes per point: {run.name}")
    csv_path = out.with_suffix(".csv")
    rows = [vars(p) for p in points]
    write_csv(csv_path, rows, list(rows[0]))
    return points, out, csv_path
