"""``report.html``: a page you can read and listen to, opened straight from disk (no network, no server).

It holds the statistics table, the targets, the same primer continued by every method side by side, and per
method its piano rolls, each with an audio player. Audio is rendered offline to WAV files next to the page (a sine
synthesizer, so no soundfont is needed) and referenced by relative paths, as are the images; the CSS and the one
script are inline. The script marks each audio element once its file has loaded (``data-loaded``, or
``data-error``) and counts them in the page, which is how the headless-browser test checks the page.

:func:`write_tutor_html` builds the page of ``rllab tutor``; ``rllab compose`` uses :func:`write_page` directly.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rllab.agents.tutor import rollout
from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.envs.melody import MelodyVecEnv, RewardSpec
from rllab.music.metrics import format_value
from rllab.music.midi import midi_to_tokens, piano_roll_png, tokens_to_wav

HTML_FILE = "report.html"
AUDIO_RATE = 16_000


@dataclass
class Clip:
    """One melody on the page: its picture, its sound and a caption (paths relative to the page)."""

    caption: str
    image: str
    audio: str


@dataclass
class Page:
    """What :func:`write_page` lays out."""

    title: str
    intro: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)         # the statistics table: one column per model
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)           # lines under the table (targets, ...)
    images: list[str] = field(default_factory=list)          # figures (curves, trade-off)
    grid_title: str = ""
    grid_rows: list[str] = field(default_factory=list)       # the side-by-side grid: one row per primer
    grid_columns: list[str] = field(default_factory=list)    # ... one column per model
    grid: list[list[Clip]] = field(default_factory=list)
    sections: dict[str, list[Clip]] = field(default_factory=dict)   # per model: its samples


def render_clip(tokens: np.ndarray, folder: Path, stem: str, page_dir: Path, caption: str, *, primer_steps: int = 0,
                qpm: float = 80.0) -> Clip:
    """Write ``stem.png`` (piano roll, primer in grey) and ``stem.wav`` into ``folder``; a clip pointing at them."""
    folder.mkdir(parents=True, exist_ok=True)
    image = piano_roll_png(tokens, folder / f"{stem}.png", title=caption, primer_steps=primer_steps)
    audio = tokens_to_wav(tokens, folder / f"{stem}.wav", qpm=qpm, fs=AUDIO_RATE)
    return Clip(caption, _rel(image, page_dir), _rel(audio, page_dir))


def stats_table(rows: Mapping[str, Mapping[str, float]], keys: Sequence[str]) -> tuple[list[str], list[tuple[str,
                                                                                                       list[str]]]]:
    """Columns (models) and rows (statistic, formatted cells) for :class:`Page`."""
    columns = list(rows)
    return columns, [(key, [format_value(key, rows[m].get(key, float("nan"))) for m in columns]) for key in keys
                     if any(key in r for r in rows.values())]


def write_page(out: Path, page: Page) -> Path:
    """Write ``out/report.html`` atomically and return its path."""
    e = html.escape
    parts = [f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(page.title)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{e(page.title)}</h1>",
             "<p id=\"audio-status\">audio: loading</p>"]
    parts += [f"<p>{e(line)}</p>" for line in page.intro]
    if page.rows:
        head = "".join(f"<th>{e(c)}</th>" for c in page.columns)
        body = "".join(f"<tr><th>{e(name)}</th>" + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>"
                       for name, cells in page.rows)
        parts.append(f"<h2>Statistics</h2><table class=\"stats\"><tr><th>statistic</th>{head}</tr>{body}</table>")
    if page.notes:
        parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in page.notes) + "</ul>")
    parts += [f"<p><img class=\"figure\" src=\"{e(src)}\" alt=\"{e(src)}\"></p>" for src in page.images]
    if page.grid:
        head = "".join(f"<th>{e(c)}</th>" for c in page.grid_columns)
        body = "".join(f"<tr><th>{e(label)}</th>" + "".join(f"<td>{_clip(clip)}</td>" for clip in clips) + "</tr>"
                       for label, clips in zip(page.grid_rows, page.grid, strict=True))
        parts.append(f"<h2>{e(page.grid_title)}</h2><table class=\"grid\"><tr><th></th>{head}</tr>{body}</table>")
    for name, clips in page.sections.items():
        parts.append(f"<h2>{e(name)}</h2><div class=\"clips\">" + "".join(_clip(c) for c in clips) + "</div>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    path = out / HTML_FILE
    atomic.write_text(path, "\n".join(parts))
    return path


def write_tutor_html(out: Path, rows: Mapping[str, Mapping[str, float]], labels: Mapping[str, str], keys: Sequence[str],
                     notes: Sequence[str], *, prior: Any, models: Mapping[str, Any], primers: np.ndarray | None,
                     reward: RewardSpec, device: str, seed: int, temperature: float = 1.0, side_by_side: int = 4,
                     per_method: int = 6) -> Path:
    """The tutor's page: the table, the same ``side_by_side`` primers continued by every model, and the first
    ``per_method`` samples of each model (read back from ``OUT/<method>/sample_NNN.mid``)."""
    methods = list(rows)
    columns, table = stats_table({labels[m]: rows[m] for m in methods}, keys)
    page = Page("Sequence Tutor report", intro=[
        "Statistics over the evaluation compositions of each model; below, the same primer continued by every "
        "model, then samples of each model. Grey notes: the primer; audio: a sine rendering of each melody."],
        columns=columns, rows=table, notes=list(notes))
    if (out / "curves.png").is_file():
        page.images.append("curves.png")
    bank = primers if primers is not None else np.arange(int(prior.config["num_classes"]), dtype=np.int64)[:, None]
    generator = torch.Generator(device=device).manual_seed(seed)
    index = torch.randperm(len(bank), generator=torch.Generator().manual_seed(seed))[:side_by_side].to(device)
    page.grid_title = "The same primer, every model"
    page.grid_columns = [labels[m] for m in methods]
    grid: list[list[Clip]] = [[] for _ in range(len(index))]
    for method in methods:
        env = MelodyVecEnv(prior, len(index), reward=reward, primers=bank, device=device, generator=generator)
        samples = rollout(env, models.get(method), method, generator=generator, primer_index=index, score=False,
                          temperature=temperature)
        primer, tokens = samples.primer.cpu().numpy(), samples.tokens.cpu().numpy()
        for row in range(len(index)):
            piece = np.concatenate([primer[row], tokens[row]])
            grid[row].append(render_clip(piece, out / "html", f"{method}_primer{row}", out,
                                         f"{labels[method]}, primer {row}", primer_steps=primer.shape[1]))
    page.grid_rows = [f"primer {row}" for row in range(len(index))]
    page.grid = grid
    for method in methods:
        files = sorted((out / method).glob("sample_*.mid"))[:per_method]
        clips, silent = [], []
        for i, f in enumerate(files):
            try:
                tokens = midi_to_tokens(f)
            except UserError:   # a tuned model can write a melody without a note: nothing to draw or play
                silent.append(f.name)
                continue
            clips.append(render_clip(tokens, out / method, f.stem, out, f"{labels[method]} #{i}"))
        page.sections[labels[method]] = clips
        if silent:
            page.intro.append(f"{labels[method]}: {len(silent)} sample(s) without a note not shown "
                              f"({', '.join(silent)}).")
    return write_page(out, page)


def _clip(clip: Clip) -> str:
    e = html.escape
    return (f"<figure><img src=\"{e(clip.image)}\" alt=\"{e(clip.caption)}\"><figcaption>{e(clip.caption)}"
            f"</figcaption><audio controls preload=\"metadata\" src=\"{e(clip.audio)}\"></audio></figure>")


def _rel(path: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(path, page_dir)).as_posix()


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0}
th,td{border:1px solid #ccc;padding:2px 8px;text-align:right;vertical-align:top}
table.stats th:first-child{text-align:left}
table.grid td{text-align:center}
figure{display:inline-block;margin:4px;text-align:center}
figure img{width:320px;display:block}
figcaption{font-size:0.85em}
audio{width:320px}
img.figure{max-width:100%}
"""

_SCRIPT = """
(function(){
  const players=[...document.querySelectorAll('audio')];
  function update(){
    const ok=players.filter(a=>a.dataset.loaded).length, bad=players.filter(a=>a.dataset.error).length;
    document.body.dataset.audioTotal=players.length;
    document.body.dataset.audioLoaded=ok;
    document.body.dataset.audioFailed=bad;
    document.getElementById('audio-status').textContent=
      'audio: '+ok+' of '+players.length+' loaded'+(bad?', '+bad+' failed':'');
  }
  players.forEach(a=>{
    const loaded=()=>{a.dataset.loaded=a.duration.toFixed(2);update();};
    const failed=()=>{a.dataset.error='1';update();};
    a.addEventListener('loadedmetadata',loaded);
    a.addEventListener('error',failed);
    if(a.readyState>=1){loaded();}
    if(a.error){failed();}
  });
  update();
})();
"""
