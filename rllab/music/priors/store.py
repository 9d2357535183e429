"""Finding, saving and loading priors of every family behind one call.

Neural priors (the Note RNN's LSTM and the Transformer) are written by
:func:`rllab.music.note_rnn.save_note_rnn`, with ``config["arch"]`` telling them apart (an LSTM has none), so a
tuner that saves the network it tuned writes a file this module reads back whatever its architecture. Count
priors (unigram, hold, Markov) are a separate format holding their tables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.core.config import from_mapping, unknown_name
from rllab.core.errors import UserError
from rllab.core.runs import RunDir, load_torch, save_torch
from rllab.core.shipped import shipped_model
from rllab.music.note_rnn import FORMAT as NEURAL_FORMAT
from rllab.music.note_rnn import MODEL_FILE, NoteRNN, save_note_rnn
from rllab.music.priors.base import check_spec
from rllab.music.priors.copy_lstm import CopyLSTMPrior
from rllab.music.priors.floors import ConstantPrior, fit_hold, fit_unigram
from rllab.music.priors.markov import MarkovConfig, MarkovPrior, fit_markov
from rllab.music.priors.transformer import TransformerPrior
from rllab.music.tokens import PAPER_SPEC, TokenSpec

COUNT_FORMAT = "rllab-count-prior-1"
NEURAL = {"transformer": TransformerPrior, "copy_lstm": CopyLSTMPrior}   # besides the Note RNN's LSTM
#: Baselines fitted on the training melodies by name (``markov-ltm`` / ``markov-stm``: one component only).
BASELINES = ("unigram", "hold", "markov-ltm", "markov-stm", "markov")


def fit_baseline(name: str, melodies: Sequence[np.ndarray], spec: TokenSpec = PAPER_SPEC,
                 markov: MarkovConfig | dict[str, Any] | None = None) -> nn.Module:
    """A baseline prior counted on ``melodies``; ``markov`` overrides the Markov model's settings."""
    if name not in BASELINES:
        raise unknown_name("prior", name, BASELINES)
    if name == "unigram":
        return fit_unigram(melodies, spec)
    if name == "hold":
        return fit_hold(melodies, spec)
    settings = markov if isinstance(markov, MarkovConfig) else from_mapping(MarkovConfig, markov or {}, "markov")
    components = {"markov": settings.components, "markov-ltm": "ltm", "markov-stm": "stm"}[name]
    settings = from_mapping(MarkovConfig, {**settings.to_dict(), "components": components}, "markov")
    if components == "stm":
        return MarkovPrior(spec, settings)
    return fit_markov(melodies, spec, settings)


def save_prior(model: nn.Module, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Atomically write any prior; count priors keep their tables, neural ones their weights."""
    if isinstance(model, (NoteRNN, TransformerPrior, CopyLSTMPrior)):
        return save_note_rnn(model, path, **extra)
    if isinstance(model, MarkovPrior):
        blob = {"kind": "markov", "markov": model.markov.to_dict(), "tables": model.tables()}
    elif isinstance(model, ConstantPrior):
        blob = {"kind": model.kind, "log_p": model.log_p.detach().cpu()}
    else:
        raise UserError(f"cannot save a {type(model).__name__} as a prior")
    save_torch({"format": COUNT_FORMAT, "spec": model.spec.to_dict(), "extra": extra, **blob}, path)
    return Path(path)


def _model_file(path: Path) -> Path:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        latest = RunDir(path).latest_checkpoint()
        if latest is None:
            raise UserError(f"{path} holds no {MODEL_FILE} and no checkpoint: not a trained prior")
        return latest.path
    if not path.exists():
        raise UserError(f"prior not found: {path}")
    return path


def resolve_prior_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A path as given (a missing one is reported when loading), or the shipped model of a bare name."""
    path = Path(name_or_path)
    if path.exists() or len(path.parts) > 1 or path.suffix:
        return path
    return shipped_model(str(name_or_path))


def load_prior(path: str | os.PathLike[str], device: str | torch.device = "cpu",
               spec: TokenSpec | None = PAPER_SPEC) -> nn.Module:
    """Load any prior (a model file, a training checkpoint, a run directory or a shipped model's name), in eval
    mode on ``device``.

    ``spec`` is the token spec it must have been trained on (``None`` skips the check).
    """
    file = _model_file(resolve_prior_path(path))
    blob = load_torch(file, map_location="cpu")
    if isinstance(blob, dict) and "model" in blob and "format" not in blob:  # a training checkpoint
        blob = blob["model"]
    if not isinstance(blob, dict) or blob.get("format") not in (NEURAL_FORMAT, COUNT_FORMAT):
        raise UserError(f"{file} is not a prior checkpoint")
    try:
        model = _build(blob, file, spec)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{file}: malformed prior checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return model.to(device).eval()


def _build(blob: dict[str, Any], file: Path, spec: TokenSpec | None) -> nn.Module:
    if blob["format"] == COUNT_FORMAT:
        found = check_spec(blob["spec"], spec, str(file))
        if blob["kind"] == "markov":
            return MarkovPrior(found, from_mapping(MarkovConfig, blob["markov"], f"{file}: markov"), blob["tables"])
        return ConstantPrior(blob["kind"], found, blob["log_p"])
    config = dict(blob["config"])
    recorded = blob.get("extra", {}).get("spec")
    if recorded is not None:
        check_spec(recorded, spec, str(file))
    elif spec is not None and config["num_classes"] != spec.num_classes:
        raise UserError(f"{file} was trained on another token spec ({config['num_classes']} classes, not "
                        f"{spec.num_classes})")
    arch = config.pop("arch", "lstm")
    if arch in NEURAL:
        if spec is not None and config.get("bar_steps") != spec.steps_per_bar:
            raise UserError(f"{file} was trained on another token spec ({config.get('bar_steps')} steps per bar, "
                            f"not {spec.steps_per_bar})")
        model: nn.Module = NEURAL[arch](**config)
    elif arch == "lstm":
        model = NoteRNN(**config)
    else:
        raise UserError(f"{file}: unknown prior architecture {arch!r}")
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"{file}: weights do not match the recorded shape ({str(exc).splitlines()[0]})") from None
    return model
