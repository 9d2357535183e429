"""Composing with priors and tuned models: MIDI files, piano rolls, WAVs, a statistics table and ``report.html``.

Several models can compose side by side: melody ``i`` of every model continues the same primer, so the page
(and the files) compare them on equal footing. ``bars`` fixes the length of the whole piece, primer included;
without a primer a piece is all new material.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from rllab.core import atomic
from rllab.core.device import resolve_device
from rllab.core.errors import UserError
from rllab.lab.tutor.html import AUDIO_RATE, Clip, Page, stats_table, write_page
from rllab.lab.tutor.report import held_out_reference
from rllab.music.corpus import load_corpus
from rllab.music.metrics import (
    DIVERSITY_KEYS,
    OVERLAP_KEYS,
    TABLE1_KEYS,
    composition_stats,
    corpus_windows,
    format_table,
    model_fit_stats,
    reference_overlap,
)
from rllab.music.midi import midi_to_tokens, piano_roll_png, tokens_to_midi, tokens_to_wav
from rllab.music.note_rnn import sample
from rllab.music.priors import load_prior, resolve_prior_path
from rllab.music.tokens import PAPER_SPEC

CORPUS_PRIMER = "corpus"
DEFAULT_LENGTH = 32
STATS_KEYS = (*TABLE1_KEYS, *DIVERSITY_KEYS, *OVERLAP_KEYS, "log_p_mean", "entropy_mean")


@dataclass
class ComposeResult:
    """The melodies written (``melody_NNN.mid`` + ``.png`` + ``.wav``), their tokens and statistics.

    With one model the files are in ``out``; with several, in ``out/<model>/``. ``tokens``, ``stats`` and
    ``files`` are the first model's; ``by_model`` holds every model's composed steps and statistics.
    """

    out: Path
    files: list[Path]
    tokens: np.ndarray          # [n, steps]: the composed steps, without the primer
    primer: np.ndarray | None   # [n, P]: the primer each melody continues (written before it in the files)
    stats: dict[str, float]
    by_model: dict[str, dict[str, np.ndarray | dict[str, float]]]

    @property
    def table(self) -> Path:
        return self.out / "stats.md"

    @property
    def html(self) -> Path:
        return self.out / "report.html"


def _primers(primer: str | Path | None, n: int, primer_bars: int, seed: int) -> np.ndarray | None:
    if primer is None:
        return None
    if str(primer) == CORPUS_PRIMER:
        if primer_bars < 1:
            raise UserError(f"--primer-bars must be at least 1, got {primer_bars}")
        corpus = load_corpus(progress=False)
        return corpus_windows(corpus.valid, primer_bars * PAPER_SPEC.steps_per_bar, n, seed=seed).astype(np.int64)
    tokens = midi_to_tokens(primer).astype(np.int64)
    return np.broadcast_to(tokens, (n, len(tokens))).copy()


def _steps(length: int | None, bars: int | None, primer_len: int) -> int:
    """Steps to compose: ``length`` new steps, or a piece of ``bars`` bars that includes the primer."""
    if length is not None and bars is not None:
        raise UserError("give --length (new steps) or --bars (the whole piece), not both")
    if bars is None:
        steps = DEFAULT_LENGTH if length is None else length
        if steps < 1:
            raise UserError(f"--length must be at least 1, got {steps}")
        return steps
    total = bars * PAPER_SPEC.steps_per_bar
    if bars < 1:
        raise UserError(f"--bars must be at least 1, got {bars}")
    if primer_len >= total:
        raise UserError(f"the primer ({primer_len} steps) is not shorter than the piece ({bars} bars = {total} steps): "
                        "nothing left to compose; use more --bars or a shorter primer")
    return total - primer_len


def _labels(models: Sequence[Path]) -> list[str]:
    labels: list[str] = []
    for path in models:
        name = (path.parent.name if path.is_file() else path.name) or "model"
        labels.append(name if name not in labels else f"{name}-{len(labels)}")
    return labels


def compose(model: str | Path | Sequence[str | Path], out: str | Path = "compositions", *, n: int = 16,
            length: int | None = None, bars: int | None = None, temperature: float = 1.0,
            primer: str | Path | None = None, primer_bars: int = 2, qpm: float = 80.0, wav: bool = True,
            html: bool = True, seed: int = 0, device: str = "auto", progress: bool = True) -> ComposeResult:
    """Sample ``n`` melodies from each model (a run directory, model file or shipped name) into ``out``.

    ``primer``: a .mid file every melody continues, or ``"corpus"`` (a different ``primer_bars``-bar excerpt of a
    validation melody per melody, the same across models). The files hold primer + new steps; the statistics are
    those of the new steps (and, with a primer, of the whole pieces). Everything is checked before anything is
    written: a bad model, primer or length is one error and leaves ``out`` untouched.
    """
    if n < 1:
        raise UserError("--n must be at least 1")
    if temperature < 0:
        raise UserError(f"--temperature must be >= 0, got {temperature}")
    paths = [resolve_prior_path(m) for m in ([model] if isinstance(model, (str, Path)) else list(model))]
    if not paths:
        raise UserError("no model given")
    dev = resolve_device(device)
    nets = [load_prior(p, device=dev) for p in paths]
    primers = _primers(primer, n, primer_bars, seed)
    primer_len = 0 if primers is None else primers.shape[1]
    steps = _steps(length, bars, primer_len)
    labels = _labels(paths)
    reference = _reference(steps)
    out = Path(out)
    by_model: dict[str, dict] = {}
    for label, net in zip(labels, nets, strict=True):
        generator = torch.Generator(device=dev).manual_seed(seed)
        tokens = sample(net, n, steps, temperature, primer=primers, generator=generator).cpu().numpy()
        pieces = tokens if primers is None else np.concatenate([primers, tokens], axis=1)
        stats = {**composition_stats(tokens), **model_fit_stats(net, tokens), **_overlap(tokens, reference)}
        by_model[label] = {"tokens": tokens, "pieces": pieces, "stats": stats}
        if primers is not None:
            by_model[label]["piece_stats"] = composition_stats(pieces)
    files = _write(out, by_model, labels, primer_len, temperature, qpm, wav or html, progress)
    table_rows = {}
    for label in labels:
        table_rows[f"{label} (T={temperature:g}, n={n}, {steps} steps)"] = by_model[label]["stats"]
        if primers is not None:
            table_rows[f"{label}: whole pieces ({primer_len + steps} steps)"] = by_model[label]["piece_stats"]
    atomic.write_text(out / "stats.md", format_table(table_rows) + "\n")
    if html:
        _write_html(out, by_model, labels, table_rows, primer_len, steps, temperature)
    first = by_model[labels[0]]
    return ComposeResult(out, files[labels[0]], first["tokens"], primers, first["stats"], by_model)


def _reference(steps: int) -> np.ndarray | None:
    try:
        return held_out_reference(steps, count=2000)
    except UserError:  # no validation melody that long
        return None


def _overlap(tokens: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    return reference_overlap(tokens, reference) if reference is not None else {}


def _folder(out: Path, labels: list[str], label: str) -> Path:
    return out if len(labels) == 1 else out / label


def _write(out: Path, by_model: dict[str, dict], labels: list[str], primer_len: int, temperature: float, qpm: float,
           sound: bool, progress: bool) -> dict[str, list[Path]]:
    """``melody_NNN.mid`` + ``.png`` (+ ``.wav``) per melody and model."""
    files: dict[str, list[Path]] = {}
    for label in labels:
        folder = _folder(out, labels, label)
        folder.mkdir(parents=True, exist_ok=True)
        pieces = by_model[label]["pieces"]
        files[label] = []
        for i in track(range(len(pieces)), description=f"writing {label}", disable=not progress):
            stem = folder / f"melody_{i:03d}"
            files[label].append(tokens_to_midi(pieces[i], stem.with_suffix(".mid"), qpm=qpm))
            piano_roll_png(pieces[i], stem.with_suffix(".png"), title=f"{label} #{i} (T={temperature:g})",
                           primer_steps=primer_len)
            if sound:
                tokens_to_wav(pieces[i], stem.with_suffix(".wav"), qpm=qpm, fs=AUDIO_RATE)
    return files


def _write_html(out: Path, by_model: dict[str, dict], labels: list[str], table_rows: dict[str, dict[str, float]],
                primer_len: int, steps: int, temperature: float) -> Path:
    columns, rows = stats_table(table_rows, STATS_KEYS)
    n = len(by_model[labels[0]]["pieces"])
    page = Page("Compositions", intro=[
        f"{n} melodies per model, {steps} new steps each at temperature {temperature:g}"
        + (f", each continuing a {primer_len}-step primer (grey; the same primer for melody i of every model)"
           if primer_len else "") + ". Statistics of the new steps"
        + (" and of the whole pieces" if primer_len else "") + "; audio: a sine rendering."],
        columns=columns, rows=rows)

    def clip(label: str, i: int) -> Clip:
        stem = _folder(out, labels, label) / f"melody_{i:03d}"
        rel = stem.relative_to(out).as_posix()
        return Clip(f"{label} #{i}", f"{rel}.png", f"{rel}.wav")

    if len(labels) > 1:
        page.grid_title = "The same primer, every model" if primer_len else "Melody i of every model"
        page.grid_columns = labels
        page.grid_rows = [f"melody {i}" for i in range(min(n, 4))]
        page.grid = [[clip(label, i) for label in labels] for i in range(min(n, 4))]
    page.sections = {label: [clip(label, i) for i in range(n)] for label in labels}
    return write_page(out, page)
