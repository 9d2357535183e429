"""How the Markov baseline's settings were chosen: on a tuning split of the *training* melodies, never the
validation split the priors are compared on.

Usage: python -m rllab.lab.bench.markov_tuning [default|essen]   (needs the corpus cache: `rllab corpus build`)

The long-term model is counted on 90% of the training melodies and scored on the other 10%. For each structure
(maximum pitch order, escape method, metric weight of the pitch context) the four component distributions
(long/short-term x rhythm/pitch) are computed once, then every combination setting (LTM weight, entropy biases) is
scored from them. Prints NLL per step for each structure and the best combination.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import torch

from rllab.music.corpus import load_corpus
from rllab.music.priors.base import onset_symbol_mask
from rllab.music.priors.markov import Contexts, MarkovConfig, _combine, _ppm, fit_markov
from rllab.music.priors.scoring import length_batches
from rllab.music.tokens import NO_EVENT, PAPER_SPEC

STRUCTURES = [
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6]},
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6, 7, 8]},
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6], "escape": "ax"},
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6], "pitch_position": "beat"},
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6], "exclusion": False},
    {"pitch_orders": [0, 1, 2, 3, 4, 5, 6], "rhythm_orders": [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16]},
]
LTM_WEIGHTS = (0.5, 0.6, 0.7, 0.8)
BIASES = (0.0, 0.25, 0.5, 1.0)


@torch.no_grad()
def components(model, melodies: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Long/short-term rhythm and pitch distributions at every step of ``melodies`` (and the targets)."""
    cfg, bos = model.markov, model.bos_token
    mask = onset_symbol_mask(model.num_classes, torch.device("cpu"))
    uniform_r, uniform_p = torch.full((2,), 0.5, dtype=torch.float64), mask.double() / mask.sum()
    parts: dict[str, list[torch.Tensor]] = {"rl": [], "rs": [], "pl": [], "ps": [], "target": []}
    for group in length_batches(melodies, 3_000_000):
        chunk = [melodies[i] for i in group]
        width = max(len(m) for m in chunk)
        targets = torch.full((len(chunk), width), -1, dtype=torch.long)
        for row, melody in enumerate(chunk):
            targets[row, :len(melody)] = torch.from_numpy(melody.astype(np.int64))
        history = torch.cat([torch.full((len(chunk), 1), bos), torch.where(targets[:, :-1] >= 0, targets[:, :-1],
                                                                           NO_EVENT)], 1)
        ctx = Contexts(history, torch.zeros(len(chunk), dtype=torch.long), model.spec, cfg)
        nxt = torch.full_like(history, -1)
        nxt[:, :-1] = history[:, 1:]
        known = nxt >= 0
        rhythm_target = torch.where(known, (nxt != NO_EVENT).long(), -1)
        valid = targets >= 0
        parts["rl"].append(_ppm([model._rhythm_counts(k, c) for k, c in enumerate(ctx.rhythm)], uniform_r,
                                cfg.escape)[valid])
        parts["pl"].append(_ppm([model._pitch_counts(k, c) for k, c in enumerate(ctx.pitch)], uniform_p,
                                cfg.escape)[valid])
        parts["rs"].append(_ppm([model._within(c, rhythm_target, known, 0, 2) for c in ctx.rhythm], uniform_r,
                                cfg.escape)[valid])
        parts["ps"].append(_ppm([model._within(c, nxt, known & (nxt != NO_EVENT), 0, model.num_classes)
                                 for c in ctx.pitch], uniform_p, cfg.escape)[valid])
        parts["target"].append(targets[valid])
    return {name: torch.cat(values) for name, values in parts.items()}


def nll(parts: dict[str, torch.Tensor], ltm_weight: float, rhythm_bias: float, pitch_bias: float) -> float:
    target = parts["target"]
    onset = target != NO_EVENT
    base = [ltm_weight, 1 - ltm_weight]
    rhythm = _combine([parts["rl"], parts["rs"]], base, torch.ones(2, dtype=torch.bool), rhythm_bias, False)
    pitch = _combine([parts["pl"], parts["ps"]], base, onset_symbol_mask(parts["pl"].shape[1], torch.device("cpu")),
                     pitch_bias, False)
    total = -rhythm.gather(1, onset.long()[:, None]).log().sum()
    total -= pitch[onset].gather(1, target[onset][:, None]).log().sum()
    return float(total) / len(target)


def main(name: str) -> None:
    torch.set_num_threads(1)
    corpus = load_corpus(name, progress=False)
    train = corpus.train
    order = np.random.default_rng(0).permutation(len(train))
    held = set(order[: len(train) // 10].tolist())
    fit = [m for i, m in enumerate(train) if i not in held]
    tune = [m for i, m in enumerate(train) if i in held]
    print(f"{name}: counting on {len(fit)} training melodies, tuning on {len(tune)} other training melodies")
    for structure in STRUCTURES:
        model = fit_markov(fit, PAPER_SPEC, MarkovConfig(**structure))
        parts = components(model, tune)
        scores = {(w, rb, pb): nll(parts, w, rb, pb) for w, rb, pb in itertools.product(LTM_WEIGHTS, BIASES, BIASES)}
        best = min(scores, key=scores.get)
        print(f"  {structure}: LTM only {nll(parts, 1 - 1e-9, 0, 0):.4f}, STM only {nll(parts, 1e-9, 0, 0):.4f}, "
              f"best {scores[best]:.4f} at ltm_weight={best[0]} rhythm_bias={best[1]} pitch_bias={best[2]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
