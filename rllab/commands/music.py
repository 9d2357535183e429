"""Music commands: ``corpus build|info``, ``note-rnn train|eval``, ``compose``, ``melody-stats``, ``bench rules``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from rllab.errors import UserError

console = Console()
corpus_app = typer.Typer(help="The offline melody corpus (music21's bundled collections, cached once).",
                         no_args_is_help=True)
note_rnn_app = typer.Typer(help="The Note RNN: the LSTM melody prior of the Sequence Tutor.", no_args_is_help=True)

COLLECTIONS_HELP = ("Collections: default (oneills, ryans, airds, bach), all, or a comma list; essen is "
                    "non-commercial and opt-in.")


def _print_corpus(corpus: Any, load_s: float | None = None) -> None:
    from rich.table import Table

    from rllab.music.tokens import NO_EVENT, NOTE_OFF, TokenSpec

    manifest = corpus.manifest
    table = Table("collection", "files", "tunes", "melodies", "steps", "dropped (dup/short)", "folded notes",
                  box=None)
    for name, counts in manifest["collections"].items():
        table.add_row(name, f"{counts.get('files', 0):,}", f"{counts.get('tunes', 0):,}",
                      f"{counts.get('melodies', 0):,}", f"{counts.get('steps', 0):,}",
                      f"{counts.get('duplicates_dropped', 0)}/{counts.get('too_short', 0)}",
                      f"{counts.get('notes_folded', 0)}")
    console.print(table)
    console.print(f"[bold]{manifest['melodies']:,} melodies[/], {manifest['steps']:,} steps "
                  f"(train {manifest['train_melodies']:,} melodies / {manifest['train_steps']:,} steps, "
                  f"valid {manifest['valid_melodies']:,} / {manifest['valid_steps']:,})")
    spec = TokenSpec.from_dict(manifest["spec"])
    hist = manifest["class_histogram"]
    total = max(sum(hist), 1)

    def label(token: int) -> str:
        if token == NOTE_OFF:
            return "NOTE_OFF"
        if token == NO_EVENT:
            return "NO_EVENT"
        from rllab.music.keys import PITCH_NAMES

        pitch = spec.token_to_pitch(token)
        return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"

    cells = [f"{label(t)} {100 * c / total:.2f}%" for t, c in enumerate(hist)]
    console.print("class histogram (% of steps): " + ", ".join(cells))
    for name, licence in manifest.get("licences", {}).items():
        if name == "essen":
            console.print(f"[yellow]essen: {licence}[/]")
    if manifest.get("build_seconds") is not None:
        console.print(f"one-time build: {manifest['build_seconds']:.1f} s with {manifest.get('workers')} worker(s)")
    if load_s is not None:
        console.print(f"cached load: {1000 * load_s:.1f} ms")
    console.print(f"cache: {corpus.path}")


def corpus_build(
    collections: list[str] = typer.Option([], "--collections", "-c", help=COLLECTIONS_HELP),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-encode even when a cache exists."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache root (default $RLLAB_CACHE or "
                                             "~/.cache/rllab)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Parser processes (default min(2, cores))."),
    limit_files: Optional[int] = typer.Option(None, "--limit-files", help="Only the first N files per collection."),
) -> None:
    """Encode the corpus once into the cache (a progress bar; minutes for the default set)."""
    from rllab.music.corpus import load_corpus

    corpus = load_corpus(collections or None, cache_dir, progress=True, rebuild=rebuild, workers=workers,
                         limit_files=limit_files)
    start = time.perf_counter()
    corpus = load_corpus(collections or None, cache_dir, progress=False, limit_files=limit_files)
    _print_corpus(corpus, time.perf_counter() - start)


def corpus_info(
    collections: list[str] = typer.Option([], "--collections", "-c", help=COLLECTIONS_HELP),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache root."),
    limit_files: Optional[int] = typer.Option(None, "--limit-files", help="As given to `corpus build`."),
) -> None:
    """Counts, class histogram and cache location of a built corpus (does not build)."""
    from rllab.music.corpus import corpus_cache_path, load_corpus

    path = corpus_cache_path(collections or None, cache_dir, limit_files=limit_files)
    if not path.is_file():
        hint = f" -c {','.join(collections)}" if collections else ""
        raise UserError(f"no corpus cache at {path}; build it with `rllab corpus build{hint}`")
    start = time.perf_counter()
    corpus = load_corpus(collections or None, cache_dir, progress=False, limit_files=limit_files)
    _print_corpus(corpus, time.perf_counter() - start)


def note_rnn_train(
    preset: str = typer.Option("paper", "--preset", help="paper | large, or a YAML path."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting: key=value (repeatable), "
                                        "e.g. steps=500 or time_limit_min=15."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/note-rnn/<time>-s<seed>)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest checkpoint."),
) -> None:
    """Train the Note RNN on the cached corpus (teacher forcing, Adam, clipping, checkpoints)."""
    from agents.note_rnn import load_preset, resolve_config, train_note_rnn
    from rllab.config import parse_overrides

    extra = parse_overrides(overrides)
    if resume:
        run = train_note_rnn(extra, out, device=device, resume=True)
    else:
        config = resolve_config(load_preset(preset), extra)
        run = train_note_rnn(config, out, device=device)
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    console.print(f"validation accuracy {metrics['valid_accuracy']:.4f}, NLL {metrics['valid_nll']:.4f} nats/step "
                  f"after {metrics['steps']} steps, {metrics['wall_s']:.0f} s on {metrics['device']}")
    console.print(f"run directory: {run} (model: {run / 'model.pt'})")


def _load_model(model: Path, device: str) -> Any:
    from agents.note_rnn import load_note_rnn
    from rllab.device import resolve_device

    return load_note_rnn(model, device=resolve_device(device))


def note_rnn_eval(
    model: Path = typer.Option(..., "--model", help="Note RNN run directory or model file."),
    n: int = typer.Option(1000, "--n", help="Samples (and corpus excerpts) to score."),
    length: int = typer.Option(32, "--length", help="Steps per composition."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the table here (markdown)."),
) -> None:
    """Table-1 statistics of N Note RNN samples (from the start token) next to N random bar-aligned excerpts of
    validation melodies and the openings of all validation melodies, all of the same length."""
    import numpy as np

    from agents.note_rnn import sample
    from rllab import atomic
    from rllab.music.corpus import load_corpus
    from rllab.music.metrics import composition_stats, corpus_windows, format_table, model_fit_stats

    net = _load_model(model, device)
    tokens = sample(net, n, length, temperature, generator=_generator(seed, net)).cpu().numpy()
    corpus = load_corpus(progress=True)
    excerpts = corpus_windows(corpus.valid, length, n, seed=seed)
    openings = np.stack([m[:length] for m in corpus.valid if len(m) >= length])
    rows = {}
    for name, data in ((f"Note RNN (T={temperature:g})", tokens), ("corpus excerpts", excerpts),
                       ("corpus openings", openings)):
        rows[name] = {**composition_stats(data), **model_fit_stats(net, data)}
    table = format_table(rows)
    console.print(table)
    if out is not None:
        atomic.write_text(out, table + "\n")
        console.print(f"table: {out}")


def _generator(seed: int, model: Any) -> Any:
    import torch

    device = next(model.parameters()).device
    return torch.Generator(device=device).manual_seed(seed)


def compose(
    model: Path = typer.Option(..., "--model", help="Note RNN (or tuned) run directory or model file."),
    n: int = typer.Option(16, "--n", help="Number of melodies."),
    length: int = typer.Option(32, "--length", help="Steps per melody (16 per bar)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature (0 = argmax)."),
    primer: Optional[Path] = typer.Option(None, "--primer", help="A .mid file to continue."),
    qpm: float = typer.Option(80.0, "--qpm", help="Tempo of the written MIDI."),
    wav: bool = typer.Option(False, "--wav", help="Also render sine-wave WAVs."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Path = typer.Option(Path("compositions"), "--out", help="Output folder."),
) -> None:
    """Sample melodies: .mid files, piano-roll PNGs and a statistics table (stats.md)."""
    from rich.progress import track

    from agents.note_rnn import sample
    from rllab import atomic
    from rllab.music.metrics import composition_stats, format_table, model_fit_stats
    from rllab.music.midi import midi_to_tokens, piano_roll_png, tokens_to_midi, tokens_to_wav

    if n < 1:
        raise UserError("--n must be at least 1")
    net = _load_model(model, device)
    primer_tokens = midi_to_tokens(primer) if primer is not None else None
    tokens = sample(net, n, length, temperature, primer=primer_tokens, generator=_generator(seed, net))
    tokens = tokens.cpu().numpy()
    out.mkdir(parents=True, exist_ok=True)
    for i in track(range(n), description="writing melodies", console=console):
        tokens_to_midi(tokens[i], out / f"melody_{i:03d}.mid", qpm=qpm)
        piano_roll_png(tokens[i], out / f"melody_{i:03d}.png", title=f"{model.name} #{i} (T={temperature:g})")
        if wav:
            tokens_to_wav(tokens[i], out / f"melody_{i:03d}.wav", qpm=qpm)
    stats = {**composition_stats(tokens), **model_fit_stats(net, tokens)}
    table = format_table({f"{model.name} (T={temperature:g}, n={n})": stats})
    atomic.write_text(out / "stats.md", table + "\n")
    console.print(table)
    console.print(f"{n} melodies (.mid + .png{' + .wav' if wav else ''}) and stats.md in {out}")


def melody_stats(
    paths: list[Path] = typer.Argument(..., help="MIDI files or folders (searched for *.mid, *.midi)."),
    length: int = typer.Option(32, "--length", help="Score the first N steps of each file (shorter ones skipped)."),
    key: str = typer.Option("C major", "--key", help="Key the rules use, e.g. 'A minor'."),
    model: Optional[Path] = typer.Option(None, "--model", help="Also report log p under this Note RNN."),
) -> None:
    """Print the Table-1 statistics of a set of MIDI melodies."""
    import warnings

    import numpy as np

    from rllab.music.metrics import composition_stats, format_table, model_fit_stats
    from rllab.music.midi import MidiWarning, midi_to_tokens

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"not found: {path}")
    if not files:
        raise UserError("no MIDI files found")
    rows, short = [], 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MidiWarning)
        for file in files:
            tokens = midi_to_tokens(file)
            if len(tokens) < length:
                short += 1
                continue
            rows.append(tokens[:length])
    for warning in caught:
        console.print(f"[yellow]warning:[/] {warning.message}")
    if not rows:
        raise UserError(f"none of the {len(files)} files has {length} steps")
    stats = composition_stats(np.stack(rows), key=key)
    if model is not None:
        stats.update(model_fit_stats(_load_model(model, "cpu"), np.stack(rows)))
    console.print(format_table({f"{len(rows)} files": stats}))
    if short:
        console.print(f"{short} file(s) shorter than {length} steps skipped")


def bench_rules(
    batch: int = typer.Option(1024, "--batch", help="Compositions per batch."),
    length: int = typer.Option(32, "--length", help="Steps per composition."),
    rounds: int = typer.Option(5, "--rounds", help="Alternating timing rounds; the best of each path is kept."),
    scalar_rows: int = typer.Option(16, "--scalar-rows", help="Rows scored by the scalar reference per round."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | auto."),
) -> None:
    """Token-steps per second of the batched torch rules vs the scalar reference, timed alternately in one run.

    Alternating the two paths and keeping each one's best round makes the ratio robust to other jobs on a shared
    machine.
    """
    import torch

    from rllab.device import limit_cpu_threads, resolve_device
    from rllab.music.theory import batched_step_rewards, step_rewards

    if batch < 1 or length < 1 or rounds < 1 or scalar_rows < 1:
        raise UserError("--batch, --length, --rounds and --scalar-rows must be positive")
    limit_cpu_threads(1)
    dev = resolve_device(device)
    tokens = torch.randint(0, 38, (batch, length), generator=torch.Generator().manual_seed(0))
    rows = tokens[:min(scalar_rows, batch)].tolist()
    on_device = tokens.to(dev)
    batched_step_rewards(on_device, length=length)  # warm-up (kernels, caches)

    def sync() -> None:
        if dev.startswith("cuda"):
            torch.cuda.synchronize()

    best_scalar = best_batched = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for row in rows:
            for t in range(length):
                step_rewards(row[:t], row[t], length=length)
        best_scalar = min(best_scalar, time.perf_counter() - start)
        sync()
        start = time.perf_counter()
        batched_step_rewards(on_device, length=length, validate=False)
        sync()
        best_batched = min(best_batched, time.perf_counter() - start)
    scalar_rate = len(rows) * length / best_scalar
    batched_rate = batch * length / best_batched
    console.print(f"scalar reference: {scalar_rate:,.0f} token-steps/s ({len(rows)} x {length} per round, CPU)")
    console.print(f"batched torch:    {batched_rate:,.0f} token-steps/s ([{batch}, {length}] on {dev}: "
                  f"{1000 * best_batched:.1f} ms per batch)")
    console.print(f"speed-up: {batched_rate / scalar_rate:,.0f}x (best of {rounds} alternating rounds each)")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach this module's commands to the app and the `bench` group."""
    corpus_app.command("build")(corpus_build)
    corpus_app.command("info")(corpus_info)
    note_rnn_app.command("train")(note_rnn_train)
    note_rnn_app.command("eval")(note_rnn_eval)
    app.add_typer(corpus_app, name="corpus")
    app.add_typer(note_rnn_app, name="note-rnn")
    app.command("compose")(compose)
    app.command("melody-stats")(melody_stats)
    bench.command("rules")(bench_rules)
