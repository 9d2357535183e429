"""Statistics of melodies: a Note RNN's samples beside corpus excerpts, and a folder of MIDI files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rllab.core.device import resolve_device
from rllab.core.errors import UserError
from rllab.music.corpus import load_corpus
from rllab.music.metrics import composition_stats, corpus_windows, model_fit_stats
from rllab.music.midi import MidiWarning, midi_to_tokens
from rllab.music.note_rnn import load_note_rnn, sample

MIDI_SUFFIXES = (".mid", ".midi")


def note_rnn_table(model: str | Path, n: int = 1000, length: int = 32, temperature: float = 1.0, seed: int = 0,
                   device: str = "auto") -> dict[str, dict[str, float]]:
    """Table-1 statistics of ``n`` samples of a Note RNN (from the start token) beside ``n`` random bar-aligned
    excerpts of validation melodies and the openings of all validation melodies, all ``length`` steps long."""
    net = load_note_rnn(model, device=resolve_device(device))
    generator = torch.Generator(device=next(net.parameters()).device).manual_seed(seed)
    tokens = sample(net, n, length, temperature, generator=generator).cpu().numpy()
    corpus = load_corpus(progress=True)
    excerpts = corpus_windows(corpus.valid, length, n, seed=seed)
    openings = np.stack([m[:length] for m in corpus.valid if len(m) >= length])
    rows = {}
    for name, data in ((f"Note RNN (T={temperature:g})", tokens), ("corpus excerpts", excerpts),
                       ("corpus openings", openings)):
        rows[name] = {**composition_stats(data), **model_fit_stats(net, data)}
    return rows


@dataclass
class MidiFolderStats:
    """Statistics of the readable files; every file left out, with the reason."""

    stats: dict[str, float]
    used: list[Path]
    skipped: dict[Path, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def midi_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"not found: {path}")
    if not files:
        raise UserError("no MIDI files found")
    return files


def midi_folder_stats(paths: list[Path], length: int = 32, key: str = "C major",
                      model: str | Path | None = None) -> MidiFolderStats:
    """Table-1 statistics of the first ``length`` steps of every readable MIDI file under ``paths``.

    An unreadable or too short file is skipped with its reason instead of aborting the whole folder.
    """
    files = midi_files(paths)
    rows, used, skipped = [], [], {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MidiWarning)
        for file in files:
            try:
                tokens = midi_to_tokens(file)
            except UserError as exc:
                skipped[file] = str(exc)
                continue
            if len(tokens) < length:
                skipped[file] = f"shorter than {length} steps ({len(tokens)})"
                continue
            rows.append(tokens[:length])
            used.append(file)
    if not rows:
        raise UserError(f"none of the {len(files)} files is a readable melody of {length} steps "
                        f"(e.g. {next(iter(skipped))}: {next(iter(skipped.values()))})")
    stats = composition_stats(np.stack(rows), key=key)
    if model is not None:
        stats.update(model_fit_stats(load_note_rnn(model), np.stack(rows)))
    return MidiFolderStats(stats, used, skipped, [str(w.message) for w in caught])
