"""``rllab prior eval``: every prior scored on the same validation split (NLL, bits per note, accuracy by class).

The baselines are counted on the corpus's training split at call time (seconds); trained priors (a Note RNN, a
Transformer, a saved Markov model) are loaded from their files. All are scored by
:func:`rllab.music.priors.score_prior` on every validation melody from its start token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rllab.core.config import unknown_name
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.music.corpus import load_corpus
from rllab.music.priors import BASELINES, PriorScore, fit_baseline, load_prior, score_prior
from rllab.music.tokens import PAPER_SPEC, TokenSpec

CORPORA = ("default", "essen")


@dataclass
class PriorRow:
    """One prior's validation figures and what producing them cost."""

    name: str
    score: PriorScore
    fit_s: float
    score_s: float


def parse_baselines(text: str | Sequence[str]) -> list[str]:
    """``"unigram,markov"`` -> checked baseline names (an empty string selects none)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [name.strip().lower() for name in items if name.strip()]
    for name in names:
        if name not in BASELINES:
            raise unknown_name("prior", name, BASELINES)
    return list(dict.fromkeys(names))


def evaluate_priors(corpus: str = "default", baselines: Sequence[str] = BASELINES,
                    models: Sequence[str | Path] = (), device: str = "cpu", progress: bool = True) -> list[PriorRow]:
    """Fit the ``baselines`` on the training split and load the ``models``; score each on the validation split."""
    if corpus not in CORPORA:
        raise unknown_name("corpus", corpus, CORPORA)
    names = parse_baselines(baselines)
    if not names and not models:
        raise UserError("nothing to evaluate: give baselines (--prior) or models (--model)")
    dev = resolve_device(device)
    if dev == "cpu":
        limit_cpu_threads()
    loaded = [(Path(m).name if Path(m).exists() else str(m), load_prior(m, dev, PAPER_SPEC))
              for m in models]
    data = load_corpus(corpus, progress=progress)
    spec = TokenSpec.from_dict(data.manifest["spec"]) if data.manifest.get("spec") else PAPER_SPEC
    rows = []
    for name in names:
        start = time.process_time()
        model = fit_baseline(name, data.train, spec).to(dev)
        fit_s = time.process_time() - start
        rows.append(_score(name, model, data.valid, fit_s))
    for name, model in loaded:
        rows.append(_score(name, model, data.valid, 0.0))
    return rows


def _score(name: str, model, melodies, fit_s: float) -> PriorRow:
    start = time.process_time()
    score = score_prior(model, melodies)
    return PriorRow(name, score, fit_s, time.process_time() - start)


def format_rows(rows: Sequence[PriorRow]) -> str:
    """A markdown table, one prior per row."""
    lines = ["| prior | NLL (nats/step) | bits/note | accuracy | holds | rests | onsets | fit CPU-s | score CPU-s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        s = row.score
        lines.append(f"| {row.name} | {s.nll:.4f} | {s.bits_per_note:.3f} | {s.accuracy:.2%} | {s.hold_accuracy:.2%} "
                     f"| {s.rest_accuracy:.2%} | {s.onset_accuracy:.2%} | {row.fit_s:.1f} | {row.score_s:.1f} |")
    return "\n".join(lines)
