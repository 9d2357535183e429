"""The Note RNN: the LSTM melody prior of the Sequence Tutor (model, log-probabilities, sampling, save/load).

Input is the one-hot of the previous token (the paper's encoding) plus one extra start-of-melody token
``bos_token = num_classes``, so a melody can be scored or sampled from its very first step; outputs are logits over
the ``num_classes`` tokens. Optionally (``bar_position``) the input also carries the position in the bar, the main
cue for hold versus onset. The model lives in the music domain because the melody env and the metrics both score
with it; training it is :mod:`rllab.agents.note_rnn_trainer`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.core.errors import UserError
from rllab.core.runs import RunDir, load_torch, save_torch
from rllab.music.tokens import PAPER_SPEC, TokenSpec, validate_tokens

FORMAT = "rllab-note-rnn-1"
MODEL_FILE = "model.pt"

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

    def primed_state(self, batch_size: int, primer_len: int, device: torch.device | str = "cpu") -> State | None:
        """The state to feed a primer of ``primer_len`` tokens with, so that the step after it is a downbeat.

        A primer's input at position k predicts the token at bar position k, so its last input sits at 0 (mod the
        bar). Without the bar-position input there is nothing to align (``None``: zero state).
        """
        if not self.bar_steps:
            return None
        return self.initial_state(batch_size, device, (1 - primer_len) % self.bar_steps)

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
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch({"format": FORMAT, "config": dict(model.config), "state_dict": state, "extra": extra}, path)
    return Path(path)


def _resolve_model_file(path: Path) -> Path:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
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
    """The device of the first parameter, or buffer (count priors have no parameters)."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


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

    Without a primer, sampling starts from the start-of-melody token; a primer (a token sequence, or ``[n, P]``: one
    per sample) is fed first and the samples continue it (the primer is not part of the result).
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
        primer_arr = validate_tokens(primer, TokenSpec(0, model.num_classes - 2), name="primer")
        if primer_arr.ndim != 2 or primer_arr.shape[0] != n:   # one primer for all, else one row per sample
            primer_arr = primer_arr.reshape(1, -1)
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
