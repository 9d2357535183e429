"""The tutor over several seeds: one full run per seed (``OUT/seed-<s>/``, each with its own prior trained from that
seed), then ``OUT/report.md`` and ``OUT/table.json`` with every statistic as mean ± std, the worst seed of each
target beside the paper's Q column, the priors' validation NLL and the wall time of every phase."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.lab.tutor.pipeline import TutorConfig, TutorResult, run_tutor
from rllab.lab.tutor.report import EXTRA_KEYS, METHOD_LABELS, Q_TARGETS, TargetCheck, targets_check
from rllab.music.metrics import TABLE1_KEYS

#: The paper's Table 1, Q column (Jaques et al. 2017), as fractions where the statistic is a percentage.
PAPER_Q = {"notes_excessively_repeated": 0.0, "autocorrelation_lag1": -0.11, "autocorrelation_lag2": 0.03,
           "autocorrelation_lag3": 0.03, "notes_not_in_key": 0.01, "starts_with_tonic": 0.288,
           "leaps_resolved": 0.911, "unique_max": 0.564, "unique_min": 0.519, "notes_in_motif": 0.757,
           "notes_in_repeated_motif": 0.0011}
RATIO_KEYS = frozenset(TABLE1_KEYS) - {"autocorrelation_lag1", "autocorrelation_lag2", "autocorrelation_lag3"}


@dataclass
class SeedsResult:
    out: Path
    seeds: list[int]
    runs: dict[int, TutorResult]
    worst: list[tuple[int, TargetCheck]]   # the worst seed of each Q target, with its check

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    @property
    def targets_met(self) -> bool:
        return all(check.met for _, check in self.worst)


def run_tutor_seeds(config: TutorConfig, seeds: list[int], console: Console | None = None) -> SeedsResult:
    """Run the tutor once per seed (finished seeds are reused: each run resumes) and write the summary report."""
    if not seeds or len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise UserError(f"--seeds must be distinct non-negative integers, got {seeds}")
    console = console or Console()
    out = Path(config.out)
    runs = {}
    for seed in seeds:
        console.print(f"[bold]seed {seed}[/] -> {out / f'seed-{seed}'}")
        runs[seed] = run_tutor(dataclasses.replace(config, out=out / f"seed-{seed}", seed=seed), console)
    worst = worst_targets(runs)
    atomic.write_text(out / "report.md", seeds_markdown(config, runs, worst))
    atomic.write_json(out / "table.json", {"preset": config.preset, "seeds": seeds,
                                            "rows": {s: r.rows for s, r in runs.items()},
                                            "summary": summarize(runs)})
    atomic.write_json(out / "timings.json", {s: {"last_call": r.timings, "work_s": r.work_s} for s, r in runs.items()})
    return SeedsResult(out, seeds, runs, worst)


def summarize(runs: dict[int, TutorResult]) -> dict[str, dict[str, dict[str, float]]]:
    """method -> statistic -> {mean, std, min, max} over the seeds."""
    methods = next(iter(runs.values())).rows
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for method in methods:
        summary[method] = {}
        for key in methods[method]:
            values = np.array([r.rows[method][key] for r in runs.values()], dtype=float)
            summary[method][key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1
                                    else 0.0, "min": float(values.min()), "max": float(values.max())}
    return summary


def worst_targets(runs: dict[int, TutorResult]) -> list[tuple[int, TargetCheck]]:
    """For each Q target, the seed with the least headroom."""
    by_name: dict[str, tuple[int, TargetCheck]] = {}
    for seed, run in runs.items():
        for check in targets_check(run.rows):
            if check.name not in by_name or check.headroom < by_name[check.name][1].headroom:
                by_name[check.name] = (seed, check)
    return list(by_name.values())


def _fmt(key: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{100 * value:.2f}%" if key in RATIO_KEYS or key in ("distinct_4grams", "unique_compositions") \
        else f"{value:.3f}"


def seeds_markdown(config: TutorConfig, runs: dict[int, TutorResult], worst: list[tuple[int, TargetCheck]]) -> str:
    summary = summarize(runs)
    methods = list(summary)
    seeds = list(runs)
    lines = [f"# Sequence Tutor over {len(seeds)} seeds", "",
             f"Preset `{config.preset}`, seeds {seeds}; each seed trained its own Note RNN and tuners "
             f"(`seed-<s>/report.md` has each run's own table). Cells: mean ± std over the seeds.", "",
             "| statistic | paper Q | " + " | ".join(METHOD_LABELS[m] for m in methods) + " | Q worst seed |",
             "|---|---" + "|---" * len(methods) + "|---|"]
    for key in (*TABLE1_KEYS, *EXTRA_KEYS):
        if key not in summary[methods[0]]:
            continue
        cells = []
        for method in methods:
            s = summary[method][key]
            cells.append(f"{_fmt(key, s['mean'])} ± {_fmt(key, s['std'])}")
        paper = _fmt(key, PAPER_Q[key]) if key in PAPER_Q else ""
        worst_cell = ""
        if "q" in summary and key in Q_TARGETS:
            seed, check = next((s, c) for s, c in worst if c.name == key)
            worst_cell = f"{_fmt(key, check.value)} (seed {seed})"
        lines.append(f"| {key} | {paper} | " + " | ".join(cells) + f" | {worst_cell} |")
    if worst:
        lines += ["", "## Targets for the Q model, worst seed", ""]
        for seed, check in worst:
            unit = "nats" if check.name == "log_p_margin" else "points"
            scale = 1 if check.name == "log_p_margin" else 100
            lines.append(f"{check.line()} — seed {seed}, headroom {scale * check.headroom:+.2f} {unit}")
    parts = list(dict.fromkeys(k for run in runs.values() for k in run.work_s))
    lines += ["", "## Priors and wall time per seed", "",
              "Wall time of each part when it ran, summed over resumes (a part reused by a later call keeps its "
              "time; `seed-<s>/timings.json` has the last call's own phases).", "",
              "| seed | prior valid NLL | prior valid acc | " + " | ".join(parts) + " |",
              "|---|---|---" + "|---" * len(parts) + "|"]
    for seed, run in runs.items():
        nll = run.prior_metrics.get("valid_nll", math.nan)
        acc = run.prior_metrics.get("valid_accuracy", math.nan)
        times = " | ".join(f"{run.work_s[k]:.0f} s" if k in run.work_s else "" for k in parts)
        lines.append(f"| {seed} | {nll:.4f} | {100 * acc:.2f}% | {times} |")
    return "\n".join(lines) + "\n"
