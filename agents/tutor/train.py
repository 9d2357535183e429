"""Running a tuner in a run directory: resumable from its newest checkpoint, a checkpoint on Ctrl-C, the tuned
model (``model.pt``, loadable as a Note RNN) and the learning curve (``curves.json``) when done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rllab.agents.tutor.base import Tuner
from rllab.agents.tutor.config import TunerConfig
from rllab.agents.tutor.ppo_kl import PPOKLTuner
from rllab.agents.tutor.value import ValueTuner
from rllab.core import atomic
from rllab.core.runs import RunDir, load_torch, save_torch
from rllab.music.note_rnn import MODEL_FILE, NoteRNN, save_note_rnn

ProgressFn = Callable[[int, int], None]
CURVES_FILE = "curves.json"


def make_tuner(config: TunerConfig, prior: NoteRNN, device: str = "cpu",
               primers: np.ndarray | None = None, start: nn.Module | None = None) -> Tuner:
    """The tuner for ``config.method``: PPO-KL, or a value tuner (Q, Ψ, G, RL only); its network starts as a copy
    of ``start`` (default: the prior)."""
    cls = PPOKLTuner if config.method == "ppo_kl" else ValueTuner
    return cls(config, prior, device, primers, start=start)


def train_tuner(config: TunerConfig, prior: NoteRNN, run_path: Path, *, device: str = "cpu",
                primers: np.ndarray | None = None, progress: ProgressFn | None = None,
                start: nn.Module | None = None) -> Tuner:
    """Tune ``prior`` with ``config.method`` in ``run_path``, resuming from its newest checkpoint when present.

    A finished run is returned as is; a run of another configuration in the same place is refused.
    """
    tuner = make_tuner(config, prior, device, primers, start)
    recorded = {"tuner": config.to_dict(), "note_rnn": dict(prior.config)}
    if start is not None:
        recorded["start"] = dict(start.config)
    run = RunDir.open_or_create(run_path, recorded, seed=config.seed, ignore=())
    checkpoint = run.latest_checkpoint()
    if checkpoint is not None:
        tuner.load_state_dict(load_torch(checkpoint.path, map_location=tuner.device))
    if run.finished and tuner.steps >= config.steps:
        return tuner

    def save() -> None:
        run.save_checkpoint(tuner.steps, lambda p: torch.save(tuner.state_dict(), p), keep=2)

    run.set_status("running", steps=tuner.steps)
    last_checkpoint = tuner.steps
    if not tuner.curves:
        tuner.evaluate_curve()
    try:
        while tuner.steps < config.steps:
            tuner.train_round()
            if tuner.steps - tuner.curves[-1]["steps"] >= config.eval_every or tuner.steps >= config.steps:
                tuner.evaluate_curve()
            if tuner.steps - last_checkpoint >= config.checkpoint_every or tuner.steps >= config.steps:
                save()
                last_checkpoint = tuner.steps
                run.set_status("running", steps=tuner.steps, wall_s=round(tuner.wall, 1),
                               steps_per_second=round(tuner.steps / max(tuner.wall, 1e-9), 1))
            if progress is not None:
                progress(tuner.steps, config.steps)
    except KeyboardInterrupt:
        save()
        run.set_status("interrupted", steps=tuner.steps, wall_s=round(tuner.wall, 1))
        raise
    save_note_rnn(tuner.model, run.path / MODEL_FILE, method=config.method)
    if isinstance(tuner, PPOKLTuner):
        save_torch(tuner.critic.state_dict(), run.path / "critic.pt")
    atomic.write_json(run.path / CURVES_FILE, tuner.curves)
    run.set_status("finished", steps=tuner.steps, updates=tuner.updates, wall_s=round(tuner.wall, 1),
                   steps_per_second=round(tuner.steps / max(tuner.wall, 1e-9), 1))
    return tuner
