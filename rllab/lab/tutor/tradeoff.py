"""The reward-shaping trade-off: music-theory reward vs log p vs diversity, across KL weights (1/c) and methods.

Every (c, seed) pair is one ``rllab tutor`` run (:func:`~rllab.lab.tutor.pipeline.run_tutor`, so finished runs are
reused and killed ones resume) in ``OUT/c<c>/seed<seed>/``; the points are read back from their ``table.json``.
Each method and c becomes one point: the mean over seeds, with a 95% bootstrap CI over seeds (``rllab.core.stats``)
on each axis. ``tradeoff.png`` draws r_MT against log p (left) and r_MT against distinct 4-grams (right), one line
per method through its c values; ``tradeoff.md`` and ``tradeoff.json`` hold the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.core.stats import stratified_bootstrap_ci
from rllab.lab.tutor.pipeline import TutorConfig, parse_methods, run_tutor
from rllab.lab.tutor.report import METHOD_LABELS

AXES = ("r_mt_mean", "log_p_mean", "distinct_4grams")


@dataclass
class TradeoffConfig:
    """The sweep: methods x KL scales c x seeds, each a tutor run of ``preset`` (``steps``/``compositions``
    override its budget)."""

    out: Path = Path("runs/tradeoff")
    preset: str = "fast"
    methods: tuple[str, ...] = ("q", "psi", "g")
    cs: tuple[float, ...] = (0.5, 1.0, 2.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int | None = None
    compositions: int | None = 2000
    device: str = "auto"
    note_rnn: Path | None = None


@dataclass
class TradeoffResult:
    out: Path
    points: list[dict] = field(default_factory=list)   # method, c, n, and mean / ci_low / ci_high per axis

    @property
    def plot(self) -> Path:
        return self.out / "tradeoff.png"


def run_tradeoff(config: TradeoffConfig, console: Console | None = None) -> TradeoffResult:
    """Run (or reuse) every tutor run of the sweep, then summarise and draw it."""
    methods = parse_methods(config.methods)
    if not config.cs or any(not c > 0 for c in config.cs) or not config.seeds:
        raise UserError("the sweep needs at least one c > 0 and one seed")
    for c in config.cs:
        for seed in config.seeds:
            run_tutor(TutorConfig(out=run_dir(config.out, c, seed), preset=config.preset, methods=methods,
                                  device=config.device, note_rnn=config.note_rnn, steps=config.steps, c=c,
                                  compositions=config.compositions, samples=0, seed=seed), console)
    return summarize(config.out, ("note_rnn", *methods), config.cs, config.seeds)


def run_dir(out: Path, c: float, seed: int) -> Path:
    return Path(out) / f"c{c:g}" / f"seed{seed}"


def summarize(out: Path, methods: Sequence[str], cs: Sequence[float], seeds: Sequence[int]) -> TradeoffResult:
    """Read the runs' ``table.json`` files and write ``tradeoff.{json,md,png}``."""
    points = []
    for method in methods:
        # the prior's own samples do not depend on c: one point over every run
        for group in ([list(cs)] if method == "note_rnn" else [[c] for c in cs]):
            values: dict[str, list[float]] = {axis: [] for axis in AXES}
            for c, seed in ((c, seed) for c in group for seed in seeds):
                table = run_dir(out, c, seed) / "table.json"
                if not table.is_file():
                    raise UserError(f"{table} is missing: run the sweep first")
                row = json.loads(table.read_text())["rows"].get(method)
                if row is not None:
                    for axis in AXES:
                        values[axis].append(row[axis])
            if values[AXES[0]]:
                points.append({"method": method, "c": group[0] if len(group) == 1 else None,
                               "n": len(values[AXES[0]]),
                               **{axis: _mean_ci(v) for axis, v in values.items()}})
    result = TradeoffResult(Path(out), points)
    atomic.write_json(result.out / "tradeoff.json", points)
    atomic.write_text(result.out / "tradeoff.md", tradeoff_markdown(points) + "\n")
    plot_tradeoff(points, result.plot)
    return result


def _mean_ci(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    low, high = stratified_bootstrap_ci(arr, statistic="mean") if len(arr) > 1 else (arr[0], arr[0])
    return {"mean": float(arr.mean()), "ci_low": low, "ci_high": high}


def tradeoff_markdown(points: list[dict]) -> str:
    lines = ["| method | c | seeds | r_MT per note | log p per note | distinct 4-grams |", "|---|---|---|---|---|---|"]
    for p in points:
        cells = [f"{p[a]['mean']:.3f} [{p[a]['ci_low']:.3f}, {p[a]['ci_high']:.3f}]" for a in AXES[:2]]
        d = p["distinct_4grams"]
        cells.append(f"{100 * d['mean']:.2f}% [{100 * d['ci_low']:.2f}, {100 * d['ci_high']:.2f}]")
        c = "-" if p["c"] is None else f"{p['c']:g}"
        lines.append(f"| {METHOD_LABELS.get(p['method'], p['method'])} | {c} | {p['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_tradeoff(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for method in dict.fromkeys(p["method"] for p in points):
        mine = sorted((p for p in points if p["method"] == method), key=lambda p: p["c"] or 0.0)
        label = METHOD_LABELS.get(method, method)
        for ax, x_axis in zip(axes, ("log_p_mean", "distinct_4grams"), strict=True):
            xs = np.array([p[x_axis]["mean"] for p in mine])
            ys = np.array([p["r_mt_mean"]["mean"] for p in mine])
            xerr = np.array([[p[x_axis]["mean"] - p[x_axis]["ci_low"] for p in mine],
                             [p[x_axis]["ci_high"] - p[x_axis]["mean"] for p in mine]])
            yerr = np.array([[p["r_mt_mean"]["mean"] - p["r_mt_mean"]["ci_low"] for p in mine],
                             [p["r_mt_mean"]["ci_high"] - p["r_mt_mean"]["mean"] for p in mine]])
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, marker="o", capsize=3, label=label)
            for p, x, y in zip(mine, xs, ys, strict=True):
                if p["c"] is not None:
                    ax.annotate(f"c={p['c']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes[0].set(xlabel="log p(a|s) per note under the prior", ylabel="music-theory reward per note",
                title="reward vs log p (95% CI over seeds)")
    axes[1].set(xlabel="distinct 4-grams (share of all 4-grams)", ylabel="music-theory reward per note",
                title="reward vs diversity (95% CI over seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110), suffix=".png")
    plt.close(fig)
