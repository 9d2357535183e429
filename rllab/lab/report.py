"""Experiment reports: per-variant final scores with IQM and 95% stratified-bootstrap CIs, learning curves with
CI bands, and a markdown table ranking the variants.

Scores come from each run's ``evaluation.json`` (the final evaluation) and curves from its
``evaluations.csv`` (periodic evaluations during training). The ranking metric is the spec's ``metric``: the
environment's unshaped task metric (an info keyword such as ``win`` or ``x_pos_max``), or ``return``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rllab.agents.sb3 import EVAL_CURVE_FILE
from rllab.agents.sb3.evaluation import EVALUATION_JSON
from rllab.core import atomic
from rllab.core.config import read_yaml
from rllab.core.errors import UserError, choices_hint
from rllab.core.runs import RunDir
from rllab.core.stats import iqm, stratified_bootstrap_ci


@dataclass
class VariantResult:
    name: str
    seeds: list[int]
    scores: np.ndarray            # final metric per seed
    returns: np.ndarray           # final return per seed (for reference, never the ranking)
    curves: list[tuple[np.ndarray, np.ndarray]]  # per seed: (timesteps, metric)
    train_seconds: list[float]


def _metric_column(metric: str) -> str:
    return f"{metric}_mean"


def collect(root: Path, metric: str) -> list[VariantResult]:
    """Read every finished run of an experiment directory."""
    results = []
    for variant_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        seeds, scores, returns, curves, seconds = [], [], [], [], []
        for run_dir in sorted(variant_dir.glob("s*")):
            evaluation = run_dir / EVALUATION_JSON
            if not evaluation.exists():
                continue
            data = json.loads(evaluation.read_text())
            column = _metric_column(metric)
            if column not in data:
                available = sorted(k[:-5] for k in data if k.endswith("_mean"))
                raise UserError(f"metric {metric!r} not in {evaluation}; {choices_hint(available)}")
            seeds.append(int(run_dir.name[1:]) if run_dir.name[1:].isdigit() else len(seeds))
            scores.append(float(data[column]))
            returns.append(float(data.get("return_mean", math.nan)))
            curves.append(_read_curve(run_dir / EVAL_CURVE_FILE, column))
            seconds.append(float(RunDir(run_dir).status.get("train_seconds", math.nan)))
        if seeds:
            results.append(VariantResult(variant_dir.name, seeds, np.array(scores), np.array(returns), curves,
                                         seconds))
    return results


def _read_curve(path: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        return np.array([]), np.array([])
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get(column) not in (None, "")]
    return (np.array([float(r["timesteps"]) for r in rows]), np.array([float(r[column]) for r in rows]))


def summarize(results: list[VariantResult], seed: int = 0) -> list[dict[str, Any]]:
    """One row per variant, ranked by IQM (best first)."""
    rows = []
    for res in results:
        low, high = stratified_bootstrap_ci(res.scores, seed=seed)
        rows.append({
            "variant": res.name, "seeds": len(res.seeds), "mean": float(res.scores.mean()),
            "std": float(res.scores.std(ddof=1)) if len(res.scores) > 1 else 0.0,
            "iqm": iqm(res.scores), "ci_low": low, "ci_high": high,
            "return_mean": float(np.nanmean(res.returns)),
            "train_seconds_mean": float(np.nanmean(res.train_seconds)) if res.train_seconds else math.nan,
            "per_seed": ";".join(f"{s}:{v:.4g}" for s, v in zip(res.seeds, res.scores, strict=True)),
        })
    return sorted(rows, key=lambda r: r["iqm"], reverse=True)


def plot_curves(results: list[VariantResult], metric: str, path: Path, title: str) -> None:
    """IQM across seeds at each evaluation step with a 95% bootstrap band, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    drawn = 0
    for res in results:
        curves = [c for c in res.curves if len(c[0])]
        if not curves:
            continue
        drawn += 1
        grid = np.unique(np.concatenate([c[0] for c in curves]))
        # A run that stopped early (reward threshold) keeps its last value: step interpolation, held at the end.
        matrix = np.stack([np.interp(grid, t, v) for t, v in curves])
        centre = np.array([iqm(matrix[:, i]) for i in range(len(grid))])
        bands = np.array([stratified_bootstrap_ci(matrix[:, i], reps=500) for i in range(len(grid))])
        (line,) = ax.plot(grid, centre, label=f"{res.name} (n={len(curves)})")
        ax.fill_between(grid, bands[:, 0], bands[:, 1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("timesteps")
    ax.set_ylabel(f"{metric} (IQM, 95% CI)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="best", fontsize="small")
    else:  # e.g. eval.freq larger than the step budget: say so instead of drawing empty axes
        ax.text(0.5, 0.5, "no periodic evaluations during training\n(eval.freq > steps?)", ha="center",
                va="center", transform=ax.transAxes)
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    plt.close(fig)


def write_report(root: Path, metric: str | None = None) -> list[Path]:
    """Write ``report.md``, ``summary.csv`` and ``curves.png`` into an experiment directory."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"experiment directory not found: {root}")
    spec_path = root / "spec.yaml"
    spec = read_yaml(spec_path) if spec_path.exists() else {}
    metric = metric or spec.get("metric") or "return"
    results = collect(root, metric)
    if not results:
        raise UserError(f"no finished runs with an evaluation under {root}")
    rows = summarize(results)

    atomic.write_csv(root / "summary.csv", rows, list(rows[0]))

    name = spec.get("name", root.name)
    plot_curves(results, metric, root / "curves.png", f"{name}: {metric}")
    atomic.write_text(root / "report.md", _markdown(name, spec, metric, rows))
    return [root / "report.md", root / "summary.csv", root / "curves.png"]


def _markdown(name: str, spec: dict[str, Any], metric: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"# Experiment `{name}`", ""]
    if spec.get("description"):
        lines += [spec["description"], ""]
    lines += [
        f"- env `{spec.get('env')}`, algo `{spec.get('algo')}`, preset `{spec.get('preset')}`, "
        f"steps per run {spec.get('steps')}, seeds {spec.get('seeds')}",
        f"- ranked by **{metric}** (final evaluation, {spec.get('eval_episodes', '?')} episodes per run): "
        "IQM across seeds with a 95% stratified-bootstrap CI; mean ± std alongside.",
        "- the curves come from the periodic evaluations during training (`eval.episodes` each), the table from "
        "a separate final evaluation, so a curve's last point and the table can differ by evaluation noise.",
        "",
        f"| rank | variant | seeds | {metric} IQM [95% CI] | {metric} mean ± std | return | train s | per seed |",
        "|---:|---|---:|---|---|---:|---:|---|",
    ]
    for rank, row in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {row['variant']} | {row['seeds']} | {row['iqm']:.4g} [{row['ci_low']:.4g}, "
            f"{row['ci_high']:.4g}] | {row['mean']:.4g} ± {row['std']:.3g} | {row['return_mean']:.4g} | "
            f"{row['train_seconds_mean']:.1f} | {row['per_seed']} |")
    lines += ["", "![learning curves](curves.png)", ""]
    return "\n".join(lines)
