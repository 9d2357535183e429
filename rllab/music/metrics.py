"""Evaluation statistics for sets of compositions: the paper's Table 1 (bugs fixed) plus diversity and model fit.

``composition_stats`` scores ``[N, T]`` token arrays with the same rule code the reward uses
(:mod:`rllab.music.theory_torch`), treating each row as a complete ``T``-step composition. Fixes relative to the
original evaluation code: in-key thirds are counted as in-key preferred intervals, hold intervals are counted, the
statistics accumulate per composition (nothing is overwritten), and a "unique maximum" is the highest *pitch*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.music.keys import C_MAJOR, Key, key_tables, parse_key
from rllab.music.note_rnn import sequence_log_probs
from rllab.music.theory_torch import (
    batched_rewards,
    prefix_autocorrelation,
    previous_pitches,
    unique_extremes,
)
from rllab.music.tokens import (
    NO_EVENT,
    NOTE_OFF,
    NUM_SPECIAL,
    PAPER_SPEC,
    TokenSpec,
    validate_tokens,
)

#: Table-1 rows in the paper's order, then the extra statistics; ``format_table`` prints them in this order.
TABLE1_KEYS = (
    "notes_excessively_repeated", "autocorrelation_lag1", "autocorrelation_lag2", "autocorrelation_lag3",
    "notes_not_in_key", "starts_with_tonic", "leaps_resolved", "unique_max", "unique_min", "notes_in_motif",
    "notes_in_repeated_motif",
)
INTERVAL_KEYS = (
    "seconds", "thirds", "fourths", "fifths", "sixths", "sevenths", "octave_jumps", "in_key_preferred",
    "holds", "rests", "special_rests",
)
DIVERSITY_KEYS = (
    "distinct_2grams", "distinct_4grams", "unique_compositions", "pitch_class_entropy", "token_entropy",
    "notes_per_composition", "rest_fraction", "hold_fraction",
)
#: Overlap of the pooled feature histograms with a reference set (held-out melodies), in [0, 1].
OVERLAP_KEYS = ("pitch_class_overlap", "interval_overlap", "ioi_overlap")
MAX_INTERVAL = 12   # intervals beyond an octave share the outermost bins
MAX_IOI = 32        # inter-onset intervals of two bars or more share the last bin
_PERCENT_KEYS = {"notes_excessively_repeated", "notes_not_in_key", "starts_with_tonic", "leaps_resolved",
                 "unique_max", "unique_min", "notes_in_motif", "notes_in_repeated_motif", "distinct_2grams",
                 "distinct_4grams", "unique_compositions", "rest_fraction", "hold_fraction", *OVERLAP_KEYS}


def _as_batch(tokens: Any, spec: TokenSpec) -> np.ndarray:
    arr = validate_tokens(tokens, spec)
    if arr.ndim != 2:
        raise UserError(f"compositions must have shape [N, T], got {arr.shape}")
    return arr.astype(np.int64)


def _entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def _distinct_ngrams(arr: np.ndarray, n: int) -> float:
    if arr.shape[1] < n:
        return float("nan")
    grams = np.lib.stride_tricks.sliding_window_view(arr, n, axis=1).reshape(-1, n)
    return len({g.tobytes() for g in np.ascontiguousarray(grams)}) / len(grams)


def interval_counts(arr: np.ndarray, key: Key, spec: TokenSpec) -> dict[str, float]:
    """Mean count per composition of each melodic interval class (prev = last pitch before the step)."""
    import torch


    tables = key_tables(key, spec)
    tokens = torch.as_tensor(arr)
    prev = previous_pitches(tokens).numpy()
    has_prev = prev >= 0
    safe = np.where(has_prev, prev, 0)
    tonic_or_fifth = tables.tonic_or_fifth[safe]
    is_pitch = arr >= NUM_SPECIAL
    semis = np.abs(arr - safe)
    in_key_fifth = (semis == 7) & tonic_or_fifth
    in_key_third = (semis == 4) & tables.third_end[safe]
    pitch_step = has_prev & is_pitch
    classes = {
        "seconds": pitch_step & (semis == 2),
        "thirds": pitch_step & (semis == 4) & ~in_key_third,
        "fourths": pitch_step & (semis == 5),
        "fifths": pitch_step & (semis == 7) & ~in_key_fifth,
        "sixths": pitch_step & (semis == 9),
        "sevenths": pitch_step & (semis == 11),
        "octave_jumps": pitch_step & (semis > 12),
        "in_key_preferred": pitch_step & (in_key_fifth | in_key_third),
        "holds": has_prev & (arr == NO_EVENT),
        "rests": has_prev & (arr == NOTE_OFF) & ~tonic_or_fifth,
        "special_rests": has_prev & (arr == NOTE_OFF) & tonic_or_fifth,
    }
    return {f"{name}_per_composition": float(mask.sum(1).mean()) for name, mask in classes.items()}


def composition_stats(tokens: Any, *, key: Key | str = C_MAJOR, spec: TokenSpec = PAPER_SPEC) -> dict[str, float]:
    """Table-1 statistics, interval counts and diversity metrics of ``N`` compositions ``[N, T]``."""
    import torch


    key = parse_key(key)
    arr = _as_batch(tokens, spec)
    n, steps = arr.shape
    t = torch.as_tensor(arr)
    tables = key_tables(key, spec)
    comps = {name: value.numpy() for name, value in batched_rewards(t, tables, spec, steps).items()}
    leaps = comps["leaps"]
    resolved, doubled = int((leaps > 0).sum()), int((leaps < 0).sum())
    high, low = (x.numpy() for x in unique_extremes(t))
    stats: dict[str, float] = {
        "compositions": float(n),
        "steps": float(steps),
        "notes_excessively_repeated": float((comps["repeat"] < 0).mean()),
        "notes_not_in_key": float((comps["key"] < 0).mean()),
        "starts_with_tonic": float((arr[:, 0] == tables.tonic_token).mean()),
        "leaps_resolved": resolved / (resolved + doubled) if resolved + doubled else float("nan"),
        "unique_max": float(high.mean()),
        "unique_min": float(low.mean()),
        "notes_in_motif": float((comps["motif"] > 0).mean()),
        "notes_in_repeated_motif": float((comps["repeated_motif"] > 0).mean()),
    }
    for lag, coeffs in zip((1, 2, 3), prefix_autocorrelation(t, (1, 2, 3)), strict=True):
        coeff = coeffs[:, -1].numpy()
        stats[f"autocorrelation_lag{lag}"] = float(np.nanmean(coeff)) if (~np.isnan(coeff)).any() else float("nan")
    stats.update(interval_counts(arr, key, spec))
    pitches = arr[arr >= NUM_SPECIAL]
    pitch_classes = (pitches - NUM_SPECIAL + spec.min_pitch) % 12
    stats.update({
        "distinct_2grams": _distinct_ngrams(arr, 2),
        "distinct_4grams": _distinct_ngrams(arr, 4),
        "unique_compositions": len({row.tobytes() for row in arr}) / n,
        "pitch_class_entropy": _entropy_bits(np.bincount(pitch_classes, minlength=12)),
        "token_entropy": _entropy_bits(np.bincount(arr.reshape(-1), minlength=spec.num_classes)),
        "notes_per_composition": float((arr >= NUM_SPECIAL).sum(1).mean()),
        "rest_fraction": float((arr == NOTE_OFF).mean()),
        "hold_fraction": float((arr == NO_EVENT).mean()),
    })
    return stats


def feature_histograms(tokens: Any, spec: TokenSpec = PAPER_SPEC) -> dict[str, np.ndarray]:
    """Pooled counts over compositions ``[N, T]``: pitch classes of the notes, intervals between consecutive notes
    of a composition (semitones, ±12 and beyond in the end bins), and inter-onset intervals between consecutive
    notes (steps, ``MAX_IOI`` and beyond in the last bin). The features of mgeval (Yang & Lerch 2018)."""
    arr = _as_batch(tokens, spec)
    pitch_class = np.zeros(12, dtype=np.int64)
    interval = np.zeros(2 * MAX_INTERVAL + 1, dtype=np.int64)
    ioi = np.zeros(MAX_IOI, dtype=np.int64)
    rows, cols = np.nonzero(arr >= NUM_SPECIAL)
    pitches = arr[rows, cols] - NUM_SPECIAL + spec.min_pitch
    np.add.at(pitch_class, pitches % 12, 1)
    same = rows[1:] == rows[:-1]
    steps = np.clip(np.diff(pitches)[same], -MAX_INTERVAL, MAX_INTERVAL)
    np.add.at(interval, steps + MAX_INTERVAL, 1)
    gaps = np.clip(np.diff(cols)[same], 1, MAX_IOI)
    np.add.at(ioi, gaps - 1, 1)
    return {"pitch_class": pitch_class, "interval": interval, "ioi": ioi}


def histogram_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Shared area of two normalised histograms (1 = identical, 0 = disjoint; nan if either is empty)."""
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def reference_overlap(tokens: Any, reference: Any, spec: TokenSpec = PAPER_SPEC) -> dict[str, float]:
    """Overlap of the pitch-class, interval and inter-onset histograms of ``tokens`` with those of ``reference``
    (e.g. held-out corpus excerpts of the same length)."""
    ours, theirs = feature_histograms(tokens, spec), feature_histograms(reference, spec)
    return {f"{name}_overlap": histogram_overlap(ours[name], theirs[name]) for name in ours}


def corpus_windows(melodies: list[np.ndarray], length: int, count: int, seed: int = 0,
                   steps_per_bar: int | None = PAPER_SPEC.steps_per_bar) -> np.ndarray:
    """``count`` random ``length``-step excerpts of corpus melodies, ``[N, T]``, starting on a bar line unless
    ``steps_per_bar`` is None (the paper scores 32-step compositions; this is the corpus's side of the table)."""
    rng = np.random.default_rng(seed)
    usable = [m for m in melodies if len(m) >= length]
    if not usable:
        raise UserError(f"no melody has {length} steps")
    rows = []
    for _ in range(count):
        melody = usable[rng.integers(len(usable))]
        last = len(melody) - length
        start = int(rng.integers(last + 1))
        if steps_per_bar:
            start -= start % steps_per_bar
        rows.append(melody[start:start + length])
    return np.stack(rows).astype(np.uint8)


def model_fit_stats(model: Any, tokens: Any, *, spec: TokenSpec = PAPER_SPEC,
                    batch_size: int = 256) -> dict[str, float]:
    """Mean log p(x_t | x_<t) per step and mean predictive entropy (nats) of a Note-RNN-like model.

    The model must follow the :class:`agents.note_rnn.NoteRNN` interface; each row is scored from the start
    token, as if the model had generated it.
    """
    import torch


    if model.config["num_classes"] != spec.num_classes:
        raise UserError(f"the model has {model.config['num_classes']} classes, the token spec "
                        f"{spec.num_classes}")
    arr = _as_batch(tokens, spec)
    log_p, entropy = [], []
    for start in range(0, len(arr), batch_size):
        chunk = torch.as_tensor(arr[start:start + batch_size])
        lp, ent = sequence_log_probs(model, chunk, with_entropy=True)
        log_p.append(lp.cpu())
        entropy.append(ent.cpu())
    log_p_all, entropy_all = torch.cat(log_p), torch.cat(entropy)
    return {"log_p_mean": float(log_p_all.mean()), "entropy_mean": float(entropy_all.mean()),
            "perplexity": math.exp(-float(log_p_all.mean()))}


def format_value(name: str, value: float) -> str:
    """A statistic as the tables print it: percentages for fractions, three decimals otherwise, n/a for nan."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if name in _PERCENT_KEYS:
        return f"{100 * value:.2f}%"
    return f"{value:.3f}"


def format_table(rows: Mapping[str, Mapping[str, float]], keys: tuple[str, ...] | None = None) -> str:
    """A markdown table: one row per statistic, one column per model (``rows`` = model -> stats)."""
    if not rows:
        raise UserError("nothing to tabulate")
    models = list(rows)
    if keys is None:
        present = set().union(*(set(r) for r in rows.values()))
        ordered = [*TABLE1_KEYS, *(f"{k}_per_composition" for k in INTERVAL_KEYS), *DIVERSITY_KEYS,
                   *OVERLAP_KEYS, "log_p_mean", "entropy_mean", "perplexity", "compositions", "steps"]
        keys = tuple(k for k in ordered if k in present)
    lines = ["| statistic | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for name in keys:
        cells = [format_value(name, rows[m].get(name, float("nan"))) for m in models]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
