"""Aggregate statistics for comparing runs, after rliable (Agarwal et al., NeurIPS 2021).

Scores are arrays of shape ``[runs, tasks]`` (one task is fine). The interquartile mean (IQM) discards the
bottom and top 25% of all run x task scores; its confidence interval comes from a *stratified* bootstrap that
resamples runs with replacement independently within each task, with percentile intervals.
"""

from __future__ import annotations

import numpy as np


def _as_matrix(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}")
    return scores


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all scores: ``scipy.stats.trim_mean(x, 0.25)`` on the flattened array."""
    return float(_trimmed_means(_as_matrix(scores).reshape(1, -1))[0])


def _trimmed_means(samples: np.ndarray) -> np.ndarray:
    """IQM of each row of a ``[reps, n]`` array (cut ``floor(n / 4)`` values from each end, as trim_mean does)."""
    n = samples.shape[1]
    cut = int(np.floor(0.25 * n))
    ordered = np.sort(samples, axis=1)
    return ordered[:, cut:n - cut].mean(axis=1)


def stratified_bootstrap_ci(scores: np.ndarray, reps: int = 2000, confidence: float = 0.95,
                            seed: int = 0, statistic: str = "iqm") -> tuple[float, float]:
    """Percentile CI of the IQM (or ``statistic="mean"``) under a stratified bootstrap over runs."""
    matrix = _as_matrix(scores)
    runs, tasks = matrix.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    resampled = matrix[idx, np.arange(tasks)[None, None, :]].reshape(reps, runs * tasks)
    if statistic == "iqm":
        values = _trimmed_means(resampled)
    elif statistic == "mean":
        values = resampled.mean(axis=1)
    else:
        raise ValueError(f"unknown statistic {statistic!r}; valid: iqm, mean")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
