"""Training the Note RNN: teacher forcing on random windows of corpus melodies (windows that start mid-melody skip
their first losses while the state warms up), Adam with L2 and gradient clipping, step decay of the learning rate,
checkpoints in a run directory (atomic, resumable, one on Ctrl-C), AMP on CUDA.

The budget is a number of steps; ``time_limit_min`` is an explicit, opt-in wall-clock cap (a run cut by it depends on
the machine and its load, so no preset uses it).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.agents.window_trainer import PROGRESS_FILE, WindowTrainer, WindowTrainingConfig
from rllab.core import atomic
from rllab.core.config import NOTE_RNN_PRESETS, from_mapping
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.core.runs import RunDir, default_run_path
from rllab.music.corpus import Corpus, load_corpus
from rllab.music.note_rnn import FORMAT, MODEL_FILE, NoteRNN, save_note_rnn
from rllab.music.tokens import PAPER_SPEC, TokenSpec


@dataclass
class NoteRNNConfig(WindowTrainingConfig):
    """Training settings (a preset in ``rllab/presets/note_rnn/``, ``--set key=value``); defaults = the paper's."""

    description: str = ""
    hidden_size: int = 100
    num_layers: int = 1
    dropout: float = 0.0
    bar_position: bool = False
    collections: str = "default"
    lr: float = 0.01
    lr_decay: float = 0.85
    lr_decay_every: int = 500
    l2: float = 2.5e-5
    skip_first_losses: int = 8

    def __post_init__(self) -> None:
        self.check_positive("Note RNN", ("hidden_size", "num_layers", "lr_decay_every"))
        if not isinstance(self.bar_position, bool):
            raise UserError(f"bar_position must be true or false, got {self.bar_position!r}")


def note_rnn_config(preset: str | None = "paper", overrides: dict[str, Any] | None = None) -> NoteRNNConfig:
    """A preset by name (``rllab/presets/note_rnn/``) or YAML path, plus overrides, checked field by field."""
    data = NOTE_RNN_PRESETS.load(preset)[1] if preset else {}
    return from_mapping(NoteRNNConfig, {**data, **(overrides or {})}, f"Note RNN preset {preset}")


# -- training -----------------------------------------------------------------------------------------------------

class WindowSampler:
    """Random training windows ``[BOS] + melody`` -> (inputs, targets, loss mask), drawn with a torch generator."""

    def __init__(self, melodies: list[np.ndarray], bos: int, seq_len: int, start_fraction: float,
                 skip_first: int):
        if not melodies:
            raise UserError("the training corpus is empty")
        padded = [np.concatenate([[bos], m]).astype(np.int64) for m in melodies]
        self.lengths = torch.tensor([len(p) for p in padded])
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), self.lengths.cumsum(0)[:-1]])
        self.data = torch.from_numpy(np.concatenate(padded + [np.zeros(seq_len + 1, np.int64)]))
        self.weights = self.lengths.double()
        self.seq_len, self.start_fraction, self.skip_first = seq_len, start_fraction, skip_first

    def batch(self, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, targets with -100 where no loss is taken, start offset of each window in ``[BOS] + melody``)."""
        which = torch.multinomial(self.weights, size, replacement=True, generator=generator)
        lengths = self.lengths[which]
        max_start = (lengths - self.seq_len - 1).clamp(min=0)
        start = (torch.rand(size, generator=generator) * (max_start + 1).double()).long().clamp(max=max_start)
        start = torch.where(torch.rand(size, generator=generator) < self.start_fraction, 0, start)
        j = torch.arange(self.seq_len + 1)
        window = self.data[(self.offsets[which] + start)[:, None] + j]
        inside = j[None, :] < (lengths - start)[:, None]
        targets = torch.where(inside, window, -100)[:, 1:]
        warmup = (start > 0)[:, None] & (j[None, 1:] <= self.skip_first)
        targets = torch.where(warmup, -100, targets)
        return window[:, :-1].clone(), targets, start


@torch.no_grad()
def evaluate(model: NoteRNN, melodies: list[np.ndarray], device: torch.device, batch_size: int = 64
             ) -> dict[str, float]:
    """Per-step NLL (nats), accuracy and perplexity on whole melodies, each scored from its start token."""
    model.eval()
    order = sorted(range(len(melodies)), key=lambda i: len(melodies[i]))
    nll_sum, correct, count = 0.0, 0, 0
    for i in range(0, len(order), batch_size):
        chunk = [melodies[k] for k in order[i:i + batch_size]]
        width = max(len(m) for m in chunk)
        targets = torch.full((len(chunk), width), -100, dtype=torch.long)
        for row, melody in enumerate(chunk):
            targets[row, :len(melody)] = torch.from_numpy(melody.astype(np.int64))
        targets = targets.to(device)
        inputs = torch.cat([torch.full((len(chunk), 1), model.bos_token, device=device),
                            targets[:, :-1].clamp(min=0)], dim=1)
        logits, _ = model(inputs)
        logits = logits.float()
        mask = targets >= 0
        nll_sum += float(nn.functional.cross_entropy(logits[mask], targets[mask], reduction="sum"))
        correct += int((logits.argmax(-1)[mask] == targets[mask]).sum())
        count += int(mask.sum())
    model.train()
    nll = nll_sum / max(count, 1)
    return {"valid_nll": nll, "valid_accuracy": correct / max(count, 1), "valid_perplexity": math.exp(nll),
            "valid_steps": count}



def train_note_rnn(config: NoteRNNConfig, out: str | os.PathLike[str] | None = None, *, device: str = "auto",
                   progress: bool = True, corpus: Corpus | None = None,
                   runs_root: str | os.PathLike[str] = "runs") -> Path:
    """Train a Note RNN into a new run directory (``model.pt``, ``metrics.json``, ``progress.csv``, checkpoints)."""
    path = Path(out) if out is not None else default_run_path(runs_root, "note-rnn", seed=config.seed)
    run = RunDir.create(path, config.to_dict(), config.seed)
    return NoteRNNTrainer(run, config, device, corpus, progress).fit()


def resume_note_rnn(out: str | os.PathLike[str], overrides: dict[str, Any] | None = None, *, device: str = "auto",
                    progress: bool = True, corpus: Corpus | None = None) -> Path:
    """Continue the run in ``out`` from its newest checkpoint; ``overrides`` may raise ``steps`` (then it trains on)."""
    run = RunDir.open(out)
    config = from_mapping(NoteRNNConfig, {**run.config, **(overrides or {})}, f"{run.path}/config.yaml")
    run.record_command()
    atomic.write_yaml(run.path / "config.yaml", config.to_dict())
    return NoteRNNTrainer(run, config, device, corpus, progress).fit()


class NoteRNNTrainer(WindowTrainer):
    """One training run: model, optimiser, schedule, sampler and counters, checkpointed as one blob."""

    label = "Note RNN"

    def __init__(self, run: RunDir, config: NoteRNNConfig, device: str, corpus: Corpus | None, progress: bool):
        super().__init__(run, config, torch.device(resolve_device(device)), progress)
        if self.device.type == "cpu":
            limit_cpu_threads(1)
        self.corpus = corpus if corpus is not None else load_corpus(config.collections, progress=progress)
        torch.manual_seed(config.seed)
        self.spec = corpus_spec(self.corpus)
        self.model = NoteRNN(self.spec.num_classes, config.hidden_size, config.num_layers, config.dropout,
                             bar_steps=self.spec.steps_per_bar if config.bar_position else 0).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.l2)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_decay_every, config.lr_decay)
        self.use_amp = bool(config.amp) and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.sampler = WindowSampler(self.corpus.train, self.model.bos_token, config.seq_len, config.start_fraction,
                                     config.skip_first_losses)
        self.acc_avg = math.nan

    def model_blob(self) -> dict[str, Any]:
        return {"format": FORMAT, "config": dict(self.model.config),
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}, "extra": {}}

    def train_step(self) -> None:
        config, model, device = self.config, self.model, self.device
        inputs, targets, start = self.sampler.batch(config.batch_size, self.generator)
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        # a window's first input is token `start` of [BOS] + melody, so its bar position is `start`
        state = model.initial_state(len(start), device, start.to(device)) if model.bar_steps else None
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=self.use_amp):
            logits, _ = model(inputs, state)
            loss = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               ignore_index=-100)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        with torch.no_grad():
            mask = targets >= 0
            acc = float((logits.argmax(-1)[mask] == targets[mask]).float().mean())
        loss_value = float(loss.detach())
        self.loss_avg = loss_value if math.isnan(self.loss_avg) else 0.95 * self.loss_avg + 0.05 * loss_value
        self.acc_avg = acc if math.isnan(self.acc_avg) else 0.95 * self.acc_avg + 0.05 * acc

    def evaluate(self) -> None:
        self.last_eval, self.evaluated_at = evaluate(self.model, self.corpus.valid, self.device), self.step
        self.run.append_row(PROGRESS_FILE, {
            "step": self.step, "wall_s": round(self.wall(), 2), "cpu_s": round(self.cpu(), 2),
            "lr": self.scheduler.get_last_lr()[0], "train_loss": self.loss_avg, "train_accuracy": self.acc_avg,
            **self.last_eval})

    def describe(self) -> str:
        info = f"loss {self.loss_avg:.3f} acc {self.acc_avg:.3f}"
        if self.last_eval:
            info += f" | valid acc {self.last_eval['valid_accuracy']:.3f} nll {self.last_eval['valid_nll']:.3f}"
        return info

    def save_model(self) -> None:
        save_note_rnn(self.model, self.run.path / MODEL_FILE, steps=self.step, spec=self.spec.to_dict())

    def extra_metrics(self) -> dict[str, Any]:
        return {"train_accuracy_ema": self.acc_avg}


def corpus_spec(corpus: Corpus) -> TokenSpec:
    """The token spec a corpus cache was encoded with (older caches: the paper's)."""
    recorded = getattr(corpus, "manifest", {}).get("spec")
    return TokenSpec.from_dict(recorded) if recorded else PAPER_SPEC

