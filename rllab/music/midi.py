"""MIDI, piano-roll and audio I/O for token melodies (pretty_midi + matplotlib).

A written file holds one piano track, one note per pitch token (a note ends at the next pitch or NOTE_OFF), and an
"all notes off" controller at the melody's last step so trailing rests survive the round trip. Reading works on
ticks, not seconds, so any tempo map decodes onto the sixteenth grid.
"""

from __future__ import annotations

import os
import warnings
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.music.tokens import NO_EVENT, NOTE_OFF, NUM_SPECIAL, PAPER_SPEC, TokenSpec, validate_tokens

DEFAULT_QPM = 80.0
VELOCITY = 100
_ALL_NOTES_OFF = 123


class MidiWarning(UserWarning):
    """Input MIDI was changed to fit the token spec (polyphony reduced, pitches folded)."""


def melody_notes(tokens: Sequence[int] | np.ndarray, spec: TokenSpec = PAPER_SPEC) -> list[tuple[int, int, int]]:
    """``(midi_pitch, start_step, end_step)`` for each note of a token melody."""
    notes: list[tuple[int, int, int]] = []
    current: tuple[int, int] | None = None
    arr = validate_tokens(tokens, spec).reshape(-1)
    for step, token in enumerate(arr.tolist()):
        if token == NO_EVENT:
            continue
        if current is not None:
            notes.append((current[0], current[1], step))
            current = None
        if token != NOTE_OFF:
            current = (spec.token_to_pitch(token), step)
    if current is not None:
        notes.append((current[0], current[1], len(arr)))
    return notes


def canonical_tokens(tokens: Sequence[int] | np.ndarray, spec: TokenSpec = PAPER_SPEC) -> np.ndarray:
    """The form a MIDI round trip returns: a NOTE_OFF while nothing sounds is just NO_EVENT."""
    out = np.array(validate_tokens(tokens, spec), dtype=np.uint8).reshape(-1)
    sounding = False
    for i, token in enumerate(out):
        if token == NOTE_OFF:
            if not sounding:
                out[i] = NO_EVENT
            sounding = False
        elif token >= NUM_SPECIAL:
            sounding = True
    return out


def tokens_to_pretty_midi(tokens: Sequence[int] | np.ndarray, *, qpm: float = DEFAULT_QPM, spec: TokenSpec = PAPER_SPEC,
                          program: int = 0):
    import pretty_midi

    if qpm <= 0:
        raise UserError(f"tempo must be positive, got {qpm} QPM")
    arr = validate_tokens(tokens, spec).reshape(-1)
    step = 60.0 / qpm / spec.steps_per_quarter
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(qpm))
    track = pretty_midi.Instrument(program=program, name="melody")
    for pitch, start, end in melody_notes(arr, spec):
        track.notes.append(pretty_midi.Note(VELOCITY, pitch, start * step, end * step))
    track.control_changes.append(pretty_midi.ControlChange(_ALL_NOTES_OFF, 0, len(arr) * step))
    pm.instruments.append(track)
    return pm


def tokens_to_midi(tokens: Sequence[int] | np.ndarray, path: str | os.PathLike[str], *, qpm: float = DEFAULT_QPM,
                   spec: TokenSpec = PAPER_SPEC, program: int = 0) -> Path:
    """Write a token melody as a standard MIDI file (80 QPM: one sixteenth = 0.1875 s)."""
    pm = tokens_to_pretty_midi(tokens, qpm=qpm, spec=spec, program=program)
    path = Path(path)
    atomic.write_with(path, lambda tmp: pm.write(str(tmp)), suffix=".mid")
    return path


def _load(path: str | os.PathLike[str]):
    import pretty_midi

    path = Path(path)
    if not path.is_file():
        raise UserError(f"MIDI file not found: {path}")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido/pretty_midi raise many types for corrupt input
        raise UserError(f"{path} is not a readable MIDI file ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _fold(pitch: int, spec: TokenSpec) -> int:
    while pitch < spec.min_pitch:
        pitch += 12
    while pitch >= spec.max_pitch:
        pitch -= 12
    return pitch


def midi_to_tokens(path: str | os.PathLike[str], *, spec: TokenSpec = PAPER_SPEC) -> np.ndarray:
    """Read a MIDI file onto the token grid (``uint8``), e.g. to prime a model.

    Monophonic input is exact. Polyphonic input is reduced to its top line and pitches outside the range are
    moved by octaves, each with a :class:`MidiWarning`. A missing, corrupt or empty file raises ``UserError``.
    """
    pm = _load(path)
    ticks_per_step = pm.resolution / spec.steps_per_quarter
    notes = []
    for instrument in pm.instruments:
        if instrument.is_drum:
            continue
        for note in instrument.notes:
            start = round(pm.time_to_tick(note.start) / ticks_per_step)
            end = max(start + 1, round(pm.time_to_tick(note.end) / ticks_per_step))
            notes.append((note.pitch, start, end))
    if not notes:
        raise UserError(f"{path} holds no (non-drum) notes")
    total = max(end for _, _, end in notes)
    for instrument in pm.instruments:
        for cc in instrument.control_changes:
            total = max(total, round(pm.time_to_tick(cc.time) / ticks_per_step))
    folded = [(_fold(p, spec), s, e) for p, s, e in notes]
    if any(p != q for (p, _, _), (q, _, _) in zip(notes, folded, strict=True)):
        warnings.warn(f"{path}: pitches outside [{spec.min_pitch}, {spec.max_pitch}) moved by octaves",
                      MidiWarning, stacklevel=2)
    top = np.full(total, -1, dtype=np.int64)
    onset = np.zeros(total, dtype=bool)
    polyphonic = False
    for pitch, start, end in sorted(folded, key=lambda n: (n[1], n[0])):
        if (top[start:end] >= 0).any():
            polyphonic = True
        higher = pitch >= top[start:end]
        top[start:end][higher] = pitch
        if higher[0]:
            onset[start] = True
    if polyphonic:
        warnings.warn(f"{path}: polyphonic input reduced to its top line", MidiWarning, stacklevel=2)
    tokens = np.full(total, NO_EVENT, dtype=np.uint8)
    for step in range(total):
        before = top[step - 1] if step else -1
        if top[step] >= 0 and (onset[step] or top[step] != before):
            tokens[step] = spec.pitch_to_token(int(top[step]))
        elif top[step] < 0 and before >= 0:
            tokens[step] = NOTE_OFF
    return tokens


def piano_roll_figure(tokens: Sequence[int] | np.ndarray, *, title: str | None = None, spec: TokenSpec = PAPER_SPEC,
                      primer_steps: int = 0) -> Any:
    """A melody as a piano roll (a matplotlib figure): one bar per note, black-key rows shaded, every C labelled
    (C4 = MIDI 60) with a line under its row, and a light grid at bar lines (fainter at beats), so a reader can
    name each pitch and count bars. The notes of the first ``primer_steps`` steps (a primer the rest continues)
    are grey, with a dashed line where it ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    arr = validate_tokens(tokens, spec).reshape(-1)
    notes = melody_notes(arr, spec)
    pitches = [p for p, _, _ in notes] or [60]
    low = min(min(pitches) - 2, 12 * (min(pitches) // 12))   # down to a C, so at least one C is labelled
    high = max(pitches) + 3
    fig, ax = plt.subplots(figsize=(max(6.0, len(arr) / 8), 3.5))
    for pitch in range(low, high):
        if pitch % 12 in (1, 3, 6, 8, 10):
            ax.axhspan(pitch, pitch + 1, color="0.93", zorder=0)
    cs = [p for p in range(low, high) if p % 12 == 0]
    for c in cs:
        ax.axhline(c, color="0.75", lw=0.6, zorder=1)
    beat = max(spec.steps_per_bar // 4, 1)
    for step in range(0, len(arr) + 1, beat):
        bar_line = step % spec.steps_per_bar == 0
        ax.axvline(step, color="0.7" if bar_line else "0.9", lw=0.8 if bar_line else 0.5, zorder=1)
    for pitch, start, end in notes:
        color = "0.6" if start < primer_steps else "tab:blue"
        ax.add_patch(Rectangle((start, pitch), end - start, 1, facecolor=color, edgecolor="black", lw=0.6, zorder=3))
    if primer_steps:
        ax.axvline(primer_steps, color="tab:red", lw=1.2, ls="--", zorder=4)
    ax.set_xlim(0, len(arr))
    ax.set_ylim(low, high)
    ax.set_xticks(range(0, len(arr) + 1, spec.steps_per_bar))
    ax.set_xlabel(f"step (1/{spec.steps_per_bar} bar; a line per bar)")
    ax.set_yticks([c + 0.5 for c in cs], [f"C{c // 12 - 1}" for c in cs])
    ax.set_yticks(np.arange(low, high) + 0.5, minor=True)
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def piano_roll_png(tokens: Sequence[int] | np.ndarray, path: str | os.PathLike[str], *, title: str | None = None,
                   spec: TokenSpec = PAPER_SPEC, primer_steps: int = 0) -> Path:
    """Write :func:`piano_roll_figure` as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = piano_roll_figure(tokens, title=title, spec=spec, primer_steps=primer_steps)
    path = Path(path)
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), suffix=".png")
    plt.close(fig)
    return path


def tokens_to_wav(tokens: Sequence[int] | np.ndarray, path: str | os.PathLike[str], *, qpm: float = DEFAULT_QPM,
                  fs: int = 22050, soundfont: str | os.PathLike[str] | None = None,
                  spec: TokenSpec = PAPER_SPEC) -> Path:
    """Render a melody to a 16-bit mono WAV: through FluidSynth when a soundfont is given (needs pyfluidsynth
    and libfluidsynth), otherwise with pretty_midi's sine synthesizer (no soundfont needed)."""
    pm = tokens_to_pretty_midi(tokens, qpm=qpm, spec=spec)
    if soundfont is not None:
        if not Path(soundfont).is_file():
            raise UserError(f"soundfont not found: {soundfont}")
        try:
            audio = pm.fluidsynth(fs=fs, sf2_path=str(soundfont))
        except ImportError:
            raise UserError("soundfont rendering needs pyfluidsynth and libfluidsynth; "
                            "omit the soundfont for sine rendering") from None
    else:
        audio = pm.synthesize(fs=fs)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    pcm = (audio / peak * 0.9 * 32767).astype("<i2") if peak > 0 else np.zeros(len(audio), "<i2")

    def write(tmp: Path) -> None:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(fs)
            out.writeframes(pcm.tobytes())

    path = Path(path)
    atomic.write_with(path, write, suffix=".wav")
    return path
