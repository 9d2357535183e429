"""The Note RNN: the LSTM melody prior of the Sequence Tutor (train, sample, save/load).

Input is the one-hot of the previous token (the paper's encoding) plus one extra start-of-melody token
``bos_token = num_classes``, so a melody can be scored or sampled from its very first step; outputs are logits over
the ``num_classes`` tokens. Optionally (``bar_position``) the input also carries the position in the bar, the main
cue for hold versus onset. Training is teacher forcing on random windows of corpus melodies (windows that start
mid-melody skip their first losses while the state warms up), Adam with L2 and gradient clipping, step decay of
the learning rate, checkpoints in a run directory (atomic, resumable), AMP on CUDA.
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.errors import UserError
from rllab.music.tokens import PAPER_SPEC, TokenSpec

FORMAT = "rllab-note-rnn-1"
MODEL_FILE = "model.pt"

#: Training settings a preset may set (``--set key=value``); the values are the paper preset's.
DEFAULTS: dict[str, Any] = {
    "description": "",
    "hidden_size": 100,
    "num_layers": 1,
    "dropout": 0.0,
    "bar_position": False,
    "collections": "default",
    "steps": 3000,
    "batch_size": 128,
    "seq_len": 192,
    "start_fraction": 0.25,
    "lr": 0.01,
    "lr_decay": 0.85,
    "lr_decay_every": 500,
    "l2": 2.5e-5,
    "clip_norm": 5.0,
    "skip_first_losses": 8,
    "eval_every": 250,
    "checkpoint_every": 250,
    "keep_checkpoints": 3,
    "time_limit_min": None,
    "amp": True,
    "seed": 0,
}


State = tuple[torch.Tensor, ...]


class NoteRNN(nn.Module):
    """LSTM over one-hot tokens -> linear -> logits (paper preset: 1 layer of 100 units, 38 classes).

    With ``bar_steps > 0`` the input also carries the one-hot of the position in the bar (a learned embedding added
    to the LSTM's input projection): the k-th input fed since ``state=None`` gets position ``k % bar_steps``. When
    the first input is the start token, that is the bar position of the step being predicted (corpus melodies start
    on a downbeat). Such a model's state is ``(h, c, position)``, so step-by-step calls give the same logits as one
    call over the whole sequence; without the feature the state is the LSTM's ``(h, c)``, as before.
    """

    def __init__(self, num_classes: int = 38, hidden_size: int = 100, num_layers: int = 1, dropout: float = 0.0,
                 bar_steps: int = 0):
        super().__init__()
        if num_classes < 3 or hidden_size < 1 or num_layers < 1 or not 0.0 <= dropout < 1.0 or bar_steps < 0:
            raise UserError(f"bad Note RNN shape: classes={num_classes} hidden={hidden_size} "
                            f"layers={num_layers} dropout={dropout} bar_steps={bar_steps}")
        self.config = {"num_classes": int(num_classes), "hidden_size": int(hidden_size),
                       "num_layers": int(num_layers), "dropout": float(dropout)}
        if bar_steps:  # only then, so files of models without the feature keep their old layout
            self.config["bar_steps"] = int(bar_steps)
        self.num_classes = num_classes
        self.bos_token = num_classes
        self.bar_steps = int(bar_steps)
        self.lstm = nn.LSTM(num_classes + 1 + self.bar_steps, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, num_classes)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu", position: Any = 0) -> State:
        """Zero LSTM state; a bar-position model also gets the position of its next input (int or ``[B]``)."""
        shape = (self.config["num_layers"], batch_size, self.config["hidden_size"])
        zeros = torch.zeros(shape, device=device), torch.zeros(shape, device=device)
        if not self.bar_steps:
            return zeros
        pos = torch.as_tensor(position, dtype=torch.long, device=device).expand(batch_size) % self.bar_steps
        return (*zeros, pos.clone())

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """``tokens[B, T]`` (0..num_classes, the last being the start token) -> ``(logits[B, T, C], state)``."""
        x = nn.functional.one_hot(tokens.long(), self.num_classes + 1).to(self.head.weight.dtype)
        if not self.bar_steps:
            out, state = self.lstm(x, state)
            return self.head(out), state
        if state is None:
            state = self.initial_state(tokens.shape[0], tokens.device)
        if len(state) != 3:
            raise ValueError("a bar-position Note RNN needs its own (h, c, position) state (see initial_state)")
        h, c, pos = state
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        where = (pos[:, None] + steps) % self.bar_steps
        x = torch.cat([x, nn.functional.one_hot(where, self.bar_steps).to(x.dtype)], dim=-1)
        out, (h, c) = self.lstm(x, (h, c))
        return self.head(out), (h, c, (pos + tokens.shape[1]) % self.bar_steps)


# -- save / load -------------------------------------------------------------------------------------------------

def save_note_rnn(model: NoteRNN, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Atomically write the weights, the shape and ``extra`` (numbers, strings, lists, dicts) to ``path``."""
    from rllab.runs import save_torch

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch({"format": FORMAT, "config": dict(model.config), "state_dict": state, "extra": extra}, path)
    return Path(path)


def _resolve_model_file(path: Path) -> Path:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        from rllab.runs import RunDir

        latest = RunDir(path).latest_checkpoint()
        if latest is None:
            raise UserError(f"{path} holds no {MODEL_FILE} and no checkpoint: not a trained Note RNN run")
        return latest.path
    return path


def load_note_rnn(path_or_run_dir: str | os.PathLike[str], device: str | torch.device = "cpu",
                  spec: TokenSpec | None = PAPER_SPEC) -> NoteRNN:
    """Load a model file, a training checkpoint or a run directory (its ``model.pt``, else its newest checkpoint).

    ``spec`` checks the vocabulary size (``None`` skips the check).
    """
    from rllab.runs import load_torch

    file = _resolve_model_file(Path(path_or_run_dir))
    blob = load_torch(file, map_location="cpu")
    if isinstance(blob, dict) and "model" in blob and "format" not in blob:  # a training checkpoint
        blob = blob["model"]
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{file} is not a Note RNN checkpoint")
    config = blob["config"]
    if spec is not None and config["num_classes"] != spec.num_classes:
        raise UserError(f"{file} predicts {config['num_classes']} classes but the token spec has "
                        f"{spec.num_classes}: incompatible vocabulary")
    model = NoteRNN(**config)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"{file}: weights do not match the recorded shape ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval()


# -- scoring and sampling -----------------------------------------------------------------------------------------

def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def sequence_log_probs(model: NoteRNN, tokens: torch.Tensor, with_entropy: bool = False):
    """log p(x_t | start, x_<t) for every step of ``tokens[B, T]`` (and the predictive entropy, if asked)."""
    device = _device(model)
    tokens = tokens.long().to(device)
    start = torch.full((tokens.shape[0], 1), model.bos_token, dtype=torch.long, device=device)
    logits, _ = model(torch.cat([start, tokens[:, :-1]], dim=1))
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    chosen = log_probs.gather(-1, tokens[..., None])[..., 0]
    if not with_entropy:
        return chosen
    return chosen, -(log_probs.exp() * log_probs).sum(-1)


@torch.no_grad()
def sample(model: NoteRNN, n: int, length: int, temperature: float = 1.0, primer: Any = None,
           generator: torch.Generator | None = None) -> torch.LongTensor:
    """Sample ``n`` melodies of ``length`` steps (softmax with ``temperature``; 0 = argmax).

    Without a primer, sampling starts from the start-of-melody token; a primer (token sequence) is fed first and
    the samples continue it (the primer is not part of the result).
    """
    if n < 1 or length < 1:
        raise UserError(f"need n >= 1 and length >= 1, got n={n}, length={length}")
    if temperature < 0:
        raise UserError(f"temperature must be >= 0, got {temperature}")
    device = _device(model)
    was_training = model.training
    model.eval()
    state = model.initial_state(n, device)
    prefix = torch.full((n, 1), model.bos_token, dtype=torch.long, device=device)
    if primer is not None:
        from rllab.music.tokens import validate_tokens

        primer_arr = validate_tokens(primer, TokenSpec(0, model.num_classes - 2), name="primer").reshape(-1)
        primer_t = torch.as_tensor(primer_arr.astype(np.int64), device=device)
        prefix = torch.cat([prefix, primer_t.expand(n, -1)], dim=1)
    logits, state = model(prefix, state)
    last = logits[:, -1]
    out = torch.empty(n, length, dtype=torch.long, device=device)
    for t in range(length):
        if temperature == 0:
            token = last.argmax(-1)
        else:
            probs = torch.softmax(last.float() / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        out[:, t] = token
        if t + 1 < length:
            logits, state = model(token[:, None], state)
            last = logits[:, -1]
    model.train(was_training)
    return out


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


def resolve_config(preset: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults <- preset <- overrides, refusing unknown keys (a typo must not be silently ignored)."""
    config = dict(DEFAULTS)
    for source in (preset, overrides or {}):
        unknown = set(source) - set(DEFAULTS)
        if unknown:
            raise UserError(f"unknown Note RNN setting(s) {sorted(unknown)}; valid: {', '.join(sorted(DEFAULTS))}")
        config.update(source)
    for key in ("steps", "batch_size", "seq_len", "eval_every", "checkpoint_every", "hidden_size", "num_layers"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise UserError(f"{key} must be a positive integer, got {config[key]!r}")
    if not isinstance(config["bar_position"], bool):
        raise UserError(f"bar_position must be true or false, got {config['bar_position']!r}")
    return config


def preset_names() -> list[str]:
    return sorted(p.stem for p in _preset_dir().glob("*.yaml"))


def _preset_dir() -> Path:
    from rllab.config import preset_dir

    return preset_dir() / "note_rnn"


def load_preset(name_or_path: str) -> dict[str, Any]:
    """A Note RNN preset by name (``paper``, ``large``: ``rllab/presets/note_rnn/``) or YAML path, validated."""
    from rllab.config import read_yaml

    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = _preset_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise UserError(f"unknown Note RNN preset {name_or_path!r}; valid: {', '.join(preset_names())}")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of settings")
    return resolve_config(data)


def _write_progress(path: Path, row: dict[str, Any]) -> None:
    """Append a row; a resumed run keeps the file's existing columns (unknown ones are dropped)."""
    fields = list(row)
    if path.exists():
        with path.open(newline="") as handle:
            fields = next(csv.reader(handle), fields)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def train_note_rnn(config: dict[str, Any], out: str | os.PathLike[str] | None = None, *,
                   device: str = "auto", resume: bool = False, progress: bool = True, corpus: Any = None,
                   runs_root: str | os.PathLike[str] = "runs") -> Path:
    """Train a Note RNN; returns its run directory (``model.pt``, ``metrics.json``, ``progress.csv``, checkpoints).

    ``corpus`` (a :class:`rllab.music.corpus.Corpus`) defaults to ``load_corpus(config["collections"])``.
    With ``resume=True``, ``out`` must be an existing run; training continues from its newest checkpoint and
    ``config`` holds only overrides (e.g. a larger ``steps``).
    """
    from rllab import atomic
    from rllab.device import limit_cpu_threads, resolve_device
    from rllab.runs import RunDir, default_run_path

    if resume:
        if out is None:
            raise UserError("--resume needs the run directory (--out RUN)")
        run = RunDir.open(out)
        config = resolve_config({k: v for k, v in run.config.items() if k in DEFAULTS}, config)
        atomic.write_yaml(run.path / "config.yaml", config)
    else:
        config = resolve_config(config)
        path = Path(out) if out is not None else default_run_path(runs_root, "note-rnn", seed=config["seed"])
        run = RunDir.create(path, config, config["seed"])
    dev = torch.device(resolve_device(device))
    if dev.type == "cpu":
        limit_cpu_threads(1)
    if corpus is None:
        from rllab.music.corpus import load_corpus

        corpus = load_corpus(config["collections"], progress=progress)
    torch.manual_seed(config["seed"])
    spec = _corpus_spec(corpus)
    model = NoteRNN(spec.num_classes, config["hidden_size"], config["num_layers"], config["dropout"],
                    bar_steps=spec.steps_per_bar if config["bar_position"] else 0).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["l2"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config["lr_decay_every"], config["lr_decay"])
    use_amp = bool(config["amp"]) and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    generator = torch.Generator().manual_seed(config["seed"])
    sampler = WindowSampler(corpus.train, model.bos_token, config["seq_len"], config["start_fraction"],
                            config["skip_first_losses"])
    step, wall_before, cpu_before = 0, 0.0, 0.0
    latest = run.latest_checkpoint() if resume else None
    if latest is not None:
        from rllab.runs import load_torch

        ckpt = load_torch(latest.path)
        model.load_state_dict(ckpt["model"]["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"])
        step, wall_before = int(ckpt["step"]), float(ckpt["wall_s"])
        cpu_before = float(ckpt.get("cpu_s", 0.0))
    run.set_status("running", steps=step)
    limit_s = None if config["time_limit_min"] in (None, 0) else 60.0 * float(config["time_limit_min"])
    started, cpu_started = time.perf_counter(), time.process_time()
    last_eval: dict[str, float] = {}
    evaluated_at = -1

    def wall() -> float:
        return wall_before + time.perf_counter() - started

    def cpu() -> float:  # this process's CPU seconds: the fair measure on a shared machine
        return cpu_before + time.process_time() - cpu_started

    def checkpoint() -> None:
        blob = {"model": {"format": FORMAT, "config": dict(model.config),
                          "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "extra": {}},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "step": step, "wall_s": wall(), "cpu_s": cpu()}
        run.save_checkpoint(step, lambda tmp: torch.save(blob, tmp), keep=config["keep_checkpoints"])

    def do_eval(loss: float, acc: float) -> None:
        nonlocal last_eval, evaluated_at
        last_eval, evaluated_at = evaluate(model, corpus.valid, dev), step
        _write_progress(run.path / "progress.csv", {
            "step": step, "wall_s": round(wall(), 2), "cpu_s": round(cpu(), 2), "lr": scheduler.get_last_lr()[0],
            "train_loss": loss, "train_accuracy": acc, **last_eval})

    bar_ctx = _progress_bar(progress)
    model.train()
    loss_avg, acc_avg = float("nan"), float("nan")
    try:
        with bar_ctx as bar:
            task = bar.add_task("note-rnn", total=config["steps"], completed=step, info="") if bar is not None else None
            while step < config["steps"]:
                if limit_s is not None and wall() >= limit_s:
                    break
                inputs, targets, start = sampler.batch(config["batch_size"], generator)
                inputs, targets = inputs.to(dev, non_blocking=True), targets.to(dev, non_blocking=True)
                # a window's first input is token `start` of [BOS] + melody, so its bar position is `start`
                state = model.initial_state(len(start), dev, start.to(dev)) if model.bar_steps else None
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                    logits, _ = model(inputs, state)
                    loss = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                       targets.reshape(-1), ignore_index=-100)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config["clip_norm"])
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step += 1
                with torch.no_grad():
                    mask = targets >= 0
                    acc = float((logits.argmax(-1)[mask] == targets[mask]).float().mean())
                loss_value = float(loss.detach())
                loss_avg = loss_value if math.isnan(loss_avg) else 0.95 * loss_avg + 0.05 * loss_value
                acc_avg = acc if math.isnan(acc_avg) else 0.95 * acc_avg + 0.05 * acc
                if step % config["eval_every"] == 0 or step == config["steps"]:
                    do_eval(loss_avg, acc_avg)
                if step % config["checkpoint_every"] == 0:
                    checkpoint()
                    run.set_status("running", steps=step, wall_s=round(wall(), 1))
                if bar is not None:
                    info = f"loss {loss_avg:.3f} acc {acc_avg:.3f}"
                    if last_eval:
                        info += f" | valid acc {last_eval['valid_accuracy']:.3f} nll {last_eval['valid_nll']:.3f}"
                    bar.update(task, completed=step, info=info)
    except KeyboardInterrupt:
        checkpoint()
        run.set_status("interrupted", steps=step, wall_s=round(wall(), 1))
        raise
    if evaluated_at != step:
        do_eval(loss_avg, acc_avg)
    checkpoint()
    save_note_rnn(model, run.path / MODEL_FILE, steps=step, spec=spec.to_dict())
    metrics = {**last_eval, "steps": step, "wall_s": round(wall(), 1), "cpu_s": round(cpu(), 1),
               "device": str(dev),
               "train_loss_ema": loss_avg, "train_accuracy_ema": acc_avg,
               "params": sum(p.numel() for p in model.parameters()),
               "stopped_by_time_limit": step < config["steps"]}
    atomic.write_json(run.path / "metrics.json", metrics)
    run.set_status("finished", steps=step, wall_s=round(wall(), 1))
    return run.path


def _corpus_spec(corpus: Any) -> TokenSpec:
    recorded = getattr(corpus, "manifest", {}).get("spec")
    return TokenSpec.from_dict(recorded) if recorded else PAPER_SPEC


def _progress_bar(enabled: bool):
    import contextlib

    if not enabled:
        return contextlib.nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]training Note RNN"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"))
