"""Composing with a Note RNN or a tuned model: MIDI files, piano rolls (and WAVs), and the statistics table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from rllab.core import atomic
from rllab.core.device import resolve_device
from rllab.core.errors import UserError
from rllab.music.metrics import composition_stats, format_table, model_fit_stats
from rllab.music.midi import midi_to_tokens, piano_roll_png, tokens_to_midi, tokens_to_wav
from rllab.music.note_rnn import load_note_rnn, sample


@dataclass
class ComposeResult:
    """The melodies written (``melody_NNN.mid`` + ``.png`` [+ ``.wav``]), their tokens and statistics."""

    out: Path
    files: list[Path]
    tokens: np.ndarray          # [n, length]: the composed steps, without the primer
    primer: np.ndarray | None   # the primer each melody continues (written before it in the files)
    stats: dict[str, float]

    @property
    def table(self) -> Path:
        return self.out / "stats.md"


def compose(model: str | Path, out: str | Path = "compositions", *, n: int = 16, length: int = 32,
            temperature: float = 1.0, primer: str | Path | None = None, qpm: float = 80.0, wav: bool = False,
            seed: int = 0, device: str = "auto", progress: bool = True) -> ComposeResult:
    """Sample ``n`` melodies of ``length`` steps from ``model`` (a run directory or model file) into ``out``.

    With a ``primer`` (.mid), each melody continues it: the files hold the primer followed by the new steps, and
    the statistics are those of the new steps.
    """
    if n < 1:
        raise UserError("--n must be at least 1")
    model = Path(model)
    net = load_note_rnn(model, device=resolve_device(device))
    primer_tokens = midi_to_tokens(primer) if primer is not None else None
    generator = torch.Generator(device=next(net.parameters()).device).manual_seed(seed)
    tokens = sample(net, n, length, temperature, primer=primer_tokens, generator=generator).cpu().numpy()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i in track(range(n), description="writing melodies", disable=not progress):
        melody = tokens[i] if primer_tokens is None else np.concatenate([primer_tokens, tokens[i]])
        files.append(tokens_to_midi(melody, out / f"melody_{i:03d}.mid", qpm=qpm))
        piano_roll_png(melody, out / f"melody_{i:03d}.png", title=f"{model.name} #{i} (T={temperature:g})")
        if wav:
            tokens_to_wav(melody, out / f"melody_{i:03d}.wav", qpm=qpm)
    stats = {**composition_stats(tokens), **model_fit_stats(net, tokens)}
    table = format_table({f"{model.name} (T={temperature:g}, n={n})": stats})
    atomic.write_text(out / "stats.md", table + "\n")
    return ComposeResult(out, files, tokens, primer_tokens, stats)
