"""The tutor's report: Table-1 statistics per model, the paper's targets for the Q model, curves, MIDI samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rllab.core import atomic
from rllab.music.corpus import corpus_cache_path, load_corpus
from rllab.music.metrics import TABLE1_KEYS, corpus_windows, format_table, reference_overlap
from rllab.music.midi import piano_roll_png, tokens_to_midi

METHOD_LABELS = {"note_rnn": "Note RNN", "q": "Q", "psi": "Ψ", "g": "G", "rl_only": "RL only", "ppo_kl": "PPO-KL"}
#: Diversity (every row), then the prior's view of each model.
DIVERSITY_ROWS = ("distinct_2grams", "distinct_4grams", "unique_compositions", "pitch_class_entropy",
                  "pitch_class_overlap", "interval_overlap", "ioi_overlap")
EXTRA_KEYS = (*DIVERSITY_ROWS, "r_mt_mean", "log_p_mean", "kl_mean", "entropy_mean")
#: The paper's Q column, as targets (fractions).
Q_TARGETS = {"notes_excessively_repeated": ("<=", 0.01), "notes_not_in_key": ("<=", 0.01),
             "starts_with_tonic": (">=", 0.25), "leaps_resolved": (">=", 0.90), "notes_in_motif": (">=", 0.70)}
LOG_P_MARGIN = 1.0  # nats per note of the Q model over RL only
DIVERSITY_SHARE = 0.5  # the Q model's distinct 4-grams as a share of the Note RNN's (same number of compositions)
REFERENCE_COMPOSITIONS = 10_000


@dataclass(frozen=True)
class TargetCheck:
    """One target of the Q model: the value measured, the bound, and the headroom (positive = met)."""

    name: str
    value: float
    op: str
    bound: float

    @property
    def headroom(self) -> float:
        return self.bound - self.value if self.op == "<=" else self.value - self.bound

    @property
    def met(self) -> bool:
        return self.headroom >= 0

    def line(self) -> str:
        mark = "✔" if self.met else "✘"
        if self.name == "log_p_margin":
            return f"- log p margin over RL only: {self.value:+.2f} nats (target {self.op} +{self.bound:.2f}) {mark}"
        if self.name == "distinct_4grams_vs_prior":
            hint = "" if self.met else " (variety, beyond the paper's column: `--preset diverse` keeps it)"
            return (f"- distinct 4-grams: {self.value:.0%} of the prior's (target {self.op} {self.bound:.0%}) "
                    f"{mark}{hint}")
        return f"- {self.name}: {self.value:.2%} (target {self.op} {self.bound:.0%}) {mark}"


def targets_check(rows: dict[str, dict[str, float]]) -> list[TargetCheck]:
    """The paper's targets for the Q model (and the log p margin over RL only, when it was run)."""
    if "q" not in rows:
        return []
    q = rows["q"]
    checks = [TargetCheck(name, q.get(name, float("nan")), op, bound) for name, (op, bound) in Q_TARGETS.items()]
    if "rl_only" in rows:
        margin = q["log_p_mean"] - rows["rl_only"]["log_p_mean"]
        checks.append(TargetCheck("log_p_margin", margin, ">=", LOG_P_MARGIN))
    prior = rows.get("note_rnn", {}).get("distinct_4grams")
    if prior and "distinct_4grams" in q:
        checks.append(TargetCheck("distinct_4grams_vs_prior", q["distinct_4grams"] / prior, ">=", DIVERSITY_SHARE))
    return checks


def held_out_reference(length: int, count: int = REFERENCE_COMPOSITIONS, seed: int = 0) -> np.ndarray | None:
    """``count`` bar-aligned ``length``-step excerpts of the validation melodies, the reference of the histogram
    overlaps; ``None`` when the default corpus cache has not been built (nothing is built for this)."""
    if not corpus_cache_path().is_file():
        return None
    return corpus_windows(load_corpus(progress=False).valid, length, count, seed=seed)


def reference_stats(tokens: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    """The pitch-class / interval / inter-onset histogram overlaps of ``tokens`` with the held-out reference."""
    return reference_overlap(tokens, reference) if reference is not None else {}


def write_samples(folder: Path, tokens: np.ndarray, count: int, title: str) -> None:
    """The first ``count`` compositions as ``sample_NNN.mid`` and a piano-roll ``sample_NNN.png`` each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(min(count, len(tokens))):
        tokens_to_midi(tokens[i], folder / f"sample_{i:03d}.mid")
        piano_roll_png(tokens[i], folder / f"sample_{i:03d}.png", title=f"{title} #{i}")


def robust_limits(values: np.ndarray, fence: float = 3.0) -> tuple[float, float] | None:
    """Y-limits that leave out far outliers (beyond ``fence`` interquartile ranges of the quartiles, Tukey's
    "far out"), or None when there are none: one early G-learning point must not flatten every other curve."""
    values = values[np.isfinite(values)]
    if len(values) < 4:
        return None
    q1, q3 = np.percentile(values, [25, 75])
    span = max(q3 - q1, 1e-9)
    inside = values[(values >= q1 - fence * span) & (values <= q3 + fence * span)]
    if len(inside) == len(values):
        return None
    pad = 0.08 * max(inside.max() - inside.min(), span)
    return float(inside.min() - pad), float(inside.max() + pad)


def _plot_clipped(ax: Any, steps: list[float], values: list[float], label: str,
                  limits: tuple[float, float] | None) -> None:
    """One curve; points outside ``limits`` are drawn on the axis edge as open triangles labelled with their value."""
    line, = ax.plot(steps, values, marker=".", label=label)
    if limits is None:
        return
    low, high = limits
    for step, value in zip(steps, values, strict=True):
        if value < low or value > high:
            edge = low if value < low else high
            ax.plot([step], [edge], marker="v" if value < low else "^", mfc="none", ms=9, color=line.get_color(),
                    clip_on=False)
            ax.annotate(f"{value:.3g}", (step, edge), textcoords="offset points", xytext=(6, 6 if value < low else -12),
                        fontsize=8, color=line.get_color())


def curves_figure(curves: dict[str, list[dict[str, float]]]) -> Any:
    """Music-theory reward and log p over training, one line per method, on outlier-robust y-axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in zip(axes, ("r_mt", "log_p"), strict=True):
        limits = robust_limits(np.array([p[key] for points in curves.values() for p in points], dtype=float))
        for method, points in curves.items():
            _plot_clipped(ax, [p["steps"] for p in points], [p[key] for p in points], METHOD_LABELS[method], limits)
        if limits is not None:
            ax.set_ylim(*limits)
    axes[0].set(title="music-theory reward per note", xlabel="environment steps")
    axes[1].set(title="log p(a|s) under the prior", xlabel="environment steps")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(curves: dict[str, list[dict[str, float]]], path: Path) -> None:
    """Write :func:`curves_figure` as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = curves_figure(curves)
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def write_report(out: Path, rows: dict[str, dict[str, float]], timings: dict[str, float], preset: str,
                 tuner_cfg: dict[str, Any], n_eval: int, device: str, labels: dict[str, str] | None = None,
                 temperature: float = 1.0) -> str:
    """``report.md`` and ``table.json``; returns the markdown table (``labels``: column names, default
    :data:`METHOD_LABELS`; ``temperature``: the one the tuned policies were sampled at, said in the text)."""
    labels = {**METHOD_LABELS, **(labels or {})}
    sampled = "" if temperature == 1 else f" The tuned policies' logits are divided by T = {temperature:g}."
    table = format_table({labels[m]: r for m, r in rows.items()}, keys=(*TABLE1_KEYS, *EXTRA_KEYS))
    lines = [
        "# Sequence Tutor report", "",
        f"Preset `{preset}` on `{device}`; {n_eval} compositions of {tuner_cfg['length']} steps per model, sampled "
        "from each model's policy (softmax of Q for Q and RL only, ∝ exp Ψ for Ψ, ∝ p·exp G for G, the prior "
        f"itself, at T = 1, for the {labels['note_rnn']} column).{sampled} `log_p_mean` is the mean per-note "
        "log p(a|s) under that prior, `kl_mean` the "
        "mean per-step KL(π‖p), `r_mt_mean` the mean per-note music-theory reward. Diversity: distinct n-grams "
        "are the share of distinct token n-grams among all n-grams of the compositions (so compare models over the "
        "same number of compositions); the `*_overlap` rows are the shared area of the pooled pitch-class, interval "
        "and inter-onset histograms with those of held-out corpus excerpts of the same length (1 = identical).", "",
        table, "",
    ]
    checks = targets_check(rows)
    if checks:
        lines += ["## Targets for the Q model", "", *(check.line() for check in checks), ""]
    lines += ["## Wall time", ""] + [f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()]
    lines += ["", "## Tuner configuration", "", "```yaml", yaml.safe_dump(tuner_cfg, sort_keys=False).rstrip(),
              "```", ""]
    atomic.write_text(out / "report.md", "\n".join(lines))
    # table.json holds only what the seed decides (a rerun with the same seed writes the same file); times apart.
    atomic.write_json(out / "table.json", {"rows": rows, "preset": preset})
    atomic.write_json(out / "timings.json", timings)
    return table
