"""Training a melody prior (``rllab prior train``): the neural priors (the copy-LSTM, the Transformer) by teacher
forcing, the Markov model by counting, all into a run directory.

A neural prior sees random windows of training melodies (a quarter of them from the melody's start), AdamW with a
linear warm-up and a cosine decay, gradient clipping, and is scored on the whole validation split every
``eval_every`` updates with the same code as ``rllab prior eval``. Checkpoints (model, optimiser, schedule,
sampler and torch RNG, counters) are written atomically; ``--resume`` continues exactly, Ctrl-C writes one first.
The budget is a number of updates (``time_limit_min`` is an opt-in wall-clock cap).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rllab.agents.note_rnn_trainer import WindowSampler, corpus_spec
from rllab.agents.window_trainer import METRICS_FILE, PROGRESS_FILE, WindowTrainer, WindowTrainingConfig
from rllab.core import atomic
from rllab.core.config import PresetKind, from_mapping
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError, choices_hint
from rllab.core.runs import RunDir, default_run_path
from rllab.music.corpus import Corpus, load_corpus
from rllab.music.note_rnn import FORMAT, MODEL_FILE
from rllab.music.priors import CopyLSTMPrior, MarkovConfig, TransformerPrior, fit_baseline, save_prior, score_prior

PRIOR_PRESETS = PresetKind("prior", "prior preset")
KINDS = ("copy_lstm", "transformer", "markov")


@dataclass
class PriorTrainConfig(WindowTrainingConfig):
    """A prior preset (``rllab/presets/prior/``): the family, its shape and, for the Transformer, its training."""

    description: str = ""
    kind: str = "copy_lstm"
    collections: str = "default"
    markov: dict[str, Any] = field(default_factory=dict)   # MarkovConfig fields (kind: markov)
    hidden: int = 128       # copy_lstm: LSTM width
    key_dim: int = 32       # copy_lstm: attention width per head
    dim: int = 96           # transformer: width, layers, feed-forward width
    layers: int = 3
    heads: int = 4
    ff: int = 384
    dropout: float = 0.1
    exact_distance: int = 64
    buckets: int = 80
    max_distance: int = 1024
    steps: int = 4000
    batch_size: int = 16
    seq_len: int = 256
    clip_norm: float = 1.0
    eval_every: int = 500
    lr: float = 2e-3
    warmup: int = 200
    min_lr_fraction: float = 0.05
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"unknown prior kind {self.kind!r}; {choices_hint(KINDS)}")
        self.check_positive("prior", ("dim", "layers", "heads", "ff", "hidden", "key_dim"))
        if not (self.lr > 0 and 0 <= self.min_lr_fraction <= 1 and self.warmup >= 0):
            raise UserError("lr must be positive, min_lr_fraction in [0, 1] and warmup >= 0")
        from_mapping(MarkovConfig, self.markov, "markov")

    def model(self, num_classes: int, bar_steps: int) -> CopyLSTMPrior | TransformerPrior:
        if self.kind == "copy_lstm":
            return CopyLSTMPrior(num_classes, self.hidden, self.heads, self.key_dim, self.dropout, bar_steps,
                                 self.exact_distance, self.buckets, self.max_distance)
        return TransformerPrior(num_classes, self.dim, self.layers, self.heads, self.ff, self.dropout, bar_steps,
                                self.exact_distance, self.buckets, self.max_distance)


def prior_config(preset: str | None = "copy-lstm-cpu", overrides: dict[str, Any] | None = None) -> PriorTrainConfig:
    """A preset by name (``rllab/presets/prior/``) or YAML path, plus overrides, checked field by field."""
    data = PRIOR_PRESETS.load(preset)[1] if preset else {}
    return from_mapping(PriorTrainConfig, {**data, **(overrides or {})}, f"prior preset {preset}")


def train_prior(config: PriorTrainConfig, out: str | os.PathLike[str] | None = None, *, device: str = "auto",
                progress: bool = True, corpus: Corpus | None = None,
                runs_root: str | os.PathLike[str] = "runs") -> Path:
    """Train (or count) a prior into a new run directory: ``model.pt``, ``metrics.json`` (+ ``progress.csv``)."""
    path = Path(out) if out is not None else default_run_path(runs_root, "prior", config.kind, seed=config.seed)
    run = RunDir.create(path, config.to_dict(), config.seed)
    corpus = corpus if corpus is not None else load_corpus(config.collections, progress=progress)
    if config.kind == "markov":
        return _count_markov(run, config, corpus)
    return PriorTrainer(run, config, device, corpus, progress).fit()


def resume_prior(out: str | os.PathLike[str], overrides: dict[str, Any] | None = None, *, device: str = "auto",
                 progress: bool = True, corpus: Corpus | None = None) -> Path:
    """Continue the run in ``out`` from its newest checkpoint; ``overrides`` may raise ``steps``."""
    run = RunDir.open(out)
    config = from_mapping(PriorTrainConfig, {**run.config, **(overrides or {})}, f"{run.path}/config.yaml")
    if config.kind == "markov":
        raise UserError(f"{run.path} holds a {config.kind} prior: counting has nothing to resume")
    run.record_command()
    atomic.write_yaml(run.path / "config.yaml", config.to_dict())
    corpus = corpus if corpus is not None else load_corpus(config.collections, progress=progress)
    return PriorTrainer(run, config, device, corpus, progress).fit()


def _count_markov(run: RunDir, config: PriorTrainConfig, corpus: Corpus) -> Path:
    started, cpu = time.perf_counter(), time.process_time()
    spec = corpus_spec(corpus)
    model = fit_baseline("markov", corpus.train, spec, config.markov)
    save_prior(model, run.path / MODEL_FILE, collections=config.collections)
    metrics = {**{f"valid_{k}": v for k, v in score_prior(model, corpus.valid).to_dict().items()},
               "wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(time.process_time() - cpu, 1)}
    atomic.write_json(run.path / METRICS_FILE, metrics)
    run.set_status("finished", steps=0, wall_s=metrics["wall_s"])
    return run.path


class PriorTrainer(WindowTrainer):
    """One neural prior's training run: model, optimiser, schedule, sampler and counters, checkpointed as one blob."""

    label = "prior"

    def __init__(self, run: RunDir, config: PriorTrainConfig, device: str, corpus: Corpus, progress: bool):
        super().__init__(run, config, torch.device(resolve_device(device)), progress)
        self.corpus = corpus
        if self.device.type == "cpu":
            limit_cpu_threads(1)
        torch.manual_seed(config.seed)
        self.spec = corpus_spec(corpus)
        self.model = config.model(self.spec.num_classes, self.spec.steps_per_bar).to(self.device)
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2 and "embed" not in n and "bar." not in n]
        other = [p for n, p in self.model.named_parameters() if not any(p is q for q in decay)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                            {"params": other, "weight_decay": 0.0}], lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.use_amp = bool(config.amp) and self.device.type == "cuda"
        self.generator = torch.Generator().manual_seed(config.seed)
        self.sampler = WindowSampler(corpus.train, self.model.bos_token, config.seq_len, config.start_fraction, 0)

    def lr_factor(self, step: int) -> float:
        cfg = self.config
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        done = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return cfg.min_lr_fraction + (1 - cfg.min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * done))

    def model_blob(self) -> dict[str, Any]:
        return {"format": FORMAT, "config": dict(self.model.config),
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "extra": {"spec": self.spec.to_dict()}}

    def train_step(self) -> None:
        cfg, device = self.config, self.device
        inputs, targets, start = self.sampler.batch(cfg.batch_size, self.generator)
        inputs, targets = inputs.to(device), targets.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            logits = self.model.forward_window(inputs, start.to(device))
        loss = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                           ignore_index=-100)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        value = float(loss.detach())
        self.loss_avg = value if math.isnan(self.loss_avg) else 0.95 * self.loss_avg + 0.05 * value

    def evaluate(self) -> None:
        score = score_prior(self.model, self.corpus.valid)
        self.model.train()
        self.last_eval = {f"valid_{k}": v for k, v in score.to_dict().items()}
        self.evaluated_at = self.step
        self.run.append_row(PROGRESS_FILE, {"step": self.step, "wall_s": round(self.wall(), 2),
                                            "cpu_s": round(self.cpu(), 2), "lr": self.scheduler.get_last_lr()[0],
                                            "train_loss": self.loss_avg, **self.last_eval})

    def describe(self) -> str:
        info = f"loss {self.loss_avg:.3f}"
        if self.last_eval:
            info += f" | valid nll {self.last_eval['valid_nll']:.3f} acc {self.last_eval['valid_accuracy']:.3f}"
        return info

    def save_model(self) -> None:
        save_prior(self.model.eval(), self.run.path / MODEL_FILE, spec=self.spec.to_dict(), steps=self.step)

