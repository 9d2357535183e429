"""Which prior the tutor tunes against, and which network the tuners start from (a tutor preset's ``prior:``).

``prior: {model: <path | shipped name>, start: note_rnn | prior, temperature: T}``

* ``model`` (default: none) is the KL prior: the log p(a|s) in the reward and the p of G-learning's policy. Without
  it the prior is the Note RNN the tutor trains (or ``--note-rnn``), as in the paper.
* ``start`` is the network the tuners copy and train: ``note_rnn`` (the LSTM; the default, and the only choice for
  a count prior, which has no weights) or ``prior`` (the neural prior itself: the copy-LSTM or the Transformer,
  dearer per update). PPO-KL's critic is an LSTM either way.
* ``temperature`` divides the tuned policies' logits when the report's compositions are sampled (the prior's row is
  always sampled at 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from rllab.core.config import unknown_name
from rllab.core.errors import UserError
from rllab.music.priors import load_prior
from rllab.music.tokens import PAPER_SPEC

STARTS = ("note_rnn", "prior")


@dataclass
class TutorPrior:
    """The KL prior, the tuners' starting network (``None``: a copy of the prior), its label, the temperature."""

    prior: nn.Module
    start: nn.Module | None
    label: str
    temperature: float


def select_prior(section: dict[str, Any], note_rnn: Callable[[], nn.Module], device: str) -> TutorPrior:
    """Resolve a preset's ``prior:`` section; ``note_rnn()`` gives the tutor's Note RNN (trained on first use, so
    it is only called when needed)."""
    known = {"model", "start", "temperature"}
    for key in section:
        if key not in known:
            raise unknown_name("prior setting", str(key), known, "tutor preset: prior")
    start = section.get("start", "note_rnn")
    if start not in STARTS:
        raise unknown_name("prior start", str(start), STARTS, "tutor preset: prior")
    temperature = float(section.get("temperature", 1.0))
    if not temperature > 0:
        raise UserError(f"tutor preset: prior: temperature must be positive, got {temperature}")
    if section.get("model") is None:
        return TutorPrior(note_rnn(), None, "Note RNN", temperature)
    prior = load_prior(section["model"], device, PAPER_SPEC)
    prior.requires_grad_(False)
    kind = prior.config.get("arch") or prior.config.get("kind") or "lstm"
    if start == "prior" and not any(True for _ in prior.parameters()):   # refused here, before anything is written
        raise UserError(f"tutor preset: prior: a {kind} prior has no weights to tune; use start: note_rnn")
    return TutorPrior(prior, note_rnn() if start == "note_rnn" else None, f"prior ({kind})", temperature)
